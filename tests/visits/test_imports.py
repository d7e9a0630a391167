"""Import of households and enterprises from Excel 台账 (a background job, run at once in tests)."""

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.visits import factories as vf
from webapp.core.extensions import db
from webapp.core.jobs import Job, JobStatus, read_result
from webapp.visits.imports import ENTERPRISE_COLUMNS, HOUSEHOLD_COLUMNS
from webapp.visits.models import Enterprise, Household


def xlsx(rows, columns=HOUSEHOLD_COLUMNS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(list(columns))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def home(number, head="户主", village="权台村", phone="13800001111", marks="低保", cadre="cadre", members=3):
    return ["潘安湖街道", village, number, head, "一组", members, phone, marks, cadre]


def upload(b, data: bytes, kind="households", valid_only=False, name="台账.xlsx"):
    b.get(f"/visits/import/{kind}")
    form = {"file": (io.BytesIO(data), name)}
    if valid_only:
        form["valid_only"] = "y"
    return b.post(f"/visits/import/{kind}", form, content_type="multipart/form-data")


def last_job(app) -> Job:
    with app.app_context():
        job = db.session.scalar(select(Job).order_by(Job.id.desc()).limit(1))
        db.session.expunge(job)
        return job


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_template_has_the_columns(app, login_as):
    resp = login_as("office").client.get("/visits/import/households/template.xlsx")
    header = next(load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert tuple(header) == HOUSEHOLD_COLUMNS


def test_import_then_same_file_unchanged_then_one_change(app, login_as):
    b = login_as("office")
    rows = [home("001", "甲"), home("002", "乙", marks="五保、残疾"), home("003", "丙", phone="")]
    resp = upload(b, xlsx(rows))
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/jobs/")
    job = last_job(app)
    assert job.status == JobStatus.done and job.result["created"] == 3, job.result
    page = b.get(resp.headers["Location"]).get_data(as_text=True)
    assert "新增 3" in page
    with app.app_context():
        h = db.session.scalar(select(Household).where(Household.number == "002"))
        assert sorted(m.name for m in h.marks) == ["五保", "残疾"] and h.cadre.username == "cadre"
        assert h.initials == "y" and h.work_group.name == "潘安湖街道工作组"
    upload(b, xlsx(rows))
    job = last_job(app)
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (0, 0, 3)
    rows[1] = home("002", "乙改", marks="")
    upload(b, xlsx(rows))
    job = last_job(app)
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (0, 1, 2)
    with app.app_context():
        h = db.session.scalar(select(Household).where(Household.number == "002"))
        assert h.head_name == "乙改" and h.marks == []
    assert count(app, Household) == 3


def test_errors_write_nothing_and_come_back_as_a_sheet(app, login_as):
    b = login_as("office")
    rows = [home("001", "好"), home("002", "坏村", village="不存在村"), home("003", "坏电话", phone="12345"),
            home("001", "重复"), home("004", "", members="x"), home("005", "=1+1"), home("006", cadre="office")]
    upload(b, xlsx(rows))
    job = last_job(app)
    assert job.status == JobStatus.done and job.result["errors"] == 6 and "未导入任何数据" in job.result["summary"]
    assert count(app, Household) == 0
    with app.app_context():
        wb = load_workbook(io.BytesIO(read_result(db.session.get(Job, job.id))), read_only=True)
        sheet = list(wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
    reasons = {r[0]: r[1] for r in sheet[1:]}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "村（社区）不在该镇" in reasons[3] and "联系电话无效" in reasons[4] and "与第 2 行重复" in reasons[5]
    assert "户主姓名必填" in reasons[6] and "家庭人口" in reasons[6]
    assert "户主姓名必填" in reasons[7]  # a formula is read as its value (none here), never as its text
    assert "不是走访队员" in reasons[8]
    upload(b, xlsx(rows), valid_only=True)
    assert last_job(app).result["created"] == 1 and count(app, Household) == 1


def test_refused_files_get_clear_messages(app, login_as):
    b = login_as("office")
    resp = upload(b, b"name,phone\n", name="a.csv")
    assert resp.status_code == 200 and "文件类型不对" in resp.get_data(as_text=True)
    resp = upload(b, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert "设置了打开密码" in resp.get_data(as_text=True)
    resp = upload(b, b"")
    assert "文件是空的" in resp.get_data(as_text=True)
    upload(b, b"PK\x03\x04" + b"broken" * 100)
    job = last_job(app)
    assert job.status == JobStatus.failed and "文件已损坏" in job.error
    app.config["IMPORT_MAX_ROWS"] = 3
    upload(b, xlsx([home(f"{i:03d}") for i in range(5)]))
    job = last_job(app)
    assert job.status == JobStatus.failed and "行数超过上限 3 行" in job.error
    app.config["IMPORT_MAX_MB"] = 0
    resp = upload(b, xlsx([home("001")]))
    assert resp.status_code == 200 and "MB 的上限" in resp.get_data(as_text=True)
    assert count(app, Household) == 0


def test_enterprises_import_checks_codes_and_allows_individuals(app, login_as):
    b = login_as("office")
    good = vf.credit_code(77)
    rows = [["甲公司", good, "否", "潘安湖街道", "", "", "", "小型", "制造", "cadre"],
            ["张记面馆", "", "是", "潘安湖街道", "", "", "", "微型", "餐饮", "cadre"],
            ["乙公司", good[:-1] + ("0" if good[-1] != "0" else "1"), "否", "潘安湖街道", "", "", "", "", "", "cadre"],
            ["丙公司", "", "否", "潘安湖街道", "", "", "", "巨型", "", "cadre"]]
    upload(b, xlsx(rows, ENTERPRISE_COLUMNS), kind="enterprises", valid_only=True)
    job = last_job(app)
    assert job.result["created"] == 2 and job.result["errors"] == 2, job.result
    with app.app_context():
        names = dict(db.session.execute(select(Enterprise.name, Enterprise.is_individual)).all())
        assert names == {"甲公司": False, "张记面馆": True}
    upload(b, xlsx(rows[:2], ENTERPRISE_COLUMNS), kind="enterprises")
    assert last_job(app).result["unchanged"] == 2


def test_only_the_office_imports(app, login_as):
    assert login_as("grouplead").get("/visits/import/households").status_code == 403
    assert f.user is not None
