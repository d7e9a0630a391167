"""Reads of problems, always through the one scope (``cases.access.scope``).

Queues: counters, filters, active search, sorting and pagination with a bounded number of
queries whatever the data size (one count, one page, eager-loaded relations, one counter row).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.util import identity_key

from ..accounts.roles import Role
from ..core import clock, pii
from ..core.extensions import db
from ..org.models import Unit
from . import counts, search
from .access import UNIT_ROLES, scope
from .deadlines import due_soon_cutoff
from .models import Assignment, AssignmentUnit, Category, PartStatus, Problem
from .workflow import HANDLING, OWES_REPLY, SOLVED, TRIAGE, Status, Tier

PAGE_SIZE = 25
COUNT_CAP = 1000  # a filtered list counts its rows up to here ("1000 多个"), never the whole table
SORTS = {
    "new": (Problem.registered_at.desc(), Problem.id.desc()),
    "old": (Problem.registered_at.asc(), Problem.id.asc()),
    # Problems without a deadline last, on SQLite as on PostgreSQL (their defaults differ).
    "deadline": (Problem.deadline.asc().nulls_last(), Problem.id.asc()),
    "number": (Problem.year.desc(), Problem.seq.desc()),
    "updated": (Problem.updated_at.desc(), Problem.id.desc()),
}
DEFAULT_SORT = "deadline"  # the nearest deadline first (sign-for or handling)
# Keyset pagination: each sort's key columns (one direction for all) — the next page starts after
# the last card's key, found through the index in the same few steps on page 1 and page 400.
KEYS = {
    "new": ((Problem.registered_at, Problem.id), "desc"),
    "old": ((Problem.registered_at, Problem.id), "asc"),
    "deadline": ((Problem.deadline, Problem.id), "asc"),  # then those without a deadline, by id
    "number": ((Problem.year, Problem.seq), "desc"),
    "updated": ((Problem.updated_at, Problem.id), "desc"),
}
# The tab a queue opens on: what needs this role's action.
ACTION_TABS = {
    Role.handler: "to_sign", Role.desk: "to_sign", Role.unit_leader: "to_review", Role.group_lead: "to_triage",
    Role.cadre: "owes_reply", Role.office: "listed", Role.leader: "overdue",
}


def action_tab(user) -> str:
    return ACTION_TABS.get(user.role, "all")


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
    sort: str = DEFAULT_SORT
    after: str = ""  # the last card's sort key: the next page starts after it
    default_tab: str = "all"

    @classmethod
    def from_args(cls, args, *, default_tab: str = "all") -> "QueueFilter":
        def _int(name):
            try:
                value = int(args.get(name) or 0)
            except ValueError:
                return None
            return value or None

        sort = args.get("sort", DEFAULT_SORT)
        status = args.get("status", "")
        tier = args.get("tier", "")
        after = (args.get("after") or "")[:80]
        f = cls(
            tab=args.get("tab") or "",
            status=status if status in Status.__members__ or status in STATUS_GROUPS else "",
            unit_id=_int("unit"),
            town_id=_int("town"),
            village_id=_int("village"),
            category_id=_int("category"),
            tier=tier if tier in Tier.__members__ else "",
            overdue=args.get("overdue") in ("1", "on", "true"),
            q=(args.get("q") or "").strip()[:50],
            sort=sort if sort in SORTS else DEFAULT_SORT,
            after=after if parse_after(sort if sort in SORTS else DEFAULT_SORT, after) is not None else "",
            default_tab=default_tab,
        )
        # A plain visit opens on what needs the user's action; a search or a filter (the
        # statistics link here with ?status=…) looks through everything the user may see.
        f.tab = f.tab or f.opening_tab
        return f

    @property
    def opening_tab(self) -> str:
        return "all" if self.narrowed else self.default_tab

    @property
    def narrowed(self) -> bool:
        """Filters or a search beyond the tab (the tab's counter is then not the list's size)."""
        return bool(self.status or self.unit_id or self.town_id or self.village_id or self.category_id
                    or self.tier or self.overdue or self.q)

    def as_args(self, **changes) -> dict:
        """The query-string arguments ``from_args`` reads back (``unit``, not ``unit_id``)."""
        values = {**self.__dict__, **changes}
        values.pop("default_tab")
        out = {ARG_NAMES.get(k, k): v for k, v in values.items() if v not in (None, "", False)}
        opening = QueueFilter(**{**values, "tab": "", "default_tab": self.default_tab}).opening_tab
        if out.get("tab") == opening:
            out.pop("tab")
        if out.get("sort") == DEFAULT_SORT:
            out.pop("sort")
        if values.get("overdue"):
            out["overdue"] = "1"
        return out


# ---------------------------------------------------------------- keyset cursors


def _encode(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def cursor_of(sort: str, problem: Problem) -> str:
    """The ``after`` value of a card: its sort key, e.g. ``2026-10-08~1234``."""
    cols, _direction = KEYS[sort]
    return "~".join(_encode(getattr(problem, c.key)) for c in cols)


def parse_after(sort: str, text: str):
    """The key values of an ``after`` value, or None if it is not one (then: the first page)."""
    if not text:
        return ()
    parts = text.split("~")
    cols, _direction = KEYS[sort]
    if len(parts) != len(cols):
        return None
    values = []
    try:
        for col, part in zip(cols, parts, strict=True):
            if col is Problem.deadline:
                values.append(date.fromisoformat(part) if part else None)
            elif col.key.endswith("_at"):
                values.append(datetime.strptime(part, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC))
            else:
                values.append(int(part))
    except ValueError:
        return None
    if values[-1] is None:
        return None
    return tuple(values)


def open_problem():
    """Problems being handled, with the statuses written into the statement (not bound): the
    partial index of open problems' deadlines (``ix_problems_open_deadline``) is then usable,
    so 已超期 and 即将到期 never walk the ended problems."""
    return Problem.status.in_(bindparam("handling", sorted(s.value for s in HANDLING), expanding=True, literal_execute=True))


def awaiting_triage():
    """Problems awaiting triage, the statuses written into the statement like ``open_problem``:
    the group lead's 待研判 then reads the partial index ``ix_problems_triage_group_deadline``."""
    return Problem.status.in_(bindparam("triage", sorted(s.value for s in TRIAGE), expanding=True, literal_execute=True))


def tab_conditions(user, today: date, soon: date) -> dict[str, object]:
    """The queue tabs of ``user``'s role, each a WHERE clause (shared by lists and counters)."""
    overdue = and_(open_problem(), Problem.deadline < today)
    soon_c = and_(open_problem(), Problem.deadline >= today, Problem.deadline <= soon)
    role = user.role
    # A reply (回音) is owed while ``reply_due`` is set (cleared by the reply).
    owes_reply = Problem.reply_due.isnot(None)
    if role in (Role.handler, Role.unit_leader, Role.desk):
        # The unit's pending parts, computed first (MATERIALIZED): PostgreSQL otherwise walks
        # every problem by deadline probing for parts (0.16 s for the 12345 desk's 1,000 pending
        # parts at 200,000 problems) instead of reading the thousand and sorting them (4 ms).
        # (办理中 leaves them out as a plain subquery: there the problems drive.)
        pending = select(AssignmentUnit.problem_id).where(
            AssignmentUnit.unit_id == user.unit_id, AssignmentUnit.is_current.is_(True),
            AssignmentUnit.status == PartStatus.pending)
        first = pending.cte("my_pending").prefix_with("MATERIALIZED")
        tabs = {"to_sign": Problem.id.in_(select(first.c.problem_id))}
        if role == Role.unit_leader:
            # Task books and sign-off requests of its own unit waiting for the leader.
            tabs["to_review"] = and_(Problem.status.in_((Status.plan_review, Status.signoff_review)),
                                     Problem.lead_unit_id == user.unit_id)
        tabs |= {
            "handling": and_(Problem.status.in_(HANDLING - {Status.assigned}), Problem.id.notin_(pending)),
            "due_soon": soon_c,
            "overdue": overdue,
        }
        if role == Role.desk:
            # The desk replies for the problems it leads (not for parts it cooperates on).
            tabs["owes_reply"] = and_(owes_reply, Problem.lead_unit_id == user.unit_id)
        return tabs
    if role == Role.group_lead:
        return {
            "to_triage": awaiting_triage(),
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


def _filtered(user, f: QueueFilter, today: date, soon: date, tabs: dict | None = None):
    tabs = tab_conditions(user, today, soon) if tabs is None else tabs
    # A unit's 待签收 names the unit's own pending parts, which lie inside its scope (its current
    # parts): repeating the wider scope would make the database read every current part of the
    # unit (thousands for a busy town or the 12345 desk) instead of the pending ones.
    conds = [] if f.tab == "to_sign" and user.role in UNIT_ROLES else [scope(user)]
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
        # By number or receipt number (their unique indexes), else by the search's index of words
        # (two characters of the title or a name, pinyin, the number's digits): ``cases.search``.
        # Phone and ID numbers are sealed (core.pii): found only whole, through their blind indexes.
        cond = search.condition(db.session, Problem, f.q)
        sealed = pii_matches(f.q)
        if sealed:
            cond = or_(cond, Problem.id.in_(select(Problem.id).where(or_(*sealed))))
        conds.append(cond)
    return conds


def pii_matches(q: str) -> list:
    """Exact matches of a whole phone or ID number typed into the search (none for other text)."""
    out = []
    if pii.looks_like_phone(q):
        out.append(Problem.resident_phone_index == pii.blind_index(q, "phone"))
    if pii.looks_like_id_number(q):
        out.append(Problem.resident_id_index == pii.blind_index(q, "id"))
    return out


@dataclass
class Page:
    items: list
    total: int | None  # None: more than COUNT_CAP (a filtered list counts no further)
    after: str = ""  # where this page started ("" = the first page)
    next_after: str | None = None  # where the next page starts; None on the last page
    page_size: int = PAGE_SIZE
    counters: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict, repr=False)  # ("Unit" or "Category", id) → name


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


def _after(sort: str, key: tuple):
    """The WHERE clause "after this key" (a row-value comparison the index answers)."""
    cols, direction = KEYS[sort]
    if sort == "deadline" and key[0] is None:  # among those without a deadline
        return and_(Problem.deadline.is_(None), Problem.id > key[1])
    # Bound with each column's own type (UTC instants stored as the column stores them).
    row, values = tuple_(*cols), tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(cols, key, strict=True)))
    return row > values if direction == "asc" else row < values


def _ordered(sort: str):
    cols, direction = KEYS[sort]
    return [c.asc() if direction == "asc" else c.desc() for c in cols]


def _page_rows(conds, sort: str, key: tuple, limit: int) -> list[Problem]:
    """Up to ``limit`` problems after ``key``: one statement (two for the deadline sort: those
    with a deadline by the deadline index, then those without by id — each an index range)."""
    if sort != "deadline":
        where = [*conds, _after(sort, key)] if key else conds
        return list(db.session.scalars(select(Problem).where(*where).order_by(*_ordered(sort)).limit(limit)))
    rows = []
    if not key or key[0] is not None:
        where = [*conds, Problem.deadline.isnot(None)] + ([_after(sort, key)] if key else [])
        rows = list(db.session.scalars(select(Problem).where(*where).order_by(*_ordered(sort)).limit(limit)))
    # Always the second statement (with LIMIT 0 when the first filled the page), so a page
    # costs the same number of statements whatever the data.
    null_key = key if key and key[0] is None else (None, 0)
    rows += db.session.scalars(select(Problem).where(*conds, _after(sort, null_key))
                               .order_by(Problem.id).limit(limit - len(rows)))
    return rows


def queue(user, f: QueueFilter, *, today: date | None = None, soon: date | None = None) -> Page:
    """One page of the user's queue, by keyset: the page query (or two), and a count only for a
    filtered list (capped at ``COUNT_CAP``); the tab's own size comes from the kept counters."""
    today = today or clock.today()
    soon = soon or due_soon_cutoff(today)
    tabs = tab_conditions(user, today, soon)  # built once for the page and its counters
    conds = _filtered(user, f, today, soon, tabs)
    counters, scope_total = _tab_counts(user, tabs, today, soon)
    if f.narrowed:
        total = db.session.scalar(select(func.count()).select_from(
            select(Problem.id).where(*conds).limit(COUNT_CAP + 1).subquery()))
        total = None if total > COUNT_CAP else total
    else:
        # A tab the role does not have (an old link) narrows nothing: the whole scope, as 全部.
        total = counters.get(f.tab, scope_total)
    key = parse_after(f.sort, f.after) or ()
    rows = _page_rows(conds, f.sort, key, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    items = rows[:PAGE_SIZE]
    return Page(items=items, total=total, after=f.after, names=_names(items),
                next_after=cursor_of(f.sort, items[-1]) if more else None, counters=counters)


def _names(items: list[Problem]) -> dict[tuple[str, int], str]:
    """The names of the units and categories the cards print, by id: one small query of plain
    rows (no objects to build), the categories from the session when the filter loaded them."""
    if not items:
        return {}
    unit_ids = {i for p in items for i in (p.village_id, p.town_id, p.lead_unit_id) if i}
    names = {("Unit", i): name for i, name in db.session.execute(
        select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))}
    held = db.session.identity_map
    missing = set()
    for i in {p.category_id for p in items}:
        category = held.get(identity_key(Category, i))
        if category is None:
            missing.add(i)
        else:
            names["Category", i] = category.name
    if missing:
        names |= {("Category", i): name for i, name in db.session.execute(
            select(Category.id, Category.name).where(Category.id.in_(missing)))}
    return names


def export_rows(user, f: QueueFilter, *, limit: int = 100_000, today: date | None = None):
    """Every row the filter shows (no paging), in the same order, streamed in chunks."""
    today = today or clock.today()
    conds = _filtered(user, f, today, due_soon_cutoff(today))
    q = _eager(select(Problem).where(*conds)).order_by(*SORTS[f.sort]).limit(limit)
    # No unique(): it cannot stream, and the eager loads join no collection (no duplicate rows).
    return db.session.scalars(q.execution_options(yield_per=1000))


def counters(user, *, today: date | None = None, soon: date | None = None) -> dict[str, int]:
    """Every tab's count for the user, from the kept counters (``cases.counts``): one small query."""
    today = today or clock.today()
    soon = soon or due_soon_cutoff(today)
    return _tab_counts(user, tab_conditions(user, today, soon), today, soon)[0]


def _tab_counts(user, tabs: dict, today: date, soon: date) -> tuple[dict[str, int], int]:
    """Every tab's count and the count of the user's whole scope (the 全部 tab), in one query."""
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
    """Eager loads for the problem page (timeline, assignment parts, attachments, and with the
    problem's own row the places, category, registering cadre and list its summary names)."""
    from .models import Assignment, ProblemEvent

    return [
        joinedload(Problem.village), joinedload(Problem.town), joinedload(Problem.work_group),
        joinedload(Problem.category), joinedload(Problem.registered_by), joinedload(Problem.coordinated_list),
        selectinload(Problem.events).joinedload(ProblemEvent.user),
        selectinload(Problem.events).joinedload(ProblemEvent.unit),
        selectinload(Problem.attachments),
        joinedload(Problem.current_assignment).selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
    ]
