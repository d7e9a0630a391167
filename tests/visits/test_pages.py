"""The registers' and coverage pages as people use them: lists, search, export, forms with errors,
stale edits, closing, the audited phone reveal, reassignment, rounds, coverage, 我的包户, home."""

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.visits import factories as vf
from webapp.accounts.roles import Role
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.visits.models import Enterprise, Household, Visit, VisitRound


def events(name):
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == name))


def _round_now(**kw):
    today = clock.today()
    return vf.visit_round(starts_on=today - timedelta(days=5), ends_on=today + timedelta(days=4), **kw)


def test_list_search_by_name_initials_number_and_filters(app, login_as):
    with app.app_context():
        _round_now()
        a = vf.household("A-7", head="张三丰", phone="13912345678")
        vf.household("B-8", head="李四光")
        vf.visit(a, clock.today())
        db.session.commit()
    b = login_as("cadre")
    page = b.get("/visits/households").get_data(as_text=True)
    assert "张三丰" in page and "李四光" in page and "139****5678" in page and "13912345678" not in page
    assert "李四光" not in b.get("/visits/households?q=zsf").get_data(as_text=True)
    assert "张三丰" in b.get("/visits/households?q=zsf").get_data(as_text=True)
    assert "张三丰" in b.get("/visits/households?q=A-7").get_data(as_text=True)
    assert "张三丰" in b.get("/visits/households?q=三丰").get_data(as_text=True)
    unvisited = b.get("/visits/households?visited=no").get_data(as_text=True)
    assert "李四光" in unvisited and "张三丰" not in unvisited
    frag = b.get("/visits/households?visited=yes", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in frag, frag[:300]
    assert "张三丰" in frag and "李四光" not in frag, frag


def test_a_department_sees_no_register(app, login_as):
    with app.app_context():
        vf.household("D-1")
        db.session.commit()
    assert login_as("dept").get("/visits/households").status_code == 403


def test_another_groups_cadre_does_not_see_the_entry(app, login_as):
    with app.app_context():
        other = f.make_user("cadre-qsq", "青山泉镇工作组", Role.cadre)
        h = vf.household("Q-1", head="外组户", village="房上村", cadre=other.username)
        db.session.commit()
        hid = h.id
    b = login_as("cadre")
    assert "外组户" not in b.get("/visits/households").get_data(as_text=True)
    assert b.get(f"/visits/households/{hid}").status_code == 404


def test_export_is_the_filtered_list_with_masked_phones(app, login_as):
    with app.app_context():
        _round_now()
        a = vf.household("E-1", head="导出甲", phone="13911112222")
        vf.household("E-2", head="=HYPERLINK(1)")
        vf.visit(a, clock.today())
        db.session.commit()
    office = login_as("office").client
    resp = office.get("/visits/households/export.xlsx?visited=no")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][3] == "户主"
    heads = [r[3] for r in rows[1:]]
    assert "导出甲" not in heads and "'=HYPERLINK(1)" in heads  # filtered; formulas written as text
    resp = office.get("/visits/households/export.xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    row = next(r for r in rows if r[3] == "导出甲")
    assert row[6] == "139****2222" and row[10] == "是"


def test_new_household_errors_keep_the_input(app, login_as):
    b = login_as("grouplead")
    page = b.get("/visits/households/new").get_data(as_text=True)
    assert "户号" in page
    with app.app_context():
        village = f.unit("权台村").id
        cadre = f.user("cadre").id
    resp = b.post("/visits/households/new", {"version": "0", "village": village, "number": "",
                                               "head_name": "保留我", "members": "x", "phone": "123", "cadre": cadre})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "请填写户号。" in text and "请输入整数。" in text
    assert "请输入有效的手机号" in text and 'value="保留我"' in text
    resp = b.post("/visits/households/new", {"version": "0", "village": village, "number": "N-1", "head_name": "新户",
                                               "members": "3", "phone": "13800138000", "cadre": cadre})
    assert resp.status_code == 302
    with app.app_context():
        h = db.session.scalar(select(Household).where(Household.number == "N-1"))
        assert h.head_name == "新户" and h.initials == "xh" and h.work_group.name == "潘安湖街道工作组"
        assert events("household.create") == 1
    # Another group's village is refused with a field message, not saved.
    with app.app_context():
        far = f.unit("房上村").id
    resp = b.post("/visits/households/new", {"version": "0", "village": far, "number": "N-2", "head_name": "远户",
                                               "members": "1", "cadre": cadre})
    assert resp.status_code == 200 and "请选择您负责范围内的地点。" in resp.get_data(as_text=True)


def test_enterprise_credit_code_is_checked(app, login_as):
    b = login_as("office")
    with app.app_context():
        town, cadre = f.unit("潘安湖街道").id, f.user("cadre").id
    base = {"version": "0", "name": "校验公司", "town": town, "size_band": "small", "cadre": cadre}
    resp = b.post("/visits/enterprises/new", {**base, "credit_code": "91350100M000100Y44"})
    assert resp.status_code == 200 and "校验位" in resp.get_data(as_text=True)
    resp = b.post("/visits/enterprises/new", base)
    assert "个体工商户" in resp.get_data(as_text=True)
    assert b.post("/visits/enterprises/new", {**base, "credit_code": "91350100m000100y43"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Enterprise.credit_code)) == "91350100M000100Y43"


def test_stale_edit_is_refused(app, login_as):
    with app.app_context():
        h = vf.household("S-1", head="旧名")
        db.session.commit()
        hid, version, village, cadre = h.id, h.version, h.village_id, h.cadre_id
    b = login_as("office")
    b.get(f"/visits/households/{hid}/edit")
    data = {"version": version, "village": village, "number": "S-1", "head_name": "新名一", "members": "2",
            "cadre": cadre}
    assert b.post(f"/visits/households/{hid}/edit", data).status_code == 302
    resp = b.post(f"/visits/households/{hid}/edit", {**data, "head_name": "新名二"})
    assert resp.status_code == 409 and "已被他人修改" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Household, hid).head_name == "新名一"


def test_close_with_reason_and_reveal_is_audited(app, login_as):
    with app.app_context():
        h = vf.household("C-1", head="迁出户", phone="13700001234")
        db.session.commit()
        hid, version = h.id, h.version
    b = login_as("grouplead")
    resp = b.post(f"/visits/households/{hid}/close", {"version": version, "reason": ""})
    assert resp.status_code == 200 and "请填写注销原因。" in resp.get_data(as_text=True)
    assert b.post(f"/visits/households/{hid}/close", {"version": version, "reason": "全家迁往外地"}).status_code == 302
    resp = b.post(f"/visits/households/{hid}/reveal", {}, headers={"HX-Request": "true"})
    assert "13700001234" in resp.get_data(as_text=True)
    leader = login_as("leader")
    assert "137****1234" in leader.get(f"/visits/households/{hid}").get_data(as_text=True)
    assert leader.post(f"/visits/households/{hid}/reveal", {}).status_code == 403
    with app.app_context():
        h = db.session.get(Household, hid)
        assert h.is_closed and h.closed_reason == "全家迁往外地"
        assert events("household.close") == 1 and events("household.phone_revealed") == 1


def test_group_lead_reassigns_within_the_group(app, login_as):
    with app.app_context():
        new = f.make_user("cadre-pah2", "潘安湖街道工作组", Role.cadre)
        for i in range(3):
            vf.household(f"R-{i}")
        db.session.commit()
        old_id, new_id = f.user("cadre").id, new.id
    b = login_as("grouplead")
    resp = b.post("/visits/reassign", {"from_cadre": old_id, "to_cadre": old_id})
    assert resp.status_code == 200 and "不能与原包户干部相同" in resp.get_data(as_text=True)
    assert b.post("/visits/reassign", {"from_cadre": old_id, "to_cadre": new_id}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Household)
                                 .where(Household.cadre_id == new_id)) == 3
        assert events("register.reassign") == 1


def test_rounds_coverage_and_uncovered_list(app, login_as):
    b = login_as("office")
    resp = b.post("/visits/rounds", {"name": "第一轮", "starts_on": "2026-08-01", "ends_on": "2026-07-01"})
    assert resp.status_code == 200 and "结束日期不能早于开始日期" in resp.get_data(as_text=True)
    with app.app_context():
        r = _round_now(name="本轮")
        a, c = vf.household("V-1", head="走过"), vf.household("V-2", head="没走")
        vf.household("V-3", head="外村户", village="房上村", cadre="cadre")
        vf.visit(a, clock.today())
        db.session.commit()
        rid, mz = r.id, f.unit("权台村").id
    page = b.get(f"/visits/coverage?round={rid}&by=village").get_data(as_text=True)
    assert "33.3%" in page and "权台村" in page and "50.0%" in page and "还剩 5 天" in page
    uncovered = b.get(f"/visits/coverage/uncovered?round={rid}&by=village&key={mz}").get_data(as_text=True)
    assert "没走" in uncovered and "走过" not in uncovered and "外村户" not in uncovered
    assert c is not None


def test_cadre_records_a_visit_from_my_households_and_home_counts_it(app, login_as):
    with app.app_context():
        _round_now()
        h = vf.household("M-1", head="包联户")
        vf.enterprise("包联厂", serial=31)
        db.session.commit()
        hid = h.id
    b = login_as("cadre")
    home = b.get("/").get_data(as_text=True)
    assert "本轮还有 1 户、1 家企业未走访" in home and "包联户" in home
    assert "包联户" in b.get("/visits/mine").get_data(as_text=True)
    form = b.get(f"/visits/households/{hid}/visit").get_data(as_text=True)
    token = form.split('name="token" type="hidden" value="')[1].split('"')[0] if 'name="token" type="hidden"' in form \
        else form.split('name="token" value="')[1].split('"')[0]
    future = (clock.today() + timedelta(days=1)).isoformat()
    resp = b.post(f"/visits/households/{hid}/visit", {"token": token, "visited_on": future, "mode": "home",
                                                      "met": "户主本人"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "走访日期不能晚于今天" in text and "户主本人" in text
    data = {"token": token, "visited_on": clock.today().isoformat(), "mode": "home", "met": "户主本人",
            "situation": "身体尚可", "follow_up": "下月再访"}
    assert b.post(f"/visits/households/{hid}/visit", data).status_code == 302
    assert b.post(f"/visits/households/{hid}/visit", data).status_code == 302  # double submit: once
    with app.app_context():
        (v,) = db.session.scalars(select(Visit).where(Visit.household_id == hid)).all()
        assert v.met == "户主本人" and v.follow_up == "下月再访" and v.mode.value == "home"
    assert "本轮还有 0 户、1 家企业未走访" in b.get("/").get_data(as_text=True)


def test_my_households_are_read_thirty_at_a_time_unvisited_first_and_searchable(app, login_as):
    with app.app_context():
        r = _round_now()
        mine = [vf.household(f"P-{i:03d}", head=f"包户{i:03d}") for i in range(35)]
        vf.visit(mine[3], clock.today())
        vf.visit(mine[4], clock.today())
        vf.household("Q-001", head="别人的户", cadre=f.make_user("cadre-mine2", "潘安湖街道工作组", Role.cadre).username)
        db.session.commit()
        ids = [h.id for h in mine]
        others = db.session.scalar(select(Household.id).where(Household.head_name == "别人的户"))
        assert r is not None
    b = login_as("cadre")
    first = b.get("/visits/mine").get_data(as_text=True)
    shown = [f"包户{i:03d}" for i in range(35) if f"包户{i:03d}" in first]
    # The 33 not yet visited, in 户号 order, thirty on the first page; the visited two are not among them.
    assert shown == [f"包户{i:03d}" for i in (0, 1, 2, *range(5, 32))]
    assert "别人的户" not in first and ">33</span>" in first and ">2</span>" in first
    assert f"after={ids[31]}" in first and "加载更多" in first
    more = b.get(f"/visits/mine?kind=households&state=unvisited&after={ids[31]}", headers={"HX-Request": "true"})
    text = more.get_data(as_text=True)
    assert [f"包户{i:03d}" for i in range(35) if f"包户{i:03d}" in text] == ["包户032", "包户033", "包户034"]
    assert "加载更多" not in text and "<html" not in text
    visited = b.get("/visits/mine?state=visited").get_data(as_text=True)
    assert "包户003" in visited and "包户004" in visited and "包户000" not in visited
    found = b.get("/visits/mine?state=all&q=包户017").get_data(as_text=True)
    assert "包户017" in found and "包户016" not in found and "未走访" in found
    assert "没有找到" in b.get("/visits/mine?q=别人的户").get_data(as_text=True)
    # Another cadre's entry as the page's anchor is ignored: the first page again.
    assert "包户000" in b.get(f"/visits/mine?after={others}").get_data(as_text=True)


def test_my_households_say_when_every_one_is_visited(app, login_as):
    with app.app_context():
        _round_now()
        vf.visit(vf.household("D-1", head="都走过"), clock.today())
        db.session.commit()
    page = login_as("cadre").get("/visits/mine").get_data(as_text=True)
    assert "本轮包联对象都已走访" in page and "都走过" not in page


def test_home_panel_absent_without_a_round(app, login_as):
    with app.app_context():
        vf.household("H-1")
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(VisitRound)) == 0
    assert "未走访" not in login_as("cadre").get("/").get_data(as_text=True)


def test_office_home_names_the_towns_furthest_behind_and_a_group_lead_its_cadres(app, login_as):
    with app.app_context():
        r = _round_now()
        done = vf.household("HB-1", head="走过的户")  # 权台村, 潘安湖街道: 1 of 2 visited
        vf.household("HB-2", head="没走的户")
        vf.visit(done, clock.today())
        vf.household("HB-3", head="房上甲", village="房上村")  # 青山泉镇: 0 of 2
        vf.household("HB-4", head="房上乙", village="房上村")
        db.session.commit()
        rid, behind, ahead = r.id, f.unit("青山泉镇").id, f.unit("潘安湖街道").id
        cadre = f.user("cadre").id
    home = login_as("office").get("/").get_data(as_text=True)
    assert "本轮还有 3 户、0 家企业未走访" in home and "进度靠后的镇（街道）" in home
    assert home.index("青山泉镇") < home.index("潘安湖街道")  # 0% before 50%
    assert f"/visits/coverage/uncovered?round={rid}&amp;by=town&amp;key={behind}" in home
    assert f"key={ahead}" in home and "房上甲" not in home  # towns, not a sample of households
    lead = login_as("grouplead").get("/").get_data(as_text=True)
    assert "进度靠后的包户干部" in lead and f"by=cadre&amp;key={cadre}" in lead


def test_dashboard_shows_coverage_by_town_with_the_uncovered_list_a_click_away(app, login_as):
    with app.app_context():
        r = _round_now()
        a = vf.household("DB-1", head="看板甲")
        vf.household("DB-2", head="看板乙")
        vf.visit(a, clock.today())
        db.session.commit()
        rid, town = r.id, f.unit("潘安湖街道").id
    page = login_as("leader").get("/stats").get_data(as_text=True)
    assert "走访覆盖" in page and "50.0%" in page
    assert f"/visits/coverage/uncovered?round={rid}&amp;kind=households&amp;by=town&amp;key={town}" in page
    assert "看板乙" in login_as("townlead").get(f"/visits/coverage/uncovered?round={rid}").get_data(as_text=True)
    assert "走访覆盖 ·" not in login_as("dept").get("/stats").get_data(as_text=True)


def test_a_towns_unvisited_list_reads_its_first_page_in_order(app, login_as):
    """The town's open households come from the index in the list's order (village, 户号): the
    first page is read, not the whole town sorted."""
    import pytest
    import sqlalchemy as sa

    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan's words are SQLite's; PostgreSQL chooses by its statistics")
    with app.app_context():
        r = _round_now()
        for i in range(3):
            vf.household(f"T-{i}", head=f"镇里户{i}")
        db.session.commit()
        rid = r.id
    b = login_as("town")
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        page = b.get(f"/visits/coverage/uncovered?round={rid}&by=district").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert "镇里户0" in page
    ((sql, params),) = [(s, p) for s, p in seen if "FROM households" in s and "ORDER BY" in s]
    with db.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_households_town_open_number" in plan and "TEMP B-TREE" not in plan, plan
