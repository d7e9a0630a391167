"""Spot checks (抽查回访): the population of a half month on a hand-made set, the sample size, a
draw repeatable from its seed, one draw per period, the callback (不属实 → one flag with the
evidence; stale → 409; locked once flagged) and who may do what.

Everything happens in March 2028 (the clock is moved), a half month no demo problem touches, so
the period's population is exactly the set built here.
"""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.errors import Conflict, Invalid
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.handling import operations as h
from webapp.handling.models import Closure, ClosureStatus, ReplyMethod, Verdict
from webapp.handling.operations import resolve_on_spot
from webapp.integrity import spotchecks as sc
from webapp.integrity.models import CallbackResult, Flag, FlagKind, SpotCheck, SpotCheckItem

MARCH_1 = Period(date(2028, 3, 1), date(2028, 3, 15))
MON = datetime(2028, 3, 6, 2, 0, tzinfo=UTC)  # Monday 6 March 2028, 10:00 in Jiawang
AFTER = datetime(2028, 3, 20, 2, 0, tzinfo=UTC)  # Monday 20 March: the first half has ended


def local(y, m, d, hh, mm, ss=0):
    """A Jiawang wall-clock time as an aware UTC instant."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=clock.LOCAL_TZ).astimezone(UTC)


def signoff_again(p):
    """Sign off a problem that is in progress (again), verified now."""
    handler, leader = hf._lead_users(p)
    h.request_signoff(p, handler, result="第二次办结：已更换设备。", completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="现场整改。", open_parts_reason=None, step_reasons=hf.open_step_reasons(p))
    h.approve_signoff(p, leader)
    h.verify(p, hf.assigner(p), note="再次核实已解决。")
    db.session.commit()


def verified_at(p, when):
    """Sign ``p`` (in progress) off and verify it at ``when``."""
    with time_machine.travel(when, tick=False):
        signoff_again(p)


@pytest.fixture
def march(app):
    """The hand-made set; returns (problems by name, the traveller standing on 20 March)."""
    with time_machine.travel(MON, tick=False) as traveller:
        p = {}
        p["signed"] = hf.signed_off()  # in
        p["closed"] = hf.closed()  # in (signed off and replied)
        p["dept"] = hf.signed_off(dept=True)  # in (区民政局)
        spot = f.register()
        resolve_on_spot(spot, f.user("grouplead"), triage=f.QUICK, result="当场协调物业修复。")
        h.verify(spot, f.user("grouplead"), note="已核实。")
        db.session.commit()
        p["on_spot"] = spot  # in (好事即办, the work group's)
        p["pending"] = hf.pending_verification()  # out: not verified
        p["cannot"] = hf.cannot_solve()  # out: 暂难解决 is no sign-off
        p["reopened"] = hf.signed_off()  # out: the resident said "not solved", reopened
        hf.reply(p["reopened"], Verdict.unsatisfied, substantive=True)
        p["twice"] = hf.signed_off()  # in once, with its second sign-off
        hf.reply(p["twice"], Verdict.unsatisfied, substantive=True)
        p["last_minute"] = hf.in_progress()  # in: 15 March 23:59:30
        p["next_period"] = hf.in_progress()  # out: 16 March 00:00:30
        p["before"] = hf.in_progress()  # out: 29 February (the period before)
        p["moved_on"] = hf.in_progress()  # out: this period's sign-off, reopened, signed off again on the 16th
    verified_at(p["twice"], local(2028, 3, 8, 10, 0))
    verified_at(p["last_minute"], local(2028, 3, 15, 23, 59, 30))
    verified_at(p["next_period"], local(2028, 3, 16, 0, 0, 30))
    verified_at(p["moved_on"], local(2028, 3, 9, 10, 0))
    with time_machine.travel(local(2028, 3, 10, 10, 0), tick=False):
        hf.reply(p["moved_on"], Verdict.unsatisfied, substantive=True)
    verified_at(p["moved_on"], local(2028, 3, 16, 9, 0))
    with time_machine.travel(datetime(2028, 2, 28, 2, 0, tzinfo=UTC), tick=False):
        p["before"] = hf.signed_off()
    with time_machine.travel(AFTER, tick=False) as traveller:
        yield p, traveller


IN = ["signed", "closed", "dept", "on_spot", "twice", "last_minute"]


def test_the_population_is_the_periods_standing_signoffs(march):
    p, _t = march
    entries = sc.population(MARCH_1)
    assert [e.problem_id for e in entries] == sorted(p[k].id for k in IN)
    by_problem = {e.problem_id: e for e in entries}
    # One entry per problem: the one signed off twice in the period counts with its latest sign-off.
    latest = db.session.scalar(select(func.max(Closure.id)).where(
        Closure.problem_id == p["twice"].id, Closure.status == ClosureStatus.verified))
    assert by_problem[p["twice"].id].closure_id == latest
    assert db.session.get(Closure, latest).result == "第二次办结：已更换设备。"
    # The unit that signed off: the lead unit, the department, or the work group for 好事即办.
    assert by_problem[p["signed"].id].unit_id == f.unit("潘安湖街道").id
    assert by_problem[p["dept"].id].unit_id == f.unit("区民政局").id
    assert by_problem[p["on_spot"].id].unit_id == f.unit("潘安湖街道工作组").id
    # The second half of March holds the one verified just after midnight and the re-signed one.
    second = [e.problem_id for e in sc.population(MARCH_1.next())]
    assert second == sorted([p["next_period"].id, p["moved_on"].id])


@pytest.mark.parametrize(("population", "rate", "size"), [
    (0, 10, 0), (1, 10, 1), (9, 10, 1), (10, 10, 1), (11, 10, 2), (25, 10, 3),
    (20, 10, 2), (21, 10, 3), (25, 100, 25), (25, 1, 1), (7, 50, 4),
])
def test_sample_size(population, rate, size):
    assert sc.sample_size(population, rate) == size


def test_the_sample_is_repeatable_from_its_seed():
    ids = list(range(100, 160))
    first = sc.sample(ids, "a" * 32, 6)
    assert first == sc.sample(list(reversed(ids)), "a" * 32, 6)  # the order given does not matter
    assert len(set(first)) == 6 and set(first) <= set(ids) and first == sorted(first)
    assert sc.sample(ids, "b" * 32, 6) != first  # another seed, another sample
    assert len({sc.new_seed() for _ in range(20)}) == 20 and len(sc.new_seed()) == 32


def test_draw_records_the_sample_and_the_audit_lets_anyone_repeat_it(march):
    p, _t = march
    office = f.user("office")
    check = sc.draw(MARCH_1, office, rate=50)
    db.session.commit()
    assert (check.period_start, check.period_end, check.rate, check.population) == (
        MARCH_1.start, MARCH_1.end, 50, len(IN))
    sampled = [i.problem_id for i in check.items]
    assert len(sampled) == 3 and set(sampled) <= {p[k].id for k in IN}
    assert all(i.result == CallbackResult.pending and i.flag_id is None for i in check.items)
    assert sampled == sc.sample([p[k].id for k in IN], check.seed, 3)
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "integrity.spot_check_drawn"))
    assert (ev.object_type, ev.object_id) == ("spot_check", str(check.id))
    detail = json.loads(ev.detail)
    assert detail["seed"] == check.seed and detail["sampled"] == sampled
    assert detail["population_ids"] == sorted(p[k].id for k in IN)
    assert sc.sample(detail["population_ids"], detail["seed"], len(detail["sampled"])) == sampled


def test_one_draw_per_period_and_only_ended_periods(march):
    _p, traveller = march
    office = f.user("office")
    sc.draw(MARCH_1, office)
    db.session.commit()
    with pytest.raises(sc.AlreadyDrawn, match="每个半月只抽取一次"):
        sc.draw(MARCH_1, office, rate=20)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)
                             .where(SpotCheck.period_start == MARCH_1.start)) == 1
    # The running half month (16–31 March) cannot be drawn yet; an ended empty one has nothing to draw.
    with pytest.raises(Invalid, match="已经结束"):
        sc.draw(MARCH_1.next(), office)
    with pytest.raises(Invalid, match="无需抽查"):
        sc.draw(Period(date(2028, 1, 1), date(2028, 1, 15)), office)
    with pytest.raises(Invalid, match="抽查比例"):
        sc.draw(MARCH_1.previous(), office, rate=0)


def _full_draw():
    check = sc.draw(MARCH_1, f.user("office"), rate=100)
    db.session.commit()
    return check


def _item(check, problem) -> SpotCheckItem:
    return next(i for i in check.items if i.problem_id == problem.id)


def test_contradicted_callback_raises_one_flag_with_the_evidence(march):
    p, traveller = march
    office = f.user("office")
    item = _item(_full_draw(), p["signed"])
    traveller.shift(timedelta(hours=2))
    called = clock.now() - timedelta(hours=1)
    # A result can be corrected while no flag exists …
    assert sc.record(item, office, result=CallbackResult.unreachable, method=ReplyMethod.phone,
                     called_at=called, note=None, version=item.version) is None
    db.session.commit()
    flag = sc.record(item, office, result=CallbackResult.contradicted, method=ReplyMethod.visit, called_at=called,
                     note="群众说路灯还是不亮。", version=item.version)
    db.session.commit()
    assert flag is not None and item.flag_id == flag.id
    assert flag.kind == FlagKind.spot_check and flag.unit_id == f.unit("潘安湖街道").id
    assert flag.problem_id == p["signed"].id and flag.period_start == MARCH_1.start
    assert flag.detected_by_id == office.id and p["signed"].number in flag.summary
    closure = item.closure
    assert flag.evidence["callback_note"] == "群众说路灯还是不亮。"
    assert flag.evidence["callback_method"] == "visit"
    assert flag.evidence["called_at"] == clock.local(called).strftime("%Y-%m-%d %H:%M")
    assert flag.evidence["closure_result"] == closure.result == "已维修完毕，群众当面确认。"
    assert flag.evidence["verifier"] == f.user("grouplead").full_name
    assert flag.evidence["number"] == p["signed"].number
    # … and not any more once the flag exists: still one flag, the result stands.
    with pytest.raises(Conflict):
        sc.record(item, office, result=CallbackResult.confirmed, method=ReplyMethod.phone, called_at=called,
                  note=None, version=item.version)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.key == f"spot_check:{item.id}")) == 1
    assert db.session.get(SpotCheckItem, item.id).result == CallbackResult.contradicted
    events = db.session.scalars(select(AuditEvent.event).where(AuditEvent.object_type == "spot_check_item")).all()
    assert events == ["integrity.spot_check_recorded"] * 2


def test_an_existing_flag_of_the_same_key_is_linked_not_duplicated(march):
    p, _t = march
    from webapp.integrity.operations import raise_flag

    office = f.user("office")
    item = _item(_full_draw(), p["dept"])
    existing = raise_flag(FlagKind.spot_check, f"spot_check:{item.id}", unit_id=item.unit_id, summary="已有",
                          evidence={}, problem_id=item.problem_id)
    db.session.commit()
    flag = sc.record(item, office, result=CallbackResult.contradicted, method=ReplyMethod.phone,
                     called_at=clock.now(), note="没有解决。", version=item.version)
    db.session.commit()
    assert flag.id == existing.id == item.flag_id
    assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.kind == FlagKind.spot_check)) == 1


def test_callback_rules(march):
    p, _t = march
    office = f.user("office")
    item = _item(_full_draw(), p["closed"])
    ok = {"result": CallbackResult.confirmed, "method": ReplyMethod.phone, "called_at": clock.now(), "note": None}
    with pytest.raises(Conflict):
        sc.record(item, office, **ok, version=item.version + 1)
    with pytest.raises(Invalid, match="群众反映"):
        sc.record(item, office, **{**ok, "result": CallbackResult.contradicted}, version=item.version)
    with pytest.raises(Invalid, match="晚于现在"):
        sc.record(item, office, **{**ok, "called_at": clock.now() + timedelta(hours=1)}, version=item.version)
    with pytest.raises(Invalid, match="早于抽取"):
        sc.record(item, office, **{**ok, "called_at": clock.now() - timedelta(days=1)}, version=item.version)
    with pytest.raises(Invalid, match="回访结果"):
        sc.record(item, office, **{**ok, "result": CallbackResult.pending}, version=item.version)
    db.session.rollback()
    assert db.session.get(SpotCheckItem, item.id).result == CallbackResult.pending


# ---------------------------------------------------------------- the pages


def test_office_draws_and_records_through_the_pages(march, login_as):
    p, _t = march
    office = login_as("office")
    page = office.get("/integrity/spot-checks").get_data(as_text=True)
    assert "抽取回访样本" in page and 'value="2028-03-01"' in page and 'value="2028-03-16"' not in page
    resp = office.post("/integrity/spot-checks", {"period": "2028-03-01", "rate": "100"})
    assert resp.status_code == 302
    check = db.session.scalar(select(SpotCheck).where(SpotCheck.period_start == MARCH_1.start))
    assert len(check.items) == len(IN)
    again = office.post("/integrity/spot-checks", {"period": "2028-03-01", "rate": "10"})
    assert again.status_code == 409 and "每个半月只抽取一次" in again.get_data(as_text=True)
    for rate, message in (("abc", "请输入整数"), ("", "请填写抽查比例"), ("0", "抽查比例应为 1 至 100 之间的整数"),
                          ("101", "抽查比例应为 1 至 100 之间的整数")):
        bad = office.post("/integrity/spot-checks", {"period": "2028-02-16", "rate": rate})
        html = bad.get_data(as_text=True)
        assert bad.status_code == 200 and message in html and '<option selected value="2028-02-16">' in html
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 1

    show = office.get(f"/integrity/spot-checks/{check.id}").get_data(as_text=True)
    assert p["signed"].number in show and "已维修完毕，群众当面确认。" in show
    assert "138****1234" in show and "13812341234" not in show and "显示完整号码" in show

    item = _item(check, p["signed"])
    url = f"/integrity/spot-checks/items/{item.id}"
    # Without JavaScript: the form page; an empty note for 不属实 keeps the input with the message.
    form = office.get(url).get_data(as_text=True)
    assert "保存回访结果" in form
    called = clock.local(clock.now()).strftime("%Y-%m-%dT%H:%M")
    resp = office.post(url, {"result": "contradicted", "method": "phone", "called_at": called, "note": "",
                             "version": str(item.version)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "回访不属实时请记录群众反映的情况" in html and called in html
    # htmx: the item's fragment comes back (422 on error, 200 with the result on success).
    hx = {"HX-Request": "true"}
    resp = office.post(url, {"result": "bogus", "method": "phone", "called_at": called,
                             "version": str(item.version)}, headers=hx)
    assert resp.status_code == 422 and "<html" not in resp.get_data(as_text=True)
    resp = office.post(url, {"result": "contradicted", "method": "phone", "called_at": called,
                             "note": "群众反映没修好。", "version": str(item.version)}, headers=hx)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已形成问题线索" in html and "<html" not in html
    db.session.refresh(item)
    assert item.result == CallbackResult.contradicted and item.flag_id is not None
    # A second tab with the old version: 409, nothing changes.
    resp = office.post(url, {"result": "confirmed", "method": "phone", "called_at": called,
                             "version": str(item.version - 1)})
    assert resp.status_code == 409 and "已被他人修改" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.kind == FlagKind.spot_check)) == 1

    # Progress on the index: one 不属实 of six.
    index = office.get("/integrity/spot-checks").get_data(as_text=True)
    assert "<strong>1</strong>" in index


def test_the_office_reveals_the_phone_through_the_audited_reveal(march, login_as):
    p, _t = march
    check = _full_draw()
    office = login_as("office")
    item = _item(check, p["signed"])
    resp = office.post(f"/cases/{item.problem_id}/reveal", {"next": f"/integrity/spot-checks/{check.id}"})
    assert resp.status_code == 200 and "13812341234" in resp.get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "problem.contact_revealed"))


def test_leader_reads_and_may_not_draw_or_record(march, login_as):
    p, _t = march
    check = _full_draw()
    leader = login_as("leader")
    page = leader.get("/integrity/spot-checks").get_data(as_text=True)
    assert "抽取回访样本" not in page and "2028年3月上半月" in page
    show = leader.get(f"/integrity/spot-checks/{check.id}").get_data(as_text=True)
    assert p["signed"].number in show and "138****1234" in show
    assert "显示完整号码" not in show and "记录回访结果" not in show
    item = check.items[0]
    assert leader.get(f"/integrity/spot-checks/items/{item.id}").status_code == 403
    assert leader.post(f"/integrity/spot-checks/items/{item.id}", {"result": "confirmed"}).status_code == 403
    assert leader.post("/integrity/spot-checks", {"period": "2028-02-16", "rate": "10"}).status_code == 403
    for who in ("town", "grouplead", "cadre", "auditor"):
        assert login_as(who).get(f"/integrity/spot-checks/{check.id}").status_code == 403


def test_the_signing_unit_is_told_the_finding_once_per_result(march):
    from webapp.accounts.models import User
    from webapp.notifications.models import Notification

    p, traveller = march
    office = f.user("office")
    item = _item(_full_draw(), p["signed"])
    traveller.shift(timedelta(hours=2))
    called = clock.now() - timedelta(hours=1)

    def told():
        return db.session.execute(select(Notification.user_id, Notification.body, Notification.target_id).where(
            Notification.kind == "spot_check").order_by(Notification.id)).all()

    sc.record(item, office, result=CallbackResult.unreachable, method=ReplyMethod.phone, called_at=called,
              note=None, version=item.version)
    db.session.commit()
    assert told() == []  # 无法联系 is no finding
    sc.record(item, office, result=CallbackResult.contradicted, method=ReplyMethod.visit, called_at=called,
              note="群众说路灯还是不亮。", version=item.version)
    db.session.commit()
    rows = told()
    town = f.unit("潘安湖街道").id
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_([r.user_id for r in rows])))}
    assert rows and {u.unit_id for u in people.values()} == {town}
    assert {u.role.value for u in people.values()} >= {"handler", "unit_leader"}
    assert all("不属实" in r.body and r.target_id == p["signed"].id for r in rows)
    assert len(rows) == len(people)  # once per person
