"""The one way a handling form page performs its operation and answers every way it can end.

A handling view (task book, progress, extension, sign-off, verification, reply …) loads its
problem with ``load(..., for_update=True)`` on POST, validates its form, and hands the operation
to :func:`perform` with a ``rerender`` callable that draws its page again::

    def rerender(problem, *, status=200, error=None, field_errors=None): ...

``perform`` commits once and then redirects to the problem page with a flash (post/redirect/get).
A stale version or a concurrent change → rollback, the page again with the message, HTTP 409;
an action the user may not take (any more) → 409 when someone else moved the problem on, 403
otherwise; a business-rule error → the page again with the message at the field (``FieldsInvalid``)
or on top, HTTP 200 — the user's input is never lost. Files written during ``work`` are removed
again when the transaction fails (:func:`store_files`).
"""

from collections.abc import Callable

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from . import operations as ops
from . import queries, uploads
from .access import get_problem_or_404, relations, scope
from .models import Problem
from .workflow import (
    ACTIVITIES,
    Action,
    Activity,
    NotAllowed,
    Status,
    check,
    check_activity,
    transition,
)


def load(problem_id: int, *, for_update: bool = False) -> Problem:
    """The problem if the user's scope holds it (404 otherwise), locked for a write on POST."""
    if for_update:
        get_problem_or_404(problem_id, current_user, for_update=True)
    return get_problem_or_404(problem_id, current_user, options=queries.detail_options())


def reload(problem_id: int) -> Problem:
    db.session.rollback()
    problem = db.session.scalar(
        select(Problem).where(Problem.id == problem_id, scope(current_user))
        .options(*queries.detail_options()).execution_options(populate_existing=True))
    if problem is None:
        abort(404)
    return problem


def refusal(problem: Problem, what: Action | Activity) -> tuple[int, str] | None:
    """None when the workflow lets the user do ``what`` now; else (HTTP code, message):
    409 when the problem's status does not allow it (any more), 403 when the user has no right."""
    user = current_user
    rels = relations(user, problem)
    try:
        if isinstance(what, Action):
            check(problem.status, what, user.role, rels)
        else:
            check_activity(what, problem.status, user.role, rels)
    except NotAllowed as exc:
        if isinstance(what, Action):
            moved_on = transition(problem.status, what) is None
        else:
            moved_on = Status(problem.status) not in ACTIVITIES[what].statuses
        return (409 if moved_on else 403), str(exc)
    return None


def done(problem_id: int, message: str, category: str = "success"):
    """PRG to the problem page (or the queue when the user no longer sees the problem)."""
    flash(message, category)
    visible = db.session.scalar(select(Problem.id).where(Problem.id == problem_id, scope(current_user)))
    return redirect(url_for("cases.detail", problem_id=problem_id) if visible else url_for("cases.queue"))


def perform(problem_id: int, work: Callable[[], str], rerender: Callable, *, action: Action | None = None,
            written: list[str] | None = None, success: Callable | None = None):
    """Run ``work()`` (returns the success message), commit once, answer every outcome.

    ``written``: the stored names of files ``work`` wrote (removed again on any failure).
    ``success``: optional ``(problem_id, message) -> response`` instead of the redirect.
    """
    try:
        message = work()
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        _cleanup(written)
        msg = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return rerender(reload(problem_id), status=409, error=msg)
    except NotAllowed as exc:
        _cleanup(written)
        problem = reload(problem_id)
        moved_on = action is not None and transition(problem.status, action) is None
        return rerender(problem, status=409 if moved_on else 403, error=str(exc))
    except FieldsInvalid as exc:
        _cleanup(written)
        return rerender(reload(problem_id), status=200, field_errors=exc.errors)
    except (Invalid, uploads.UploadRefused) as exc:
        _cleanup(written)
        return rerender(reload(problem_id), status=200, error=str(exc))
    except BaseException:
        _cleanup(written)
        raise
    if success is not None:
        return success(problem_id, message)
    return done(problem_id, message)


def _cleanup(written: list[str] | None) -> None:
    db.session.rollback()
    if written:
        uploads.remove(written)
        written.clear()


def store_files(problem: Problem, user, checked: list, *, kind, written: list[str], event=None, closure=None):
    """Write checked uploads and attach them (to a timeline entry or a closure request).

    Appends each stored name to ``written`` so that :func:`perform` can remove them on failure.
    """
    out = []
    for c in checked:
        stored = uploads.store(c)
        written.append(stored.stored_name)
        out.append(ops.add_attachment(problem, user, kind=kind, filename=c.filename, stored_name=stored.stored_name,
                                      mime=c.mime, size=stored.size, sha256=stored.sha256, event=event,
                                      closure=closure))
    return out


def check_files(files, *, limit: int = uploads.MAX_FILES_PER_PROBLEM) -> tuple[list, list[str]]:
    """Check uploaded files by content: (checked, error messages). Empty file fields are skipped."""
    files = [f for f in files if f and f.filename]
    errors: list[str] = []
    checked = []
    if len(files) > limit:
        return [], [_("最多上传 %(n)d 个文件。", n=limit)]
    for f in files:
        try:
            checked.append(uploads.check(f))
        except uploads.UploadRefused as exc:
            errors.append(str(exc))
    return checked, errors
