"""The printed 问题交办单 (转办单 for the 12345 desk, 统筹交办单 for departments) of one assignment:
for whoever may see the problem (404 otherwise), always in Chinese, the resident's phone masked
unless the reader may see it."""

from flask import Blueprint, abort
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.gates import roles_required
from ..accounts.roles import CASEWORK_ROLES
from ..core import clock
from ..core.extensions import db
from ..documents.pdf import cn_date, pdf_response, render_pdf
from .access import get_problem_or_404, shown_phone
from .actions import PART_STATUS_LABELS
from .models import SOURCE_LABELS, Assignment, AssignmentUnit, Channel, PartStatus, UnitRole

bp = Blueprint("sheets", __name__)
casework = roles_required(*CASEWORK_ROLES)

SHEET_TITLES = {
    Channel.sheet: _l("问题交办单"),
    Channel.desk: _l("问题转办单"),
    Channel.office: _l("问题交办单"),
}


def sheet_context(assignment: Assignment) -> dict:
    """The sheet as a plain view-model (masked phone whoever prints it: paper travels)."""
    p = assignment.problem
    parts = []
    for part in assignment.units:
        signed = part.status in (PartStatus.accepted, PartStatus.done)  # a finished part was signed for
        parts.append({
            "is_lead": part.role == UnitRole.lead,
            "unit": part.unit.name,
            "role": _("牵头单位") if part.role == UnitRole.lead else _("配合单位"),
            "signer": part.signed_by.full_name if signed and part.signed_by else "",
            "signed_at": f"{cn_date(part.signed_at)} {clock.local(part.signed_at).strftime('%H:%M')}"
            if signed and part.signed_at else "",
            "status": str(PART_STATUS_LABELS[part.status]),
        })
    lead = next((x for x in parts if x["is_lead"]), None)
    source = str(SOURCE_LABELS.get(p.source, p.source))
    if p.visit is not None:
        source = _("%(source)s（%(group)s，%(day)s，%(household)s）", source=source, group=p.work_group.name,
                   day=f"{p.visit.visited_on.year}年{p.visit.visited_on.month}月{p.visit.visited_on.day}日",
                   household=p.visit.household_name)
    else:
        source = _("%(source)s（%(group)s）", source=source, group=p.work_group.name)
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动"),
        "doc_number": assignment.number,
        "doc_title": str(SHEET_TITLES[assignment.channel]),
        "is_desk": assignment.channel == Channel.desk,
        "problem_number": p.number,
        "source": source,
        "assigned_on": clock.local(assignment.assigned_at).date(),
        "resident": p.resident_name,
        "phone": shown_phone(p),
        "village": f"{p.town.name}{p.village.name}",
        "address": p.address,
        "household": p.household_name,
        "category": p.category.name,
        "title": p.title,
        "description": p.description,
        "assigner": assignment.assigner_unit.name,
        "assigned_by": assignment.assigned_by.full_name,
        "lead": lead,
        "cooperating": [x for x in parts if x is not lead],
        "parts": parts,
        "kind": p.kind.label if p.kind else "",
        "level": p.level.label if p.level else "",
        "tier": p.tier.label if p.tier else "",
        "deadline": assignment.deadline,
        "sign_for_deadline": assignment.sign_for_deadline,
        "requirements": assignment.requirements,
        "is_current": assignment.is_current,
    }


@bp.get("/assignments/<int:assignment_id>/sheet.pdf")
@casework
def sheet_pdf(assignment_id: int):
    """问题交办单 (转办单) of one assignment, for whoever may see the problem (404 otherwise)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        abort(404)
    get_problem_or_404(assignment.problem_id, current_user)
    assignment = db.session.scalar(
        select(Assignment).where(Assignment.id == assignment_id).options(
            selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
            selectinload(Assignment.units).joinedload(AssignmentUnit.signed_by),
            joinedload(Assignment.assigner_unit), joinedload(Assignment.assigned_by),
        )
    )
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        ctx = sheet_context(assignment)
        data = render_pdf("assignment_sheet", **ctx)
    return pdf_response(data, f"{ctx['doc_title']}-{assignment.number}.pdf")
