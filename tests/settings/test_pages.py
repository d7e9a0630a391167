"""The office's campaign settings over HTTP: time limits, problem categories, the working-day
calendar — each change reaches the deadlines and selects that depend on it, and is audited."""

import html
import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import flashes, form_values, fresh, triage_fields
from tests.visits.test_intake import block, new_form, visit_fields
from webapp.cases import deadlines as case_deadlines
from webapp.cases.models import Category, Problem
from webapp.cases.workflow import Tier
from webapp.core import calendar
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.core.settings import CampaignSettings, get_settings

# Monday 2 March 2026 (MON): March has no holiday. 15 working days later is Monday 23 March,
# 10 are Monday 16 March, 1 (signing for) is Tuesday 3 March.
QUICK_15 = date(2026, 3, 23)
QUICK_10 = date(2026, 3, 16)

INPUT_RE = re.compile(r"<input\b[^>]*>")
ATTR_RE = re.compile(r'([\w-]+)="([^"]*)"')
OPTION_RE = re.compile(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>')


@pytest.fixture
def monday():
    with time_machine.travel(MON, tick=False):
        yield


@pytest.fixture
def office(login_as, monday):
    return login_as("office")


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def plain_text(page: str) -> str:
    """The page as a person reads it: tags dropped, white space squeezed."""
    return " ".join(re.sub(r"<[^>]+>", "", page).split())


def plain(resp) -> str:
    return plain_text(text(resp))


def form_inputs(page: str, action: str) -> dict[str, str]:
    """What the browser would send from the form posting to ``action`` (inputs, checked radios)."""
    start = page.index(f'action="{action}"')
    chunk = page[start:page.index("</form>", start)]
    values = {}
    for tag in INPUT_RE.findall(chunk):
        attrs = dict(ATTR_RE.findall(tag))
        name = attrs.get("name")
        if not name or name == "csrf_token":
            continue
        if attrs.get("type") == "radio" and " checked" not in tag:
            continue
        values[name] = html.unescape(attrs.get("value", ""))
    return values


def select_options(page: str, name: str) -> list[str]:
    """The option texts of the select named ``name``."""
    m = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert m, f"no select {name}"
    return [html.unescape(t).strip() for _v, t in OPTION_RE.findall(m.group(1))]


def audits(event: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.seq)))


def limits_form(b) -> dict[str, str]:
    resp = b.get("/settings/limits")
    assert resp.status_code == 200
    return form_inputs(text(resp), "/settings/limits")


def assign_via_triage(gl, problem) -> None:
    """The group lead assigns ``problem`` to 潘安湖街道 as 实事快办, through the triage page."""
    page = text(gl.get(f"/cases/{problem.id}/triage"))
    data = {**form_values(page, f"/cases/{problem.id}/assign"), **triage_fields(),
            "lead": str(f.unit("潘安湖街道").id)}
    resp = gl.post(f"/cases/{problem.id}/assign", data=data)
    assert resp.status_code == 302, text(resp)


# ---------------------------------------------------------------- time limits


def test_limits_page_shows_every_value_with_label_unit_and_explanation(app, office):
    page = text(office.get("/settings/limits"))
    values = form_inputs(page, "/settings/limits")
    assert values["tier_quick_days"] == "15" and values["sign_for_days"] == "1"
    assert values["version"] == "0" and values["campaign_deadline"] == ""
    for label in ("签收时限（工作日）", "实事快办时限（工作日）", "难事联办最长时限（工作日）",
                  "即将到期提醒（工作日）", "超期后通报（工作日）", "活动截止日期"):
        assert label in page
    assert "交办后，责任单位须在多少个工作日内签收" in page  # what 签收时限 controls
    assert "个工作日" in page and "可填 1–365。" in page and "可填 0–365。" in page


def test_quick_limit_from_15_to_10_changes_the_deadline_triage_computes(app, office, login_as):
    gl = login_as("grouplead")
    before = f.register()
    assert "2026年3月23日" in text(gl.get(f"/cases/{before.id}/triage"))  # the default: 15 days

    data = limits_form(office) | {"tier_quick_days": "10"}
    resp = office.post("/settings/limits", data=data)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/settings/limits")
    assert any("活动设置已保存" in m for m in flashes(office.get(resp.headers["Location"])))
    assert get_settings().tier_quick_days == 10
    [event] = audits("settings.changed")
    assert event.username == "office" and '"tier_quick_days": 10' in event.detail
    assert '"tier_quick_days": 15' in event.detail  # before and after

    # The triage page previews the new deadline, and the assignment gets it.
    p = f.register()
    assert "2026年3月16日" in text(gl.get(f"/cases/{p.id}/triage"))
    assign_via_triage(gl, p)
    assert fresh(p).deadline == QUICK_10
    # The operations compute the same (one rule for every view).
    q = f.assigned_to_town()
    assert fresh(q).deadline == QUICK_10 == case_deadlines.handling_deadline(MON, Tier.quick)


def test_invalid_values_rerender_with_messages_and_the_input_kept(app, office):
    data = limits_form(office) | {"tier_quick_days": "十五", "sign_for_days": "", "due_soon_days": "-1",
                                   "tier_joint_max_days": "400", "campaign_deadline": "2026-02-30"}
    resp = office.post("/settings/limits", data=data)
    assert resp.status_code == 200
    page = text(resp)
    assert "请更正下列标出的项目。" in page
    assert "请输入整数。" in page and 'value="十五"' in page
    assert "请填写此项。" in page
    assert "应在 0 到 365 之间。" in page and 'value="-1"' in page
    assert "应在 1 到 365 之间。" in page and 'value="400"' in page
    assert "请输入有效的日期。" in page
    # Rules between values come from core.settings, with the input kept.
    data = limits_form(office) | {"tier_immediate_days": "20", "notice_after_overdue_days": "2",
                                   "remind_after_days": "3"}
    page = text(office.post("/settings/limits", data=data))
    assert "实事快办时限不能短于好事即办时限。" in page and 'value="20"' in page
    assert "通报不能早于催办。" in page
    assert db.session.get(CampaignSettings, 1) is None and audits("settings.changed") == []


def test_stale_version_is_refused_with_409_and_the_form_kept(app, office, login_as):
    mine = limits_form(office)
    other = login_as("office")
    assert other.post("/settings/limits", data=limits_form(other) | {"sign_for_days": "2"}).status_code == 302

    resp = office.post("/settings/limits", data=mine | {"tier_quick_days": "12"})
    assert resp.status_code == 409
    page = text(resp)
    assert "活动设置已被他人修改，您的修改没有保存。" in page
    assert 'value="12"' in page  # my input kept
    assert "当前已保存的值：2" in page  # what the other clerk saved, where it differs from mine
    assert "当前已保存的值：15" in page  # and where I changed something
    s = get_settings()
    assert (s.sign_for_days, s.tier_quick_days) == (2, 15)  # nothing of mine was written
    # The re-rendered form carries the current version: saving again is a deliberate choice.
    again = form_inputs(page, "/settings/limits")
    assert again["version"] == str(s.version)
    assert office.post("/settings/limits", data=again).status_code == 302
    s = get_settings()
    assert (s.sign_for_days, s.tier_quick_days) == (1, 12)
    assert len(audits("settings.changed")) == 2


def test_double_submit_and_unchanged_submit_are_harmless(app, office):
    data = limits_form(office) | {"due_soon_days": "3", "campaign_deadline": "2026-10-31"}
    assert office.post("/settings/limits", data=data).status_code == 302
    again = office.post("/settings/limits", data=data)  # the same form sent twice
    assert again.status_code == 302
    assert len(audits("settings.changed")) == 1
    s = get_settings()
    assert (s.due_soon_days, s.campaign_deadline) == (3, date(2026, 10, 31))
    resp = office.post("/settings/limits", data=limits_form(office))
    assert resp.status_code == 302 and any("未作修改" in m for m in flashes(office.get("/settings/limits")))
    assert len(audits("settings.changed")) == 1
    # Clearing the campaign deadline goes back to 30 September.
    assert office.post("/settings/limits", data=limits_form(office) | {"campaign_deadline": ""}).status_code == 302
    assert get_settings().campaign_deadline == date(2026, 9, 30)


# ---------------------------------------------------------------- categories


def _category(name: str) -> Category | None:
    db.session.rollback()
    return db.session.scalar(select(Category).where(Category.name == name))


def intake_categories(cadre) -> list[str]:
    return select_options(text(cadre.get("/cases/visits/new")), "problems-0-category")


def test_create_rename_deactivate_reactivate_reach_the_intake_and_triage_selects(app, office, login_as):
    cadre, gl = login_as("cadre"), login_as("grouplead")
    page = text(office.get("/settings/categories"))
    resp = office.post("/settings/categories/new", data=form_inputs(page, "/settings/categories/new")
                       | {"name": " 农村 电商 ", "sort_order": "5"})
    assert resp.status_code == 302
    c = _category("农村 电商")
    assert c is not None and c.is_active and c.sort_order == 5
    assert intake_categories(cadre)[:2] == ["（请选择）", "农村 电商"]  # sort order 5: first
    [created] = audits("category.create")
    assert '"name": "农村 电商"' in created.detail and created.object_id == str(c.id)

    # Rename (and move to the end); the form carries the fingerprint it was drawn with.
    page = text(office.get("/settings/categories"))
    edit = form_inputs(page, f"/settings/categories/{c.id}/edit")
    assert edit["name"] == "农村 电商" and edit["version"]
    resp = office.post(f"/settings/categories/{c.id}/edit", data=edit | {"name": "农村电商", "sort_order": "999"})
    assert resp.status_code == 302
    options = intake_categories(cadre)
    assert "农村电商" in options and "农村 电商" not in options and options[-1] == "农村电商"
    [updated] = audits("category.update")
    assert '"before": {"name": "农村 电商", "sort_order": 5}' in updated.detail

    # A problem with the category, then deactivate: gone from the selects, kept on the problem.
    p = f.register(category="农村电商")
    page = text(office.get("/settings/categories"))
    resp = office.post(f"/settings/categories/{c.id}/deactivate",
                       data=form_inputs(page, f"/settings/categories/{c.id}/deactivate"))
    assert resp.status_code == 302
    assert not _category("农村电商").is_active
    assert "农村电商" not in intake_categories(cadre)
    triage_page = text(gl.get(f"/cases/{p.id}/triage"))
    options = select_options(triage_page, "category")
    assert "农村电商" not in options and "民生保障" in options
    # The triage page does not quietly put the problem into the first category offered.
    assert options[0] == "（原类别“农村电商”已停用，请重新选择）"
    chosen = re.findall(r'<option selected value="([^"]*)">', triage_page.split('name="category"')[1].split("</select>")[0])
    assert chosen == [""]
    data = {**form_values(triage_page, f"/cases/{p.id}/assign"), **triage_fields(category=""),
            "lead": str(f.unit("潘安湖街道").id)}
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    assert resp.status_code == 200 and "请选择问题类别。" in text(resp)
    assert select_options(text(resp), "category")[0] == "（原类别“农村电商”已停用，请重新选择）"
    assert fresh(p).category.name == "农村电商"
    assert "农村电商" in text(office.get(f"/cases/{p.id}"))  # the problem page still shows it
    assert len(audits("category.deactivate")) == 1
    # A form drawn before the change still offers it: the intake refuses it, saving nothing.
    stale = {**new_form(cadre), **visit_fields(), "action": "save", **block(0, category=str(c.id))}
    resp = cadre.post("/cases/visits/new", data=stale)
    assert resp.status_code == 200 and "所选类别已停用，请重新选择。" in text(resp)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Problem).where(Problem.category_id == c.id)) == 1
    page = text(office.get("/settings/categories"))
    assert "已停用的类别" in page and "排序 999 · 1 个问题" in plain_text(page)

    resp = office.post(f"/settings/categories/{c.id}/reactivate",
                       data=form_inputs(page, f"/settings/categories/{c.id}/reactivate"))
    assert resp.status_code == 302
    assert "农村电商" in intake_categories(cadre)
    assert len(audits("category.reactivate")) == 1


def test_category_names_are_checked_with_the_input_kept(app, office):
    page = text(office.get("/settings/categories"))
    new = form_inputs(page, "/settings/categories/new")
    resp = office.post("/settings/categories/new", data=new | {"name": "民生保障"})
    assert resp.status_code == 200 and "已有名为“民生保障”的类别。" in text(resp)
    resp = office.post("/settings/categories/new", data=new | {"name": "长" * 33})
    assert resp.status_code == 200 and "类别名称最多 32 个字。" in text(resp) and "长" * 33 in text(resp)
    resp = office.post("/settings/categories/new", data=new | {"name": "  ", "sort_order": "x"})
    assert "请填写类别名称。" in text(resp) and "请输入整数。" in text(resp)
    other = f.category("其他")
    edit = form_inputs(page, f"/settings/categories/{other.id}/edit")
    resp = office.post(f"/settings/categories/{other.id}/edit", data=edit | {"name": "教育"})
    assert resp.status_code == 200 and "已有名为“教育”的类别。" in text(resp)
    assert 'value="教育"' in text(resp) and " open" in text(resp)  # that row's form stays open
    assert audits("category.create") == [] and audits("category.update") == []


def test_category_double_submit_and_stale_forms(app, office, login_as):
    page = text(office.get("/settings/categories"))
    new = form_inputs(page, "/settings/categories/new") | {"name": "文化旅游"}
    assert new["token"]
    assert office.post("/settings/categories/new", data=new).status_code == 302
    assert office.post("/settings/categories/new", data=new).status_code == 302  # sent twice
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Category).where(Category.name == "文化旅游")) == 1
    assert len(audits("category.create")) == 1

    # Two clerks edit the same category: the second one's form is stale.
    c = f.category("其他")
    mine = form_inputs(page, f"/settings/categories/{c.id}/edit")
    other = login_as("office")
    theirs = form_inputs(text(other.get("/settings/categories")), f"/settings/categories/{c.id}/edit")
    assert other.post(f"/settings/categories/{c.id}/edit", data=theirs | {"name": "其他问题"}).status_code == 302
    resp = office.post(f"/settings/categories/{c.id}/edit", data=mine | {"name": "其它"})
    assert resp.status_code == 409
    assert "该类别已被他人修改" in text(resp) and "现在的名称是“其他问题”" in text(resp)
    assert 'value="其它"' in text(resp)  # my input kept
    assert _category("其他问题") is not None
    resp = office.post(f"/settings/categories/{c.id}/deactivate",
                       data=form_inputs(page, f"/settings/categories/{c.id}/deactivate"))
    assert resp.status_code == 409 and _category("其他问题").is_active
    # A double submit of the same rename is no conflict.
    assert other.post(f"/settings/categories/{c.id}/edit", data=theirs | {"name": "其他问题"}).status_code == 302
    assert len(audits("category.update")) == 1


# ---------------------------------------------------------------- calendar


def add_day(b, day: date, kind: str, note: str):
    page = text(b.get(f"/settings/calendar?year={day.year}"))
    data = form_inputs(page, f"/settings/calendar/add?year={day.year}")
    return b.post(f"/settings/calendar/add?year={day.year}",
                  data=data | {"day": day.isoformat(), "kind": kind, "note": note})


def test_a_weekday_made_a_holiday_moves_the_deadlines(app, office, login_as):
    tuesday = date(2026, 3, 3)
    resp = add_day(office, tuesday, "off", "区里统一放假")
    assert resp.status_code == 302 and "year=2026" in resp.headers["Location"]
    assert not calendar.is_workday(tuesday)
    [event] = audits("calendar.day_set")
    assert event.username == "office" and "区里统一放假" in event.detail
    page = text(office.get("/settings/calendar?year=2026"))
    assert 'id="day-2026-03-03"' in page and "区里统一放假" in page
    assert "3月3日（周二） 休息日 区里统一放假 工作日" in plain(office.get("/settings/calendar?year=2026"))
    assert "3月3日（周二） 放假 区里统一放假 区活动办设定" in plain(office.get("/settings/calendar?year=2026"))

    # A new assignment on Monday: signing for and the quick deadline each move one day later.
    gl = login_as("grouplead")
    p = f.register()
    assign_via_triage(gl, p)
    p = fresh(p)
    assert p.deadline == date(2026, 3, 24) and p.sign_for_deadline == date(2026, 3, 4)
    assert case_deadlines.handling_deadline(MON, Tier.quick) == date(2026, 3, 24)

    # Remove it: the package decides again.
    page = text(office.get("/settings/calendar?year=2026"))
    resp = office.post("/settings/calendar/remove?year=2026",
                       data=form_inputs(page, "/settings/calendar/remove?year=2026"))
    assert resp.status_code == 302
    assert calendar.is_workday(tuesday)
    assert case_deadlines.handling_deadline(MON, Tier.quick) == QUICK_15
    assert len(audits("calendar.day_removed")) == 1
    # Sent again: nothing left to remove, no error, no second audit entry.
    assert office.post("/settings/calendar/remove?year=2026",
                       data=form_inputs(page, "/settings/calendar/remove?year=2026")).status_code == 302
    assert len(audits("calendar.day_removed")) == 1
    # A Saturday made a make-up workday brings the deadline one day earlier.
    assert add_day(office, date(2026, 3, 7), "workday", "调休上班").status_code == 302
    assert case_deadlines.handling_deadline(MON, Tier.quick) == date(2026, 3, 20)


def test_calendar_page_says_whether_the_library_covers_the_year(app, office):
    page = plain(office.get("/settings/calendar?year=2026"))
    assert "内置日历已包含 2026 年的节假日" in page
    assert "2月15日（周日） – 2月23日（周一） 放假 9 天 春节 内置日历" in page
    assert "2月14日（周六） 上班 春节 内置日历" in page  # the make-up workday
    later = calendar.LIBRARY_LAST_YEAR + 1
    page = text(office.get(f"/settings/calendar?year={later}"))
    assert f"内置日历不包含 {later} 年" in page
    assert "请在下面逐日录入法定节假日（设为休息日）和调休上班日（设为调休工作日）" in page
    assert "这一年没有节假日或调休记录" in page
    # The office enters the year's New Year holiday (its first weekday: a workday until then).
    new_year = next(date(later, 1, d) for d in range(1, 8) if date(later, 1, d).weekday() < 5)
    assert calendar.is_workday(new_year)
    assert add_day(office, new_year, "off", "元旦").status_code == 302
    page = text(office.get(f"/settings/calendar?year={later}"))
    assert "元旦" in page and "这一年没有节假日或调休记录" not in page
    assert not calendar.is_workday(new_year)
    # Nonsense years fall back to this year.
    assert "2026 年" in text(office.get("/settings/calendar?year=abc"))


def test_calendar_input_is_checked_and_repeats_are_harmless(app, office):
    resp = add_day(office, date(2026, 4, 1), "off", "")
    assert resp.status_code == 200 and "请填写说明" in text(resp)
    page = text(office.get("/settings/calendar?year=2026"))
    resp = office.post("/settings/calendar/add?year=2026",
                       data=form_inputs(page, "/settings/calendar/add?year=2026") | {"day": "", "note": "x"})
    assert resp.status_code == 200 and "请选择日期。" in text(resp) and 'value="x"' in text(resp)
    assert add_day(office, date(2026, 4, 1), "off", "停电检修").status_code == 302
    assert add_day(office, date(2026, 4, 1), "off", "停电检修").status_code == 302  # sent twice
    assert len(audits("calendar.day_set")) == 1
    resp = add_day(office, date(2026, 4, 1), "workday", "改为上班")
    assert resp.status_code == 200 and "该日已设为休息日（停电检修）" in text(resp)
    assert not calendar.is_workday(date(2026, 4, 1)) and len(audits("calendar.day_set")) == 1


def test_removing_an_override_someone_changed_meanwhile_is_refused(app, office, login_as):
    assert add_day(office, date(2026, 4, 1), "off", "停电检修").status_code == 302
    mine = text(office.get("/settings/calendar?year=2026"))
    other = login_as("office")
    page = text(other.get("/settings/calendar?year=2026"))
    assert other.post("/settings/calendar/remove?year=2026",
                      data=form_inputs(page, "/settings/calendar/remove?year=2026")).status_code == 302
    assert add_day(other, date(2026, 4, 1), "workday", "改为上班").status_code == 302
    resp = office.post("/settings/calendar/remove?year=2026",
                       data=form_inputs(mine, "/settings/calendar/remove?year=2026"))
    assert resp.status_code == 409 and "2026-04-01 的设定已被他人修改，未作删除。" in text(resp)
    assert calendar.is_workday(date(2026, 4, 1))  # the other clerk's setting stands
    assert len(audits("calendar.day_removed")) == 1


# ---------------------------------------------------------------- who


def test_only_the_office_sees_the_settings_in_the_menu(app, office, login_as):
    assert 'href="/settings/"' in text(office.get("/"))
    leader = login_as("leader")
    assert 'href="/settings/"' not in text(leader.get("/"))
    assert leader.get("/settings/limits").status_code == 403
