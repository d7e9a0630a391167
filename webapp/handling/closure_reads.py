"""What the closure pages read: the evidence of each request, the task book in force with the
files each step was marked done with, and why open steps may be signed off anyway."""

import base64

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..cases import uploads
from ..cases.actions import object_url
from ..cases.models import Attachment, Problem, ProblemEvent
from ..core import clock
from ..core.extensions import db
from ..documents.pdf import cn_date
from .models import Closure, ClosureStatus, TaskBook, TaskStep
from .queries import book_in_force


def closure_files(closure_ids) -> dict[int, list[Attachment]]:
    """The evidence of each closure request, oldest first."""
    ids = list(closure_ids)
    if not ids:
        return {}
    out: dict[int, list[Attachment]] = {}
    for a in db.session.scalars(select(Attachment).where(Attachment.closure_id.in_(ids))
                                .options(joinedload(Attachment.uploaded_by)).order_by(Attachment.id)):
        out.setdefault(a.closure_id, []).append(a)
    return out


def attachment_url(a: Attachment) -> str | None:
    return object_url("intake.attachment", attachment_id=a.id, problem_id=a.problem_id, default=a.id)


def closures_of(problem: Problem) -> list[Closure]:
    """Every closure request of the problem, newest first."""
    return db.session.scalars(
        select(Closure).where(Closure.problem_id == problem.id).order_by(Closure.id.desc()).options(
            joinedload(Closure.unit), joinedload(Closure.requested_by), joinedload(Closure.leader),
            joinedload(Closure.verifier), joinedload(Closure.verifier_unit))
    ).all()


def steps_in_force(problem: Problem) -> tuple[TaskBook | None, list[TaskStep]]:
    book = book_in_force(problem)
    return book, (list(book.steps) if book is not None else [])


def step_files(problem: Problem, steps: list[TaskStep]) -> dict[int, list[Attachment]]:
    """The files sent with each step when it was marked done (its evidence), by step id. The
    timeline entry of a step is the one written when it was ticked: its text opens with the title."""
    events = db.session.execute(select(ProblemEvent.id, ProblemEvent.created_at, ProblemEvent.note).where(
        ProblemEvent.problem_id == problem.id, ProblemEvent.action == "tick_step")).all()
    step_of = {}
    for s in steps:
        if s.done_at is None:
            continue
        for eid, at, note in events:
            if eid not in step_of and (note or "").startswith(f"{s.title}：") and clock.as_utc(at) == clock.as_utc(s.done_at):
                step_of[eid] = s.id
                break
    out: dict[int, list[Attachment]] = {}
    if step_of:
        for a in db.session.scalars(select(Attachment).where(Attachment.event_id.in_(list(step_of)))
                                    .options(joinedload(Attachment.uploaded_by)).order_by(Attachment.id)):
            out.setdefault(step_of[a.event_id], []).append(a)
    return out


def steps_ctx(problem: Problem) -> dict:
    """What the sign-off, review and verification pages show of the task book in force."""
    book, steps = steps_in_force(problem)
    return {"book": book, "steps": steps, "step_files": step_files(problem, steps),
            "today": clock.today()}


def evidence_figures(groups: list[tuple[str, list[Attachment]]]) -> list[dict]:
    """The evidence as the printed documents show it: each photo as its stored thumbnail (a
    ``data:`` URI, so the PDF carries the picture) with a caption — the file's name, who sent it,
    when, and the step (or the sign-off) it was sent with. Files that are not pictures (a PDF
    scan) are listed by name with the same caption. ``groups`` pairs a label with its files."""
    out = []
    for label, files in groups:
        for a in files:
            thumb = uploads.stored_thumbnail(a.stored_name) if a.mime.startswith("image/") else None
            when = clock.local(a.created_at)
            out.append({
                "n": len(out) + 1,
                "name": a.filename,
                "by": a.uploaded_by.full_name,
                "when": _("%(day)s %(time)s", day=cn_date(when), time=when.strftime("%H:%M")),
                "step": label,
                "src": f"data:image/jpeg;base64,{base64.b64encode(thumb).decode()}" if thumb else None,
            })
    return out


def step_groups(problem: Problem, steps: list[TaskStep]) -> list[tuple[str, list[Attachment]]]:
    """Each done step's evidence, labelled 步骤N：title."""
    files = step_files(problem, steps)
    return [(_("步骤%(n)s：%(title)s", n=i, title=s.title), files[s.id])
            for i, s in enumerate(steps, 1) if s.id in files]


def step_reasons(form_data) -> dict[int, str]:
    """Why each open step may be signed off anyway, as typed (``step_<id>`` fields)."""
    out = {}
    for name, value in form_data.items():
        if name.startswith("step_") and name[5:].isdigit():
            out[int(name[5:])] = value.strip()[:1000]
    return out


def reworks(problem: Problem) -> int:
    """How often the problem was sent back for rework (退回重办) so far."""
    return sum(1 for c in closures_of(problem) if c.status == ClosureStatus.verification_rejected)
