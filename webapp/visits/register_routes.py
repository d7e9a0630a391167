"""The registers' pages: households (户) and enterprises (企业), one set of views for both.

Lists with filters (place, cadre, mark, visited in the round), search by name, pinyin initials
and number, the Excel export of the filtered list; an entry's page with its visits; add, edit and
close (office, group lead); the audited 显示完整号码; bulk reassignment of a cadre's entries.
"""

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectChoice

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.models import User
from ..accounts.roles import Role
from ..cases.access import mask_phone
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.render import render
from ..org.models import Unit
from . import access, coverage, exports, queries
from . import operations as ops
from .models import SIZE_BAND_LABELS, Enterprise, Household, SizeBand, Visit
from .register_forms import CloseForm, EnterpriseForm, HouseholdForm, ReassignForm

bp = Blueprint("registers", __name__)
bp.before_request(access.refuse_departments)
readers = roles_required(*access.READERS)
editors = roles_required(*access.EDITORS)
phone_roles = roles_required(Role.cadre, Role.group_lead, Role.office)


@bp.record_once
def _menu(_state) -> None:
    nav.register("registers.households", _l("户籍台账"), when=access.has_register_part)
    nav.register("registers.enterprises", _l("企业台账"), when=access.has_register_part)


@dataclass(frozen=True)
class Kind:
    slug: str
    model: type
    title: object
    singular: object


KINDS = {
    "households": Kind("households", Household, _l("户籍台账"), _l("户")),
    "enterprises": Kind("enterprises", Enterprise, _l("企业台账"), _l("企业")),
}
CHANGED = _l("该记录已被他人修改，请刷新页面查看最新内容后再操作。")


def _kind(slug: str) -> Kind:
    kind = KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


# ---------------------------------------------------------------- lists


def _list(kind: Kind):
    filters = queries.Filters.from_args(request.args)
    visit_round = queries.chosen_round(filters)
    total, page, items = queries.page_of(kind.model, current_user, filters, visit_round,
                                         request.args.get("page", 1, type=int))
    pages = max(1, -(-total // queries.PAGE_SIZE))
    visited = queries.visited_ids(kind.model, [e.id for e in items], visit_round)
    return render(
        "visits/registers.html", block="results", kind=kind, filters=filters, items=items, total=total,
        page=page, pages=pages, visited=visited, visit_round=visit_round, rounds=coverage.rounds(),
        places=queries.places(current_user, villages=kind.model is Household),
        cadres=queries.cadres(current_user) if current_user.role != Role.cadre else [],
        marks=queries.marks() if kind.model is Household else [],
        may_edit=access.may_edit(current_user), mask_phone=mask_phone,
    )


@bp.get("/visits/households")
@readers
def households():
    """户籍台账: the households the user may see, filtered and searched."""
    return _list(KINDS["households"])


@bp.get("/visits/enterprises")
@readers
def enterprises():
    """企业台账: the enterprises the user may see, filtered and searched."""
    return _list(KINDS["enterprises"])


@bp.get("/visits/<slug>/export.xlsx")
@readers
def export(slug: str):
    """The filtered list as a workbook, streamed row by row (write-only)."""
    kind = _kind(slug)
    filters = queries.Filters.from_args(request.args)
    visit_round = queries.chosen_round(filters)
    cond = queries.conditions(kind.model, current_user, filters, visit_round)
    return exports.register_workbook(kind.model, cond, visit_round)


# ---------------------------------------------------------------- one entry


@bp.get("/visits/<slug>/<int:entry_id>")
@readers
def detail(slug: str, entry_id: int):
    """An entry of the register with its visits, newest first."""
    kind = _kind(slug)
    entry = queries.get_entry_or_404(kind.model, entry_id, current_user)
    column = Visit.household_id if kind.model is Household else Visit.enterprise_id
    visits = list(db.session.scalars(select(Visit).options(joinedload(Visit.created_by))
                                     .where(column == entry.id).order_by(Visit.visited_on.desc(), Visit.id.desc())
                                     .limit(100)))
    close_form = CloseForm()
    close_form.now_at(entry.version)
    return render("visits/entry.html", kind=kind, entry=entry, visits=visits, close_form=close_form,
                  may_edit=access.may_edit(current_user, entry) and not entry.is_closed,
                  may_reveal=access.sees_full_phone(current_user, entry), mask_phone=mask_phone,
                  size_labels=SIZE_BAND_LABELS, visible_visit_ids=_visible_visits([v.id for v in visits]))


def _visible_visits(ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return set(db.session.scalars(select(Visit.id).where(Visit.id.in_(ids), access.visit_scope(current_user))))


@bp.post("/visits/<slug>/<int:entry_id>/reveal")
@phone_roles
def reveal(slug: str, entry_id: int):
    """显示完整号码 of a household or enterprise: for those entitled, always audited."""
    kind = _kind(slug)
    entry = queries.get_entry_or_404(kind.model, entry_id, current_user)
    if not access.sees_full_phone(current_user, entry):
        abort(403)
    ops.reveal_phone(entry, current_user)
    db.session.commit()
    return render("visits/_phone.html", block="phone", kind=kind, entry=entry, revealed=True)


def _choices(form, kind: Kind, entry=None) -> None:
    is_household = kind.model is Household
    place_field = form.village if is_household else form.town
    places = queries.places(current_user, villages=is_household)
    place_field.choices = [SelectChoice("", _("（请选择）"))] + [
        SelectChoice(u.id, f"{u.parent.name} · {u.name}" if is_household and u.parent else u.name) for u in places]
    people = queries.cadres(current_user)
    if entry is not None and all(c.id != entry.cadre_id for c in people):
        people.append(entry.cadre)
    form.cadre.choices = _people(people)
    if is_household:
        # The active marks, and a deactivated one the household still carries (kept unless unticked).
        kept = [m for m in (entry.marks if entry is not None else []) if not m.is_active]
        form.marks.choices = [SelectChoice(m.id, m.name) for m in queries.marks()] + [
            SelectChoice(m.id, _("%(name)s（已停用）", name=m.name)) for m in kept]
        form._mark_ids = {c.value for c in form.marks.choices}
    form._place_ids = {u.id for u in places}
    form._cadre_ids = {c.id for c in people}


def _people(people) -> list[SelectChoice]:
    return [SelectChoice("", _("（请选择）"))] + [SelectChoice(c.id, f"{c.full_name}（{c.unit.name}）") for c in people]


def _input(form, kind: Kind):
    """The operation's input from a validated form; field errors for choices outside the user's reach."""
    errors = {}
    place_field = form.village if kind.model is Household else form.town
    if place_field.data not in form._place_ids:
        errors[place_field.name] = _l("请选择您负责范围内的地点。")
    if form.cadre.data not in form._cadre_ids:
        errors["cadre"] = _l("请选择本工作组的走访队员。")
    if errors:
        raise FieldsInvalid(errors)
    place = db.session.get(Unit, place_field.data)
    cadre = db.session.get(User, form.cadre.data)
    if kind.model is Household:
        wanted = set(form.marks.data or [])
        chosen = [m for m in queries.marks(active_only=False) if m.id in wanted and m.id in form._mark_ids]
        return ops.HouseholdInput(village=place, number=form.number.data, head_name=form.head_name.data,
                                  cadre=cadre, address=form.address.data or "", members=form.members.data,
                                  phone=form.phone.data or "", marks=chosen)
    return ops.EnterpriseInput(name=form.name.data, town=place, cadre=cadre, credit_code=form.credit_code.data or None,
                               is_individual=form.is_individual.data, address=form.address.data or "",
                               contact_name=form.contact_name.data or "", phone=form.phone.data or "",
                               size_band=SizeBand(form.size_band.data), industry=form.industry.data or "")


def _form_page(kind: Kind, form, entry=None, status=200):
    return render("visits/entry_form.html", kind=kind, form=form, entry=entry, status=status,
                  errors=bool(form.errors or form.form_errors))


@bp.route("/visits/<slug>/new", methods=["GET", "POST"])
@editors
def new(slug: str):
    """Register a household or an enterprise (office, group lead)."""
    kind = _kind(slug)
    form = (HouseholdForm if kind.model is Household else EnterpriseForm)()
    _choices(form, kind)
    if request.method == "GET":
        form.now_at(0)
        return _form_page(kind, form)
    form.now_at(0)
    if not form.validate():
        return _form_page(kind, form)
    try:
        data = _input(form, kind)
        entry = (ops.create_household if kind.model is Household else ops.create_enterprise)(current_user, data)
        db.session.commit()
    except FieldsInvalid as exc:
        db.session.rollback()
        form.set_field_errors(exc.errors)
        return _form_page(kind, form)
    flash(_("已登记。"), "success")
    return redirect(url_for("registers.detail", slug=kind.slug, entry_id=entry.id))


@bp.route("/visits/<slug>/<int:entry_id>/edit", methods=["GET", "POST"])
@editors
def edit(slug: str, entry_id: int):
    """Change an entry (office, the group lead of its group); a stale form is refused."""
    kind = _kind(slug)
    entry = queries.get_entry_or_404(kind.model, entry_id, current_user)
    if not access.may_edit(current_user, entry):
        abort(403)
    form_cls = HouseholdForm if kind.model is Household else EnterpriseForm
    form = form_cls(obj=entry) if request.method == "GET" else form_cls()
    _choices(form, kind, entry)
    if request.method == "GET":
        if kind.model is Household:
            form.village.data = entry.village_id
            form.marks.data = [m.id for m in entry.marks]
        else:
            form.town.data = entry.town_id
            form.size_band.data = entry.size_band.value
        form.cadre.data = entry.cadre_id
        form.now_at(entry.version)
        return _form_page(kind, form, entry)
    if not form.validate():
        return _form_page(kind, form, entry)
    update = ops.update_household if kind.model is Household else ops.update_enterprise
    try:
        update(entry, current_user, _input(form, kind), version=form.version.data)
        db.session.commit()
    except FieldsInvalid as exc:
        db.session.rollback()
        form.set_field_errors(exc.errors)
        return _form_page(kind, form, entry)
    except (Conflict, StaleDataError, Invalid) as exc:
        db.session.rollback()
        form.form_errors.append(str(exc) if isinstance(exc, Invalid) else str(CHANGED))
        return _form_page(kind, form, entry, status=409 if not isinstance(exc, Invalid) else 200)
    flash(_("已保存。"), "success")
    return redirect(url_for("registers.detail", slug=kind.slug, entry_id=entry.id))


@bp.post("/visits/<slug>/<int:entry_id>/close")
@editors
def close(slug: str, entry_id: int):
    """Close an entry (moved away, deregistered) with a reason; it stays in the register."""
    kind = _kind(slug)
    entry = queries.get_entry_or_404(kind.model, entry_id, current_user)
    if not access.may_edit(current_user, entry):
        abort(403)
    form = CloseForm()
    if form.validate():
        try:
            ops.close_entry(entry, current_user, reason=form.reason.data, version=form.version.data)
            db.session.commit()
            flash(_("已注销。"), "success")
            return redirect(url_for("registers.detail", slug=kind.slug, entry_id=entry.id))
        except (Conflict, StaleDataError):
            db.session.rollback()
            flash(str(CHANGED), "error")
            return redirect(url_for("registers.detail", slug=kind.slug, entry_id=entry.id)), 303
        except FieldsInvalid as exc:
            db.session.rollback()
            form.set_field_errors(exc.errors)
    db.session.rollback()
    entry = queries.get_entry_or_404(kind.model, entry_id, current_user)
    return render("visits/entry.html", kind=kind, entry=entry, visits=[], close_form=form,
                  may_edit=True, may_reveal=access.sees_full_phone(current_user, entry), mask_phone=mask_phone,
                  size_labels=SIZE_BAND_LABELS, visible_visit_ids=set())


# ---------------------------------------------------------------- bulk reassignment


@bp.route("/visits/reassign", methods=["GET", "POST"])
@editors
def reassign():
    """A cadre leaves: all their open households and enterprises go to another in one step."""
    form = ReassignForm()
    people = queries.cadres(current_user)
    if current_user.role == Role.office:
        # The office may also move the entries of a cadre whose account is no longer active.
        holders = db.session.scalars(select(User).where(User.id.in_(
            select(Household.cadre_id).where(Household.is_closed.is_(False)).union(
                select(Enterprise.cadre_id).where(Enterprise.is_closed.is_(False))))).order_by(User.full_name))
        givers = list(holders)
    else:
        givers = people
    form.from_cadre.choices = _people(givers)
    form.to_cadre.choices = _people(people)
    if request.method == "POST" and form.validate():
        giver_ids, taker_ids = {c.id for c in givers}, {c.id for c in people}
        if form.from_cadre.data not in giver_ids:
            form.from_cadre.errors.append(_("请选择列表中的干部。"))
        elif form.to_cadre.data not in taker_ids:
            form.to_cadre.errors.append(_("请选择列表中的干部。"))
        else:
            try:
                moved = ops.reassign(
                    current_user, from_cadre=db.session.get(User, form.from_cadre.data),
                    to_cadre=db.session.get(User, form.to_cadre.data),
                    within_group=current_user.unit_id if current_user.role == Role.group_lead else None)
                db.session.commit()
            except FieldsInvalid as exc:
                db.session.rollback()
                for name, message in exc.errors.items():
                    getattr(form, name).errors.append(str(message))
            else:
                flash(_("已移交 %(h)d 户、%(e)d 家企业。", h=moved["household"], e=moved["enterprise"]), "success")
                return redirect(url_for("registers.households"))
    return render("visits/reassign.html", form=form, errors=bool(form.errors))
