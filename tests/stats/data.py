"""A small hand-made set of problems with known figures, built through the real operations.

Every problem of the set is in its own new category, so the category's row of any breakdown
counts exactly these problems whatever else the database holds (demo problems included); the
district's figures are checked as a difference against a baseline taken before.

Timeline (Asia/Shanghai; the clock is moved with time-machine):
- Monday 2 March 2026, 10:00 (``MON``): every problem is registered and most are handled at once.
- 1 April 2026 (``LATER``), after every quick-tier deadline (≈ 23 March): K is signed for late,
  J is solved late; D, E, H and K are overdue from then on.

=====  ======================================================  ==============================
 name  what happens                                             status on 1 April
=====  ======================================================  ==============================
 A     signed off 2 Mar, reply 满意                             closed
 B     signed off 2 Mar, no reply                               signed_off
 C     暂难解决 approved 2 Mar, no reply                        cannot_solve
 D     in progress since 2 Mar, extension of 2 days approved    in_progress (overdue)
 E     assigned 2 Mar, never signed for                         assigned (overdue)
 F     registered only                                          registered
 G     signed off 2 Mar, reply 基本满意                         closed
 H     signed off 2 Mar, reply 不满意 (substantive) → reopened  in_progress (overdue)
 I     暂难解决 2 Mar, reply 无法联系                           cannot_solve
 J     in progress 2 Mar; 1 Apr sign-off sent back (退回重办),     signed_off
       then solved (after its deadline)
 K     assigned 2 Mar, signed for 1 Apr (after 3 Mar limit)     accepted (overdue)
 N     not accepted 2 Mar, no reply                             not_accepted
 M     not accepted 2 Mar, reply 拒评                           not_accepted
 R     signed off, reply 不满意 → reopened, then 暂难解决         cannot_solve (reply owed again)
=====  ======================================================  ==============================
"""

from datetime import UTC, date, datetime

import time_machine

from tests.cases import factories as f
from tests.handling import factories as hf
from webapp.cases import operations as ops
from webapp.core import calendar, clock
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.handling import operations as h
from webapp.handling.models import CannotSolveReason, Verdict
from webapp.settings import categories

MON = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Jiawang
LATER = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # Wednesday 1 April 2026, 10:00
LATER_DAY = date(2026, 4, 1)
MARCH_1 = Period(date(2026, 3, 1), date(2026, 3, 15))

# The known figures on 1 April (live) …
LIVE = {
    "total": 14, "solved": 4, "in_progress": 4, "awaiting": 1, "overdue": 4, "cannot_solve": 3,
    "other_ended": 2, "on_time": 3, "signed": 10, "signed_on_time": 9, "owed": 9, "replied": 4,
    "reopened": 2, "extended": 1, "reworked": 1,
    "satisfied": 1, "basically": 1, "unsatisfied": 2, "unreachable": 1, "refused": 1,
}
LIVE_RATES = {"solve_rate": 28.6, "on_time_rate": 75.0, "sign_rate": 90.0, "reply_rate": 44.4,
              "satisfaction": 50.0, "reopen_rate": 50.0}
# … and as they stood at the end of 15 March (J not yet solved, K not yet signed, nothing overdue).
AS_OF_MARCH_15 = {
    "total": 14, "solved": 3, "in_progress": 5, "awaiting": 1, "overdue": 0, "cannot_solve": 3,
    "other_ended": 2, "on_time": 3, "signed": 9, "signed_on_time": 9, "owed": 8, "replied": 4,
    "reopened": 2, "extended": 1, "reworked": 0,
    "satisfied": 1, "basically": 1, "unsatisfied": 2, "unreachable": 1, "refused": 1,
}
AS_OF_RATES = {"solve_rate": 21.4, "on_time_rate": 100.0, "sign_rate": 100.0, "reply_rate": 50.0,
               "satisfaction": 50.0, "reopen_rate": 66.7}


def new_category(name: str):
    c = categories.create_category(name, user=f.user("office"))
    db.session.commit()
    return c


def solve(p):
    """Sign-off requested, approved by the unit leader and verified by the assigner, now."""
    handler, leader = hf._lead_users(p)
    h.request_signoff(p, handler, result="已办结。", completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="现场整改。", open_parts_reason=None, step_reasons=hf.open_step_reasons(p))
    h.approve_signoff(p, leader)
    h.verify(p, hf.assigner(p))
    db.session.commit()


def not_accepted(**kw):
    p = f.register(**kw)
    ops.not_accept(p, f.user("grouplead"), reason="不属于走访帮扶范围。")
    db.session.commit()
    return p


def build(traveller, category: str) -> dict:
    """The set above, in ``category``; ``traveller`` (time-machine, at ``MON``) ends at ``LATER``."""
    kw = {"category": category}
    p = {}
    p["A"] = hf.closed(**kw)
    p["B"] = hf.signed_off(**kw)
    p["C"] = hf.cannot_solve(**kw)
    p["D"] = hf.in_progress(**kw)
    h.request_extension(p["D"], hf._lead_users(p["D"])[0], new_deadline=calendar.add_workdays(p["D"].deadline, 2),
                        reason="需协调资金。", progress="已入户核实。")
    h.decide_extension(p["D"], hf.assigner(p["D"]), approve=True)
    db.session.commit()
    p["E"] = hf.assigned(**kw)
    p["F"] = f.register(**kw)
    p["G"] = hf.signed_off(**kw)
    hf.reply(p["G"], Verdict.basically)
    p["H"] = hf.signed_off(**kw)
    hf.reply(p["H"], Verdict.unsatisfied, substantive=True)
    p["I"] = hf.cannot_solve(**kw)
    hf.reply(p["I"], Verdict.unreachable)
    p["J"] = hf.in_progress(**kw)
    p["K"] = hf.assigned(**kw)
    p["N"] = not_accepted(**kw)
    p["M"] = not_accepted(**kw)
    hf.reply(p["M"], Verdict.refused)
    p["R"] = hf.signed_off(**kw)
    hf.reply(p["R"], Verdict.unsatisfied, substantive=True)
    handler, _leader = hf._lead_users(p["R"])
    h.request_cannot_solve(p["R"], handler, reason_kind=CannotSolveReason.funds, explanation="需列入明年预算。")
    h.decide_cannot_solve(p["R"], f.user("office"), approve=True, note="同意。")
    db.session.commit()
    traveller.move_to(LATER)
    assert all(p[k].deadline < LATER_DAY for k in "DEHK"), "the quick-tier deadlines must have passed"
    assert p["K"].sign_for_deadline < LATER_DAY
    ops.sign_for(p["K"], f.user("town"))
    db.session.commit()
    handler, leader = hf._lead_users(p["J"])
    h.request_signoff(p["J"], handler, result="已办结。", completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="现场整改。", step_reasons=hf.open_step_reasons(p["J"]))
    h.approve_signoff(p["J"], leader)
    h.reject_verification(p["J"], hf.assigner(p["J"]), reason="现场核实仍未修好。")
    db.session.commit()
    solve(p["J"])
    return p


def frozen(at=MON):
    return time_machine.travel(at, tick=False)
