"""The activity office's campaign settings (活动设置): time limits, problem categories, the calendar.

Only the office (区活动办) reaches these pages; the leading group reads everything else but
changes nothing, and these pages exist only to change things. Each write: load, call the data
module (``core.settings``, ``settings.categories``, ``core.calendar``), commit once, flash,
redirect; invalid input re-renders with the user's input and field messages (HTTP 200); a
change someone else saved in between is refused with HTTP 409 and the form kept.
"""

import datetime as dt

import chinese_calendar
from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases.models import Category
from ..core import calendar, clock
from ..core import settings as campaign
from ..core.deadlines import LIMIT_RULES
from ..core.extensions import db
from ..core.render import render
from . import categories as cats
from .choice_pages import ChoicePages, PageTexts
from .forms import (
    EXPLAIN,
    GROUPS,
    CalendarDayForm,
    CategoryForm,
    LimitsForm,
    RemoveDayForm,
)

bp = Blueprint("settings", __name__, url_prefix="/settings")
office_only = roles_required(Role.office)


@bp.record_once
def _menu(_state) -> None:
    # Added when the blueprint is registered (after the casework entries), not on import.
    nav.register("settings.index", _l("活动设置"))


YEAR_MIN, YEAR_MAX = 2000, 2100
WEEKDAYS = (_l("周一"), _l("周二"), _l("周三"), _l("周四"), _l("周五"), _l("周六"), _l("周日"))
HOLIDAY_NAMES = {
    "New Year's Day": _l("元旦"),
    "Spring Festival": _l("春节"),
    "Tomb-sweeping Day": _l("清明节"),
    "Labour Day": _l("劳动节"),
    "Dragon Boat Festival": _l("端午节"),
    "National Day": _l("国庆节"),
    "Mid-autumn Festival": _l("中秋节"),
}
STALE_LIMITS = _l("活动设置已被他人修改，您的修改没有保存。")


def _int(raw) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


@bp.get("/")
@office_only
def index():
    """What the office can set, with the values in force now."""
    year = clock.today().year
    counts = dict(db.session.execute(
        select(Category.is_active, func.count()).group_by(Category.is_active)).all())
    return render(
        "settings/index.html", settings=campaign.get_settings(), labels=campaign.LABELS,
        active_count=counts.get(True, 0), inactive_count=counts.get(False, 0),
        years=[(y, calendar.library_covers(y)) for y in (year, year + 1)],
    )


# ---------------------------------------------------------------- time limits


def _stored_deadline() -> dt.date | None:
    """The campaign deadline the office saved (None: the default, 30 September of each year)."""
    row = db.session.get(campaign.CampaignSettings, 1)
    return None if row is None else row.campaign_deadline


def _limits_form() -> LimitsForm:
    s = campaign.get_settings()
    data = {name: getattr(s, name) for name in campaign.DAY_FIELDS}
    return LimitsForm(formdata=None, data=data | {
        "campaign_deadline": _stored_deadline(), "version": s.version})


def _limits_page(form: LimitsForm, *, status: int = 200, message: str | None = None, saved=None):
    return render("settings/limits.html", status=status, form=form, groups=GROUPS, explain=EXPLAIN,
                  settings=campaign.get_settings(), message=message, saved=saved or {},
                  lo=campaign.MINIMUM, hi=campaign.MAX_DAYS, limit_rules=LIMIT_RULES)


def _saved_values() -> dict:
    s = campaign.get_settings()
    return {name: getattr(s, name) for name in campaign.DAY_FIELDS} | {
        "campaign_deadline": _stored_deadline()}


def _shown(value) -> str:
    if value is None:
        return _("（留空：每年 9 月 30 日）")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@bp.route("/limits", methods=["GET", "POST"])
@office_only
def limits():
    """The time limits of DOMAIN §5 and what counts as 即将到期 (working days)."""
    if request.method == "GET":
        return _limits_page(_limits_form())
    form = LimitsForm()
    if not form.validate():
        return _limits_page(form)
    values = {name: form[name].data for name in campaign.FIELDS}
    expected = _int(form.version.data)
    before = campaign.get_settings().version
    try:
        after = campaign.update_settings(
            expected_version=-1 if expected is None else expected, user=current_user, **values)
        db.session.commit()
    except campaign.SettingsError as exc:
        db.session.rollback()
        campaign.clear_cache()
        for name, msg in exc.errors.items():
            (form[name].errors if name in form else form.version.errors).append(msg)
        return _limits_page(form)
    except (campaign.StaleSettings, StaleDataError):
        db.session.rollback()
        campaign.clear_cache()
        saved = _saved_values()
        if saved == values:  # a double submit: what was asked is what is saved
            flash(_("活动设置已保存。"), "success")
            return redirect(url_for("settings.limits"))
        form.version.data = str(campaign.get_settings().version)
        differs = {k: _shown(v) for k, v in saved.items() if v != values[k]}
        return _limits_page(form, status=409, message=str(STALE_LIMITS), saved=differs)
    if after.version == before:
        flash(_("设置没有变化，未作修改。"), "info")
    else:
        flash(_("活动设置已保存。此后交办的问题按新时限计算，已交办问题的截止日期不变。"), "success")
    return redirect(url_for("settings.limits"))


# ---------------------------------------------------------------- categories


CATEGORY_PAGES = ChoicePages(
    choices=cats.CATEGORIES, template="settings/categories.html", index_endpoint="settings.categories",
    anchor="category", form_class=CategoryForm, used=cats.usage,
    texts=PageTexts(
        added=_l("类别“%(name)s”已添加。"),
        created=_l("类别“%(name)s”已添加，登记和研判时即可选用。"),
        same_name=_l("已有同名类别。"),
        saved=_l("类别“%(name)s”已保存。"),
        unchanged=_l("类别“%(name)s”没有变化，未作修改。"),
        already=_l("类别“%(name)s”已是%(state)s状态。"),
        reactivated=_l("类别“%(name)s”已重新启用，登记和研判时可再次选用。"),
        deactivated=_l("类别“%(name)s”已停用：登记和研判时不再可选，已有问题仍保留该类别。"),
        stale=_l("该类别已被他人修改，未作任何更改。现在的名称是“%(name)s”，排序 %(order)s，%(state)s。请核对后重新提交。"),
    ),
)


@bp.get("/categories")
@office_only
def categories():
    """Every category, active first by their order; create, rename, reorder, (de)activate."""
    return CATEGORY_PAGES.page()


@bp.post("/categories/new")
@office_only
def create_category():
    return CATEGORY_PAGES.create()


@bp.post("/categories/<int:category_id>/edit")
@office_only
def edit_category(category_id: int):
    """Rename and/or move in the list (problems keep the category, under its new name)."""
    return CATEGORY_PAGES.edit(category_id)


@bp.post("/categories/<int:category_id>/deactivate")
@office_only
def deactivate_category(category_id: int):
    return CATEGORY_PAGES.set_active(category_id, False)


@bp.post("/categories/<int:category_id>/reactivate")
@office_only
def reactivate_category(category_id: int):
    return CATEGORY_PAGES.set_active(category_id, True)


# ---------------------------------------------------------------- working-day calendar


def _year_arg() -> int:
    year = request.args.get("year", type=int)
    return year if year is not None and YEAR_MIN <= year <= YEAR_MAX else clock.today().year


def built_in_workday(day: dt.date) -> bool:
    """What the calendar says without the office's overrides (the package, or Mon–Fri)."""
    if calendar.library_covers(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def _holiday_name(day: dt.date):
    raw = chinese_calendar.holidays.get(day) or chinese_calendar.workdays.get(day)
    if raw is None:
        return None
    name = getattr(raw, "value", raw)
    return HOLIDAY_NAMES.get(name, name)


def _day_stamp(row: calendar.CalendarDay) -> str:
    return f"{int(row.is_workday)}:{row.note}"


def special_days(year: int, overrides: dict) -> list[dict]:
    """The year's holidays (with the weekend days inside them), make-up workdays and the office's
    overrides, with where each comes from (the office or the package), consecutive days merged."""
    runs: list[dict] = []
    day = dt.date(year, 1, 1)
    covers = calendar.library_covers(year)
    while day.year == year:
        workday = calendar.is_workday(day)
        row = overrides.get(day)
        name = _holiday_name(day) if covers else None
        if row is not None or name or workday != (day.weekday() < 5):
            if row is not None:
                source, reason = "office", row.note
            else:
                source, reason = "library", name or (_("调休上班") if workday else _("休息日"))
            last = runs[-1] if runs else None
            if (last and last["end"] == day - dt.timedelta(days=1) and last["workday"] == workday
                    and last["source"] == source and last["reason"] == reason):
                last["end"] = day
                last["days"] += 1
            else:
                runs.append({"start": day, "end": day, "days": 1, "workday": workday,
                             "source": source, "reason": reason})
        day += dt.timedelta(days=1)
    return runs


def _calendar_page(year: int, *, form=None, status=200, message=None):
    rows = list(db.session.scalars(select(calendar.CalendarDay).where(
        calendar.CalendarDay.date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        .order_by(calendar.CalendarDay.date)))
    overrides = {r.date: r for r in rows}
    if form is None:
        form = CalendarDayForm(formdata=None, data={"kind": "off"})
    remove_forms = {r.date: RemoveDayForm(formdata=None, data={"day": r.date, "version": _day_stamp(r)})
                    for r in rows}
    other_years = sorted(set(db.session.scalars(select(calendar.CalendarDay.date)).all()), reverse=True)
    return render(
        "settings/calendar.html", status=status, year=year, form=form, message=message,
        rows=rows, remove_forms=remove_forms, built_in=built_in_workday, weekdays=WEEKDAYS,
        covers=calendar.library_covers(year), runs=special_days(year, overrides),
        first_year=calendar.LIBRARY_FIRST_YEAR, last_year=calendar.LIBRARY_LAST_YEAR,
        override_years=sorted({d.year for d in other_years}), today=clock.today(),
        holiday_name=_holiday_name,
    )


@bp.get("/calendar")
@office_only
def calendar_view():
    """The year's holidays and make-up workdays, and the office's overrides."""
    return _calendar_page(_year_arg())


def _kind_label(is_workday: bool) -> str:
    return _("调休工作日") if is_workday else _("休息日")


@bp.post("/calendar/add")
@office_only
def add_calendar_day():
    """Set a date as a day off or a (make-up) workday, whatever the package says."""
    form = CalendarDayForm(request.form)
    year = _year_arg()
    if not form.validate():
        if form.day.data is not None and YEAR_MIN <= form.day.data.year <= YEAR_MAX:
            year = form.day.data.year
        return _calendar_page(year, form=form)
    day, is_workday, note = form.day.data, form.kind.data == "workday", form.note.data
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        form.day.errors.append(_("请选择 %(a)d 年到 %(b)d 年之间的日期。", a=YEAR_MIN, b=YEAR_MAX))
        return _calendar_page(year, form=form)
    existing = db.session.scalar(select(calendar.CalendarDay).where(calendar.CalendarDay.date == day))
    if existing is not None:
        if existing.is_workday == is_workday and existing.note == note:  # a double submit
            flash(_("%(day)s 已设为%(kind)s。", day=day.isoformat(), kind=_kind_label(is_workday)), "info")
            return redirect(url_for("settings.calendar_view", year=day.year))
        form.day.errors.append(_("该日已设为%(kind)s（%(note)s）。如需更改，请先在列表中删除原设定。",
                                 kind=_kind_label(existing.is_workday), note=existing.note))
        return _calendar_page(day.year, form=form)
    try:
        calendar.set_calendar_day(day, is_workday, note, user=current_user)
        db.session.commit()
    except IntegrityError:  # the same date saved at the same moment
        db.session.rollback()
        return add_calendar_day_conflict(form, day, is_workday, note)
    same = built_in_workday(day) == is_workday
    flash(_("已将 %(day)s（%(weekday)s）设为%(kind)s。", day=day.isoformat(),
            weekday=WEEKDAYS[day.weekday()], kind=_kind_label(is_workday)), "success")
    if same:
        flash(_("提示：按内置日历这一天本来就是%(kind)s，这条设定不改变期限计算。", kind=_kind_label(is_workday)), "info")
    return redirect(url_for("settings.calendar_view", year=day.year, _anchor=f"day-{day.isoformat()}"))


def add_calendar_day_conflict(form, day, is_workday, note):
    existing = db.session.scalar(select(calendar.CalendarDay).where(calendar.CalendarDay.date == day))
    if existing is not None and existing.is_workday == is_workday and existing.note == note:
        flash(_("%(day)s 已设为%(kind)s。", day=day.isoformat(), kind=_kind_label(is_workday)), "info")
        return redirect(url_for("settings.calendar_view", year=day.year))
    return _calendar_page(day.year, form=form, status=409,
                          message=_("这一天刚刚已由他人设定，未作更改。请查看下方列表后再操作。"))


@bp.post("/calendar/remove")
@office_only
def remove_calendar_day():
    """Drop an override: the package (or Monday–Friday) decides that date again."""
    form = RemoveDayForm(request.form)
    if not form.validate():
        return _calendar_page(_year_arg(), status=400, message=_("请选择要删除的日期。"))
    day = form.day.data
    row = db.session.scalar(select(calendar.CalendarDay).where(calendar.CalendarDay.date == day)
                            .with_for_update())
    if row is None:  # already removed (a double submit, or someone else)
        flash(_("%(day)s 没有区活动办的设定（可能已删除）。", day=day.isoformat()), "info")
        return redirect(url_for("settings.calendar_view", year=day.year))
    if form.version.data != _day_stamp(row):
        db.session.rollback()
        return _calendar_page(day.year, status=409, message=_(
            "%(day)s 的设定已被他人修改，未作删除。请查看下方列表后再操作。", day=day.isoformat()))
    calendar.remove_calendar_day(day, user=current_user)
    db.session.commit()
    kind = _("工作日") if built_in_workday(day) else _("休息日")
    flash(_("已删除 %(day)s 的设定，这一天恢复按内置日历计为%(kind)s。", day=day.isoformat(), kind=kind), "success")
    return redirect(url_for("settings.calendar_view", year=day.year))
