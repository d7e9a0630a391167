"""Spot checks (抽查回访): the draws per half month with their progress, drawing an ended period's
sample, the sample, and recording each callback (inline with htmx, a page of its own without).

The office draws and calls; the leader reads; everyone else is refused by the gate. The
resident's phone is masked on the page like everywhere; the office reveals the full number with
the app's audited 显示完整号码 (``intake.reveal_contact``), the leader cannot.
"""

from datetime import date

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import role_may, roles_required
from ..accounts.roles import Role
from ..cases.access import mask_id_number, mask_phone
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.periods import Period, recent
from ..core.render import is_htmx, render
from . import spotchecks as sc
from .models import CallbackResult, SpotCheck, SpotCheckItem
from .spotcheck_forms import RESULT_LABELS, RESULT_SHORT, DrawForm, RecordForm

bp = Blueprint("spotchecks", __name__, url_prefix="/integrity/spot-checks")
readers = roles_required(Role.office, Role.leader)
office = roles_required(Role.office)

DRAWABLE_PERIODS = 12  # the office may draw any of the last twelve ended half months
SHOWN = 100  # draws listed on the index


@bp.record_once
def _menu(_state) -> None:
    nav.register("spotchecks.index", _l("抽查回访"))


def _ctx() -> dict:
    return {"result_labels": RESULT_LABELS, "result_short": RESULT_SHORT, "results": list(CallbackResult),
            "mask_phone": mask_phone, "mask_id_number": mask_id_number}


# ---------------------------------------------------------------- the draws


def _drawable(drawn: set[date]) -> list[Period]:
    """Ended periods without a draw, newest first."""
    return [p for p in reversed(recent(DRAWABLE_PERIODS, include_current=False)) if p.start not in drawn]


def _index_page(form: DrawForm | None = None, *, status: int = 200, error: str | None = None):
    checks = db.session.scalars(
        select(SpotCheck).options(joinedload(SpotCheck.drawn_by))
        .order_by(SpotCheck.period_start.desc()).limit(SHOWN)).all()
    drawn = set(db.session.scalars(select(SpotCheck.period_start)))
    if current_user.role == Role.office:
        form = form or DrawForm()
        form.period.choices = [(p.start.isoformat(), p.label) for p in _drawable(drawn)]
    else:
        form = None
    return render("integrity/spotchecks/index.html", status=status, checks=checks,
                  progress=sc.progress(c.id for c in checks), form=form, error=error,
                  period_of=lambda c: Period(c.period_start, c.period_end), default_rate=sc.RATE_DEFAULT, **_ctx())


@bp.get("")
@readers
def index():
    return _index_page()


@bp.post("")
@office
def draw():
    """抽取 an ended period's sample (once per period)."""
    form = DrawForm()
    if not form.validate_on_submit():
        return _index_page(form)
    try:
        period = Period.starting(date.fromisoformat(form.period.data))
    except ValueError:
        period = None
    if period is None:
        form.period.errors = [_("请选择抽查期间。")]
        return _index_page(form)
    try:
        check = sc.draw(period, current_user, form.rate.data)
        db.session.commit()
    except sc.AlreadyDrawn as exc:
        db.session.rollback()
        return _index_page(form, status=409, error=str(exc))
    except IntegrityError:  # drawn by someone else at the same moment
        db.session.rollback()
        existing = sc.draw_of(period)
        return _index_page(form, status=409, error=_("%(period)s已经抽取过回访样本，每个半月只抽取一次。",
                                                     period=period.label) if existing else None)
    except Invalid as exc:
        db.session.rollback()
        form.period.errors = [str(exc)]
        return _index_page(form)
    flash(_("已从%(period)s核销的 %(population)d 个问题中抽取 %(n)d 个，请逐一回访。",
            period=period.label, population=check.population, n=len(check.items)), "success")
    return redirect(url_for("spotchecks.show", check_id=check.id))


# ---------------------------------------------------------------- the sample


def _check_or_404(check_id: int) -> SpotCheck:
    check = db.session.scalar(select(SpotCheck).where(SpotCheck.id == check_id)
                              .options(joinedload(SpotCheck.drawn_by)))
    if check is None:
        abort(404)
    return check


def _item_or_404(item_id: int, *, for_update: bool = False) -> SpotCheckItem:
    q = select(SpotCheckItem).where(SpotCheckItem.id == item_id)
    if for_update:
        q = q.with_for_update()
    item = db.session.scalar(q)
    if item is None:
        abort(404)
    return item


def _may_reveal() -> bool:
    return current_user.role == Role.office and role_may(current_user.role, "intake.reveal_contact")


@bp.get("/<int:check_id>")
@readers
def show(check_id: int):
    """The sample: problem, unit, the sign-off's result and verifier, the resident, the callback."""
    check = _check_or_404(check_id)
    items = sc.items_of(check)
    counts = {r.value: 0 for r in CallbackResult}
    for i in items:
        counts[i.result.value] += 1
    return render("integrity/spotchecks/show.html", check=check, items=items, counts=counts,
                  period=Period(check.period_start, check.period_end), may_record=current_user.role == Role.office,
                  may_reveal=_may_reveal(), may_see_flag=role_may(current_user.role, "integrity.show"),
                  **_ctx())


def _record_page(item: SpotCheckItem, form: RecordForm, *, status: int = 200, error: str | None = None,
                 notice: str | None = None, editing: bool | None = None, oob_counts: dict | None = None):
    check = item.spot_check
    return render("integrity/spotchecks/record.html", block="item", status=status, item=item, form=form,
                  oob_counts=oob_counts,
                  check=check, period=Period(check.period_start, check.period_end), error=error, notice=notice,
                  editing=item.flag_id is None if editing is None else editing, may_record=True, may_reveal=_may_reveal(),
                  may_see_flag=role_may(current_user.role, "integrity.show"), **_ctx())


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@office
def record(item_id: int):
    """记录回访结果 of one sampled sign-off (correctable until a flag exists)."""
    if request.method == "GET":
        item = _item_or_404(item_id)
        form = RecordForm(formdata=None)
        form.fill(item)
        return _record_page(item, form)
    item = _item_or_404(item_id, for_update=True)
    form = RecordForm()
    if not form.validate_on_submit():
        if form.version.errors or form.csrf_token.errors:
            return _record_page(item, form, status=400)
        return _record_page(item, form, status=422 if is_htmx() else 200)
    try:
        flag = sc.record(item, current_user, result=CallbackResult(form.result.data), method=form.method.data,
                         called_at=form.called_at.utc, note=form.note.data, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        db.session.rollback()
        item = _item_or_404(item_id)
        db.session.refresh(item)
        message = str(exc) if isinstance(exc, Conflict) else str(sc.STALE_ITEM)
        form.version.data = item.version  # they have now seen the current state
        return _record_page(item, form, status=409, error=message)
    except Invalid as exc:
        db.session.rollback()
        item = _item_or_404(item_id)
        return _record_page(item, form, status=422 if is_htmx() else 200, error=str(exc))
    message = (_("回访结果不属实，已形成问题线索。") if flag is not None
               else _("已记录回访结果：%(r)s。", r=RESULT_SHORT[item.result]))
    if is_htmx():
        fresh = RecordForm(formdata=None)
        fresh.fill(item)
        return _record_page(item, fresh, notice=message, editing=False,
                            oob_counts=sc.progress([item.spot_check_id])[item.spot_check_id])
    flash(message, "success")
    return redirect(url_for("spotchecks.show", check_id=item.spot_check_id) + f"#item-{item.id}")
