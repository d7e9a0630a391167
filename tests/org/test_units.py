"""The system administrator's unit pages, driven through HTTP like a person would."""

import json
import re

import pytest
from sqlalchemy import func, select

from webapp.accounts.models import User
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.org.models import Unit, UnitKind

STALE = "该单位已被他人修改"


def fresh():
    """End the test's read transaction so it sees what the requests committed."""
    db.session.rollback()


def unit(name: str, parent: str | None = None) -> Unit:
    query = select(Unit).where(Unit.name == name)
    if parent:
        query = query.where(Unit.parent_id == select(Unit.id).where(Unit.name == parent).scalar_subquery())
    return db.session.scalars(query).one()


def events(name: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.seq)).all()


def detail(event: AuditEvent) -> dict:
    return json.loads(event.detail)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def version_in(html: str) -> str:
    m = re.search(r'name="version"[^>]*value="(\d+)"', html) or re.search(r'value="(\d+)"[^>]*name="version"', html)
    assert m, "no version field in the form"
    return m.group(1)


@pytest.fixture
def admin(login_as):
    return login_as("sysadmin")


def test_tree_shows_the_whole_organisation(admin):
    resp = admin.get("/admin/units/")
    assert resp.status_code == 200
    page = text(resp)
    for name in ("贾汪区", "区活动办", "区活动领导小组", "区12345平台大走访专席", "潘安湖街道", "权台村",
                 "青山泉镇", "徐州工业园区", "区民政局", "潘安湖街道工作组"):
        assert name in page, name
    # Work groups show their lead unit and covered units.
    group = page.split("潘安湖街道工作组", 1)[1].split("</li>", 1)[0]
    assert "区卫计委" in group and "潘安湖街道" in group
    # The search works with htmx (active search) and as a plain GET form without JS.
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert re.search(r'<form class="toolbar" method="get" action="/admin/units/"', page)
    assert "hx-on" not in page and "<script>" not in page and "style=" not in page


def test_inactive_units_are_greyed_in_the_tree(admin):
    village = unit("权台西村")
    resp = admin.post(f"/admin/units/{village.id}/deactivate", {"version": str(village.version)})
    assert resp.status_code == 302
    assert "已停用“权台西村”。" in text(admin.get(resp.headers["Location"]))
    page = text(admin.get("/admin/units/"))
    assert f'<li class="inactive"><a href="/admin/units/{village.id}">权台西村</a> <span class="badge">已停用</span>' in page


@pytest.mark.parametrize("q", ["pahjd", "PAHJD", "pananhu", "潘安湖街"])
def test_search_by_name_pinyin_and_initials(admin, q):
    page = text(admin.get(f"/admin/units/?q={q}"))
    assert ">潘安湖街道</a>" in page
    assert "青山泉镇" not in page


def test_active_search_answers_a_fragment_for_htmx(admin):
    resp = admin.client.get("/admin/units/?q=qsqz", headers={"HX-Request": "true"})
    body = text(resp)
    assert resp.status_code == 200 and "HX-Request" in resp.headers["Vary"]
    assert "<html" not in body and ">青山泉镇</a>" in body
    # An empty query brings the tree back.
    tree = text(admin.client.get("/admin/units/?q=", headers={"HX-Request": "true"}))
    assert "<html" not in tree and "区级部门" in tree
    assert "没有找到" in text(admin.get("/admin/units/?q=zzzzzz"))


def test_create_a_village_is_audited(admin):
    town = unit("潘安湖街道")
    resp = admin.post("/admin/units/new", {"kind": "village", "parent": str(town.id), "name": "新湖社区",
                                           "code": "320305005999", "short_name": "", "note": ""})
    assert resp.status_code == 302
    fresh()
    created = unit("新湖社区")
    assert resp.headers["Location"] == f"/admin/units/{created.id}"
    assert created.parent_id == town.id and created.kind == UnitKind.village and created.is_active
    assert created.pinyin_initials == "xhsq" and created.pinyin == "xinhushequ"
    [event] = events("unit.create")
    assert event.object_type == "unit" and event.object_id == str(created.id) and event.username == "sysadmin"
    assert detail(event)["parent"] == {"id": town.id, "name": "潘安湖街道"}
    assert detail(event)["kind"] == "village"


def test_create_work_group_needs_lead_and_covered_units(admin):
    district, office, lead, town = unit("贾汪区"), unit("区活动办"), unit("区民政局"), unit("紫庄镇")
    base = {"kind": "work_group", "parent": str(district.id), "name": "紫庄镇第二工作组"}
    resp = admin.post("/admin/units/new", base)
    assert resp.status_code == 200 and "请选择工作组的牵头单位。" in text(resp)
    resp = admin.post("/admin/units/new", base | {"lead_unit": str(office.id), "covered_units": str(town.id)})
    assert resp.status_code == 200 and "牵头单位必须是镇、街道、功能区、区级部门。" in text(resp)
    resp = admin.post("/admin/units/new", base | {"lead_unit": str(lead.id), "covered_units": str(office.id)})
    assert resp.status_code == 200 and "覆盖单位必须是镇、街道、功能区：“区活动办”不是。" in text(resp)
    fresh()
    assert db.session.scalar(select(func.count()).select_from(Unit).where(Unit.name == "紫庄镇第二工作组")) == 0
    resp = admin.post("/admin/units/new", base | {"lead_unit": str(lead.id), "covered_units": str(town.id)})
    assert resp.status_code == 302
    fresh()
    group = unit("紫庄镇第二工作组")
    assert group.lead_unit == lead and group.covered_units == [town]
    assert detail(events("unit.create")[0])["lead_unit"]["name"] == "区民政局"


def test_create_refuses_a_wrong_parent_and_a_duplicate_name(admin):
    town = unit("潘安湖街道")
    resp = admin.post("/admin/units/new", {"kind": "department", "parent": str(town.id), "name": "区应急局"})
    assert resp.status_code == 200
    assert "区级部门只能设在区之下，不能设在街道之下。" in text(resp)
    assert 'value="区应急局"' in text(resp)  # the input is kept
    resp = admin.post("/admin/units/new", {"kind": "village", "parent": str(town.id), "name": "权台村"})
    assert resp.status_code == 200 and "“潘安湖街道”下已有名为“权台村”的单位。" in text(resp)
    fresh()
    assert events("unit.create") == []


def test_rename_is_audited_with_before_and_after(admin):
    village = unit("瓦店村")
    page = text(admin.get(f"/admin/units/{village.id}/edit"))
    resp = admin.post(f"/admin/units/{village.id}/edit", {
        "version": version_in(page), "name": "瓦店社区", "code": "", "short_name": "", "note": village.note})
    assert resp.status_code == 302
    fresh()
    renamed = db.session.get(Unit, village.id)
    assert renamed.name == "瓦店社区" and renamed.pinyin_initials == "wdsq"
    [event] = events("unit.rename")
    assert detail(event) == {"before": {"name": "瓦店村"}, "after": {"name": "瓦店社区"}}
    assert events("unit.update") == []  # nothing else changed


def test_work_group_lead_and_covered_units_are_edited_with_audit(admin):
    group, new_lead, extra = unit("潘安湖街道工作组"), unit("区民政局"), unit("大泉街道")
    town = unit("潘安湖街道")
    old_version = group.version
    data = {"version": str(group.version), "name": group.name, "code": "", "short_name": "",
            "note": group.note or "", "lead_unit": str(new_lead.id),
            "covered_units": [str(town.id), str(extra.id)]}
    resp = admin.post(f"/admin/units/{group.id}/edit", data)
    assert resp.status_code == 302
    fresh()
    group = db.session.get(Unit, group.id)
    assert group.lead_unit.name == "区民政局"
    assert sorted(u.name for u in group.covered_units) == ["大泉街道", "潘安湖街道"]
    assert group.version > old_version
    [event] = events("unit.update")
    assert detail(event)["before"]["lead_unit"]["name"] == "区卫计委"
    assert detail(event)["after"]["lead_unit"]["name"] == "区民政局"
    assert sorted(u["name"] for u in detail(event)["after"]["covered_units"]) == ["大泉街道", "潘安湖街道"]
    assert [u["name"] for u in detail(event)["before"]["covered_units"]] == ["潘安湖街道"]
    # Covered units alone also move the version (optimistic locking stays honest).
    version = group.version
    resp = admin.post(f"/admin/units/{group.id}/edit", data | {"version": str(version), "covered_units": [str(town.id)]})
    assert resp.status_code == 302
    fresh()
    assert db.session.get(Unit, group.id).version == version + 1
    # A village cannot lead a group.
    resp = admin.post(f"/admin/units/{group.id}/edit", data | {"version": str(version + 1),
                                                               "lead_unit": str(unit("权台村").id)})
    assert resp.status_code == 200 and "牵头单位必须是" in text(resp)


def test_move_a_village_to_another_town(admin):
    village, target = unit("权台村"), unit("大泉街道")
    page = text(admin.get(f"/admin/units/{village.id}/move"))
    resp = admin.post(f"/admin/units/{village.id}/move", {"version": version_in(page), "parent": str(target.id)})
    assert resp.status_code == 302
    fresh()
    assert db.session.get(Unit, village.id).parent_id == target.id
    [event] = events("unit.move")
    assert detail(event) == {"before": {"parent": {"id": unit("潘安湖街道").id, "name": "潘安湖街道"}},
                             "after": {"parent": {"id": target.id, "name": "大泉街道"}}}


def test_move_refuses_cycles_and_wrong_parents(admin):
    town, village, dept = unit("潘安湖街道"), unit("权台村"), unit("区民政局")
    cases = [
        (town, village, "不能把单位移到它自己或它的下级单位之下。"),
        (town, town, "不能把单位移到它自己或它的下级单位之下。"),
        (village, dept, "村（社区）只能设在镇、街道、功能区之下，不能设在区级部门之下。"),
        (dept, town, "区级部门只能设在区之下，不能设在街道之下。"),
        (unit("贾汪区"), town, "区是唯一的根单位，不能新建或移动。"),
    ]
    for moved, parent, message in cases:
        resp = admin.post(f"/admin/units/{moved.id}/move", {"version": str(moved.version), "parent": str(parent.id)})
        assert resp.status_code == 200, (moved.name, parent.name)
        assert message in text(resp), (moved.name, parent.name)
    fresh()
    assert events("unit.move") == []
    assert db.session.get(Unit, village.id).parent_id == town.id


def test_stale_edit_is_refused_with_409_and_the_input_kept(admin):
    village = unit("西段庄村")
    page = text(admin.get(f"/admin/units/{village.id}/edit"))
    shown = version_in(page)
    # Someone else changes the unit meanwhile.
    fresh()
    village = unit("西段庄村")
    village.note = "另一位管理员的修改"
    db.session.commit()
    data = {"version": shown, "name": "西段庄社区", "code": "", "short_name": "西段庄", "note": "我的备注"}
    resp = admin.post(f"/admin/units/{village.id}/edit", data)
    assert resp.status_code == 409
    body = text(resp)
    assert STALE in body
    assert 'value="西段庄社区"' in body and 'value="我的备注"' in body  # the user's input
    assert "另一位管理员的修改" in body  # and what is saved now
    fresh()
    assert db.session.get(Unit, village.id).name == "西段庄村"
    assert events("unit.rename") == []
    # The re-rendered form carries the current version: submitting again succeeds.
    resp = admin.post(f"/admin/units/{village.id}/edit", data | {"version": version_in(body)})
    assert resp.status_code == 302
    fresh()
    assert db.session.get(Unit, village.id).name == "西段庄社区"


def test_stale_deactivate_is_refused_with_409(admin):
    fresh()
    village = unit("小黄山村")
    shown = village.version
    village.note = "changed"
    db.session.commit()
    resp = admin.post(f"/admin/units/{village.id}/deactivate", {"version": str(shown)})
    assert resp.status_code == 409 and STALE in text(resp)
    fresh()
    assert db.session.get(Unit, village.id).is_active


def test_deactivate_is_refused_while_the_unit_has_active_users(admin):
    desk = unit("区12345平台大走访专席")
    resp = admin.post(f"/admin/units/{desk.id}/deactivate", {"version": str(desk.version)})
    assert resp.status_code == 302
    page = text(admin.get(resp.headers["Location"]))
    assert "该单位还有 1 个启用的用户账号，请先停用这些账号或把他们调到其他单位。" in page
    fresh()
    assert db.session.get(Unit, desk.id).is_active and events("unit.deactivate") == []
    # Once its only user is stopped, the unit can be deactivated, then reactivated.
    desk_user = db.session.scalar(select(User).where(User.username == "desk"))
    assert admin.post(f"/admin/users/{desk_user.id}/deactivate", {"version": str(desk_user.version)}).status_code == 302
    fresh()
    desk = db.session.get(Unit, desk.id)
    assert admin.post(f"/admin/units/{desk.id}/deactivate", {"version": str(desk.version)}).status_code == 302
    fresh()
    desk = db.session.get(Unit, desk.id)
    assert not desk.is_active
    assert detail(events("unit.deactivate")[0])["after"] == {"is_active": False}
    assert admin.post(f"/admin/units/{desk.id}/reactivate", {"version": str(desk.version)}).status_code == 302
    fresh()
    assert db.session.get(Unit, desk.id).is_active and len(events("unit.reactivate")) == 1


def test_deactivate_is_refused_while_children_or_work_groups_are_active(admin):
    town = unit("大泉街道")
    resp = admin.post(f"/admin/units/{town.id}/deactivate", {"version": str(town.version)}, follow_redirects=True)
    page = text(resp)
    assert "个启用的下级单位" in page and "大泉街道工作组" in page
    lead = unit("区住建局")  # leads 老矿街道工作组
    page = text(admin.post(f"/admin/units/{lead.id}/deactivate", {"version": str(lead.version)}, follow_redirects=True))
    assert "该单位是启用中的工作组“老矿街道工作组”的牵头单位" in page
    fresh()
    assert db.session.get(Unit, town.id).is_active and db.session.get(Unit, lead.id).is_active


def test_reactivate_needs_an_active_parent(admin):
    fresh()
    town = unit("汴塘镇")
    for village in town.children:
        village.is_active = False
    group = unit("汴塘镇工作组")
    group.is_active = False
    for user in db.session.scalars(select(User).where(User.unit_id == town.id)):
        user.is_active_account = False
    db.session.commit()
    town = unit("汴塘镇")
    assert admin.post(f"/admin/units/{town.id}/deactivate", {"version": str(town.version)}).status_code == 302
    village = unit("西庄村", parent="汴塘镇")
    page = text(admin.post(f"/admin/units/{village.id}/reactivate", {"version": str(village.version)}, follow_redirects=True))
    assert "上级单位“汴塘镇”已停用，请先启用上级单位。" in page
    fresh()
    assert not db.session.get(Unit, village.id).is_active


def test_units_are_never_deleted(app):
    org_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("org.")]
    assert org_rules
    assert all("DELETE" not in r.methods and "delete" not in r.endpoint for r in org_rules)


def test_detail_page_lists_actions_and_blockers(admin):
    town = unit("潘安湖街道")
    page = text(admin.get(f"/admin/units/{town.id}"))
    assert "该单位暂时不能停用" in page and "启用的用户账号" in page
    assert f'/admin/units/{town.id}/edit' in page and f'/admin/units/{town.id}/move' in page
    assert f"/admin/users/?unit={town.id}" in page


def test_unknown_unit_is_404(admin):
    assert admin.get("/admin/units/999999").status_code == 404
    assert admin.post("/admin/units/999999/deactivate", {"version": "1"}).status_code == 404
