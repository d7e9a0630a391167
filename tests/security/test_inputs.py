"""Inputs that used to reach a server error or the wrong place get a clear 4xx answer."""

import io
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.cases import factories as f
from webapp.accounts.admin_excel import REQUIRED_HEADERS as REQUIRED_USER_HEADERS
from webapp.cases.models import AssignmentUnit, Status
from webapp.core.extensions import db
from webapp.core.security import safe_next
from webapp.org.models import Unit

# ---------------------------------------------------------------- next=


@pytest.mark.parametrize("target", [
    "//evil.example", "/%09/evil.example", "/\t/evil.example", "/%0d%0aSet-Cookie:x=1", "/\r\nLocation: x",
    "/\\evil.example", "/%5Cevil.example", "https://evil.example/", "javascript:alert(1)", "/%2F/evil.example",
    "", None, "cases",
])
def test_safe_next_refuses_anything_but_a_local_path(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/cases?status=assigned&page=2", "/cases/12#timeline"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def test_login_does_not_follow_an_encoded_tab_to_another_host(web):
    web.get("/login")
    resp = web.post("/login?next=/%09/evil.example", {"username": "office", "password": "Huiyin@2026"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


# ---------------------------------------------------------------- ids beyond any row


@pytest.mark.parametrize("number", [2**63, 2**63 + 1, 10**40, 2**31])
def test_ids_too_large_for_the_database_are_not_found(login_as, number):
    office = login_as("office")
    assert office.get(f"/cases/{number}").status_code == 404


def test_a_huge_id_in_a_form_is_a_field_error_not_a_server_error(app, login_as):
    problem = f.register()
    lead = login_as("grouplead")
    lead.get(f"/cases/{problem.id}/triage")
    resp = lead.post(f"/cases/{problem.id}/assign", {
        "kind": "individual", "level": "town", "tier": "quick", "lead": str(2**63), "category": str(problem.category_id),
        "cooperating": [str(2**64)], "version": str(problem.version)})
    assert resp.status_code < 500


# ---------------------------------------------------------------- cooperating units


@pytest.mark.parametrize("name", ["权台村", "贾汪区", "潘安湖街道工作组"])
def test_a_cooperating_unit_of_the_wrong_kind_is_refused(app, login_as, name):
    problem = f.register()
    wrong = db.session.scalar(select(Unit).where(Unit.name == name))
    lead = login_as("grouplead")
    lead.get(f"/cases/{problem.id}/triage")
    resp = lead.post(f"/cases/{problem.id}/assign", {
        "kind": "individual", "level": "town", "tier": "quick", "lead": str(problem.town_id), "category": str(problem.category_id),
        "cooperating": [str(wrong.id)], "version": str(problem.version)})
    assert resp.status_code in (200, 400, 422)
    assert "配合单位必须是在用的镇（街道、功能区）或区级部门" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(problem), problem.id).status == Status.registered
    assert db.session.scalar(select(func.count()).select_from(AssignmentUnit)
                             .where(AssignmentUnit.problem_id == problem.id)) == 0


def test_an_inactive_cooperating_unit_is_refused(app, login_as):
    problem = f.register()
    closed = db.session.scalar(select(Unit).where(Unit.name == "区交通运输局"))
    closed.is_active = False
    db.session.commit()
    lead = login_as("grouplead")
    lead.get(f"/cases/{problem.id}/triage")
    resp = lead.post(f"/cases/{problem.id}/assign", {
        "kind": "individual", "level": "town", "tier": "quick", "lead": str(problem.town_id), "category": str(problem.category_id),
        "cooperating": [str(closed.id)], "version": str(problem.version)})
    assert "区交通运输局 不是" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(problem), problem.id).status == Status.registered


# ---------------------------------------------------------------- hostile workbooks


def _workbook(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rewrite(data: bytes, name: str, transform) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item.filename, transform(body) if item.filename == name else body)
    return out.getvalue()


UNIT_HEADERS = ["类型", "上级单位", "名称", "统计代码", "牵头单位", "覆盖单位", "状态"]
USER_HEADERS = list(REQUIRED_USER_HEADERS)
USER_PATHS = ["/admin/units/import", "/admin/users/import"]


def _xxe() -> bytes:
    base = _workbook([UNIT_HEADERS, ["镇", "贾汪区", "甲镇", "", "", "", ""]])
    return _rewrite(base, "xl/worksheets/sheet1.xml",
                    lambda body: b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + body)


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (60 * 1024 * 1024) + b"/>")
    return out.getvalue()


def _too_many_rows() -> bytes:
    headers = sorted(set(UNIT_HEADERS) | set(USER_HEADERS))  # one file both imports can read
    return _workbook([headers] + [[f"x{i}"] * len(headers) for i in range(5001)])


@pytest.mark.parametrize("path", USER_PATHS)
@pytest.mark.parametrize(("make", "message"), [
    (lambda: b"PK\x03\x04 broken", "无法读取文件"),
    (lambda: _rewrite(_workbook([UNIT_HEADERS]), "xl/workbook.xml", lambda b: b[: len(b) // 2]), "无法读取文件"),
    (_xxe, "文档类型声明"),
    (_bomb, "解压后过大"),
    (_too_many_rows, "一次最多导入 5000 行"),
], ids=["not-zip", "truncated-xml", "xxe", "zip-bomb", "rows"])
def test_hostile_workbooks_get_a_clear_4xx(login_as, path, make, message):
    admin = login_as("sysadmin")
    before = db.session.scalar(select(func.count()).select_from(Unit))
    resp = admin.post(path, {"file": (io.BytesIO(make()), "bad.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Unit)) == before


@pytest.mark.parametrize(("user", "url"), [
    ("office", f"/cases/?page={2**70}"), ("office", f"/integrity?unit={2**63}&page={2**64}"),
    ("office", f"/supervision/notices?page={-2**63}"), ("auditor", f"/audit/?page={10**30}&upto={2**63}"),
    ("cadre", f"/cases/visits?page={2**63}"), ("office", f"/supervision/notices/new?problem_id={2**63}"),
])
def test_huge_numbers_in_query_strings_are_not_server_errors(login_as, user, url):
    assert login_as(user).client.get(url).status_code < 500
