"""Reads of problems, always through the one scope (``cases.access.scope``).

Queues: counters, filters, active search, sorting and pagination with a bounded number of
queries whatever the data size (one count, one page, eager-loaded relations, one counter row).
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.roles import Role
from ..core import clock
from ..core.extensions import db
from . import counts
from .access import scope
from .deadlines import due_soon_cutoff
from .models import Assignment, AssignmentUnit, PartStatus, Problem
from .workflow import HANDLING, OWES_REPLY, SOLVED, TRIAGE, Status, Tier

PAGE_SIZE = 25
SORTS = {
    "new": (Problem.registered_at.desc(), Problem.id.desc()),
    "old": (Problem.registered_at.asc(), Problem.id.asc()),
    # Problems without a deadline last, on SQLite as on PostgreSQL (their defaults differ).
    "deadline": (Problem.deadline.asc().nulls_last(), Problem.id.asc()),
    "number": (Problem.year.desc(), Problem.seq.desc()),
    "updated": (Problem.updated_at.desc(), Problem.id.desc()),
}

# Counts of several statuses the statistics link to (stats.routes.QueueLinks): ``?status=solved``
# etc. None of these names is a status of its own.
STATUS_GROUPS = {
    "solved": SOLVED,  # 已化解: signed off or closed
    "handling": HANDLING | {Status.pending_verification},  # 办理中, verification included
    "awaiting": TRIAGE | {Status.listed},  # 待交办
    "other_ended": frozenset({Status.not_accepted, Status.merged}),
}

# QueueFilter fields whose query-string argument has another name.
ARG_NAMES = {"unit_id": "unit", "town_id": "town", "village_id": "village", "category_id": "category"}


@dataclass
class QueueFilter:
    """What a queue shows; parsed from the query string, echoed back into the form."""

    tab: str = "all"
    status: str = ""
    unit_id: int | None = None
    town_id: int | None = None
    village_id: int | None = None
    category_id: int | None = None
    tier: str = ""
    overdue: bool = False
    q: str = ""
    sort: str = "new"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "QueueFilter":
        def _int(name):
            try:
                value = int(args.get(name) or 0)
            except ValueError:
                return None
            return value or None

        sort = args.get("sort", "new")
        status = args.get("status", "")
        tier = args.get("tier", "")
        return cls(
            tab=args.get("tab", "all") or "all",
            status=status if status in Status.__members__ or status in STATUS_GROUPS else "",
            unit_id=_int("unit"),
            town_id=_int("town"),
            village_id=_int("village"),
            category_id=_int("category"),
            tier=tier if tier in Tier.__members__ else "",
            overdue=args.get("overdue") in ("1", "on", "true"),
            q=(args.get("q") or "").strip()[:50],
            sort=sort if sort in SORTS else "new",
            page=max(1, _int("page") or 1),
        )

    def as_args(self, **changes) -> dict:
        """The query-string arguments ``from_args`` reads back (``unit``, not ``unit_id``)."""
        values = {**self.__dict__, **changes}
        out = {ARG_NAMES.get(k, k): v for k, v in values.items()
               if v not in (None, "", False, 1 if k == "page" else None)}
        if out.get("tab") == "all":
            out.pop("tab")
        if out.get("sort") == "new":
            out.pop("sort")
        if values.get("overdue"):
            out["overdue"] = "1"
        return out


def tab_conditions(user, today: date, soon: date) -> dict[str, object]:
    """The queue tabs of ``user``'s role, each a WHERE clause (shared by lists and counters)."""
    overdue = and_(Problem.status.in_(HANDLING), Problem.deadline < today)
    soon_c = and_(Problem.status.in_(HANDLING), Problem.deadline >= today, Problem.deadline <= soon)
    role = user.role
    # A reply (回音) is owed while ``reply_due`` is set (cleared by the reply).
    owes_reply = Problem.reply_due.isnot(None)
    if role in (Role.handler, Role.unit_leader, Role.desk):
        my_pending = Problem.id.in_(select(AssignmentUnit.problem_id).where(
            AssignmentUnit.unit_id == user.unit_id, AssignmentUnit.is_current.is_(True),
            AssignmentUnit.status == PartStatus.pending))
        tabs = {"to_sign": my_pending}
        if role == Role.unit_leader:
            # Task books and sign-off requests of its own unit waiting for the leader.
            tabs["to_review"] = and_(Problem.status.in_((Status.plan_review, Status.signoff_review)),
                                     Problem.lead_unit_id == user.unit_id)
        tabs |= {
            "handling": and_(Problem.status.in_(HANDLING - {Status.assigned}), ~my_pending),
            "due_soon": soon_c,
            "overdue": overdue,
        }
        if role == Role.desk:
            # The desk replies for the problems it leads (not for parts it cooperates on).
            tabs["owes_reply"] = and_(owes_reply, Problem.lead_unit_id == user.unit_id)
        return tabs
    if role == Role.group_lead:
        return {
            "to_triage": Problem.status.in_(TRIAGE),
            "listed": Problem.status == Status.listed,
            "handling": Problem.status.in_(HANDLING),
            "to_verify": and_(Problem.status == Status.pending_verification,
                              Problem.assigner_unit_id == user.unit_id),
            "overdue": overdue,
        }
    if role == Role.cadre:
        return {
            "open": Problem.status.notin_(SOLVED | OWES_REPLY | {Status.closed}),
            "owes_reply": owes_reply,
            "done": Problem.status.in_(SOLVED | {Status.closed}),
        }
    if role in (Role.office, Role.leader):
        tabs = {
            "listed": Problem.status == Status.listed,
            "handling": Problem.status.in_(HANDLING),
            "to_verify": and_(Problem.status == Status.pending_verification,
                              Problem.assigner_unit_id == user.unit_id),
            "overdue": overdue,
            "due_soon": soon_c,
        }
        if role == Role.office:
            tabs["owes_reply"] = owes_reply
        return tabs
    return {}


def _filtered(user, f: QueueFilter, today: date, soon: date):
    conds = [scope(user)]
    tabs = tab_conditions(user, today, soon)
    if f.tab in tabs:
        conds.append(tabs[f.tab])
    if f.status in STATUS_GROUPS:
        conds.append(Problem.status.in_(STATUS_GROUPS[f.status]))
    elif f.status:
        conds.append(Problem.status == Status(f.status))
    if f.unit_id:
        conds.append(Problem.lead_unit_id == f.unit_id)
    if f.town_id:
        conds.append(Problem.town_id == f.town_id)
    if f.village_id:
        conds.append(Problem.village_id == f.village_id)
    if f.category_id:
        conds.append(Problem.category_id == f.category_id)
    if f.tier:
        conds.append(Problem.tier == Tier(f.tier))
    if f.overdue:
        conds.append(and_(Problem.status.in_(HANDLING), Problem.deadline < today))
    if f.q:
        # autoescape: a typed "%" or "_" is searched for, not used as a wildcard.
        conds.append(or_(*(col.contains(f.q, autoescape=True) for col in (
                             Problem.number, Problem.title, Problem.resident_name, Problem.household_name)),
                         Problem.receipt_no == f.q.upper()))
    return conds


@dataclass
class Page:
    items: list
    total: int
    page: int
    page_size: int = PAGE_SIZE
    counters: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _eager(q):
    # selectinload, not joins: one small IN query per relation keeps the page query a plain,
    # index-driven scan (with seven joins PostgreSQL gave up reordering and scanned the table:
    # ~1 s per unit page at 200,000 problems, 0.2 s with this; see benchmarks/queues.py).
    return q.options(
        selectinload(Problem.category), selectinload(Problem.village), selectinload(Problem.town),
        selectinload(Problem.lead_unit), selectinload(Problem.registered_by),
        # access.sees_full_contact reads the unit's part: one extra query per page, not per row.
        selectinload(Problem.current_assignment).selectinload(Assignment.units),
    )


def queue(user, f: QueueFilter, *, today: date | None = None, soon: date | None = None) -> Page:
    """One page of the user's queue: a count query and a page query."""
    today = today or clock.today()
    soon = soon or due_soon_cutoff(today)
    conds = _filtered(user, f, today, soon)
    total = db.session.scalar(select(func.count()).select_from(Problem).where(*conds))
    page = min(f.page, max(1, -(-total // PAGE_SIZE)))
    items = db.session.scalars(
        _eager(select(Problem).where(*conds)).order_by(*SORTS[f.sort])
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).unique().all()
    return Page(items=items, total=total, page=page)


def export_rows(user, f: QueueFilter, *, limit: int = 100_000, today: date | None = None):
    """Every row the filter shows (no paging), in the same order, streamed in chunks."""
    today = today or clock.today()
    conds = _filtered(user, f, today, due_soon_cutoff(today))
    q = _eager(select(Problem).where(*conds)).order_by(*SORTS[f.sort]).limit(limit)
    # No unique(): it cannot stream, and the eager loads join no collection (no duplicate rows).
    return db.session.scalars(q.execution_options(yield_per=1000))


def counters(user, *, today: date | None = None, soon: date | None = None) -> dict[str, int]:
    """Every tab's count for the user, from the kept counters (``cases.counts``): one small query."""
    return counters_and_total(user, today=today, soon=soon)[0]


def counters_and_total(user, *, today: date | None = None, soon: date | None = None) -> tuple[dict[str, int], int]:
    """Every tab's count and the count of the user's whole scope (the 全部 tab), in one query."""
    today = today or clock.today()
    soon = soon or due_soon_cutoff(today)
    tabs = tab_conditions(user, today, soon)
    if not tabs:
        return {}, 0
    return counts.tab_counts(user, list(tabs), today, soon)


def fresh_counters(user, *, today: date | None = None, soon: date | None = None) -> dict[str, int]:
    """Every tab's count by counting the problems themselves (what ``flask counts verify`` and the
    tests compare the kept counters with; a scan of the user's scope — never on a page)."""
    today = today or clock.today()
    soon = soon or due_soon_cutoff(today)
    tabs = tab_conditions(user, today, soon)
    if not tabs:
        return {}
    cols = [func.count().filter(cond).label(name) for name, cond in tabs.items()]
    row = db.session.execute(select(*cols).select_from(Problem).where(scope(user))).one()
    return dict(row._mapping)


def detail_options():
    """Eager loads for the problem page (timeline, assignment parts, attachments)."""
    from .models import Assignment, ProblemEvent

    return [
        selectinload(Problem.events).joinedload(ProblemEvent.user),
        selectinload(Problem.events).joinedload(ProblemEvent.unit),
        selectinload(Problem.attachments),
        joinedload(Problem.current_assignment).selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
    ]
