"""走访台账: filters, the Excel export, the printed 走访记录表 and village 台账, and the office's
list of visits not linked to the register."""

import io
import re
from datetime import date

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from tests.cases import factories as f
from tests.conftest import travel_to
from tests.pdfcheck import assert_pdf, page_texts
from tests.visits import factories as vf
from webapp.core.extensions import db
from webapp.visits import operations as ops
from webapp.visits.models import Visit


def _unlinked(name, village="权台村", on=date(2026, 7, 3), kind="household"):
    v, _ = ops.record_visit(f.user("cadre"), visited_on=on, village=f.unit(village), household_kind=kind,
                            household_name=name, visitors="甲、乙", situation="情况", demands="诉求", client_token=None)
    return v


def test_ledger_filters_and_export(app, login_as):
    with app.app_context():
        h = vf.household("L-1", head="台账甲")
        vf.visit(h, date(2026, 7, 1), met="户主")
        _unlinked("台账乙", on=date(2026, 8, 15))
        db.session.commit()
    b = login_as("grouplead")
    page = b.get("/visits/ledger?from=2026-08-01").get_data(as_text=True)
    assert "台账乙" in page and "台账甲" not in page and "未关联" in page
    resp = b.client.get("/visits/ledger/export.xlsx?to=2026-07-31")
    rows = list(load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [r[4] for r in rows[1:]] == ["台账甲"] and rows[1][5] == "入户" and rows[1][6] == "户主"
    # Not the town's people of another town, nor another group's lead.
    assert "台账甲" in login_as("town").get("/visits/ledger").get_data(as_text=True)


def test_visit_record_and_village_ledger_pdfs(app, login_as):
    with app.app_context():
        for i in range(60):
            _unlinked(f"村民{i:02d}", on=date(2026, 7, 1 + i % 28))
        db.session.commit()
        vid = db.session.scalar(select(Visit.id).limit(1))
        village = f.unit("权台村").id
    b = login_as("office")
    one = b.client.get(f"/visits/{vid}/record.pdf")
    assert one.status_code == 200 and one.mimetype == "application/pdf"
    assert_pdf(one.data, ["走访记录表", "走访人员", "甲、乙"])
    resp = b.client.get(f"/visits/ledger/village.pdf?village={village}")
    report = assert_pdf(resp.data, ["权台村走访台账", "村民00", "村民59"])
    assert report.pages >= 2
    reader = PdfReader(io.BytesIO(resp.data))
    last = reader.pages[-1]
    assert float(last.mediabox.width) > float(last.mediabox.height)  # landscape
    text = last.extract_text()
    assert f"共 {report.pages} 页" in text.replace("\n", "")
    # The header row on every page the ledger runs over, and no page with one row alone.
    for page in page_texts(resp.data):
        assert "走访对象" in page
        assert len(re.findall(r"村民\d{2}", page)) >= 2


def test_visit_records_are_numbered_from_the_campaign_s_start_across_years(app, login_as):
    """The 走访记录表's number runs on from the campaign's first visit: it does not restart with
    the year (unlike the per-year papers), and visits loaded in bulk join the same sequence."""
    from webapp.core.numbering import CAMPAIGN, NumberSequence

    with app.app_context():
        with travel_to(date(2026, 12, 30)):
            first = _unlinked("年末户", on=date(2026, 12, 30))
            db.session.commit()
        with travel_to(date(2027, 1, 4)):
            second = _unlinked("年初户", on=date(2027, 1, 4))
            db.session.commit()
        # A visit written past record_visit (the demo's bulk load) is numbered after them.
        loaded = Visit(visited_on=date(2027, 1, 5), village_id=first.village_id, town_id=first.town_id,
                       work_group_id=first.work_group_id, household_kind=first.household_kind,
                       household_name="批量户", visitors="甲", created_by_id=first.created_by_id)
        db.session.add(loaded)
        db.session.flush()
        assert ops.number_visits() == 1 and ops.number_visits() == 0
        db.session.commit()
        assert (first.record_no, second.record_no, loaded.record_no) == (1, 2, 3)
        assert db.session.get(NumberSequence, ("visit_record", CAMPAIGN)).last == 3
        ids = (first.id, loaded.id)
    b = login_as("office")
    assert_pdf(b.client.get(f"/visits/{ids[0]}/record.pdf").data, ["贾走访记第000001号", "年末户"])
    assert_pdf(b.client.get(f"/visits/{ids[1]}/record.pdf").data, ["贾走访记第000003号", "批量户"])


def test_unlinked_list_match_and_link_by_hand(app, login_as):
    with app.app_context():
        one = vf.household("U-1", head="钱唯一")
        twin_a = vf.household("U-2", head="孙同名")
        vf.household("U-3", head="孙同名")
        v1 = _unlinked("钱唯一")
        v2 = _unlinked("孙同名")
        db.session.commit()
        ids = (one.id, twin_a.id, v1.id, v2.id)
    b = login_as("office")
    page = b.get("/visits/unlinked").get_data(as_text=True)
    assert "钱唯一" in page and "孙同名" in page
    b.post("/visits/unlinked/match")
    page = b.get("/visits/unlinked").get_data(as_text=True)
    assert "孙同名" in page and "共 1 条" in page
    assert b.post(f"/visits/{ids[3]}/link", {"entry": f"h:{ids[1]}"}).status_code == 302
    with app.app_context():
        assert db.session.get(Visit, ids[2]).household_id == ids[0]
        assert db.session.get(Visit, ids[3]).household_id == ids[1]
    assert "所有走访都已关联" in b.get("/visits/unlinked").get_data(as_text=True)


def test_link_refuses_a_household_of_another_village(app, login_as):
    with app.app_context():
        far = vf.household("U-9", head="远方户", village="马庄村")
        v = _unlinked("远方户")
        db.session.commit()
        fid, vid = far.id, v.id
    b = login_as("office")
    b.post(f"/visits/{vid}/link", {"entry": f"h:{fid}"})
    assert "只能关联走访所在村" in b.get("/visits/unlinked").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Visit, vid).household_id is None
