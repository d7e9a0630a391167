"""The work queues through HTTP: counters per role, filters, search, sorting, pages, the Excel
export, the htmx fragments, and a number of SQL queries that does not grow with the data."""

import html
import re

import sqlalchemy as sa
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import FRI, MON, WED, counted_queries, numbers, sheet_rows, tabs, text
from webapp.accounts.roles import Role
from webapp.cases import operations as ops
from webapp.cases.workflow import Kind, Level, Tier
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling.operations import resolve_on_spot

IMMEDIATE = ops.Triage(Kind.individual, Level.town, Tier.immediate)


def _dataset() -> dict:
    """Thirteen problems of the 潘安湖街道 work group in every status reached so far.

    Immediate (好事即办, 3 workdays) sheets of Monday are overdue on Friday; the one of
    Wednesday is due on the next Monday (即将到期 on Friday); quick ones (15 workdays) are not due.
    """
    town, gl = f.user("town"), f.user("grouplead")
    p = {}
    with time_machine.travel(MON, tick=False):
        p["a1"] = f.assigned_to_town(triage=IMMEDIATE, title="甲一号路灯不亮")
        p["a2"] = f.assigned_to_town(triage=IMMEDIATE)
        ops.sign_for(p["a2"], town)
        p["b1"] = f.assigned_to_town()
        p["b2"] = f.assigned_to_town(village="权台西村")
        ops.sign_for(p["b2"], town)
        p["coop"] = f.assigned_to_town(cooperating=["区民政局"], category="道路交通")
        p["d1"] = f.assigned_to_town(town="青山泉镇", village="房上村")
        p["dept1"] = f.assigned_to_department()
        p["desk1"] = f.transferred_to_desk()
        p["e1"] = f.register(resident_name="孙大娘")
        p["l1"] = f.register()
        ops.add_to_list(p["l1"], gl, triage=ops.Triage(Kind.common, Level.district, Tier.quick))
        p["r1"] = f.register()
        resolve_on_spot(p["r1"], gl, triage=IMMEDIATE, result="当场修好了路灯")
        p["n1"] = f.register()
        ops.not_accept(p["n1"], gl, reason="属于民事纠纷，已告知走法律途径")
        db.session.commit()
    with time_machine.travel(WED, tick=False):
        p["c1"] = f.assigned_to_town(triage=IMMEDIATE)
    return p


def _nums(p, *names) -> list[str]:
    return [p[n].number for n in names]


EXPECTED_COUNTERS = {
    "town": {"all": None, "to_sign": 4, "handling": 2, "due_soon": 1, "overdue": 2},
    "townlead": {"all": None, "to_sign": 4, "to_review": 0, "handling": 2, "due_soon": 1, "overdue": 2},
    "dept": {"all": None, "to_sign": 2, "handling": 0, "due_soon": 0, "overdue": 0},
    "desk": {"all": None, "to_sign": 1, "handling": 0, "due_soon": 0, "overdue": 0, "owes_reply": 0},
    "grouplead": {"all": None, "to_triage": 1, "listed": 1, "handling": 9, "to_verify": 1, "overdue": 2},
    "cadre": {"all": None, "open": 12, "owes_reply": 1, "done": 0},
    "office": {"all": None, "listed": 1, "handling": 9, "to_verify": 0, "overdue": 2, "due_soon": 1,
               "owes_reply": 1},
    "leader": {"all": None, "listed": 1, "handling": 9, "to_verify": 0, "overdue": 2, "due_soon": 1},
}


def test_counters_per_role_on_a_known_data_set(app, login_as):
    p = _dataset()
    with time_machine.travel(FRI, tick=False):
        for username, expected in EXPECTED_COUNTERS.items():
            b = login_as(username)
            page = b.get("/cases")
            assert page.status_code == 200
            assert tabs(page) == expected, username
            # The counters fragment says the same, and each tab lists exactly its count.
            fragment = b.get("/cases/counters")
            assert tabs(fragment) == expected
            assert "<html" not in text(fragment)
            for tab, n in expected.items():
                if n is not None:
                    assert len(numbers(b.get(f"/cases?tab={tab}"))) == n, (username, tab)
    # Which ones, for the town: its pending parts, and the overdue ones in red.
    with time_machine.travel(FRI, tick=False):
        b = login_as("town")
        assert set(numbers(b.get("/cases?tab=to_sign"))) == set(_nums(p, "a1", "b1", "coop", "c1"))
        assert set(numbers(b.get("/cases?tab=due_soon"))) == set(_nums(p, "c1"))
        overdue = b.get("/cases?tab=overdue")
        assert set(numbers(overdue)) == set(_nums(p, "a1", "a2"))
        assert text(overdue).count('class="time-left overdue">已超期 1 个工作日') == 2
        assert '<span class="count red">2</span>' in text(overdue)


def test_filters_and_search_return_exactly_the_expected_rows(app, login_as):
    p = _dataset()
    qsq, village, road = f.unit("青山泉镇"), f.unit("权台西村"), f.category("道路交通")
    with time_machine.travel(FRI, tick=False):
        b = login_as("office")
        cases = {
            "/cases?tab=all": list(p),
            "/cases?status=assigned": ["a1", "b1", "coop", "c1", "d1", "dept1", "desk1"],
            f"/cases?unit={qsq.id}": ["d1"],
            f"/cases?town={qsq.id}": ["d1"],
            f"/cases?village={village.id}": ["b2"],
            f"/cases?category={road.id}": ["coop"],
            "/cases?tier=immediate": ["a1", "a2", "c1", "r1"],
            "/cases?overdue=1": ["a1", "a2"],
            "/cases?tab=due_soon": ["c1"],
            "/cases?tab=overdue&tier=immediate": ["a1", "a2"],
            "/cases?q=孙大娘": ["e1"],
            "/cases?q=甲一号": ["a1"],
            f"/cases?q={p['b1'].receipt_no.lower()}": ["b1"],
            f"/cases?q={p['d1'].number}": ["d1"],
            "/cases?status=assigned&tier=quick&q=测试": ["b1", "coop", "d1", "dept1", "desk1"],
            "/cases?q=没有这个问题": [],
        }
        for url, names in cases.items():
            assert sorted(numbers(b.get(url))) == sorted(_nums(p, *names)), url
        # The scope still applies under every filter: the town never sees 青山泉镇's problem.
        town = login_as("town")
        assert numbers(town.get(f"/cases?town={qsq.id}")) == []
        assert numbers(town.get(f"/cases?q={p['d1'].number}")) == []
        assert set(numbers(town.get("/cases?tab=all"))) == set(_nums(p, "a1", "a2", "b1", "b2", "coop", "c1"))
        # The cadre sees what they registered, and nothing of another group's cadre.
        db.session.rollback()  # a fresh transaction: the requests above have written (sessions)
        other = f.make_user("cadre-qsq", "青山泉镇工作组", Role.cadre)
        foreign = f.register(username=other.username, village="房上村", title="别组的问题")
        cadre = login_as("cadre")
        assert foreign.number not in numbers(cadre.get("/cases?q=别组"))
        assert numbers(b.get("/cases?q=别组")) == [foreign.number]
        # Filters are echoed into the form, so a reload shows what was asked.
        page = text(b.get(f"/cases?status=assigned&village={village.id}&overdue=1&q=测试"))
        assert '<option value="assigned" selected>' in page
        assert f'<option value="{village.id}" selected>' in page
        assert 'name="overdue" value="1" checked' in page and 'value="测试"' in page


def test_sorting(app, login_as):
    p = _dataset()
    creation = ["a1", "a2", "b1", "b2", "coop", "d1", "dept1", "desk1", "e1", "l1", "r1", "n1", "c1"]
    with time_machine.travel(FRI, tick=False):
        b = login_as("office")
        by_deadline = _nums(p, "a1", "a2", "c1", "b1", "b2", "coop", "d1", "dept1", "desk1", "e1", "l1", "r1", "n1")
        assert numbers(b.get("/cases?tab=all&sort=old")) == _nums(p, *creation)
        assert numbers(b.get("/cases?tab=all&sort=new")) == _nums(p, *reversed(creation))
        assert numbers(b.get("/cases?tab=all&sort=number")) == _nums(p, *reversed(creation))
        # By deadline (the default): the earliest first, same deadline by id, no deadline last.
        assert numbers(b.get("/cases?tab=all")) == by_deadline
        assert numbers(b.get("/cases?tab=all&sort=deadline")) == by_deadline
        assert numbers(b.get("/cases?sort=deadline&tab=handling")) == _nums(
            p, "a1", "a2", "c1", "b1", "b2", "coop", "d1", "dept1", "desk1")
        # A sort that does not exist falls back to the default.
        assert numbers(b.get("/cases?tab=all&sort=drop+table")) == by_deadline


def next_link(resp) -> str:
    """The 下一页 link of a queue page (keyset: after the last card's sort key)."""
    m = re.search(r'<a class="button" rel="next" href="([^"]+)"', text(resp))
    assert m, "no next page"
    return html.unescape(m.group(1))


def test_pagination_covers_every_row_once_and_keeps_the_filter(app, login_as):
    made = [f.register(title=f"分页问题{i:02d}") for i in range(30)]
    f.register(title="不相关")
    b = login_as("grouplead")
    first = b.get("/cases?q=分页&sort=old")
    link = next_link(first)
    # The next-page link keeps the search and the sort, and starts after the last card.
    assert link.startswith("/cases?q=%E5%88%86%E9%A1%B5&sort=old&after=") and f"~{made[24].id}" in link
    second = b.get(link)
    assert numbers(first) == [p.number for p in made[:25]]
    assert numbers(second) == [p.number for p in made[25:]]
    assert "共 30 个问题" in text(first) and 'rel="next"' not in text(second)
    assert 'href="/cases?q=%E5%88%86%E9%A1%B5&amp;sort=old"' in text(second) and "回到第一页" in text(second)
    # A problem registered meanwhile does not shift the pages (no row shown twice or skipped).
    f.register(title="分页问题新")
    assert numbers(b.get(link)) == [p.number for p in made[25:]] + [numbers(b.get("/cases?q=分页问题新"))[0]]
    # Every sort pages through every row exactly once, by its own key.
    for sort in ("new", "old", "deadline", "number", "updated"):
        seen, url = [], f"/cases?q=分页&sort={sort}"
        while url:
            resp = b.get(url)
            seen += numbers(resp)
            url = next_link(resp) if 'rel="next"' in text(resp) else None
        assert len(seen) == len(set(seen)) == 31, sort
    # A cursor that is not one shows the first page (never an error).
    for junk in ("x~y", "~", "2026-13-45~1", "%00", "1~2~3"):
        assert numbers(b.get(f"/cases?q=分页&sort=old&after={junk}")) == numbers(first), junk


def test_htmx_gets_the_results_fragment_and_the_url_round_trips(app, login_as):
    f.assigned_to_town(title="片段测试")
    b = login_as("town")
    full = b.get("/cases?q=片段")
    frag = b.get("/cases?q=片段", headers={"HX-Request": "true"})
    assert "<html" in text(full) and "<html" not in text(frag)
    assert numbers(frag) == numbers(full) and len(numbers(frag)) == 1
    assert "HX-Request" in frag.headers["Vary"]
    # The fragment carries the tabs (with the counters' own refresh) and the current tab for the form.
    assert 'id="case-tabs"' in text(frag) and 'hx-trigger="cases-changed from:body"' in text(frag)
    assert 'name="tab" value="all" form="case-filter"' in text(frag)
    # The tab links swap the results' content, not the whole block (the tabs' own swap is outerHTML).
    assert text(frag).count('hx-target="#case-results" hx-swap="innerHTML"') == 5
    # The address bar gets the clean link of the filter (no empty fields).
    messy = b.get("/cases?q=片段&status=&unit=&tier=&tab=all&sort=deadline", headers={"HX-Request": "true"})
    assert messy.headers["HX-Push-Url"] == "/cases?q=%E7%89%87%E6%AE%B5"
    # A history restore gets the whole page.
    restore = b.get("/cases?q=片段", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in text(restore)
    # The page's controls: active search with a delay, the form pushes the URL, works without JS.
    page = text(full)
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'hx-push-url="true"' in page and 'method="get" action="/cases"' in page
    assert "hx-on" not in page and "style=" not in page


def test_phone_cards_and_masking_in_the_list(app, login_as):
    f.assigned_to_town(phone="13912345678")
    # Lists mask numbers for everyone; a full number is only revealed, audited, on the problem page.
    for username, shown, hidden in (("town", "139****5678", "13912345678"),
                                     ("cadre", "139****5678", "13912345678"),
                                     ("office", "139****5678", "13912345678"),
                                     ("grouplead", "139****5678", "13912345678"),
                                     ("leader", "139****5678", "13912345678")):
        page = text(login_as(username).get("/cases?tab=all"))
        assert shown in page and hidden not in page, username
        assert 'class="case-card"' in page and "139****5678" in page, username


def test_export_is_exactly_the_filter_masked_as_on_screen_and_audited(app, login_as):
    made = [f.register(title=f"导出问题{i:02d}", phone="13800001111", id_number="320305198001019999")
            for i in range(28)]
    f.register(title="其他问题")
    for username, phone, id_number in (("grouplead", "138****1111", "320305********9999"),
                                       ("leader", "138****1111", "320305********9999"),
                                       ("office", "138****1111", "320305********9999"),
                                       ("cadre", "138****1111", "320305********9999")):
        b = login_as(username)
        first = b.get("/cases?q=导出&sort=old")
        on_screen = numbers(first) + numbers(b.get(next_link(first)))
        resp = b.client.get("/cases/export.xlsx?q=导出&sort=old")
        assert resp.status_code == 200
        assert "attachment" in resp.headers["Content-Disposition"]
        rows = sheet_rows(resp)
        header, body = rows[0], rows[1:]
        assert header[:2] == ["问题编号", "标题"] and header[-3:] == ["群众姓名", "联系电话", "身份证号"]
        assert [r[0] for r in body] == on_screen == [p.number for p in made]
        assert {r[-2] for r in body} == {phone} and {r[-1] for r in body} == {id_number}, username
        assert {r[6] for r in body} == {"待研判"}
    db.session.rollback()  # see what the requests committed
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "cases.exported")
                                .order_by(AuditEvent.id)).all()
    assert [e.username for e in events] == ["grouplead", "leader", "office", "cadre"]
    assert '"rows": 28' in events[0].detail and '"q": "导出"' in events[0].detail


def test_export_of_a_unit_holds_only_its_own_problems(app, login_as):
    own = f.assigned_to_town(title="本单位")
    f.assigned_to_town(town="青山泉镇", village="房上村", title="外单位")
    f.assigned_to_department(title="部门的")
    rows = sheet_rows(login_as("town").client.get("/cases/export.xlsx"))
    assert [r[0] for r in rows[1:]] == [own.number]
    assert rows[1][-2] == "138****1234"  # masked in exports too: full numbers only by audited reveal


def _queue_queries(b, url="/cases") -> int:
    b.client.get(url)  # warm: the session's own bookkeeping is done
    with counted_queries() as n:
        assert b.client.get(url).status_code == 200
    return n[0]


def _mixed(count: int) -> None:
    db.session.rollback()  # a fresh transaction: requests have written since (sessions)
    for i in range(count):
        kind = i % 4
        if kind == 0:
            f.register()
        elif kind == 1:
            f.assigned_to_town(cooperating=["区民政局"] if i % 8 == 1 else ())
        elif kind == 2:
            f.assigned_to_department()
        else:
            f.assigned_to_town(town="青山泉镇", village="房上村")


def test_queue_queries_do_not_grow_with_the_data(app, login_as):
    users = ["office", "grouplead", "town", "dept", "cadre", "leader"]
    browsers = {u: login_as(u) for u in users}
    urls = ["/cases", "/cases?tab=overdue&sort=deadline", "/cases/counters"]
    _mixed(5)
    small = {(u, url): _queue_queries(browsers[u], url) for u in users for url in urls}
    _mixed(55)
    large = {(u, url): _queue_queries(browsers[u], url) for u in users for url in urls}
    assert large == small
    # A queue page and its counters: no more than 12 statements (BEGIN counted on SQLite).
    assert max(large.values()) <= 12, large
    export_small = _queue_queries(browsers["office"], "/cases/export.xlsx")
    _mixed(8)
    assert _queue_queries(browsers["office"], "/cases/export.xlsx") == export_small
    print("\nSQL statements per request (5 vs 60 problems):",
          {f"{u} {url}": n for (u, url), n in small.items()})


def test_detail_queries_do_not_grow_with_the_timeline(app, login_as):
    short = f.assigned_to_town(cooperating=["区民政局"])
    long = f.assigned_to_town(cooperating=["区民政局"])
    town = f.user("town")
    for _ in range(3):  # returned and re-assigned three times: a longer timeline, more parts
        ops.return_problem(long, town, reason="不属于本街道辖区")
        ops.assign_sheet(long, f.user("grouplead"), lead=f.unit("潘安湖街道"), cooperating=[f.unit("区民政局")],
                         triage=f.QUICK)
    ops.sign_for(long, f.user("dept"))
    ops.sign_for(short, f.user("dept"))
    db.session.commit()
    for username in ("town", "grouplead", "office"):
        b = login_as(username)
        assert _queue_queries(b, f"/cases/{short.id}") == _queue_queries(b, f"/cases/{long.id}"), username


def test_menu_offers_the_workbench_right_after_home(app, login_as):
    for username in ("cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk", "office", "leader"):
        page = text(login_as(username).get("/"))
        menu = page[page.index('aria-label="主导航"'):page.index("</nav>")]
        labels = re.findall(r"<li><a [^>]*>([^<]+)</a>", menu)
        assert labels[:2] == ["首页", "工作台"], (username, labels)
    for username in ("sysadmin", "secadmin", "auditor"):
        assert "/cases" not in text(login_as(username).get("/"))


def test_the_menu_marks_the_page_it_is_on_in_the_users_language(app, login_as):
    """The menu is drawn once per set of entries, language and page (accounts.nav.menu_markup):
    each page still marks itself, and a user who switches language gets the menu in it."""

    def menu(page):
        return page[page.index('aria-label="'):page.index("</nav>")]

    b = login_as("office")
    queue, stats = menu(text(b.get("/cases"))), menu(text(b.get("/stats")))
    assert '<a href="/cases" aria-current="page">工作台</a>' in queue
    assert 'aria-current="page">统计' in stats and '<a href="/cases">工作台</a>' in stats
    # The statistics belong to no group; the settings are a group, marked while one of its pages is open.
    assert '<summary class="current">' in menu(text(b.get("/settings/")))
    assert '<summary class="current">' not in queue
    b.post("/locale", {"lang": "en", "next": "/cases"})
    english = menu(text(b.get("/cases")))
    assert 'aria-current="page">Workbench</a>' in english and "工作台" not in english
    # The language is the user's own (kept with the account): a new session of the office is
    # English too and gets the same menu; a group lead (other entries, Chinese) gets another.
    assert menu(text(login_as("office").get("/cases"))) == english
    lead = menu(text(login_as("grouplead").get("/cases")))
    assert '<a href="/cases" aria-current="page">工作台</a>' in lead and lead != queue


def test_filter_options_escape_their_labels_and_mark_the_chosen_one():
    from webapp.core.forms import option_tags

    html = str(option_tags([(1, "贾汪镇"), (2, '<b>"东村"</b>'), ("x", "其他")], 2))
    assert html == ('<option value="1">贾汪镇</option>'
                    '<option value="2" selected>&lt;b&gt;&#34;东村&#34;&lt;/b&gt;</option>'
                    '<option value="x">其他</option>')
    assert "selected" not in str(option_tags([(1, "a")], None)) and "selected" not in str(option_tags([(1, "a")], ""))


def test_old_problems_can_be_filtered_by_a_deactivated_category(app, login_as):
    """Deactivating a category removes it from intake, not from the queue's filter."""
    from webapp.cases.models import Category

    p = f.register(category="教育", title="停用类别下的问题")
    f.register(category="民生保障", title="其他类别的问题")
    cat = db.session.scalar(select(Category).where(Category.name == "教育"))
    cat.is_active = False
    db.session.commit()
    page = text(login_as("office").get(f"/cases?category={cat.id}"))
    assert f'value="{cat.id}" selected>教育（已停用）' in page
    assert p.number in page and "其他类别的问题" not in page


def test_search_treats_percent_and_underscore_literally(app, login_as):
    f.register(title="路灯损坏")
    f.register(title="水费100%退还")
    b = login_as("office")
    assert "水费100%退还" in text(b.get("/cases?q=%25")) and "路灯损坏" not in text(b.get("/cases?q=%25"))
    assert "路灯损坏" not in text(b.get("/cases?q=_"))


def _page_statements(b, url) -> list[tuple[str, object]]:
    """The statements (with their parameters) that read problems for a queue page's cards."""
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert b.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    return [(s, p) for s, p in seen
            if s.lstrip().startswith(("SELECT problems.id", "WITH my_pending")) and "ORDER BY" in s]


def test_a_group_leads_awaiting_triage_reads_its_partial_index(app, login_as):
    """待研判 names its statuses literally, so the database can read the partial index of the
    group's problems awaiting triage instead of the group's every problem by deadline."""
    _dataset()
    statements = _page_statements(login_as("grouplead"), "/cases?tab=to_triage")
    assert len(statements) == 2  # those with a deadline by the deadline, then those without by id
    for sql, params in statements:
        assert "'registered', 'returned'" in sql
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            else:  # a test's few rows would be read whole: ask whether the index can serve at all
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
                conn.rollback()
        assert "ix_problems_triage_group_deadline" in plan, plan


def test_a_units_awaiting_sign_for_reads_its_pending_parts_only(app, login_as):
    """待签收 is driven by the unit's pending parts: the wider scope (every current part of the
    unit) is not repeated beside it, and the list is still exactly the unit's pending problems."""
    p = _dataset()
    b = login_as("town")
    statements = _page_statements(b, "/cases?tab=to_sign")
    assert statements and all(sql.count("FROM assignment_units") == 1 for sql, _ in statements)
    # The pending parts are read first and the problems looked up from them: PostgreSQL would
    # otherwise walk every problem by deadline, probing for parts (the 12345 desk at 200,000).
    assert all(sql.lstrip().startswith("WITH my_pending AS MATERIALIZED") for sql, _ in statements)
    assert set(numbers(b.get("/cases?tab=to_sign"))) == set(_nums(p, "a1", "b1", "coop", "c1"))
