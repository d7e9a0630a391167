"""问责 records: the office records one against a unit with its problems and confirmed flags; the
rules (problems of the unit, confirmed flags of the unit not yet used, no future date) with
per-entry messages that keep the input; who reads what (the office, the leader and the audit
admin, the last two read-only; nobody else, the unit held to account included); the audit entry."""

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.integrity import accountability as acc
from webapp.integrity.models import AccountabilityRecord, Flag, FlagKind, FlagStatus, Measure
from webapp.integrity.operations import raise_flag, review

TOWN = "潘安湖街道"


def flag(unit_name, problem=None, *, status=FlagStatus.confirmed, key=None):
    """A flag against the unit, reviewed by the office through the real operation unless open."""
    unit = f.unit(unit_name)
    fl = raise_flag(FlagKind.no_evidence, key or f"test:{unit.id}:{problem.id if problem else 'x'}:{status}",
                    unit_id=unit.id, summary=f"销号无佐证材料：{problem.number if problem else unit_name}",
                    evidence={"problem": problem.id if problem else None},
                    problem_id=problem.id if problem else None)
    if status != FlagStatus.open:
        review(fl, f.user("office"), status=status, note="核查情况", version=fl.version)
    db.session.commit()
    return fl


def short(number: str) -> str:
    """贾走访〔2026〕00012号 → 2026-12."""
    m = re.fullmatch(r"贾走访〔(\d{4})〕(\d+)号", number)
    return f"{m.group(1)}-{int(m.group(2))}"


def create(**kw):
    data = {"unit": f.unit(TOWN), "measure": Measure.talk, "facts": "销号材料不实。", "decided_on": clock.today(),
            "decided_by": "区活动领导小组", "problem_ids": [], "flag_ids": []}
    data.update(kw)
    record = acc.create(f.user("office"), **data)
    db.session.commit()
    return record


@pytest.fixture
def town_record(app):
    """A record against 潘安湖街道 on one of its problems."""
    return create(problem_ids=[hf.signed_off().id])


@pytest.fixture
def dept_record(app):
    return create(unit=f.unit("区民政局"), measure=Measure.criticism, problem_ids=[hf.in_progress(dept=True).id])


def test_create_links_problems_and_confirmed_flags(app):
    own = hf.signed_off()
    elsewhere = f.assigned_to_town(town="青山泉镇", village="房上村")  # concerns the town only through its flag
    confirmed = flag(TOWN, elsewhere)
    record = create(measure=Measure.admonish, problem_ids=[own.id, own.id], flag_ids=[confirmed.id])
    assert record.unit.name == TOWN and record.measure == Measure.admonish
    assert [p.id for p in record.problems] == sorted([own.id, elsewhere.id])  # the flag's problem too, once
    assert db.session.get(Flag, confirmed.id).accountability_id == record.id
    assert db.session.get(Flag, confirmed.id).status == FlagStatus.confirmed  # linking does not review
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "integrity.accountability_recorded"))
    assert (ev.object_type, ev.object_id) == ("accountability", str(record.id))
    detail = json.loads(ev.detail)
    assert detail["problems"] == sorted([own.id, elsewhere.id]) and detail["flags"] == [confirmed.id]
    assert detail["measure"] == "admonish" and detail["decided_by"] == "区活动领导小组"
    # A flag serves one record only.
    with pytest.raises(acc.RecordInvalid) as exc:
        create(flag_ids=[confirmed.id])
    assert "flags" in exc.value.errors


def test_the_rules(app):
    own = hf.in_progress()
    other = f.assigned_to_town(town="青山泉镇", village="房上村")
    open_flag = flag(TOWN, own, status=FlagStatus.open)
    dismissed = flag(TOWN, own, status=FlagStatus.dismissed)
    other_flag = flag("青山泉镇", other)
    cases = [
        ({"problem_ids": [other.id]}, "problems"),  # not the town's problem
        ({"flag_ids": [open_flag.id]}, "flags"),  # not reviewed yet
        ({"flag_ids": [dismissed.id]}, "flags"),
        ({"flag_ids": [other_flag.id]}, "flags"),  # another unit's
        ({}, "problems"),  # nothing linked
        ({"problem_ids": [own.id], "decided_on": clock.today() + timedelta(days=1)}, "decided_on"),
        ({"problem_ids": [own.id], "facts": "  "}, "facts"),
        ({"problem_ids": [own.id], "decided_by": ""}, "decided_by"),
        ({"problem_ids": [own.id], "measure": "fine"}, "measure"),
        ({"problem_ids": [own.id], "unit": f.unit("区活动办")}, "unit"),
    ]
    for kw, field in cases:
        with pytest.raises(acc.RecordInvalid) as exc:
            create(**kw)
        db.session.rollback()
        assert field in exc.value.errors, (kw, exc.value.errors)
    assert db.session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 0
    assert db.session.get(Flag, open_flag.id).accountability_id is None


def test_numbers_resolve_entry_by_entry(app):
    own = hf.in_progress()
    second = hf.signed_off()
    other = f.assigned_to_town(town="青山泉镇", village="房上村")
    text = f"{own.number}，{short(second.number)}\n{own.number}、2026-99999;{other.number}"
    r = acc.resolve_numbers(text, f.unit(TOWN))
    assert r.ids == [own.id, second.id]
    assert r.errors == ["“2026-99999”：没有这个编号的问题。",
                        f"“{other.number}”：该问题与{TOWN}无关（不是其办理、销号或被发现线索的问题）。"]


def test_office_records_through_the_page_keeping_input_on_errors(app, login_as):
    own = hf.signed_off()
    other = f.assigned_to_town(town="青山泉镇", village="房上村")
    confirmed = flag(TOWN, own)
    office = login_as("office")
    step1 = office.get("/integrity/accountability/new").get_data(as_text=True)
    assert "下一步" in step1 and TOWN in step1
    page = office.get(f"/integrity/accountability/new?flag_id={confirmed.id}").get_data(as_text=True)
    assert f'name="unit_id" value="{f.unit(TOWN).id}"' in page
    assert f'value="{confirmed.id}" checked' in page and "销号无佐证材料" in page
    data = {"unit_id": str(f.unit(TOWN).id), "measure": "rectify", "facts": "多次无佐证销号，责令整改。",
            "decided_on": (clock.today() + timedelta(days=2)).isoformat(), "decided_by": "区活动领导小组",
            "problems": f"{own.number}\nabc\n{other.number}", "flags": str(confirmed.id)}
    resp = office.post("/integrity/accountability/new", data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "“abc”：没有这个编号的问题。" in html
    assert f"“{other.number}”：该问题与{TOWN}无关" in html
    assert "决定日期不能晚于今天。" in html
    assert "多次无佐证销号，责令整改。" in html and f"{own.number}\nabc" in html  # the input stays
    assert f'value="{confirmed.id}" checked' in html
    assert db.session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 0

    data.update(decided_on=clock.today().isoformat(), problems=short(own.number))
    resp = office.post("/integrity/accountability/new", data)
    assert resp.status_code == 302
    record = db.session.scalar(select(AccountabilityRecord))
    assert resp.headers["Location"].endswith(f"/integrity/accountability/{record.id}")
    assert record.measure == Measure.rectify and [p.id for p in record.problems] == [own.id]
    assert db.session.get(Flag, confirmed.id).accountability_id == record.id
    show = office.get(f"/integrity/accountability/{record.id}").get_data(as_text=True)
    assert "责令整改" in show and own.number in show and "区活动领导小组" in show


def test_only_the_office_the_leader_and_the_audit_admin_read_records(town_record, dept_record, login_as):
    # The unit held to account and every other role: no list, no page, no printed decision.
    for who in ("town", "townlead", "dept", "deptlead", "desk", "cadre", "grouplead", "sysadmin", "secadmin"):
        b = login_as(who)
        assert b.get("/integrity/accountability").status_code == 403, who
        for record in (town_record, dept_record):
            assert b.get(f"/integrity/accountability/{record.id}").status_code == 403, who
            assert b.client.get(f"/integrity/accountability/{record.id}/decision.pdf").status_code == 403, who
        assert "/integrity/accountability" not in b.get("/").get_data(as_text=True), who  # no menu entry
    # The audit admin reads every record, read-only: the list, the page, no recording.
    auditor = login_as("auditor")
    index = auditor.get("/integrity/accountability").get_data(as_text=True)
    assert f"/integrity/accountability/{town_record.id}\"" in index
    assert f"/integrity/accountability/{dept_record.id}\"" in index
    assert "记录问责" not in index
    page = auditor.get(f"/integrity/accountability/{town_record.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "销号材料不实。" in html and "打印问责决定" in html
    assert 'method="post"' not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert auditor.get("/integrity/accountability/new").status_code == 403
    resp = auditor.post("/integrity/accountability/new", {"unit_id": str(town_record.unit_id), "measure": "talk"})
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 2


def test_leader_reads_everything_and_changes_nothing(town_record, dept_record, login_as):
    leader = login_as("leader")
    index = leader.get("/integrity/accountability").get_data(as_text=True)
    assert f"/integrity/accountability/{town_record.id}\"" in index
    assert f"/integrity/accountability/{dept_record.id}\"" in index
    assert "记录问责" not in index
    filtered = leader.get(f"/integrity/accountability?unit={dept_record.unit_id}").get_data(as_text=True)
    assert f"/integrity/accountability/{dept_record.id}\"" in filtered
    assert f"/integrity/accountability/{town_record.id}\"" not in filtered
    assert leader.get(f"/integrity/accountability/{dept_record.id}").status_code == 200
    assert leader.get("/integrity/accountability/new").status_code == 403
    resp = leader.post("/integrity/accountability/new", {"unit_id": str(town_record.unit_id), "measure": "talk"})
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 2


def test_persons_named_with_their_finding_are_read_by_the_office_the_leader_and_the_auditor(app, login_as):
    own = hf.signed_off()
    office = login_as("office")
    data = {"unit_id": str(f.unit(TOWN).id), "measure": "admonish", "facts": "虚假办结，群众反映未解决。",
            "decided_on": clock.today().isoformat(), "decided_by": "区纪委监委", "problems": own.number,
            "persons": "张三，潘安湖街道经办人，虚假办结\n李四 副主任 超期"}
    resp = office.post("/integrity/accountability/new", data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "第 2 行：请按“姓名，职务，认定情形”填写。" in html
    assert "张三，潘安湖街道经办人，虚假办结\n李四 副主任 超期" in html  # kept as typed
    assert db.session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 0
    data["persons"] = "张三，潘安湖街道经办人，虚假办结\n李四，潘安湖街道副主任，超期"
    data["persons"] += "\n王五，经办人，迟到"
    html = office.post("/integrity/accountability/new", data).get_data(as_text=True)
    assert "第 3 行：认定情形须是虚假办结、超时、敷衍应付、其他之一。" in html
    data["persons"] = "张三，潘安湖街道经办人，虚假办结\n\n李四、潘安湖街道副主任、超时"
    resp = office.post("/integrity/accountability/new", data)
    assert resp.status_code == 302
    record = db.session.scalar(select(AccountabilityRecord))
    assert [(p.name, p.post, p.finding.value) for p in record.persons] == [
        ("张三", "潘安湖街道经办人", "false_closure"), ("李四", "潘安湖街道副主任", "overdue")]
    audit = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event == "integrity.accountability_recorded")).one()
    assert [p["name"] for p in json.loads(audit.detail)["persons"]] == ["张三", "李四"]
    for who in ("office", "leader", "auditor"):
        page = login_as(who).get(f"/integrity/accountability/{record.id}").get_data(as_text=True)
        assert "被问责人员" in page and "张三（潘安湖街道经办人）：虚假办结" in page and "李四" in page
    for who in ("town", "townlead"):  # the unit held to account does not read it
        assert login_as(who).get(f"/integrity/accountability/{record.id}").status_code == 403


def test_the_decision_is_numbered_per_year_printed_and_read_by_office_leader_and_auditor(app, login_as):
    from tests.conftest import travel_to
    from tests.pdfcheck import assert_pdf, assert_print_quality
    from webapp.integrity.models import Finding

    with travel_to(date(2027, 3, 2)):
        first = create(problem_ids=[hf.signed_off().id],
                       persons=[acc.PersonInput("张三", "潘安湖街道经办人", Finding.false_closure)])
        second = create(problem_ids=[hf.in_progress().id])
        assert (first.number, second.number) == ("贾汪走访办问〔2027〕1号", "贾汪走访办问〔2027〕2号")
        for who in ("office", "leader", "auditor"):
            resp = login_as(who).client.get(f"/integrity/accountability/{first.id}/decision.pdf")
            assert resp.status_code == 200 and resp.mimetype == "application/pdf"
            assert_pdf(resp.data, ["问责决定", "贾汪走访办问〔2027〕1号", "张三", "潘安湖街道经办人", "虚假办结",
                                   TOWN, "约谈", "2027年3月2日", first.problems[0].number])
            assert_print_quality(resp.data)
        for who in ("town", "townlead", "cadre", "sysadmin"):
            assert login_as(who).client.get(f"/integrity/accountability/{first.id}/decision.pdf").status_code == 403
        printed = db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "integrity.accountability_decision_printed")).all()
        assert [e.username for e in printed] == ["office", "leader", "auditor"]
        show = login_as("office").get(f"/integrity/accountability/{first.id}").get_data(as_text=True)
        assert "贾汪走访办问〔2027〕1号" in show and f"/integrity/accountability/{first.id}/decision.pdf" in show
        assert login_as("town").get(f"/integrity/accountability/{first.id}").status_code == 403
