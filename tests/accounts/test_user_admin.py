"""The system administrator's user pages: list, create, edit, (de)activate, reset, Excel."""

import io
import json
import re
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import Browser
from webapp.accounts.admin_operations import create_user
from webapp.accounts.models import User, UserSession
from webapp.accounts.passwords import verify_password
from webapp.accounts.roles import Role
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.org.models import Unit

HEADERS = ["用户名", "姓名", "电话", "所在单位", "角色", "状态"]
STALE = "该账号已被他人修改"


def fresh():
    db.session.rollback()


def user(username: str) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def unit(name: str) -> Unit:
    return db.session.scalars(select(Unit).where(Unit.name == name)).one()


def events(name):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.seq)).all()


def detail(event) -> dict:
    return json.loads(event.detail)


def text(resp) -> str:
    return resp.get_data(as_text=True)


NEW_PASSWORD = "Zhong#Shan2026"


def redeem(app, username: str, code: str, password: str = NEW_PASSWORD):
    """The owner sets a password with the one-time code, at /login/reset."""
    b = Browser(app.test_client())
    b.get("/login/reset")
    return b.post("/login/reset", {"username": username, "code": code, "new": password, "confirm": password})


def shown_codes(html: str) -> dict[str, str]:
    rows = re.findall(r'<td><a href="/admin/users/\d+/edit">([^<]+)</a></td>.*?<code class="secret">([^<]+)</code>',
                      html, re.S)
    return dict(rows)


def xlsx(rows, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(browser, data: bytes):
    return browser.post("/admin/users/import", {"file": (io.BytesIO(data), "users.xlsx")},
                        content_type="multipart/form-data")


@pytest.fixture
def admin(login_as):
    return login_as("sysadmin")


def test_list_searches_username_name_and_unit(admin):
    page = text(admin.get("/admin/users/"))
    assert "共 12 个账号" in page and ">town</a>" in page and "责任单位经办人" in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    by_name = text(admin.get("/admin/users/?q=张伟"))
    assert ">town</a>" in by_name and ">townlead</a>" not in by_name
    by_unit = text(admin.get("/admin/users/?q=潘安湖街道"))
    assert ">town</a>" in by_unit and ">townlead</a>" in by_unit and ">cadre</a>" in by_unit
    assert ">office</a>" not in by_unit
    by_username = text(admin.get("/admin/users/?q=DEPT"))
    assert ">dept</a>" in by_username and ">deptlead</a>" in by_username and ">desk</a>" not in by_username
    fragment = admin.client.get("/admin/users/?q=desk", headers={"HX-Request": "true"})
    assert "<html" not in text(fragment) and ">desk</a>" in text(fragment)
    one_unit = text(admin.get(f"/admin/users/?unit={unit('区民政局').id}"))
    assert ">dept</a>" in one_unit and ">town</a>" not in one_unit


def test_list_is_paginated(admin, app):
    town = unit("塔山镇")
    for i in range(25):
        create_user(username=f"tashan{i:02d}", full_name=f"塔山{i}", phone=None, unit=town)
    db.session.commit()
    first = text(admin.get("/admin/users/?q=tashan"))
    assert "共 25 个账号" in first and "第 1 / 2 页" in first and first.count("tashan") >= 20
    assert ">tashan24</a>" not in first
    second = text(admin.get("/admin/users/?q=tashan&page=2"))
    assert ">tashan24</a>" in second and ">tashan00</a>" not in second


def test_create_user_without_role_and_with_a_one_time_reset_code(admin, app):
    form = text(admin.get("/admin/users/new"))
    assert 'name="role"' not in form
    town = unit("潘安湖街道")
    resp = admin.post("/admin/users/new", {"username": "liwei", "full_name": "李伟", "phone": "13800001111",
                                           "unit": str(town.id), "role": "office"})
    assert resp.status_code == 200
    page = text(resp)
    code = shown_codes(page)["liwei"]
    assert "一次性重置码只显示这一次" in page
    fresh()
    new = user("liwei")
    assert new.role is None and new.must_change_password and new.is_active_account and not new.is_demo
    assert new.unit_id == town.id and new.phone == "13800001111"
    # The system admin knows no working password: the code is not one, and only its hash is kept.
    assert not verify_password(new.password_hash, code) and code not in (new.reset_code_hash or "")
    [event] = events("user.create")
    assert detail(event)["username"] == "liwei" and code not in event.detail
    assert Browser(app.test_client()).login("liwei", code).status_code == 200
    # The owner sets a password with the code, then logs in with it.
    assert redeem(app, "liwei", code).status_code == 302
    b = Browser(app.test_client())
    assert b.login("liwei", NEW_PASSWORD).status_code == 302
    assert b.client.get("/").status_code == 200
    # It is shown once: the user's page does not show it again.
    assert code not in text(admin.get(f"/admin/users/{new.id}/edit"))


def test_create_refuses_bad_input(admin):
    town = unit("潘安湖街道")
    cases = [
        ({"username": "Town"}, "用户名“Town”已被使用。"),
        ({"username": "a b"}, "用户名为 2–64 位字母、数字或“._-”"),
        ({"phone": "12345"}, "电话号码格式不正确"),
        ({"unit": str(unit("权台村").id)}, "村（社区）没有用户账号"),
        ({"full_name": ""}, "请填写姓名。"),
    ]
    for change, message in cases:
        data = {"username": "newone", "full_name": "新人", "phone": "0516-87012345", "unit": str(town.id)} | change
        resp = admin.post("/admin/users/new", data)
        assert resp.status_code == 200 and message in text(resp), change
        assert 'value="新人"' in text(resp) or change.get("full_name") == ""
    fresh()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "newone")) == 0
    assert events("user.create") == []


def test_edit_name_phone_and_unit_is_audited(admin):
    target = user("dept")
    page = text(admin.get(f"/admin/users/{target.id}/edit"))
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page).group(1)
    other_dept = unit("区人社局")
    resp = admin.post(f"/admin/users/{target.id}/edit", {"version": version, "full_name": "赵敏敏",
                                                         "phone": "13900002222", "unit": str(other_dept.id)})
    assert resp.status_code == 302
    fresh()
    target = user("dept")
    assert (target.full_name, target.phone, target.unit_id) == ("赵敏敏", "13900002222", other_dept.id)
    [event] = events("user.update")
    assert detail(event)["before"] == {"full_name": "赵敏", "phone": None,
                                       "unit": {"id": unit("区民政局").id, "name": "区民政局"}}
    assert detail(event)["after"]["unit"]["name"] == "区人社局"


def test_new_unit_must_fit_the_role(admin):
    target = user("town")  # a handler: towns, streets, zones, departments
    office = unit("区活动办")
    resp = admin.post(f"/admin/users/{target.id}/edit", {"version": str(target.version), "full_name": target.full_name,
                                                         "phone": "", "unit": str(office.id)})
    assert resp.status_code == 200
    assert "该用户的角色是“责任单位经办人”，只能属于" in text(resp) and "不能调到活动办“区活动办”" in text(resp)
    fresh()
    assert user("town").unit.name == "潘安湖街道" and events("user.update") == []


def test_stale_edit_is_refused_with_409_and_input_kept(admin):
    target = user("deptlead")
    page = text(admin.get(f"/admin/users/{target.id}/edit"))
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page).group(1)
    fresh()
    target = user("deptlead")
    target.phone = "13700003333"  # someone else's change
    db.session.commit()
    data = {"version": version, "full_name": "孙立", "phone": "", "unit": str(target.unit_id)}
    resp = admin.post(f"/admin/users/{target.id}/edit", data)
    assert resp.status_code == 409
    body = text(resp)
    assert STALE in body and 'value="孙立"' in body and "13700003333" in body
    fresh()
    assert user("deptlead").full_name == "孙立军"
    new_version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', body).group(1)
    assert admin.post(f"/admin/users/{target.id}/edit", data | {"version": new_version}).status_code == 302


def test_deactivate_ends_sessions_and_reactivate(admin, login_as):
    victim_browser = login_as("desk")
    target = user("desk")
    resp = admin.post(f"/admin/users/{target.id}/deactivate", {"version": str(target.version)})
    assert resp.status_code == 302
    fresh()
    assert not user("desk").is_active_account
    assert detail(events("user.deactivate")[0])["sessions_ended"] == 1
    assert db.session.scalars(select(UserSession).where(UserSession.user_id == target.id)).one().ended_reason == "deactivated"
    resp = victim_browser.client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert Browser(victim_browser.client.application.test_client()).login("desk").status_code == 200
    target = user("desk")
    assert admin.post(f"/admin/users/{target.id}/reactivate", {"version": str(target.version)}).status_code == 302
    fresh()
    assert user("desk").is_active_account and len(events("user.reactivate")) == 1
    assert Browser(victim_browser.client.application.test_client()).login("desk").status_code == 302


def test_sysadmin_cannot_deactivate_or_reset_themselves(admin):
    me = user("sysadmin")
    page = text(admin.post(f"/admin/users/{me.id}/deactivate", {"version": str(me.version)}, follow_redirects=True))
    assert "不能停用自己的账号。" in page
    page = text(admin.post(f"/admin/users/{me.id}/reset-password", {"version": str(me.version)}, follow_redirects=True))
    assert "不能在这里重置自己的密码" in page
    fresh()
    assert user("sysadmin").is_active_account and events("user.deactivate") == []


def test_reset_gives_a_one_time_code_and_unlocks(admin, app):
    target = user("townlead")
    target.locked_until = clock.now() + timedelta(minutes=10)
    target.failed_logins = 3
    db.session.commit()
    target = user("townlead")
    resp = admin.post(f"/admin/users/{target.id}/reset-password", {"version": str(target.version)})
    assert resp.status_code == 200
    code = shown_codes(text(resp))["townlead"]
    fresh()
    target = user("townlead")
    assert target.locked_until is None and target.failed_logins == 0
    [event] = events("user.password_reset")
    assert detail(event)["unlocked"] is True and code not in event.detail
    assert len(events("user.reset_code_issued")) == 1
    b = Browser(app.test_client())
    assert b.login("townlead", code).status_code == 200  # a code is not a password
    assert redeem(app, "townlead", code).status_code == 302
    assert b.login("townlead").status_code == 200  # the old password no longer works
    assert b.login("townlead", NEW_PASSWORD).status_code == 302
    fresh()
    assert not user("townlead").is_demo and not user("townlead").must_change_password


def test_export_reads_back_with_openpyxl(admin):
    resp = admin.post("/admin/users/export.xlsx")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    by_username = {r[0]: r for r in rows[1:]}
    assert len(by_username) == 12
    assert by_username["town"] == ("town", "张伟", None, "潘安湖街道", "责任单位经办人", "启用")
    fresh()
    assert detail(events("users.export")[0])["count"] == 12


def test_import_of_a_good_file_creates_accounts_with_shown_codes(admin, app):
    rows = [
        ["wangfang", "王芳", "13800001234", "潘安湖街道", "", ""],
        ["liuyang", "刘洋", 13900005678, "区民政局", "区活动办", "启用"],  # the role column is ignored
    ]
    resp = upload(admin, xlsx(rows))
    assert resp.status_code == 200
    passwords = shown_codes(text(resp))
    assert set(passwords) == {"wangfang", "liuyang"}
    fresh()
    assert user("liuyang").phone == "13900005678" and user("liuyang").role is None
    assert all(user(u).must_change_password for u in passwords)
    assert len(events("user.create")) == 2 and len(events("users.import")) == 1
    for username, code in passwords.items():
        assert redeem(app, username, code).status_code == 302
        assert Browser(app.test_client()).login(username, NEW_PASSWORD).status_code == 302


def test_import_with_one_bad_row_creates_nothing(admin):
    before = db.session.scalar(select(func.count()).select_from(User))
    rows = [
        ["wangfang", "王芳", "13800001234", "潘安湖街道", "", ""],
        ["town", "重名", "", "潘安湖街道", "", ""],                 # row 3: username taken
        ["zhaolei", "赵磊", "123", "区民政局", "", ""],             # row 4: bad phone
        ["sunli", "孙丽", "", "不存在的单位", "", ""],              # row 5: unit not found
        ["WangFang", "王芳二", "", "潘安湖街道", "", ""],           # row 6: duplicate in the file
        ["qianyi", "钱一", "", "权台村", "", ""],                   # row 7: villages have no users
    ]
    resp = upload(admin, xlsx(rows))
    page = text(resp)
    assert resp.status_code == 200 and "没有导入任何内容" in page
    expected = {3: "用户名“town”已被使用。", 4: "电话号码格式不正确", 5: "找不到单位“不存在的单位”。",
                6: "用户名“WangFang”与第 2 行重复。", 7: "村（社区）没有用户账号"}
    for row, message in expected.items():
        cell = page.split(f"<td>{row}</td>", 1)
        assert len(cell) == 2 and message in cell[1].split("</tr>", 1)[0], row
    assert "<td>2</td>" not in page
    fresh()
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert events("user.create") == [] and events("users.import") == []


def test_blank_template_has_the_headers(admin):
    wb = load_workbook(io.BytesIO(admin.client.get("/admin/users/import/template.xlsx").data))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS


def test_role_holder_keeps_role_when_moved_to_a_fitting_unit(admin):
    target = user("townlead")  # unit leader: towns, departments, the desk
    desk = unit("区12345平台大走访专席")
    resp = admin.post(f"/admin/users/{target.id}/edit", {"version": str(target.version), "full_name": target.full_name,
                                                         "phone": "", "unit": str(desk.id)})
    assert resp.status_code == 302
    fresh()
    assert user("townlead").unit_id == desk.id and user("townlead").role == Role.unit_leader


def test_sysadmin_cannot_take_over_the_other_admins(login_as):
    """三员分立: no password reset or deactivation of the security or audit admin by the sysadmin."""
    from sqlalchemy import select

    from webapp.accounts.models import User
    from webapp.core.extensions import db

    b = login_as("sysadmin")
    for name in ("secadmin", "auditor"):
        target = db.session.scalar(select(User).where(User.username == name))
        before = target.password_hash
        b.get(f"/admin/users/{target.id}/edit")
        b.post(f"/admin/users/{target.id}/reset-password", {"version": target.version})
        b.post(f"/admin/users/{target.id}/deactivate", {"version": target.version})
        db.session.refresh(target)
        assert target.password_hash == before and target.is_active_account


def test_operator_resets_an_admin_password_from_the_command_line(app, runner_factory, web):
    """The security admin's way back in: `flask users reset-password secadmin`, audited."""
    from sqlalchemy import select

    from webapp.core.audit import AuditEvent
    from webapp.core.extensions import db

    result = runner_factory().invoke(args=["users", "reset-password", "secadmin"])
    assert result.exit_code == 0, result.output
    code = result.output.strip().rsplit(": ", 1)[1]
    assert redeem(app, "secadmin", code).status_code == 302
    assert web.login("secadmin").status_code == 200  # the old password no longer works
    assert web.login("secadmin", NEW_PASSWORD).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "user.password_reset"))
    assert event is not None and '"via": "cli"' in event.detail
    assert runner_factory().invoke(args=["users", "reset-password", "nobody"]).exit_code != 0
