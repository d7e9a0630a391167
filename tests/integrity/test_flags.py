"""Integrity flags (诚信核查): each detector on a small hand-made data set with known answers —
including what must not be flagged — the idempotent re-scan, the office's review, the command,
the pages, and bounded statement counts."""

import hashlib
import itertools
import json
import uuid
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import counted_queries
from tests.handling import factories as hf
from webapp.cases import operations as ops
from webapp.cases.models import AttachmentKind
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import Verdict
from webapp.handling.operations import resolve_on_spot
from webapp.integrity import detectors
from webapp.integrity import operations as flags
from webapp.integrity.models import Flag, FlagKind, FlagStatus
from webapp.integrity.scan import scan

_phones = itertools.count(1)


def at(day: date, hour: int = 10):
    """Travel to ``hour`` o'clock Beijing time on ``day``."""
    return time_machine.travel(datetime(day.year, day.month, day.day, hour - 8, 0, tzinfo=UTC), tick=False)


def phone() -> str:
    """A fresh resident phone: the factories' default one would make every problem one household."""
    return f"139{next(_phones):08d}"


def kw(**extra):
    extra.setdefault("phone", phone())
    return extra


def scan_on(day: date) -> dict:
    with at(day, 20):
        counts = scan(day)
        db.session.commit()
    return counts


def flags_of(kind: FlagKind) -> list[Flag]:
    db.session.rollback()
    return db.session.scalars(select(Flag).where(Flag.kind == kind).order_by(Flag.id)).all()


def by_problem(kind: FlagKind) -> dict[int, Flag]:
    return {fl.problem_id: fl for fl in flags_of(kind)}


def audits(name):
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)).all()


def with_evidence(**kwargs):
    """A problem signed off with one evidence file on its closure request."""
    p = hf.in_progress(**kwargs)
    town = f.user("town")
    closure = h.request_signoff(p, town, result="已修复。", completed_on=clock.today(), evidence_count=1,
                                step_reasons=hf.open_step_reasons(p))
    ops.add_attachment(p, town, kind=AttachmentKind.evidence, filename="现场.jpg",
                       stored_name=uuid.uuid4().hex + ".jpg", mime="image/jpeg", size=10,
                       sha256=hashlib.sha256(b"x").hexdigest(), closure=closure)
    db.session.commit()
    h.approve_signoff(p, f.user("townlead"))
    db.session.commit()
    h.verify(p, f.user("grouplead"))
    db.session.commit()
    return p


def on_spot(**kwargs):
    p = f.register(**kwargs)
    resolve_on_spot(p, f.user("grouplead"), triage=ops.Triage(Kind.individual, Level.town, Tier.immediate),
                        result="当场协调解决。")
    db.session.commit()
    return p


# ---------------------------------------------------------------- no evidence


def test_no_evidence(app):
    with at(date(2026, 3, 2)):
        bare = hf.signed_off(**kw())  # written reason only, verified
        approved = hf.pending_verification(**kw())  # the unit leader approved it without a file
        waiting = hf.signoff_review(**kw())  # not approved yet: nobody has vouched for it
        proven = with_evidence(**kw())
        spot = on_spot(**kw())  # 好事即办 without a file, waiting for verification
        cannot = hf.cannot_solve(**kw())  # 暂难解决 needs no evidence
    counts = scan_on(date(2026, 3, 3))
    assert counts["no_evidence"] == 3
    found = by_problem(FlagKind.no_evidence)
    assert set(found) == {bare.id, approved.id, spot.id}
    assert not {waiting.id, proven.id, cannot.id} & set(found)

    fl = found[bare.id]
    town = f.unit("潘安湖街道")
    assert fl.unit_id == town.id and fl.status == FlagStatus.open and fl.detected_by_id is None
    closure_id = fl.evidence["closure_id"]
    assert fl.key == f"no_evidence:{closure_id}"
    assert fl.evidence["evidence_files"] == 0 and fl.evidence["closure_status"] == "verified"
    assert fl.evidence["no_evidence_reason"] == "现场整改，照片另行存档。"
    assert fl.evidence["problem_number"] == bare.number and fl.evidence["verified_at"].startswith("2026-03-02")
    assert fl.summary.startswith("潘安湖街道对问题" + bare.number) and fl.summary.endswith("仅书面说明：“现场整改，照片另行存档”。")
    assert found[approved.id].evidence["closure_status"] == "verifying"
    # The on-the-spot solution is the work group's.
    assert found[spot.id].unit_id == f.unit("潘安湖街道工作组").id
    assert found[spot.id].evidence["closure_kind"] == "on_spot" and "好事即办" in found[spot.id].summary


# ---------------------------------------------------------------- bunched before the period ends


def requests_on(day: date, n: int, **kwargs) -> list:
    with at(day):
        return [hf.signoff_review(**kw(**kwargs)) for _ in range(n)]


def test_bunched(app):
    # 1–15 March 2026: the 15th is a Sunday, so the last two working days are Thu 12 and Fri 13.
    late = requests_on(date(2026, 3, 13), 4) + requests_on(date(2026, 3, 14), 1) + requests_on(date(2026, 3, 12), 1)
    early = requests_on(date(2026, 3, 11), 2)  # 6 of 8 in the window: 75 %
    # 区民政局: 5 in the window, 6 before: 45 % < 50 % — not bunched.
    requests_on(date(2026, 3, 13), 5, dept=True)
    requests_on(date(2026, 3, 5), 6, dept=True)
    # 16–31 March: 潘安湖街道 again, 4 in the last two working days (30, 31) only: fewer than 5.
    requests_on(date(2026, 3, 31), 4)

    assert scan_on(date(2026, 3, 15))["bunched"] == 0  # the period has not ended yet
    assert scan_on(date(2026, 4, 1))["bunched"] == 1
    [fl] = flags_of(FlagKind.bunched)
    town = f.unit("潘安湖街道")
    assert fl.unit_id == town.id and fl.problem_id is None and fl.period_start == date(2026, 3, 1)
    assert fl.key == f"bunched:{town.id}:2026-03-01"
    ev = fl.evidence
    assert (ev["late_count"], ev["total_count"], ev["share_percent"]) == (6, 8, 75.0)
    assert ev["window"] == {"start": "2026-03-12", "end": "2026-03-15", "workdays": ["2026-03-12", "2026-03-13"]}
    assert ev["by_day"] == {"2026-03-12": 1, "2026-03-13": 4, "2026-03-14": 1}
    assert ev["thresholds"] == {"workdays": 2, "min_count": 5, "min_share_percent": 50}
    assert {r["problem_id"] for r in ev["requests"]} == {p.id for p in late}
    assert not {r["problem_id"] for r in ev["requests"]} & {p.id for p in early}
    assert fl.summary == "潘安湖街道在2026年3月上半月最后2个工作日（3月12日至3月15日）集中申请销号6件，占该期销号申请8件的75%。"

    # Thresholds come from the config: 4 requests are enough → the second half of March too.
    app.config["INTEGRITY_BUNCH_MIN"] = 4
    assert scan_on(date(2026, 4, 1))["bunched"] == 1
    assert {fl.period_start for fl in flags_of(FlagKind.bunched)} == {date(2026, 3, 1), date(2026, 3, 16)}


def test_bunching_window_follows_the_working_day_calendar(app):
    # 1–15 February 2026: Saturday the 14th is a 调休 make-up workday, Sunday the 15th a holiday.
    assert detectors.window_days(detectors.Period.of(date(2026, 2, 3)), 2) == [date(2026, 2, 13), date(2026, 2, 14)]
    # 16–30 September 2026 ends on a working Wednesday.
    assert detectors.window_days(detectors.Period.of(date(2026, 9, 20)), 3) == [
        date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)]
    # The office's own calendar overrides count: the 29th made a day off.
    from webapp.core import calendar

    calendar.set_calendar_day(date(2026, 9, 29), False, "测试")
    db.session.commit()
    assert detectors.window_days(detectors.Period.of(date(2026, 9, 20)), 2) == [date(2026, 9, 28), date(2026, 9, 30)]


# ---------------------------------------------------------------- "not solved" about a signed-off problem


def test_contradicted_reply(app):
    with at(date(2026, 3, 2)):
        reopened = hf.signed_off(**kw())
        hf.reply(reopened, Verdict.unsatisfied, substantive=True, words="路灯还是不亮，问题没有解决")
        words = hf.signed_off(**kw())
        hf.reply(words, Verdict.basically, words="态度挺好，但其实没解决")
        unsatisfied = hf.signed_off(**kw())
        hf.reply(unsatisfied, Verdict.unsatisfied, words="办得太慢")  # not substantive: closed, still 不满意
        content = hf.signed_off(**kw())
        hf.reply(content, Verdict.satisfied)
        pleased = hf.signed_off(**kw())
        hf.reply(pleased, Verdict.basically, words="已经解决了，谢谢")
        cannot = hf.cannot_solve(**kw())
        hf.reply(cannot, Verdict.unsatisfied, words="问题没有解决")  # not signed off: an honest 暂难解决
    assert scan_on(date(2026, 3, 3))["contradicted_reply"] == 3
    found = by_problem(FlagKind.contradicted_reply)
    assert set(found) == {reopened.id, words.id, unsatisfied.id}
    fl = found[reopened.id]
    ev = fl.evidence
    assert fl.key == f"contradicted_reply:{ev['reply_id']}" and fl.unit_id == f.unit("潘安湖街道").id
    assert ev["verdict"] == "unsatisfied" and ev["reopened"] is True and ev["matched_words"] == ["没有解决"]
    assert ev["closure_id"] and ev["verified_at"].startswith("2026-03-02")
    assert "不满意" in fl.summary and "问题没有解决" in fl.summary
    assert found[words.id].evidence["verdict"] == "basically"
    assert found[words.id].evidence["matched_words"] == ["没解决"]
    assert found[unsatisfied.id].evidence["reopened"] is False


# ---------------------------------------------------------------- raised again by the same household


def test_raised_again(app):
    home = "13900008888"
    with at(date(2026, 3, 2)):
        earlier = hf.closed(phone=home, resident_name="张德明")
    assert earlier.status == Status.closed
    with at(date(2026, 4, 1)):
        again = f.register(phone=home, resident_name="张德明")  # 30 days after the sign-off
        other_category = f.register(phone=home, resident_name="张德明", category="道路交通")
        other_phone = f.register(phone=phone(), resident_name="张德明")  # a namesake with his own phone
    with at(date(2026, 4, 20)):
        # No phone: the same name (blanks do not count) in the same village is the same household.
        no_phone = f.register(phone="", resident_name="张 德明")
        elsewhere = f.register(phone="", resident_name="张德明", village="房上村")
    with at(date(2026, 9, 30)):
        too_late = f.register(phone=home, resident_name="张德明")  # 212 days later
    with at(date(2026, 2, 20)):
        before = f.register(phone=home, resident_name="张德明")  # before the first was solved

    assert scan_on(date(2026, 10, 1))["raised_again"] == 2
    found = by_problem(FlagKind.raised_again)
    assert set(found) == {again.id, no_phone.id}
    assert not {other_category.id, other_phone.id, elsewhere.id, too_late.id, before.id} & set(found)
    fl = found[again.id]
    ev = fl.evidence
    assert fl.key == f"raised_again:{again.id}" and fl.unit_id == f.unit("潘安湖街道").id
    assert ev["earlier"]["problem_id"] == earlier.id and ev["earlier"]["unit_name"] == "潘安湖街道"
    assert ev["earlier"]["signed_off_at"].startswith("2026-03-02") and ev["earlier"]["closed_at"]
    assert ev["match"] == "phone" and ev["days_after"] == 30 and ev["thresholds"] == {"days": 180}
    assert ev["resident_phone"] == "139****8888" and home not in json.dumps(ev) and home not in fl.summary
    assert earlier.number in fl.summary and "同一联系电话" in fl.summary
    assert found[no_phone.id].evidence["match"] == "name_village"
    assert found[no_phone.id].evidence["days_after"] == 49

    # A longer window (config) reaches the one 212 days later.
    app.config["INTEGRITY_REPEAT_DAYS"] = 240
    assert scan_on(date(2026, 10, 1))["raised_again"] == 1
    assert too_late.id in by_problem(FlagKind.raised_again)


# ---------------------------------------------------------------- a unit's reopen rate


def reopen_data():
    """潘安湖街道: 5 sign-offs decided, 2 sent back at verification and 1 reopened by the reply
    (3 of 5 = 60 %); 区民政局: 10 verified, none reopened. District: 3 of 15 = 20 %."""
    with at(date(2026, 3, 2)):
        town = [hf.pending_verification(**kw()) for _ in range(2)]
        for p in town:
            h.reject_verification(p, f.user("grouplead"), reason="现场核实未整改到位。")
            db.session.commit()
        reopened = hf.signed_off(**kw())
        hf.reply(reopened, Verdict.unsatisfied, substantive=True)
        fine = [hf.signed_off(**kw()) for _ in range(2)]
        dept = [hf.signed_off(dept=True, **kw()) for _ in range(10)]
    return town, reopened, fine, dept


def test_reopen_outlier(app):
    town, reopened, _fine, _dept = reopen_data()
    assert scan_on(date(2026, 3, 3))["reopen_outlier"] == 1
    [fl] = flags_of(FlagKind.reopen_outlier)
    unit = f.unit("潘安湖街道")
    assert fl.unit_id == unit.id and fl.key == f"reopen_outlier:{unit.id}:2026-03-01"
    assert fl.period_start == date(2026, 3, 1)
    ev = fl.evidence
    assert ev["unit"] == {"decided": 5, "verification_rejected": 2, "reply_reopened": 1, "reopened": 3,
                          "rate_percent": 60.0}
    assert ev["district"] == {"decided": 15, "reopened": 3, "rate_percent": 20.0}
    assert ev["thresholds"] == {"min_reopened": 3, "factor": 2, "margin_points": 10}
    assert sorted(r["problem_id"] for r in ev["reopenings"]) == sorted([p.id for p in town] + [reopened.id])
    assert {r["what"] for r in ev["reopenings"]} == {"verification_rejected", "reply_reopened"}
    assert "重办率60%" in fl.summary and "全区为20%" in fl.summary

    # Within the half month: no second flag; the next half month: a new one.
    assert scan_on(date(2026, 3, 10))["reopen_outlier"] == 0
    assert scan_on(date(2026, 3, 16))["reopen_outlier"] == 1


def test_reopen_rate_not_outstanding(app):
    reopen_data()
    app.config["INTEGRITY_REOPEN_FACTOR"] = 4  # 60 % is not 4 × 20 %
    assert scan_on(date(2026, 3, 3))["reopen_outlier"] == 0
    app.config["INTEGRITY_REOPEN_FACTOR"] = 2
    app.config["INTEGRITY_REOPEN_MIN"] = 4  # three reopenings are not enough then
    assert scan_on(date(2026, 3, 3))["reopen_outlier"] == 0
    assert flags_of(FlagKind.reopen_outlier) == []


# ---------------------------------------------------------------- the scan


def test_rescan_is_idempotent_and_audited(app):
    with at(date(2026, 3, 2)):
        p = hf.signed_off(**kw())
        hf.reply(p, Verdict.unsatisfied, words="没有解决")
    first = scan_on(date(2026, 3, 3))
    assert first == {"no_evidence": 1, "bunched": 0, "contradicted_reply": 1, "raised_again": 0,
                     "reopen_outlier": 0}
    assert scan_on(date(2026, 3, 3)) == dict.fromkeys(first, 0)
    assert scan_on(date(2026, 3, 20)) == dict.fromkeys(first, 0)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 2
    runs = audits("integrity.scan")
    assert len(runs) == 3
    detail = json.loads(runs[0].detail)
    assert detail["raised"] == first and detail["date"] == "2026-03-03" and detail["source"] == "cli"
    assert detail["thresholds"]["INTEGRITY_BUNCH_MIN"] == 5
    raised = audits("integrity.flags_raised")
    assert len(raised) == 2 and {json.loads(a.detail)["kind"] for a in raised} == {"no_evidence", "contradicted_reply"}


def test_scan_as_of_an_earlier_date_ignores_later_data(app):
    with at(date(2026, 3, 2)):
        hf.signed_off(**kw())
    with at(date(2026, 3, 9)):
        later = hf.signed_off(**kw())
    assert scan_on(date(2026, 3, 5))["no_evidence"] == 1
    assert later.id not in by_problem(FlagKind.no_evidence)
    assert scan_on(date(2026, 3, 9))["no_evidence"] == 1


def test_batches(app, monkeypatch):
    app.config["INTEGRITY_BATCH"] = 2
    with at(date(2026, 3, 2)):
        ps = [hf.signed_off(**kw()) for _ in range(5)]
        for p in ps:
            hf.reply(p, Verdict.unsatisfied, words="没有解决")
    counts = scan_on(date(2026, 3, 3))
    assert counts["no_evidence"] == 5 and counts["contradicted_reply"] == 5
    assert set(by_problem(FlagKind.no_evidence)) == {p.id for p in ps}


def test_raise_flag_keeps_its_contract(app):
    town = f.unit("潘安湖街道")
    fl = flags.raise_flag(FlagKind.spot_check, "spot_check:1", unit_id=town.id, summary="抽查回访：群众反映未解决。",
                          evidence={"note": "群众说没人来修"}, user=f.user("office"))
    db.session.commit()
    assert fl is not None and fl.detected_by_id == f.user("office").id
    assert flags.raise_flag(FlagKind.spot_check, "spot_check:1", unit_id=town.id, summary="x", evidence={}) is None


def _statements_of_scan(add: int, expect: int) -> int:
    """Add ``add`` signed-off problems without evidence and with a 不满意 reply; drop the flags;
    count the statements of a scan that raises ``expect`` flags of each of the two kinds."""
    with at(date(2026, 3, 2)):
        for _ in range(add):
            p = hf.signed_off(**kw())
            hf.reply(p, Verdict.unsatisfied, words="没有解决")
    db.session.execute(Flag.__table__.delete())
    db.session.commit()
    with at(date(2026, 3, 3), 20), counted_queries() as count:
        counts = scan(date(2026, 3, 3))
        db.session.commit()
    assert counts["no_evidence"] == expect and counts["contradicted_reply"] == expect
    return count[0]


def test_scan_statements_do_not_grow_with_the_data(app):
    small = _statements_of_scan(2, 2)
    larger = _statements_of_scan(10, 12)
    print(f"\nSQL statements per scan: {small} (2 problems) vs {larger} (12 problems)")
    assert larger == small and small < 40


# ---------------------------------------------------------------- the command


def test_command(app, runner_factory):
    with at(date(2026, 3, 2)):
        hf.signed_off(**kw())
    out = runner_factory().invoke(args=["integrity", "scan", "--date", "2026-03-03"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == ("2026-03-03: 1 new flags (no_evidence 1, bunched 0, contradicted_reply 0, "
                                  "raised_again 0, reopen_outlier 0)")
    again = runner_factory().invoke(args=["integrity", "scan", "--date", "2026-03-03"])
    assert again.exit_code == 0 and "0 new flags" in again.output
    assert runner_factory().invoke(args=["integrity", "scan", "--date", "03/03/2026"]).exit_code != 0
    assert len(flags_of(FlagKind.no_evidence)) == 1
    assert [json.loads(a.detail)["source"] for a in audits("integrity.scan")] == ["cli", "cli"]


# ---------------------------------------------------------------- review


def one_flag() -> Flag:
    with at(date(2026, 3, 2)):
        p = hf.signed_off(**kw())
    scan_on(date(2026, 3, 3))
    [fl] = flags_of(FlagKind.no_evidence)
    assert fl.problem_id == p.id
    return fl


def test_review_operation(app):
    fl = one_flag()
    office = f.user("office")
    with pytest.raises(flags.ReviewInvalid) as exc:
        flags.review(fl, office, status="dismissed", note="  ", version=fl.version)
    assert set(exc.value.errors) == {"note"}
    with pytest.raises(flags.ReviewInvalid) as exc:
        flags.review(fl, office, status="open", note="", version=fl.version)
    assert set(exc.value.errors) == {"status"}
    with pytest.raises(flags.Conflict):
        flags.review(fl, office, status="confirmed", note="", version=fl.version + 1)
    db.session.rollback()
    flags.review(fl, office, status="confirmed", note="经电话核实，确未整改。", version=fl.version)
    db.session.commit()
    assert (fl.status, fl.reviewed_by_id, fl.review_note, fl.version) == (
        FlagStatus.confirmed, office.id, "经电话核实，确未整改。", 2)
    [entry] = audits("integrity.flag_reviewed")
    assert entry.object_id == str(fl.id) and json.loads(entry.detail)["to"] == "confirmed"


def test_review_pages(app, login_as):
    fl = one_flag()
    office = login_as("office")
    page = office.get(f"/integrity/flags/{fl.id}").get_data(as_text=True)
    assert fl.summary in page and "现场整改，照片另行存档。" in page
    assert f'href="/cases/{fl.problem_id}"' in page and "提交核查结论" in page

    # Dismissing needs a note: the form again with the message, nothing changed.
    resp = office.post(f"/integrity/flags/{fl.id}/review", {"status": "dismissed", "note": "", "version": "1"})
    assert resp.status_code == 200 and "排除线索时请说明核查情况。" in resp.get_data(as_text=True)
    db.session.refresh(fl)
    assert fl.status == FlagStatus.open

    # Someone else reviews it meanwhile: the stale form is refused with 409, input kept.
    flags.review(fl, f.user("office"), status="confirmed", note="已核实。", version=1)
    db.session.commit()
    resp = office.post(f"/integrity/flags/{fl.id}/review",
                       {"status": "dismissed", "note": "照片已补交，排除。", "version": "1"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "该核查线索已被他人核查或修改" in text and "照片已补交，排除。" in text
    db.session.refresh(fl)
    assert (fl.status, fl.review_note) == (FlagStatus.confirmed, "已核实。")

    # With the current version it goes through (PRG), and the list shows the new status.
    resp = office.post(f"/integrity/flags/{fl.id}/review",
                       {"status": "dismissed", "note": "照片已补交，排除。", "version": "2"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/integrity/flags/{fl.id}")
    db.session.refresh(fl)
    assert (fl.status, fl.review_note) == (FlagStatus.dismissed, "照片已补交，排除。")
    page = office.get(f"/integrity/flags/{fl.id}").get_data(as_text=True)
    assert "已记录核查结论：核查排除。" in page and "照片已补交，排除。" in page
    listing = office.get("/integrity?status=dismissed").get_data(as_text=True)
    assert fl.summary in listing
    assert fl.summary not in office.get("/integrity?status=open").get_data(as_text=True)


def test_leader_reads_units_do_not(app, login_as):
    fl = one_flag()
    leader = login_as("leader")
    page = leader.get(f"/integrity/flags/{fl.id}").get_data(as_text=True)
    assert fl.summary in page and "提交核查结论" not in page
    listing = leader.get("/integrity").get_data(as_text=True)
    assert fl.summary in listing and "立即核查" not in listing and "诚信核查" in listing
    for who in ("town", "townlead", "grouplead", "cadre"):
        b = login_as(who)
        assert b.get("/integrity").status_code == 403
        assert b.get(f"/integrity/flags/{fl.id}").status_code == 403
        assert "诚信核查" not in b.get("/").get_data(as_text=True)
    assert login_as("office").get("/integrity/flags/99999999").status_code == 404


def test_accountability_link_only_when_that_page_exists(app, login_as):
    fl = one_flag()
    page = login_as("office").get(f"/integrity/flags/{fl.id}").get_data(as_text=True)
    if "accountability.new" in app.view_functions:
        assert f"unit_id={fl.unit_id}" in page and f"flag_id={fl.id}" in page
    else:
        assert "建立问责记录" not in page


def test_scan_now_and_the_list(app, login_as):
    with at(date(2026, 3, 2)):
        p = hf.signed_off(**kw())
        hf.reply(p, Verdict.unsatisfied, words="问题没有解决")
    with at(date(2026, 3, 3)):
        office = login_as("office")
        resp = office.post("/integrity/scan")
        assert resp.status_code == 302
        page = office.get("/integrity").get_data(as_text=True)
        assert "核查完成，新发现线索 2 条：销号无佐证材料 1、群众反映已销号问题未解决 1。" in page
        assert page.count('data-flag="') == 2
        only = office.get("/integrity?kind=contradicted_reply").get_data(as_text=True)
        assert only.count('data-flag="') == 1 and "问题没有解决" in only
        office.post("/integrity/scan")
        assert "没有发现新的线索" in office.get("/integrity").get_data(as_text=True)
        unit = f.unit("潘安湖街道").id
        assert office.get(f"/integrity?unit={unit}").get_data(as_text=True).count('data-flag="') == 2
        assert office.get(f"/integrity?unit={unit + 100000}").get_data(as_text=True).count('data-flag="') == 0
        assert office.get("/integrity?kind=nonsense&status=bogus&page=x").status_code == 200
    [entry] = audits("integrity.scan")[-1:]
    assert entry.username == "office" and json.loads(entry.detail)["source"] == "web"


def _many_flags(n: int) -> None:
    town = f.unit("潘安湖街道")
    with at(date(2026, 3, 2)):
        problems = [f.register(**kw()) for _ in range(n)]
    for i, p in enumerate(problems):
        flags.raise_flag(FlagKind.no_evidence, f"test:{p.id}:{i}", unit_id=town.id, problem_id=p.id,
                         summary=f"测试线索{p.number}", evidence={"problem_id": p.id})
    db.session.commit()


def test_list_statements_bounded(app, login_as):
    office = login_as("office")

    def statements(url):
        office.get(url)  # warm: the session, the user
        with counted_queries() as n:
            assert office.get(url).status_code == 200
        return n[0]

    _many_flags(3)
    small = statements("/integrity")
    small_show = statements(f"/integrity/flags/{db.session.scalar(select(func.min(Flag.id)))}")
    _many_flags(40)
    assert statements("/integrity") == small
    assert statements("/integrity?page=2") == small
    assert statements(f"/integrity/flags/{db.session.scalar(select(func.max(Flag.id)))}") == small_show
    print(f"\nSQL statements: list {small}, flag page {small_show}")


def test_thresholds_come_from_the_environment(monkeypatch, tmp_path):
    from webapp.config import INTEGRITY_SETTINGS, load_config
    from webapp.integrity.detectors import DEFAULTS

    # Every threshold the detectors read can be set; the batch sizes are internal.
    assert INTEGRITY_SETTINGS == set(DEFAULTS) - {"INTEGRITY_BATCH", "INTEGRITY_EVIDENCE_ROWS"}
    monkeypatch.setenv("INTEGRITY_BUNCH_MIN", "8")
    monkeypatch.setenv("INTEGRITY_BATCH", "3")  # not a setting: ignored
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    config = load_config(str(tmp_path))
    assert config["INTEGRITY_BUNCH_MIN"] == 8 and "INTEGRITY_BATCH" not in config
    assert "INTEGRITY_REPEAT_DAYS" not in config  # unset: the detectors' default applies
