"""Spot checks (抽查回访): the office draws a random sample of a half month's sign-offs and calls
the residents back itself; a contradicted sign-off becomes an integrity flag.

The population of a period: every problem whose *standing* sign-off — its latest verified
closure of kind 销号 or 好事即办 — was verified within the period (Asia/Shanghai dates) and that
is still signed off or closed. One entry per problem. A problem reopened since (the resident
already said "not solved": the contradicted-reply flag covers it) or signed off again later
(its standing sign-off belongs to the later period) is not in it.

The draw: only for a period that has ended (its population cannot grow any more), once per
period. The sample size is ``ceil(rate% × population)``, at least one when anything was signed
off; the sample is ``random.Random(seed).sample`` of the population sorted by problem id, with a
fresh ``secrets`` seed stored on the draw, so anyone can repeat it from the audit entry (which
holds the population's ids, the seed and the sampled ids). A period with nothing signed off is
refused (there is nothing to sample).

The callback: the office records the result (属实 / 不属实 / 无法联系) with the method, time and
what the resident said; results may be corrected until a flag exists — a 不属实 result raises one
``spot_check`` flag against the unit that signed off, with the evidence, and from then on the
item is locked (the flag's review is the place to change the finding). Stale versions → 409.

Writes flush and write the audit entry; the caller commits.
"""

import random
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..cases.models import Problem
from ..cases.workflow import SOLVED
from ..core import audit, clock
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.periods import Period
from ..handling.models import Closure, ClosureKind, ClosureStatus, ReplyMethod
from ..notifications.emit import ACT, LEAD, notify, unit_people
from .models import CallbackResult, Flag, FlagKind, SpotCheck, SpotCheckItem
from .operations import raise_flag

RATE_DEFAULT = 10
RATE_MIN, RATE_MAX = 1, 100
NOTE_MAX = 1000
SIGNOFF_KINDS = (ClosureKind.signoff, ClosureKind.on_spot)
RECORDABLE = (CallbackResult.confirmed, CallbackResult.contradicted, CallbackResult.unreachable)

STALE_ITEM = _l("该抽查回访记录已被他人修改。请查看最新结果后再操作。")
LOCKED = _l("该抽查结果已形成问题线索，不能再修改；如有出入，请在线索核查中说明。")


class AlreadyDrawn(Invalid):
    """The period has its draw already (one per period)."""


@dataclass(frozen=True)
class Entry:
    """One problem of a period's population: its standing sign-off and the unit that signed off."""

    problem_id: int
    closure_id: int
    unit_id: int


def _standing_signoffs():
    """Per problem, the id of its latest verified sign-off (销号 or 好事即办)."""
    return (
        select(Closure.problem_id, func.max(Closure.id).label("closure_id"))
        .where(Closure.kind.in_(SIGNOFF_KINDS), Closure.status == ClosureStatus.verified)
        .group_by(Closure.problem_id)
        .subquery()
    )


def population(period: Period) -> list[Entry]:
    """The period's signed-off problems (see the module docstring), sorted by problem id."""
    latest = _standing_signoffs()
    rows = db.session.execute(
        select(Problem.id, Closure.id, Closure.unit_id, Problem.lead_unit_id, Problem.work_group_id)
        .join(latest, latest.c.problem_id == Problem.id)
        .join(Closure, Closure.id == latest.c.closure_id)
        .where(Closure.verified_at >= period.start_utc, Closure.verified_at < period.end_utc,
               Problem.status.in_(SOLVED))
        .order_by(Problem.id)
    ).all()
    return [Entry(pid, cid, unit_id or lead_id or group_id) for pid, cid, unit_id, lead_id, group_id in rows]


def sample_size(population_size: int, rate: int) -> int:
    """ceil(rate% × population), at least 1 when the population is not empty, at most all of it."""
    if population_size <= 0:
        return 0
    return min(population_size, max(1, -(-population_size * rate // 100)))


def sample(problem_ids: list[int], seed: str, size: int) -> list[int]:
    """The draw, repeatable from ``seed``: sampled from the ids in ascending order; sorted."""
    ordered = sorted(problem_ids)
    # A seeded generator on purpose: the draw must be repeatable; the seed itself comes from secrets.
    return sorted(random.Random(seed).sample(ordered, size))  # noqa: S311


def new_seed() -> str:
    return secrets.token_hex(16)  # 32 hex characters


def draw_of(period: Period) -> SpotCheck | None:
    return db.session.scalar(select(SpotCheck).where(SpotCheck.period_start == period.start))


def draw(period: Period, user, rate: int = RATE_DEFAULT, *, today=None) -> SpotCheck:
    """抽取: the sample of an ended period (once per period); audited; flushes."""
    if not period.ended(today):
        raise Invalid(_l("只能抽查已经结束的半月。"))
    if not isinstance(rate, int) or not RATE_MIN <= rate <= RATE_MAX:
        raise Invalid(_l("抽查比例应为 %(lo)d%% 至 %(hi)d%% 之间的整数。", lo=RATE_MIN, hi=RATE_MAX))
    existing = draw_of(period)
    if existing is not None:
        raise AlreadyDrawn(_l("%(period)s已经抽取过回访样本（%(at)s），每个半月只抽取一次。",
                              period=period.label, at=clock.local(existing.drawn_at).strftime("%Y-%m-%d %H:%M")))
    entries = population(period)
    if not entries:
        raise Invalid(_l("%(period)s没有核销通过的销号问题，无需抽查。", period=period.label))
    seed = new_seed()
    by_problem = {e.problem_id: e for e in entries}
    chosen = sample(list(by_problem), seed, sample_size(len(entries), rate))
    check = SpotCheck(period_start=period.start, period_end=period.end, rate=rate, population=len(entries),
                      seed=seed, drawn_by_id=user.id, drawn_at=clock.now())
    for pid in chosen:
        e = by_problem[pid]
        check.items.append(SpotCheckItem(problem_id=pid, closure_id=e.closure_id, unit_id=e.unit_id))
    db.session.add(check)
    db.session.flush()
    audit.record("integrity.spot_check_drawn", obj=check, user=user, detail={
        "period_start": period.start.isoformat(), "period_end": period.end.isoformat(), "rate": rate,
        "population": len(entries), "seed": seed, "population_ids": sorted(by_problem), "sampled": chosen,
    })
    return check


def _evidence(item: SpotCheckItem) -> dict:
    closure = item.closure
    problem = item.problem
    return {
        "spot_check_id": item.spot_check_id,
        "item_id": item.id,
        "problem_id": problem.id,
        "number": problem.number,
        "callback_note": item.note,
        "callback_method": item.method.value if item.method else None,
        "called_at": clock.local(item.called_at).strftime("%Y-%m-%d %H:%M") if item.called_at else None,
        "called_by": item.called_by.full_name if item.called_by else None,
        "closure_id": closure.id,
        "closure_kind": closure.kind.value,
        "closure_result": closure.result,
        "completed_on": closure.completed_on.isoformat() if closure.completed_on else None,
        "verifier": closure.verifier.full_name if closure.verifier else None,
        "verifier_unit": closure.verifier_unit.name if closure.verifier_unit else None,
        "verified_at": clock.local(closure.verified_at).strftime("%Y-%m-%d %H:%M") if closure.verified_at else None,
    }


def record(item: SpotCheckItem, user, *, result: CallbackResult, method: ReplyMethod, called_at: datetime,
           note: str | None, version: int | None) -> Flag | None:
    """记录回访结果; 不属实 raises the flag (returned). Audited; flushes.

    ``called_at``: an aware instant, not in the future and not before the draw.
    """
    if version is None or int(version) != item.version:
        raise Conflict(STALE_ITEM)
    if item.flag_id is not None:
        raise Conflict(LOCKED)
    result = CallbackResult(result)
    if result not in RECORDABLE:
        raise Invalid(_l("请选择回访结果。"))
    method = ReplyMethod(method)
    note = (note or "").strip() or None
    if called_at is None:
        raise Invalid(_l("请填写回访时间。"))
    called_at = clock.as_utc(called_at)
    if called_at > clock.now():
        raise Invalid(_l("回访时间不能晚于现在。"))
    if called_at < clock.as_utc(item.spot_check.drawn_at).replace(second=0, microsecond=0):  # forms give minutes
        raise Invalid(_l("回访时间不能早于抽取时间。"))
    if result == CallbackResult.contradicted and not note:
        raise Invalid(_l("回访不属实时请记录群众反映的情况。"))
    if note and len(note) > NOTE_MAX:
        raise Invalid(_l("回访情况不能超过%(max)d字。", max=NOTE_MAX))
    before = item.result
    item.result, item.method, item.called_at, item.called_by, item.note = result, method, called_at, user, note
    db.session.flush()
    flag = None
    if result == CallbackResult.contradicted:
        key = f"spot_check:{item.id}"
        problem = item.problem
        flag = raise_flag(
            FlagKind.spot_check, key, unit_id=item.unit_id, problem_id=problem.id,
            period_start=item.spot_check.period_start, user=user, evidence=_evidence(item),
            summary=f"抽查回访不属实：{problem.number}，群众反映问题未解决",
        ) or db.session.scalar(select(Flag).where(Flag.key == key))
        item.flag_id = flag.id
        db.session.flush()
    audit.record("integrity.spot_check_recorded", obj=item, user=user, detail={
        "spot_check_id": item.spot_check_id, "problem_id": item.problem_id, "from": before.value,
        "result": result.value, "method": method.value, "flag_id": item.flag_id,
    })
    _tell_unit(item, result)
    return flag


_TOLD = {
    CallbackResult.confirmed: "回访属实，群众确认问题已解决",
    CallbackResult.contradicted: "回访不属实，群众反映问题未解决，已形成问题线索",
}


def _tell_unit(item: SpotCheckItem, result: CallbackResult) -> None:
    """The unit that signed off learns the finding (its handlers and its leader), once per
    item and result; 无法联系 is no finding and tells nobody."""
    if result not in _TOLD:
        return
    problem = item.problem
    notify([*unit_people([item.unit_id], ACT), *unit_people([item.unit_id], LEAD)], "spot_check",
           f"抽查结果：{problem.number} {problem.title}", _TOLD[result], target=("problem", problem.id),
           dedupe=f"spot_check:{item.id}:{result.value}")


def progress(check_ids) -> dict[int, dict[str, int]]:
    """Per draw: how many items have each result (one grouped query)."""
    ids = list(check_ids)
    out = {i: {r.value: 0 for r in CallbackResult} for i in ids}
    if not ids:
        return out
    for check_id, result, n in db.session.execute(
            select(SpotCheckItem.spot_check_id, SpotCheckItem.result, func.count())
            .where(SpotCheckItem.spot_check_id.in_(ids))
            .group_by(SpotCheckItem.spot_check_id, SpotCheckItem.result)):
        out[check_id][CallbackResult(result).value] = n
    return out


def items_of(check: SpotCheck) -> list[SpotCheckItem]:
    """The sample with what the page shows (problem, unit, closure and its verifier, the caller)."""
    return db.session.scalars(
        select(SpotCheckItem).where(SpotCheckItem.spot_check_id == check.id).order_by(SpotCheckItem.id)
        .options(joinedload(SpotCheckItem.problem).joinedload(Problem.village),
                 joinedload(SpotCheckItem.unit),
                 joinedload(SpotCheckItem.closure).joinedload(Closure.verifier),
                 joinedload(SpotCheckItem.called_by))
    ).unique().all()
