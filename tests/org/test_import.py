"""Units to and from Excel: export read back, blank template, all-or-nothing import."""

import io
import json

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.org.models import Unit, UnitKind

HEADERS = ["类型", "上级单位", "名称", "统计代码", "牵头单位", "覆盖单位", "状态"]


def xlsx(rows, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(browser, data: bytes, name="units.xlsx"):
    return browser.post("/admin/units/import", {"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data")


def unit_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Unit))


def events(name):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


# A new town with its villages (listed before the town), a new department, and a work group
# led by the new department covering the new town.
GOOD = [
    ["村（社区）", "新集镇", "新集村", "", "", "", ""],
    ["村", "新集镇", "东庄村", "", "", "", "启用"],
    ["镇", "贾汪区", "新集镇", 320305199, "", "", ""],
    ["区级部门", "贾汪区", "区应急管理局", "", "", "", ""],
    ["工作组", "贾汪区", "新集镇工作组", "", "区应急管理局", "新集镇、紫庄镇", ""],
    ["村（社区）", "潘安湖街道", "湖畔社区", "", "", "", ""],
]


@pytest.fixture
def admin(login_as):
    return login_as("sysadmin")


def test_import_of_a_good_file_creates_everything(admin):
    before = unit_count()
    resp = upload(admin, xlsx(GOOD))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert unit_count() == before + len(GOOD)
    town = db.session.scalar(select(Unit).where(Unit.name == "新集镇"))
    assert town.kind == UnitKind.town and town.code == "320305199" and town.parent.name == "贾汪区"
    assert sorted(v.name for v in town.children) == ["东庄村", "新集村"]
    assert town.pinyin_initials == "xjz"
    group = db.session.scalar(select(Unit).where(Unit.name == "新集镇工作组"))
    assert group.lead_unit.name == "区应急管理局"
    assert sorted(u.name for u in group.covered_units) == ["新集镇", "紫庄镇"]
    assert len(events("unit.create")) == len(GOOD)
    assert all(json.loads(e.detail)["via"] == "import" for e in events("unit.create"))
    [summary] = events("org.import")
    assert json.loads(summary.detail)["created"] == len(GOOD)
    assert json.loads(summary.detail)["filename"] == "units.xlsx"
    assert "已导入 6 个单位" in admin.get("/admin/units/").get_data(as_text=True)


def test_one_bad_row_imports_nothing_and_is_reported(admin):
    before = unit_count()
    rows = GOOD[:3] + [["村（社区）", "区民政局", "错村", "", "", "", ""]] + GOOD[3:]
    resp = upload(admin, xlsx(rows))
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "没有导入任何内容" in page
    # Header is row 1, so the fourth data row is row 5.
    assert "<td>5</td>" in page
    assert "村（社区）只能设在镇、街道、功能区之下，不能设在区级部门之下。" in page
    assert page.count("<tr>") == 2  # header + the one bad row
    assert unit_count() == before
    assert events("unit.create") == [] and events("org.import") == []


def test_every_bad_row_is_reported_with_its_reason(admin):
    rows = [
        ["镇", "不存在的区", "甲镇", "", "", "", ""],                      # 2 unknown parent
        ["乡", "贾汪区", "乙乡", "", "", "", ""],                           # 3 bad kind
        ["村（社区）", "潘安湖街道", "权台村", "", "", "", ""],              # 4 duplicate under the same parent
        ["村（社区）", "大泉街道", "丙村", "", "", "", ""],
        ["村（社区）", "大泉街道", "丙村", "", "", "", ""],                  # 6 duplicate within the file
        ["区级部门", "贾汪区", "丁局", "12ab", "", "", ""],                  # 7 bad code
        ["工作组", "贾汪区", "戊组", "", "区活动办", "瓦店村", ""],          # 8 bad lead and covered
        ["区级部门", "贾汪区", "己局", "", "区民政局", "", ""],              # 9 lead on a non-group
        ["村（社区）", "马庄村", "庚村", "", "", "", ""],                    # 10 ambiguous parent
        ["区级部门", "贾汪区", "辛局", "", "", "", "停用"],                  # 11 status
        ["区", "", "壬区", "", "", "", ""],                                  # 12 district, no parent
    ]
    before = unit_count()
    resp = upload(admin, xlsx(rows))
    page = resp.get_data(as_text=True)
    expected = {
        2: "找不到上级单位“不存在的区”。",
        3: "无法识别的类型“乡”。",
        4: "“潘安湖街道”下已有名为“权台村”的单位。",
        6: "与第 5 行重复",
        7: "统计代码只能由数字组成",
        8: "牵头单位必须是",
        9: "只有工作组可以填写“牵头单位”和“覆盖单位”。",
        10: "上级单位“马庄村”有 2 个同名单位",
        11: "“状态”只能留空或填“启用”",
        12: "区是唯一的根单位，不能导入。",
    }
    for row, message in expected.items():
        cell = page.split(f"<td>{row}</td>", 1)
        assert len(cell) == 2, f"row {row} not reported"
        assert message in cell[1].split("</tr>", 1)[0], f"row {row}: {message}"
    assert "<td>5</td>" not in page  # the first of two duplicates is fine
    assert "覆盖单位必须是镇、街道、功能区：“瓦店村”不是。" in page
    assert unit_count() == before


def test_unreadable_or_incomplete_files_are_refused(admin):
    resp = upload(admin, b"not a workbook")
    assert resp.status_code == 400 and "无法读取文件" in resp.get_data(as_text=True)
    resp = upload(admin, xlsx([["镇", "贾汪区", "甲镇"]], headers=["类型", "上级", "名称"]))
    assert "缺少列：上级单位" in resp.get_data(as_text=True)
    resp = upload(admin, b"x", name="units.csv")
    assert "只能导入 .xlsx 格式的 Excel 文件。" in resp.get_data(as_text=True)
    resp = upload(admin, xlsx([]))
    assert "文件中没有数据行。" in resp.get_data(as_text=True)


def test_export_reads_back_with_openpyxl(admin):
    resp = admin.client.get("/admin/units/export.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    assert len(rows) - 1 == unit_count()
    by_name = {r[2]: r for r in rows[1:] if r[2] != "马庄村"}
    assert by_name["贾汪区"][:4] == ("区", None, "贾汪区", "320305")
    assert by_name["潘安湖街道"][:4] == ("街道", "贾汪区", "潘安湖街道", "320305005")
    assert by_name["权台村"][0:3] == ("村（社区）", "潘安湖街道", "权台村")
    assert by_name["潘安湖街道工作组"][4:7] == ("区卫计委", "潘安湖街道", "启用")


def test_export_then_import_of_new_rows_round_trips(admin):
    """An exported file, trimmed to new rows, is a valid import file."""
    resp = admin.client.get("/admin/units/export.xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    resp = upload(admin, xlsx([["村（社区）", "塔山镇", "新塔村", "", "", "", "启用"]], headers=header))
    assert resp.status_code == 302


def test_blank_template_has_the_import_headers(admin):
    resp = admin.client.get("/admin/units/import/template.xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    assert wb.worksheets[0].max_row == 1
    assert wb.worksheets[1].title == "填写说明"
