"""Each step of a problem's handling tells the people who must act next, and nobody else:
cooperation requested, the task book waiting for and decided by the unit leader, an extension
requested and decided, a sign-off waiting for the leader and then the assigner, 退回重办, the
sign-off verified and the reply (回音) owed to the resident."""

from collections import Counter

from sqlalchemy import select

from tests.cases import factories as f
from tests.handling import factories as hf
from webapp.accounts.models import User
from webapp.core import calendar, clock
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.notifications.models import Notification

PEOPLE = ("town", "townlead", "dept", "deptlead", "grouplead", "office", "cadre", "leader")


def _told() -> Counter:
    """(username, kind) → notifications so far, for the demo people above."""
    rows = db.session.execute(select(User.username, Notification.kind).join(User, User.id == Notification.user_id)
                              .where(User.username.in_(PEOPLE)))
    return Counter((u, k) for u, k in rows)


class Watch:
    def __init__(self):
        self.seen = _told()

    def new(self) -> set[tuple[str, str]]:
        now = _told()
        out = {key for key in now if now[key] > self.seen[key]}
        self.seen = now
        return out


def test_each_step_tells_who_acts_next_and_nobody_else(app):
    w = Watch()
    p = hf.assigned(cooperating=["区民政局"])
    assert w.new() == {("town", "assigned"), ("dept", "cooperation")}
    town, townlead, grouplead = f.user("town"), f.user("townlead"), f.user("grouplead")
    from webapp.cases import operations as ops

    ops.sign_for(p, town)
    db.session.commit()
    w.new()
    hf.submit_book(p)
    assert w.new() == {("townlead", "plan_review")}
    h.approve_plan(p, townlead)
    db.session.commit()
    assert w.new() == {("town", "plan_decided")}

    h.request_extension(p, town, new_deadline=calendar.add_workdays(p.deadline, 10), reason="需协调资金",
                        progress="已完成入户核实。")
    db.session.commit()
    assert w.new() == {("grouplead", "extension_requested")}
    h.decide_extension(p, grouplead, approve=True, note="同意延期。")
    db.session.commit()
    assert w.new() == {("town", "extension_decided")}

    def ask_for_signoff():
        h.request_signoff(p, town, result="已维修完毕。", completed_on=clock.today(), evidence_count=0,
                          no_evidence_reason="现场整改，照片另行存档。", open_parts_reason="配合单位已口头确认完成。",
                          step_reasons=hf.open_step_reasons(p))
        db.session.commit()
        assert w.new() == {("townlead", "signoff_review")}
        h.approve_signoff(p, townlead)
        db.session.commit()
        assert w.new() == {("grouplead", "verification")}

    ask_for_signoff()
    h.reject_verification(p, grouplead, reason="现场复核路灯仍不亮。")
    db.session.commit()
    assert w.new() == {("town", "redo")}

    ask_for_signoff()
    h.verify(p, grouplead, note="经核实，问题已解决。")
    db.session.commit()
    # The unit hears its sign-off passed; the cadre who registered the problem owes the reply.
    assert w.new() == {("town", "verified"), ("cadre", "reply_due")}
