"""Spreadsheet formula injection: text that a spreadsheet would run is written as inert text."""

import io

import pytest
from openpyxl import load_workbook

from tests.cases import factories as f
from webapp.documents.excel import Sheet, build_workbook

PAYLOADS = ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(A1:A2)",
            "\tcmd|' /C calc'!A0", "\r=1+1"]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_build_workbook_writes_formula_like_text_as_text(payload):
    data = build_workbook([Sheet("表", [payload], [[payload, 12, None]])])
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    for cell in (ws["A1"], ws["A2"]):
        assert cell.data_type == "s"
        assert cell.value == payload.replace("\r", "\n")  # XML stores a lone CR as a line feed
    assert ws["B2"].data_type == "n" and ws["B2"].value == 12


def test_problem_export_keeps_a_resident_formula_inert(app, login_as):
    f.register(title='=HYPERLINK("http://evil.example","详情")', resident_name="@SUM(1+1)")
    office = login_as("office")
    resp = office.client.get("/cases/export.xlsx?tab=all")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row
             if isinstance(c.value, str) and c.value.startswith(("=", "@"))]
    assert {c.value for c in cells} >= {'=HYPERLINK("http://evil.example","详情")', "@SUM(1+1)"}
    assert all(c.data_type == "s" for c in cells)


def test_unit_export_keeps_a_unit_name_inert(app, login_as):
    from webapp.core.extensions import db
    from webapp.org.models import Unit

    unit = db.session.query(Unit).filter_by(name="区民政局").one()
    unit.name = "=1+2"
    db.session.commit()
    resp = login_as("sysadmin").client.get("/admin/units/export.xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    hits = [c for row in ws.iter_rows() for c in row if c.value == "=1+2"]
    assert hits and all(c.data_type == "s" for c in hits)
