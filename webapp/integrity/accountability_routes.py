"""问责 records against units: the list (filtered by unit), recording one (the office), one record.

The office, the leader and the audit admin read every record (list, page, printed decision);
nobody else reaches them, the unit held to account included (403); only the office records. Recording is
two steps without JavaScript: choose the unit (``?unit_id=``, or ``?flag_id=`` from a flag's
page, which picks the flag's unit and ticks the flag), then the record, whose linked flags are
the unit's confirmed ones. Problems are typed by number; each bad entry gets its own message and
the input is kept.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..accounts import nav
from ..accounts.gates import role_may, roles_required
from ..accounts.roles import Role
from ..cases.access import scope as problem_scope
from ..cases.models import Problem
from ..core import audit, clock
from ..core.extensions import db
from ..core.forms import int_or_none
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..org.forms import unit_choices
from ..org.models import Unit
from . import accountability as acc
from .accountability_forms import MEASURE_LABELS, RecordForm, UnitForm
from .models import AccountabilityRecord, Flag

bp = Blueprint("accountability", __name__, url_prefix="/integrity/accountability")
readers = roles_required(*acc.READERS)
office = roles_required(Role.office)
decision_readers = roles_required(*acc.DECISION_READERS)


@bp.record_once
def _menu(_state) -> None:
    nav.register("accountability.index", _l("问责记录"))


@bp.get("")
@readers
def index():
    """The records, newest decision first, filtered by unit."""
    unit_id = int_or_none(request.args.get("unit"))
    records = acc.records(current_user, unit_id=unit_id)
    with_records = set(db.session.scalars(select(AccountabilityRecord.unit_id).distinct()))
    units = [u for u in db.session.scalars(select(Unit).where(Unit.id.in_(with_records)).order_by(Unit.id))]
    return render("integrity/accountability/index.html", records=records, units=units, unit_id=unit_id,
                  measure_labels=MEASURE_LABELS, may_create=current_user.role == Role.office)


def _unit(unit_id) -> Unit | None:
    unit = db.session.get(Unit, unit_id) if unit_id else None
    return unit if unit is not None and unit.kind in acc.ACCOUNTABLE_KINDS else None


def _unit_page(form: UnitForm, *, status: int = 200):
    form.unit_id.choices = unit_choices(acc.accountable_units(), blank=_("请选择"))
    return render("integrity/accountability/new.html", status=status, step="unit", unit_form=form)


def _record_page(unit: Unit, form: RecordForm, *, status: int = 200, problem_errors=(), error=None):
    flags = acc.linkable_flags(unit)
    form.unit_id.data = unit.id
    return render("integrity/accountability/new.html", status=status, step="record", unit=unit, form=form,
                  flags=flags, unchecked=acc.unchecked_flags(unit), problem_errors=list(problem_errors),
                  error=error, may_see_flag=role_may(current_user.role, "integrity.show"))


@bp.route("/new", methods=["GET", "POST"])
@office
def new():
    """记录问责: step 1 the unit (GET ``?unit_id=``/``?flag_id=``), step 2 the record."""
    if request.method == "GET":
        flag = None
        flag_id = int_or_none(request.args.get("flag_id"))
        if flag_id is not None:
            flag = db.session.get(Flag, flag_id)
            if flag is None:
                abort(404)
        unit_id = flag.unit_id if flag is not None else int_or_none(request.args.get("unit_id"))
        unit = _unit(unit_id)
        if unit is None:
            unit_form = UnitForm(request.args if "unit_id" in request.args else None)
            if "unit_id" in request.args:
                unit_form.unit_id.errors = [_("请选择被问责的单位。")]
            return _unit_page(unit_form)
        form = RecordForm(formdata=None)
        form.decided_on.data = clock.today()
        if flag is not None:
            form.flags.data = [flag.id]
        return _record_page(unit, form)

    form = RecordForm()
    unit = _unit(form.unit_id.data)
    if unit is None:
        return _unit_page(UnitForm(formdata=None), status=200)
    valid = form.validate_on_submit()
    resolved = acc.resolve_numbers(form.problems.data, unit)
    persons, person_errors = acc.parse_persons(form.persons.data)
    if person_errors:
        form.persons.errors = [*form.persons.errors, *person_errors]
        valid = False
    if form.csrf_token.errors:
        return _record_page(unit, form, status=400, error=_("页面已过期，请刷新后重试。"))
    if not valid or resolved.errors:
        return _record_page(unit, form, problem_errors=resolved.errors)
    try:
        record = acc.create(current_user, unit=unit, measure=form.measure.data, facts=form.facts.data,
                            decided_on=form.decided_on.data, decided_by=form.decided_by.data,
                            problem_ids=resolved.ids, flag_ids=form.flags.data or [], persons=persons)
        db.session.commit()
    except acc.RecordInvalid as exc:
        db.session.rollback()
        unit = db.session.get(Unit, unit.id)
        problem_errors = []
        for name, message in exc.errors.items():
            target = form._fields.get(name)
            if name == "problems":
                problem_errors.append(str(message))
            elif target is not None:
                target.errors = [*target.errors, str(message)]
        return _record_page(unit, form, problem_errors=problem_errors)
    flash(_("已记录对%(unit)s的问责。", unit=unit.name), "success")
    return redirect(url_for("accountability.show", record_id=record.id))


@bp.get("/<int:record_id>")
@readers
def show(record_id: int):
    """One record: the unit, the measure, the facts, who decided when, the problems and flags."""
    record = acc.get_or_404(record_id, current_user)
    ids = [p.id for p in record.problems]
    visible = set(db.session.scalars(select(Problem.id).where(Problem.id.in_(ids), problem_scope(current_user)))) \
        if ids else set()
    return render("integrity/accountability/show.html", record=record, measure_labels=MEASURE_LABELS,
                  visible=visible, may_see_flag=role_may(current_user.role, "integrity.show"),
                  persons=record.persons if acc.may_see_persons(current_user) else None,
                  may_print=current_user.role in acc.DECISION_READERS,
                  finding_labels=acc.FINDING_LABELS)


@bp.get("/<int:record_id>/decision.pdf")
@decision_readers
def decision(record_id: int):
    """问责决定, printed A4 with its number and the persons named (the office, the leader and
    the audit admin only); each print is audited."""
    record = acc.decision_or_404(record_id, current_user)
    with force_locale("zh_CN"):
        data = render_pdf("accountability_decision", **acc.decision_context(record, MEASURE_LABELS[record.measure]))
    audit.record("integrity.accountability_decision_printed", obj=record, user=current_user,
                 detail={"number": record.number, "persons": len(record.persons)})
    db.session.commit()
    return pdf_response(data, f"问责决定-{record.number or record.id}.pdf")
