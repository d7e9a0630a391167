"""The integrity scan's detectors (DOMAIN §8): what in the data looks like a false closure.

Each detector reads the data in a bounded number of statements (grouped queries, or id-ordered
batches of ``INTEGRITY_BATCH`` rows — never a query per problem), builds the flags it finds with a
one-line summary in Chinese (stored data: the district's language, whatever the reader's locale)
and the evidence behind it (ids, numbers, dates, counts and the thresholds used), and raises them
through ``operations.raise_many`` (a flag whose key exists is skipped: the scan is idempotent).

Data after the scan's day (``today``, local) is left out, so ``flask integrity scan --date`` sees the
data as it stood then, as far as timestamps tell (statuses are today's).

The detectors, their keys and their definitions:

``no_evidence`` — key ``no_evidence:<closure id>``
    A sign-off (``ClosureKind.signoff``, or an on-the-spot solution ``on_spot``) that the unit
    leader approved (``verifying``) or the assigner verified (``verified``) with no file attached
    to it (no ``Attachment.closure_id`` pointing at it) — only a written reason. The unit is the
    closure's unit (the lead unit; the work group for an on-the-spot solution).

``bunched`` — key ``bunched:<unit id>:<period start>``
    Per unit and ended half-month period (``core.periods.Period``): the unit's sign-off requests
    (``Closure`` of kind ``signoff``, by ``requested_at``, whatever became of them) made in the last
    ``INTEGRITY_BUNCH_WORKDAYS`` working days of the period (from the first of those days to the
    period's end, weekend days in between included) number at least ``INTEGRITY_BUNCH_MIN`` and
    are at least ``INTEGRITY_BUNCH_SHARE`` percent of the unit's sign-off requests in the period.
    Only periods that have ended are judged, at most the last ``INTEGRITY_BUNCH_PERIODS``.

``contradicted_reply`` — key ``contradicted_reply:<reply id>``
    A reply (回音) recorded while the problem was signed off (``Reply.status_at_reply``) whose
    verdict is 不满意, or whose resident's words say it is not solved (``NOT_SOLVED_WORDS``). The
    unit is that of the last sign-off verified before the reply.

``raised_again`` — key ``raised_again:<new problem id>``
    A problem registered by the same household — the same (normalised) resident phone when both
    problems have one, otherwise the same resident name (blanks removed, case folded) in the same
    village — in the same category, within ``INTEGRITY_REPEAT_DAYS`` days after an earlier problem
    of that household was signed off (it is signed off or closed now; measured from its
    ``solved_at``). The unit is the earlier problem's lead unit (its work group for an on-the-spot
    solution); the evidence names the latest such earlier problem.

``reopen_outlier`` — key ``reopen_outlier:<unit id>:<current period start>``
    Over the campaign so far, per unit: its sign-offs decided by the assigner (kind ``signoff``,
    status ``verified`` or ``verification_rejected``) and its *reopenings*: each of those sign-offs
    the assigner sent back (退回重办, ``verification_rejected``) plus each reply that reopened a
    problem (``Reply.reopened``: 不满意 for a substantive reason), counted against the unit of the
    last sign-off verified before the reply. Rate = reopenings / decided sign-offs; the district
    rate is the same over all units. Flagged when the unit has at least ``INTEGRITY_REOPEN_MIN``
    reopenings, its rate is at least ``INTEGRITY_REOPEN_FACTOR`` × the district rate, and at least
    ``INTEGRITY_REOPEN_MARGIN`` percentage points above it — once per unit and half month.

Thresholds are the module's ``DEFAULTS``; each can be overridden by the app config key of the
same name (``INTEGRITY_BUNCH_MIN=8`` …).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from ..cases.access import mask_phone
from ..cases.models import Attachment, Category, Problem
from ..cases.workflow import SOLVED, Status
from ..core import calendar, clock
from ..core.extensions import db
from ..core.periods import Period
from ..handling.models import Closure, ClosureKind, ClosureStatus, Reply, Verdict
from ..org.models import Unit
from .models import FlagKind
from .operations import existing_keys, raise_many

DEFAULTS = {
    "INTEGRITY_BUNCH_WORKDAYS": 2,  # the last N working days of a half month …
    "INTEGRITY_BUNCH_MIN": 5,  # … hold at least this many of a unit's sign-off requests …
    "INTEGRITY_BUNCH_SHARE": 50,  # … and at least this percentage of its requests in the period
    "INTEGRITY_BUNCH_PERIODS": 48,  # ended periods judged at most (two years)
    "INTEGRITY_REPEAT_DAYS": 180,  # the same household's same problem again within N days of sign-off
    "INTEGRITY_REOPEN_MIN": 3,  # a unit needs at least N reopenings …
    "INTEGRITY_REOPEN_FACTOR": 2,  # … a rate at least N × the district's …
    "INTEGRITY_REOPEN_MARGIN": 10,  # … and at least N percentage points above it
    "INTEGRITY_BATCH": 500,  # rows read per statement
    "INTEGRITY_EVIDENCE_ROWS": 100,  # problems listed in one flag's evidence at most
}

# What a resident says when the problem is not solved (matched in Reply.resident_words).
NOT_SOLVED_WORDS = ("未解决", "没解决", "没有解决", "未得到解决", "没得到解决", "没有得到解决", "未能解决",
                    "没能解决", "并未解决", "未处理", "没处理", "没有处理", "没人管", "没有人管", "没人来",
                    "没有人来", "还是老样子", "根本没修", "没有修", "没修好")

SIGNED_OFF = Status.signed_off.value
VERDICT_ZH = {Verdict.satisfied: "满意", Verdict.basically: "基本满意", Verdict.unsatisfied: "不满意",
              Verdict.unreachable: "无法联系", Verdict.refused: "拒评"}
CLOSURE_STATUS_ZH = {ClosureStatus.verifying: "单位领导已同意、待核销", ClosureStatus.verified: "已核销"}


def setting(name: str) -> int:
    """A threshold: the app config's value when set, else the module default."""
    return int(current_app.config.get(name, DEFAULTS[name]))


def thresholds() -> dict[str, int]:
    return {name: setting(name) for name in DEFAULTS}


@dataclass
class Candidate:
    """A flag a detector found (raised unless its key exists)."""

    key: str
    unit_id: int
    summary: str
    evidence: dict
    problem_id: int | None = None
    period_start: dt.date | None = None


@dataclass
class Context:
    today: dt.date
    until: dt.datetime  # the end of ``today`` (local midnight after it, in UTC): data before it counts
    user: object = None
    counts: dict = field(default_factory=dict)


# ---------------------------------------------------------------- helpers


def end_of(day: dt.date) -> dt.datetime:
    return clock.as_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ))


def start_of(day: dt.date) -> dt.datetime:
    return clock.as_utc(dt.datetime.combine(day, dt.time(), clock.LOCAL_TZ))


def local_iso(value: dt.datetime | None) -> str | None:
    """A stored instant as local time, to the minute (``2026-05-14T16:20``)."""
    return None if value is None else clock.local(value).strftime("%Y-%m-%dT%H:%M")


def local_date(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else clock.local(value).date()


def short(text: str | None, n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def quoted(text: str | None, n: int = 60) -> str:
    """Words to quote inside a sentence: shortened, without their own closing full stop."""
    return short(text, n).rstrip("。.！!；;，,")


def period_name(p: Period) -> str:
    """2026年5月上半月 (stored text: always Chinese)."""
    return f"{p.start.year}年{p.start.month}月{'上' if p.half == 1 else '下'}半月"


def md(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def percent(n: int, d: int) -> float | None:
    return None if not d else round(100.0 * n / d, 1)


def normalise_name(name: str | None) -> str:
    return "".join((name or "").split()).casefold()


def normalise_phone(phone: str | None) -> str:
    """Digits only (stored phones are normalised at intake already; this guards older rows)."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) >= 7 else ""


def batched(query, id_column, size: int) -> Iterator[list]:
    """Rows of ``query`` in id-ordered batches (keyset pagination on ``id_column``)."""
    last = None
    while True:
        q = query if last is None else query.where(id_column > last)
        rows = db.session.execute(q.order_by(id_column).limit(size)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id
        if len(rows) < size:
            return


def unit_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())


def _last_verified(column, kinds=(ClosureKind.signoff, ClosureKind.on_spot)):
    """``column`` of the reply's problem's last sign-off verified before the reply (correlated to
    ``Reply``)."""
    return (
        select(column)
        .where(Closure.problem_id == Reply.problem_id, Closure.kind.in_(kinds),
               Closure.status == ClosureStatus.verified, Closure.verified_at <= Reply.created_at)
        .order_by(Closure.verified_at.desc(), Closure.id.desc())
        .limit(1)
        .correlate_except(Closure)
        .scalar_subquery()
    )


# ---------------------------------------------------------------- sign-off without evidence


def no_evidence(ctx: Context) -> int:
    size = setting("INTEGRITY_BATCH")
    has_file = select(Attachment.id).where(Attachment.closure_id == Closure.id).exists()
    unit_id = func.coalesce(Closure.unit_id, Problem.lead_unit_id, Problem.work_group_id)
    q = (
        select(Closure.id, Closure.problem_id, Closure.kind, Closure.status, Closure.no_evidence_reason,
               Closure.result, Closure.completed_on, Closure.requested_at, Closure.leader_at,
               Closure.verified_at, Problem.number, Problem.title, unit_id.label("unit_id"))
        .join(Problem, Problem.id == Closure.problem_id)
        .where(Closure.kind.in_((ClosureKind.signoff, ClosureKind.on_spot)),
               Closure.status.in_((ClosureStatus.verifying, ClosureStatus.verified)),
               func.coalesce(Closure.leader_at, Closure.requested_at) < ctx.until,
               ~has_file)
    )
    raised = 0
    for rows in batched(q, Closure.id, size):
        names = unit_names(r.unit_id for r in rows)
        out = []
        for r in rows:
            unit = names.get(r.unit_id, "")
            what = "当场解决（好事即办）" if r.kind == ClosureKind.on_spot else "销号"
            reason = quoted(r.no_evidence_reason)
            summary = f"{unit}对问题{r.number}（{short(r.title, 30)}）的{what}未上传任何佐证材料"
            summary += f"，仅书面说明：“{reason}”。" if reason else "。"
            out.append(Candidate(
                key=f"no_evidence:{r.id}", unit_id=r.unit_id, problem_id=r.problem_id, summary=summary,
                evidence={
                    "closure_id": r.id, "closure_kind": r.kind.value, "closure_status": r.status.value,
                    "closure_status_label": CLOSURE_STATUS_ZH[r.status],
                    "problem_id": r.problem_id, "problem_number": r.number, "problem_title": r.title,
                    "unit_id": r.unit_id, "unit_name": unit, "evidence_files": 0,
                    "no_evidence_reason": r.no_evidence_reason, "result": r.result,
                    "completed_on": r.completed_on.isoformat() if r.completed_on else None,
                    "requested_at": local_iso(r.requested_at), "approved_at": local_iso(r.leader_at),
                    "verified_at": local_iso(r.verified_at),
                }))
        raised += len(raise_many(FlagKind.no_evidence, out, user=ctx.user))
    return raised


# ---------------------------------------------------------------- sign-offs bunched before a period ends


def window_days(period: Period, workdays: int) -> list[dt.date]:
    """The last ``workdays`` working days of the period, oldest first (fewer if it has fewer)."""
    days, day = [], period.end
    while day >= period.start and len(days) < workdays:
        if calendar.is_workday(day):
            days.append(day)
        day -= dt.timedelta(days=1)
    return days[::-1]


def bunched(ctx: Context) -> int:
    n_days, minimum, share = (setting("INTEGRITY_BUNCH_WORKDAYS"), setting("INTEGRITY_BUNCH_MIN"),
                              setting("INTEGRITY_BUNCH_SHARE"))
    is_request = and_(Closure.kind == ClosureKind.signoff, Closure.unit_id.is_not(None))
    first = db.session.scalar(select(func.min(Closure.requested_at)).where(is_request))
    last = Period.of(ctx.today).previous()  # the last period that has ended
    if first is None or local_date(first) > last.end:
        return 0
    periods = [last]
    while periods[-1].start > local_date(first) and len(periods) < setting("INTEGRITY_BUNCH_PERIODS"):
        periods.append(periods[-1].previous())
    periods.reverse()
    windows = [window_days(p, n_days) for p in periods]
    starts = [start_of(w[0]) if w else p.end_utc for p, w in zip(periods, windows, strict=True)]

    ra = Closure.requested_at
    bucket = case(*[(ra < p.end_utc, literal(i)) for i, p in enumerate(periods)], else_=literal(-1))
    late = case(*[(and_(ra >= s, ra < p.end_utc), literal(1)) for p, s in zip(periods, starts, strict=True)],
                else_=literal(0))
    inner = (select(Closure.unit_id.label("unit_id"), bucket.label("b"), late.label("late"))
             .where(is_request, ra >= periods[0].start_utc, ra < periods[-1].end_utc).subquery())
    groups = db.session.execute(
        select(inner.c.unit_id, inner.c.b, func.count().label("total"), func.sum(inner.c.late).label("late"))
        .group_by(inner.c.unit_id, inner.c.b)).all()

    found = {}
    for g in groups:
        late_n, total = int(g.late or 0), int(g.total)
        if g.b < 0 or late_n < minimum or late_n * 100 < share * total:
            continue
        p = periods[g.b]
        found[f"bunched:{g.unit_id}:{p.start.isoformat()}"] = (g.unit_id, g.b, late_n, total)
    new = {k: v for k, v in found.items() if k not in existing_keys(found)}
    if not new:
        return 0

    # The requests behind the new flags (the window's and the period's), chunked OR-conditions.
    requests: dict[tuple[int, int], list] = defaultdict(list)
    items = list(new.values())
    for i in range(0, len(items), 50):
        chunk = items[i:i + 50]
        rows = db.session.execute(
            select(Closure.id, Closure.unit_id, Closure.problem_id, Closure.requested_at, Closure.status,
                   Problem.number, Problem.title)
            .join(Problem, Problem.id == Closure.problem_id)
            .where(Closure.kind == ClosureKind.signoff,
                   or_(*[and_(Closure.unit_id == u, ra >= starts[b], ra < periods[b].end_utc)
                         for u, b, _l, _t in chunk]))
            .order_by(Closure.requested_at, Closure.id)).all()
        for r in rows:
            b = next(b for u, b, _l, _t in chunk
                     if u == r.unit_id and starts[b] <= r.requested_at < periods[b].end_utc)
            requests[(r.unit_id, b)].append(r)
    names = unit_names(u for u, *_rest in items)
    cap = setting("INTEGRITY_EVIDENCE_ROWS")
    out = []
    for key, (unit_id, b, late_n, total) in new.items():
        p, w = periods[b], windows[b]
        late_rows = requests[(unit_id, b)]
        by_day: dict[str, int] = defaultdict(int)
        for r in late_rows:
            by_day[local_date(r.requested_at).isoformat()] += 1
        rate = percent(late_n, total)
        unit = names.get(unit_id, "")
        summary = (f"{unit}在{period_name(p)}最后{len(w)}个工作日（{md(w[0])}至{md(p.end)}）集中申请销号"
                   f"{late_n}件，占该期销号申请{total}件的{rate:g}%。")
        out.append(Candidate(
            key=key, unit_id=unit_id, period_start=p.start, summary=summary,
            evidence={
                "unit_id": unit_id, "unit_name": unit,
                "period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "name": period_name(p)},
                "window": {"start": w[0].isoformat(), "end": p.end.isoformat(),
                           "workdays": [d.isoformat() for d in w]},
                "late_count": late_n, "total_count": total, "share_percent": rate,
                "by_day": dict(sorted(by_day.items())),
                "thresholds": {"workdays": n_days, "min_count": minimum, "min_share_percent": share},
                "requests": [{"closure_id": r.id, "problem_id": r.problem_id, "problem_number": r.number,
                              "problem_title": r.title, "requested_at": local_iso(r.requested_at),
                              "closure_status": r.status.value} for r in late_rows[:cap]],
                "requests_listed": min(len(late_rows), cap),
            }))
    return len(raise_many(FlagKind.bunched, out, user=ctx.user))


# ---------------------------------------------------------------- "not solved" about a signed-off problem


def contradicted_reply(ctx: Context) -> int:
    size = setting("INTEGRITY_BATCH")
    said_not_solved = or_(*[Reply.resident_words.contains(w, autoescape=True) for w in NOT_SOLVED_WORDS])
    closure_id = _last_verified(Closure.id)
    q = (
        select(Reply.id, Reply.problem_id, Reply.verdict, Reply.resident_words, Reply.content, Reply.method,
               Reply.replied_at, Reply.created_at, Reply.reopened, Problem.number, Problem.title,
               Problem.lead_unit_id, Problem.work_group_id, closure_id.label("closure_id"))
        .join(Problem, Problem.id == Reply.problem_id)
        .where(Reply.status_at_reply == SIGNED_OFF, Reply.created_at < ctx.until,
               or_(Reply.verdict == Verdict.unsatisfied, said_not_solved))
    )
    raised = 0
    for rows in batched(q, Reply.id, size):
        closures = {c.id: c for c in db.session.execute(
            select(Closure.id, Closure.unit_id, Closure.verified_at, Closure.kind)
            .where(Closure.id.in_({r.closure_id for r in rows if r.closure_id}))).all()}
        unit_of = {r.id: (closures[r.closure_id].unit_id if r.closure_id in closures else None)
                   or r.lead_unit_id or r.work_group_id for r in rows}
        names = unit_names(unit_of.values())
        out = []
        for r in rows:
            words = r.resident_words or ""
            matched = [w for w in NOT_SOLVED_WORDS if w in words]
            c = closures.get(r.closure_id)
            unit = names.get(unit_of[r.id], "")
            summary = f"群众对{unit}已销号的问题{r.number}（{short(r.title, 30)}）回访评价“{VERDICT_ZH[r.verdict]}”"
            summary += f"，反映：“{quoted(words)}”。" if words else "。"
            out.append(Candidate(
                key=f"contradicted_reply:{r.id}", unit_id=unit_of[r.id], problem_id=r.problem_id, summary=summary,
                evidence={
                    "reply_id": r.id, "problem_id": r.problem_id, "problem_number": r.number,
                    "problem_title": r.title, "unit_id": unit_of[r.id], "unit_name": unit,
                    "verdict": r.verdict.value, "verdict_label": VERDICT_ZH[r.verdict],
                    "resident_words": r.resident_words, "content": r.content, "method": r.method.value,
                    "replied_at": local_iso(r.replied_at), "recorded_at": local_iso(r.created_at),
                    "reopened": bool(r.reopened), "matched_words": matched,
                    "closure_id": r.closure_id, "verified_at": local_iso(c.verified_at) if c else None,
                }))
        raised += len(raise_many(FlagKind.contradicted_reply, out, user=ctx.user))
    return raised


# ---------------------------------------------------------------- the same household raises it again


@dataclass(frozen=True)
class _Earlier:
    id: int
    number: str
    title: str
    solved_at: dt.datetime
    closed_at: dt.datetime | None
    status: str
    unit_id: int
    has_phone: bool


def raised_again(ctx: Context) -> int:
    size = setting("INTEGRITY_BATCH")
    window = dt.timedelta(days=setting("INTEGRITY_REPEAT_DAYS"))
    # 1. Every problem signed off now (the earlier ones), indexed by household and category.
    by_phone: dict[tuple, list[_Earlier]] = defaultdict(list)
    by_name: dict[tuple, list[_Earlier]] = defaultdict(list)
    solved_q = (
        select(Problem.id, Problem.number, Problem.title, Problem.solved_at, Problem.closed_at, Problem.status,
               Problem.resident_phone, Problem.resident_name, Problem.village_id, Problem.category_id,
               func.coalesce(Problem.lead_unit_id, Problem.work_group_id).label("unit_id"))
        .where(Problem.status.in_(SOLVED), Problem.solved_at.is_not(None), Problem.solved_at < ctx.until)
    )
    first_solved = None
    for rows in batched(solved_q, Problem.id, size):
        for r in rows:
            phone = normalise_phone(r.resident_phone)
            e = _Earlier(r.id, r.number, r.title, r.solved_at, r.closed_at, r.status.value, r.unit_id, bool(phone))
            if phone:
                by_phone[(phone, r.category_id)].append(e)
            by_name[(r.village_id, normalise_name(r.resident_name), r.category_id)].append(e)
            first_solved = r.solved_at if first_solved is None else min(first_solved, r.solved_at)
    if first_solved is None:
        return 0
    # 2. Problems registered after the first sign-off: is an earlier one of the household behind them?
    village = aliased(Unit)
    later_q = (
        select(Problem.id, Problem.number, Problem.title, Problem.registered_at, Problem.resident_phone,
               Problem.resident_name, Problem.village_id, Problem.category_id, Category.name.label("category"),
               village.name.label("village"))
        .join(Category, Category.id == Problem.category_id)
        .join(village, village.id == Problem.village_id)
        .where(Problem.registered_at > first_solved, Problem.registered_at < ctx.until)
    )
    raised = 0
    for rows in batched(later_q, Problem.id, size):
        found = []
        for r in rows:
            phone = normalise_phone(r.resident_phone)
            name_key = (r.village_id, normalise_name(r.resident_name), r.category_id)
            candidates = [(e, "phone") for e in by_phone.get((phone, r.category_id), ())] if phone else []
            candidates += [(e, "name_village") for e in by_name.get(name_key, ())
                           if not phone or not e.has_phone]
            fits = [(e, basis) for e, basis in candidates
                    if e.id != r.id and e.solved_at < r.registered_at <= e.solved_at + window]
            if fits:
                e, basis = max(fits, key=lambda f: (f[0].solved_at, f[0].id))
                found.append((r, e, basis))
        if not found:
            continue
        names = unit_names(e.unit_id for _r, e, _b in found)
        out = []
        for r, e, basis in found:
            days = (local_date(r.registered_at) - local_date(e.solved_at)).days
            unit = names.get(e.unit_id, "")
            how = "同一联系电话" if basis == "phone" else "同一姓名、同一村（社区）"
            summary = (f"问题{r.number}（{short(r.title, 30)}）与{unit}已销号的问题{e.number}为同一户反映的"
                       f"同类问题（{r.category}，{how}），距前次销号{days}天。")
            out.append(Candidate(
                key=f"raised_again:{r.id}", unit_id=e.unit_id, problem_id=r.id, summary=summary,
                evidence={
                    "problem_id": r.id, "problem_number": r.number, "problem_title": r.title,
                    "registered_at": local_iso(r.registered_at), "category": r.category, "village": r.village,
                    "resident_name": r.resident_name, "resident_phone": mask_phone(r.resident_phone),
                    "match": basis, "match_label": how, "days_after": days,
                    "earlier": {"problem_id": e.id, "problem_number": e.number, "problem_title": e.title,
                                "status": e.status, "signed_off_at": local_iso(e.solved_at),
                                "closed_at": local_iso(e.closed_at), "unit_id": e.unit_id, "unit_name": unit},
                    "thresholds": {"days": window.days},
                }))
        raised += len(raise_many(FlagKind.raised_again, out, user=ctx.user))
    return raised


# ---------------------------------------------------------------- a unit's reopen rate stands out


def reopen_outlier(ctx: Context) -> int:
    minimum, factor, margin = (setting("INTEGRITY_REOPEN_MIN"), setting("INTEGRITY_REOPEN_FACTOR"),
                               setting("INTEGRITY_REOPEN_MARGIN"))
    decided = and_(Closure.kind == ClosureKind.signoff, Closure.unit_id.is_not(None),
                   Closure.status.in_((ClosureStatus.verified, ClosureStatus.verification_rejected)),
                   Closure.verified_at < ctx.until)
    rejected = Closure.status == ClosureStatus.verification_rejected
    per_unit = db.session.execute(
        select(Closure.unit_id, func.count().label("decided"),
               func.sum(case((rejected, 1), else_=0)).label("rejected"))
        .where(decided).group_by(Closure.unit_id)).all()
    unit_col = _last_verified(Closure.unit_id, kinds=(ClosureKind.signoff,))
    reply_units = (
        select(Reply.id.label("reply_id"), unit_col.label("unit_id"))
        .where(Reply.reopened.is_(True), Reply.created_at < ctx.until).subquery())
    reopened_replies = dict(db.session.execute(
        select(reply_units.c.unit_id, func.count()).where(reply_units.c.unit_id.is_not(None))
        .group_by(reply_units.c.unit_id)).all())

    stats = {u.unit_id: {"decided": int(u.decided), "verification_rejected": int(u.rejected or 0),
                         "reply_reopened": int(reopened_replies.get(u.unit_id, 0))} for u in per_unit}
    total_decided = sum(s["decided"] for s in stats.values())
    total_reopened = sum(s["verification_rejected"] + s["reply_reopened"] for s in stats.values())
    if not total_decided:
        return 0
    district = total_reopened / total_decided
    period = Period.of(ctx.today)
    found = {}
    for unit_id, s in stats.items():
        s["reopened"] = s["verification_rejected"] + s["reply_reopened"]
        rate = s["reopened"] / s["decided"]
        if s["reopened"] >= minimum and rate >= factor * district and rate * 100 >= district * 100 + margin:
            found[f"reopen_outlier:{unit_id}:{period.start.isoformat()}"] = (unit_id, s)
    new = {k: v for k, v in found.items() if k not in existing_keys(found)}
    if not new:
        return 0

    # The reopenings behind the new flags: sent back at verification, and reopened by a reply.
    unit_ids = [u for u, _s in new.values()]
    cap = setting("INTEGRITY_EVIDENCE_ROWS")
    events: dict[int, list[dict]] = defaultdict(list)
    for r in db.session.execute(
            select(Closure.id, Closure.unit_id, Closure.problem_id, Closure.verified_at, Closure.verifier_note,
                   Problem.number, Problem.title)
            .join(Problem, Problem.id == Closure.problem_id)
            .where(decided, rejected, Closure.unit_id.in_(unit_ids))
            .order_by(Closure.verified_at, Closure.id)).all():
        events[r.unit_id].append({"what": "verification_rejected", "what_label": "核销退回重办",
                                  "problem_id": r.problem_id, "problem_number": r.number, "problem_title": r.title,
                                  "at": local_iso(r.verified_at), "note": r.verifier_note, "closure_id": r.id})
    for r in db.session.execute(
            select(Reply.id, Reply.problem_id, Reply.created_at, Reply.resident_words, unit_col.label("unit_id"),
                   Problem.number, Problem.title)
            .join(Problem, Problem.id == Reply.problem_id)
            .where(Reply.reopened.is_(True), Reply.created_at < ctx.until, unit_col.in_(unit_ids))
            .order_by(Reply.created_at, Reply.id)).all():
        events[r.unit_id].append({"what": "reply_reopened", "what_label": "回音不满意重新办理",
                                  "problem_id": r.problem_id, "problem_number": r.number, "problem_title": r.title,
                                  "at": local_iso(r.created_at), "note": r.resident_words, "reply_id": r.id})
    names = unit_names(unit_ids)
    district_pct = percent(total_reopened, total_decided)
    out = []
    for key, (unit_id, s) in new.items():
        rate_pct = percent(s["reopened"], s["decided"])
        unit = names.get(unit_id, "")
        listed = sorted(events[unit_id], key=lambda e: e["at"] or "")
        summary = (f"{unit}销号后被退回重办或因群众不满意重新办理{s['reopened']}次（核销{s['decided']}件），"
                   f"重办率{rate_pct:g}%，全区为{district_pct:g}%。")
        out.append(Candidate(
            key=key, unit_id=unit_id, period_start=period.start, summary=summary,
            evidence={
                "unit_id": unit_id, "unit_name": unit,
                "unit": {**s, "rate_percent": rate_pct},
                "district": {"decided": total_decided, "reopened": total_reopened, "rate_percent": district_pct},
                "thresholds": {"min_reopened": minimum, "factor": factor, "margin_points": margin},
                "as_of": ctx.today.isoformat(),
                "period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                           "name": period_name(period)},
                "reopenings": listed[:cap], "reopenings_listed": min(len(listed), cap),
            }))
    return len(raise_many(FlagKind.reopen_outlier, out, user=ctx.user))


DETECTORS = {
    FlagKind.no_evidence: no_evidence,
    FlagKind.bunched: bunched,
    FlagKind.contradicted_reply: contradicted_reply,
    FlagKind.raised_again: raised_again,
    FlagKind.reopen_outlier: reopen_outlier,
}


def run_all(today: dt.date, user=None) -> dict[str, int]:
    ctx = Context(today=today, until=end_of(today), user=user)
    return {kind.value: detect(ctx) for kind, detect in DETECTORS.items()}
