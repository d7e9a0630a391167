"""Which jobs a user may see: their own; the office also everyone's, except kinds kept for their
owner alone (the audit log's exports). Anyone else is told the job does not exist (404)."""

from flask import abort
from sqlalchemy import or_, select

from ..accounts.models import User
from ..accounts.roles import Role
from ..core.extensions import db
from ..core.jobs import Job, kinds_private

LISTED = 100  # the list shows this many jobs, newest first


def may_see_all(user) -> bool:
    return user.role == Role.office


def _visible(user):
    own = Job.user_id == user.id
    if may_see_all(user):
        return or_(own, Job.kind.not_in(kinds_private()))
    return own


def get_visible(job_id: int, user) -> Job:
    """The job, if ``user`` may see it; 404 otherwise."""
    job = db.session.scalar(select(Job).where(Job.id == job_id, _visible(user)))
    if job is None:
        abort(404)
    return job


def owner_of(job: Job) -> User | None:
    return db.session.get(User, job.user_id) if job.user_id is not None else None


def listing(user, *, everyone: bool = False) -> list[tuple[Job, str | None]]:
    """The user's jobs (the office's ``everyone``: all it may see), newest first, with the
    owner's name."""
    where = _visible(user) if everyone and may_see_all(user) else Job.user_id == user.id
    rows = db.session.execute(
        select(Job, User.full_name).outerjoin(User, User.id == Job.user_id)
        .where(where).order_by(Job.id.desc()).limit(LISTED)
    ).all()
    return [(job, name) for job, name in rows]
