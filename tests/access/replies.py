"""The reply to the resident (回音) and the public receipt lookup (回执查询).

Only the registering cadre, the 12345 desk (for problems it leads) and the office record a reply
and see the 待回音 queue; everyone else is refused by role (403); a cadre or the desk meets a
problem outside its scope as 404. The receipt lookup is public: anyone, logged in or not.
"""

from webapp.core.extensions import db

from . import EVERYONE, Rule
from .objects import LAZY

REPLIERS = {"cadre", "desk", "office"}


def desk_signed_off():
    """Transferred to the 12345 desk, handled by ``desk``, approved by a desk leader, verified."""
    from tests.cases import factories as f
    from tests.handling import factories as hf
    from webapp.accounts.roles import Role
    from webapp.cases import operations as ops
    from webapp.core import clock
    from webapp.handling import operations as h

    leader = f.user("desklead-r") or f.make_user("desklead-r", "区12345平台大走访专席", Role.unit_leader)
    desk = f.user("desk")
    p = f.transferred_to_desk()
    ops.sign_for(p, desk)
    h.submit_plan(p, desk, handler=desk, responsible_leader="王主任", responsible_department="专席",
                  measures="电话联系，协调解决。", deadline=p.deadline, steps=hf.steps_for(p, 1))
    h.approve_plan(p, leader)
    h.request_signoff(p, desk, result="已协调解决。", completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="电话办理，无现场照片。", step_reasons=hf.open_step_reasons(p))
    h.approve_signoff(p, leader)
    h.verify(p, f.user("grouplead"))
    db.session.commit()
    return p


def _objects() -> None:
    from tests.handling import factories as hf

    LAZY.update({
        # Registered by ``cadre``, handled by 潘安湖街道, verified: the reply is owed.
        "replies_signed_off": lambda: hf.signed_off(),
        # Registered by ``cadre``, handled by the desk: the desk replies too.
        "replies_desk_signed_off": desk_signed_off,
    })


_objects()


def _fresh(problem):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return problem


def _reply(problem) -> dict:
    # A complete reply: the first allowed user records it (302), the next finds it done (409).
    return {"version": str(_fresh(problem).version), "method": "phone", "replied_at": "2020-01-01T09:00",
            "content": "访问矩阵：已答复", "verdict": "satisfied", "token": ""}


def _incomplete(problem) -> dict:
    # No content: the allowed users get the form back with the message (200); nothing changes.
    return {**_reply(problem), "content": ""}


def _record(obj: str, allow: set[str], not_found: set[str], method="GET", data=None, note="") -> Rule:
    return Rule("replies.record", lambda o: f"/cases/{getattr(o, obj).id}/reply", set(allow), method=method,
                data=(lambda o: data(getattr(o, obj))) if data else None, not_found=set(not_found),
                note=note or obj)


RULES = [
    Rule("replies.queue", "/replies", REPLIERS),
    Rule("replies.queue", "/replies?page=2", REPLIERS, note="page 2"),
    _record("replies_signed_off", {"cadre", "office"}, {"desk"}),
    _record("replies_desk_signed_off", REPLIERS, set()),
    # Another group's problem (nothing owed yet): only the office sees it (the page says so).
    _record("other_group_problem", {"office"}, {"cadre", "desk"}),
    Rule("replies.record", "/cases/99999999/reply", set(), not_found=REPLIERS, note="no such problem"),
    _record("replies_signed_off", {"cadre", "office"}, {"desk"}, "POST", _reply, "reply"),
    _record("replies_signed_off", {"cadre", "office"}, {"desk"}, "POST", _incomplete, "incomplete"),
    _record("replies_desk_signed_off", REPLIERS, set(), "POST", _incomplete, "desk: incomplete"),
    _record("other_group_problem", {"office"}, {"cadre", "desk"}, "POST", _reply, "other group"),
    # Public: the same answer for everyone (and a 429 once the client has tried too often).
    Rule("receipt.lookup", "/receipt", EVERYONE, public=True),
    Rule("receipt.lookup", "/receipt", EVERYONE, method="POST", public=True,
         data={"receipt_no": "ABCDEFGH23", "phone_last4": "1234"}),
]
