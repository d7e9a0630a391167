"""The audit admin browses, filters, pages, exports and verifies the audit log."""

import io
import json
import re
from datetime import UTC, datetime

import openpyxl
import sqlalchemy as sa
import time_machine
from sqlalchemy import event as sa_event
from sqlalchemy import select

from webapp.accounts.models import User
from webapp.audit import queries, sentences
from webapp.core import audit, clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

SEQ_RE = re.compile(r'<span class="muted">#(\d+)</span>')


def fresh():
    db.session.commit()
    db.session.expire_all()


def user(username) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def local(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=clock.LOCAL_TZ)


def record_at(app, when, event, *, who=None, ip="10.0.0.1", result="success", obj=None, detail=None):
    """One event at local time ``when`` from address ``ip`` by user ``who`` (a username)."""
    with time_machine.travel(when, tick=False), app.test_request_context(environ_base={"REMOTE_ADDR": ip}):
        kw = {"object_type": obj[0], "object_id": obj[1]} if obj else {}
        audit.record(event, user=user(who) if who else None, result=result, detail=detail, **kw)


def seed(app):
    """A small log with every filter dimension, around a local midnight (UTC 16:00)."""
    record_at(app, local(2025, 3, 1, 9), "login.success", who="town", ip="10.0.0.1")
    record_at(app, local(2025, 3, 1, 10), "login.failure", who="town", ip="10.0.0.2", result="failure")
    record_at(app, local(2025, 3, 1, 23, 30), "user.role_changed", who="secadmin", ip="192.168.1.5",
              obj=("user", 3), detail={"before": "cadre", "after": "group_lead"})
    record_at(app, local(2025, 3, 2, 0, 30), "user.role_changed", who="secadmin", ip="192.168.1.6",
              obj=("user", 4))
    record_at(app, local(2025, 3, 2, 8), "login.success", who="dept", ip="10.0.1.1")
    record_at(app, local(2025, 3, 3, 8), "policy.changed", who="secadmin", ip="192.168.2.1",
              obj=("policy", 1), detail={"after": {"min_length": 12}})
    record_at(app, local(2025, 3, 4, 8), "login.failure", ip="10.9.9.9", result="failure",
              detail={"username": "nobody"})
    fresh()


def all_events():
    fresh()
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).all()


def names_by_id():
    return {u.id: u.full_name for u in db.session.scalars(select(User))}


def expected(**f):
    """The seqs matching filter ``f``, computed in Python from all rows (the oracle)."""
    names = names_by_id()
    out = []
    for ev in all_events():
        t = clock.local(ev.created_at).date()
        if "date_from" in f and t < f["date_from"]:
            continue
        if "date_to" in f and t > f["date_to"]:
            continue
        if "user" in f and not (f["user"].lower() in (ev.username or "").lower()
                                or f["user"] in (names.get(ev.user_id) or "")):
            continue
        if "unit" in f and f["unit"] not in (ev.unit_name or ""):
            continue
        if "ip" in f and not (ev.ip or "").startswith(f["ip"]):
            continue
        if any(k in f and f[k] != getattr(ev, k) for k in ("event", "object_type", "object_id", "result")):
            continue
        out.append(ev.seq)
    return out


def shown(resp) -> list[int]:
    assert resp.status_code == 200
    return [int(s) for s in SEQ_RE.findall(resp.get_data(as_text=True))]


def args(f: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items()}


def test_the_log_is_shown_newest_first_in_local_time(app, login_as):
    seed(app)
    b = login_as("auditor")
    resp = b.get("/audit/")
    seqs = shown(resp)
    assert seqs == sorted(seqs, reverse=True) and seqs == [e.seq for e in all_events()]
    html = resp.get_data(as_text=True)
    # 2025-03-01 23:30 in Xuzhou is 15:30 UTC: the page shows local time.
    assert "2025-03-01 23:30:00" in html and "2025-03-01 15:30:00" not in html
    assert "变更角色（user.role_changed）" in html and "何静" in html


def test_filters_return_exactly_the_matching_rows(app, login_as):
    from datetime import date

    seed(app)
    b = login_as("auditor")
    cases = [
        {"date_from": date(2025, 3, 2)},
        {"date_to": date(2025, 3, 1)},  # 23:30 local on the 1st is in, 00:30 on the 2nd is out
        {"date_from": date(2025, 3, 2), "date_to": date(2025, 3, 3)},
        {"user": "town"},  # town and townlead (substring)
        {"user": "冯雪"},  # by full name
        {"unit": "民政"},
        {"event": "user.role_changed"},
        {"object_type": "user"},
        {"object_type": "user", "object_id": "4"},
        {"result": "failure"},
        {"ip": "192.168.1."},
        {"ip": "10.0.0"},
        {"event": "login.failure", "user": "town"},
        {"event": "login.success", "date_from": date(2025, 3, 2), "date_to": date(2025, 3, 2)},
        {"user": "%"},  # wildcards are literal
    ]
    for f in cases:
        want = expected(**f)
        assert shown(b.get("/audit/", query_string=args(f))) == want, f
    assert expected(date_to=date(2025, 3, 1)) and expected(user="冯雪") and not expected(user="%")
    # The htmx request gets only the results block.
    frag = b.get("/audit/", query_string={"result": "failure"}, headers={"HX-Request": "true"})
    text = frag.get_data(as_text=True)
    assert "<html" not in text and text.lstrip().startswith('<section id="audit-results"')
    assert shown(frag) == expected(result="failure")


def test_the_event_select_lists_the_event_types_in_the_log(app, login_as):
    seed(app)
    html = login_as("auditor").get("/audit/").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="event".*?</select>', html, re.S).group(0)
    values = re.findall(r'value="([^"]*)"', select_html)
    assert values == ["", *sorted({e.event for e in all_events()})]


def test_invalid_filters_are_explained(login_as):
    b = login_as("auditor")
    bad = {"date_from": "2025-03-05", "date_to": "2025-03-01"}
    page = b.get("/audit/", query_string=bad)
    assert page.status_code == 200 and "结束日期不能早于起始日期" in page.get_data(as_text=True)
    frag = b.get("/audit/", query_string={"date_from": "yesterday"}, headers={"HX-Request": "true"})
    assert frag.status_code == 422 and "日期格式应为" in frag.get_data(as_text=True)


def test_pages_of_fifty_on_a_stable_snapshot_with_a_bounded_number_of_queries(app, login_as):
    for i in range(120):
        audit.record("test.bulk", object_type="thing", object_id=i)
    fresh()
    b = login_as("auditor")
    first = b.get("/audit/", query_string={"event": "test.bulk"})
    html = first.get_data(as_text=True)
    assert "共 120 条记录" in html and "第 1 / 3 页" in html
    next_url = re.search(r'<a class="button" href="([^"]+)"[^>]*>下一页', html).group(1).replace("&amp;", "&")
    assert "upto=" in next_url and "page=2" in next_url
    # New events arrive while the auditor reads: the pages do not shift.
    for i in range(5):
        audit.record("test.bulk", object_type="thing", object_id=1000 + i)
    fresh()
    second = b.get(next_url)
    third_url = re.search(r'<a class="button" href="([^"]+)"[^>]*>下一页', second.get_data(as_text=True)).group(1)
    third = b.get(third_url.replace("&amp;", "&"))
    pages = [shown(first), shown(second), shown(third)]
    assert [len(p) for p in pages] == [50, 50, 20]
    old = [e.seq for e in all_events() if e.event == "test.bulk" and int(e.object_id) < 1000]
    assert pages[0] + pages[1] + pages[2] == old
    # A fresh search sees the new events.
    assert "共 125 条记录" in b.get("/audit/", query_string={"event": "test.bulk"}).get_data(as_text=True)

    def statements(url):
        count = 0

        def count_it(*_a, **_k):
            nonlocal count
            count += 1

        sa_event.listen(db.engine, "before_cursor_execute", count_it)
        try:
            b.get(url)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count_it)
        return count

    # The same number of queries for 50 rows as for 2: no query per row.
    assert statements("/audit/?event=test.bulk") == statements("/audit/?event=test.bulk&object_id=7")


def read_xlsx(resp):
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = openpyxl.load_workbook(io.BytesIO(resp.data), read_only=True)
    rows = [tuple("" if v is None else v for v in r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    about = {r[0]: r[1] for r in wb.worksheets[1].iter_rows(values_only=True)}
    wb.close()
    return rows, about


def export(b, data):
    """Send the export form: a background job (run at once here) whose page offers the file."""
    resp = b.post("/audit/export", data)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/jobs/")
    page = b.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已完成" in page and "/download" in page
    download = b.client.get(resp.headers["Location"] + "/download")
    assert "attachment" in download.headers["Content-Disposition"]
    download.get_data()  # read, then let go of the file
    download.close()
    return download


def export_form(html: str) -> dict:
    form = re.search(r'<form method="post" action="/audit/export".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def as_cells(row) -> tuple:
    return tuple("" if v is None else v for v in row)


def test_export_holds_exactly_the_filtered_rows_and_is_audited(app, login_as):
    seed(app)
    b = login_as("auditor")
    page = b.get("/audit/", query_string={"date_from": "2025-03-01", "date_to": "2025-03-02", "ip": "192.168"})
    want = shown(page)
    assert len(want) == 2
    data = export_form(page.get_data(as_text=True))
    assert data["ip"] == "192.168" and "upto" in data
    # An event after the page was shown is not exported (same snapshot as the page).
    record_at(app, local(2025, 3, 1, 12), "user.role_changed", who="secadmin", ip="192.168.7.7")
    fresh()
    rows, about = read_xlsx(export(b, data))
    assert rows[0][:3] == ("序号", "时间（北京时间）", "记录")
    assert [r[0] for r in rows[1:]] == want
    names = names_by_id()
    by_seq = {e.seq: e for e in all_events()}
    listed = [(by_seq[s], names.get(by_seq[s].user_id)) for s in want]
    named = sentences.names_for(listed)
    assert rows[1:] == [as_cells(queries.export_row(ev, name, named)) for ev, name in listed]
    assert rows[1][1] == "2025-03-02 00:30:00"  # local time
    assert about["导出条数"] == 2
    [ev] = [e for e in all_events() if e.event == "audit.exported"]
    assert ev.username == "auditor"
    detail = json.loads(ev.detail)
    assert detail["rows"] == 2 and detail["filter"] == {"date_from": "2025-03-01", "date_to": "2025-03-02", "ip": "192.168"}


def test_export_without_a_filter_holds_the_whole_log(app, login_as):
    seed(app)
    b = login_as("auditor")
    page = b.get("/audit/")
    rows, _about = read_xlsx(export(b, export_form(page.get_data(as_text=True))))
    exporting = {"audit.exported", "job.started", "job.finished"}  # written after the page was shown
    assert [r[0] for r in rows[1:]] == shown(page) == [e.seq for e in all_events() if e.event not in exporting]


def test_export_is_capped(app, login_as, monkeypatch):
    seed(app)
    monkeypatch.setattr(queries, "EXPORT_CAP", 3)
    b = login_as("auditor")
    page = b.get("/audit/")
    assert "导出时只包含最新的 3 条" in page.get_data(as_text=True)
    rows, about = read_xlsx(export(b, export_form(page.get_data(as_text=True))))
    assert [r[0] for r in rows[1:]] == shown(page)[:3]
    assert "仅导出最新的 3 条" in about["说明"]
    [ev] = [e for e in all_events() if e.event == "audit.exported"]
    assert json.loads(ev.detail)["rows"] == 3 and json.loads(ev.detail)["matched"] == len(shown(page))


def test_verify_shows_an_intact_chain_and_is_audited(login_as):
    b = login_as("auditor")
    assert "尚未在系统中校验过" in b.get("/audit/verify").get_data(as_text=True)
    resp = b.post("/audit/verify")
    assert resp.status_code == 302 and resp.headers["Location"] == "/audit/verify"
    html = b.get("/audit/verify").get_data(as_text=True)
    assert "审计链完整" in html and "badge green" in html
    [ev] = [e for e in all_events() if e.event == "audit.verified"]
    assert ev.result == "success" and json.loads(ev.detail)["checked"] == ev.seq - 1


def test_verify_reports_tampering(login_as):
    b = login_as("auditor")
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
    db.session.execute(sa.text("UPDATE audit_events SET ip = '6.6.6.6' WHERE seq = 1"))
    db.session.commit()
    b.get("/audit/verify")
    b.post("/audit/verify")
    html = b.get("/audit/verify").get_data(as_text=True)
    assert "审计链已被破坏" in html and "记录被改动（内容与其密钥哈希不符）" in html
    [ev] = [e for e in all_events() if e.event == "audit.verified"]
    assert ev.result == "failure"


def test_dates_are_local_days(app):
    from datetime import date

    assert queries.local_day_start(date(2025, 3, 2)) == datetime(2025, 3, 1, 16, tzinfo=UTC)


def test_the_log_reads_as_sentences_in_both_locales_and_filters_by_kind_and_object(app, login_as):
    import html as html_lib

    from tests.cases import factories as f
    from webapp.cases import operations as ops

    seed(app)
    with time_machine.travel(local(2025, 3, 5, 9), tick=False):
        p = f.assigned_to_town(title="村口路灯不亮")
        ops.sign_for(p, f.user("town"))
        db.session.commit()
        number = p.number
    town_name = f.user("town").full_name
    b = login_as("auditor")
    page = html_lib.unescape(b.get("/audit/").get_data(as_text=True))
    # The event in words, the problem by number and title, the person by name and unit.
    assert f"{town_name}（潘安湖街道） 签收：问题 {number}「村口路灯不亮」" in page
    listing = page[page.index('class="plain-list audit-list"'):]
    listing = listing[:listing.index("</ol>")]
    assert "problem.sign_for" not in re.sub(r"<details>.*?</details>", "", listing, flags=re.S)
    target = html_lib.unescape(user("secadmin").full_name)
    assert f"变更角色：用户 {names_by_id()[3]}" in page and target in page
    # Filters: the kind of event, the object by its number, the person.
    casework = shown(b.get("/audit/", query_string={"kind": "casework"}))
    assert casework and all(e.event.startswith(("problem.", "visit.", "attachment.", "list.", "meeting."))
                            for e in all_events() if e.seq in casework)
    assert {e.event for e in all_events() if e.seq in casework} >= {"problem.register", "problem.sign_for"}
    by_number = shown(b.get("/audit/", query_string={"obj": number}))
    assert by_number and {e.object_id for e in all_events() if e.seq in by_number} == {str(p.id)}
    by_title = shown(b.get("/audit/", query_string={"obj": "村口路灯"}))
    assert by_title == by_number
    sessions = shown(b.get("/audit/", query_string={"kind": "session", "user": "town"}))
    assert sessions and {e.event for e in all_events() if e.seq in sessions} <= {"login.success", "login.failure"}
    # In English: the same sentence in English words.
    b.post("/locale", {"lang": "en", "next": "/audit/"})
    page = html_lib.unescape(b.get("/audit/").get_data(as_text=True))
    assert f"— Sign for: Problem {number} “村口路灯不亮”" in page, page[page.find("audit-list"):][:1500]


def test_the_export_reads_as_the_log_s_sentences_with_the_filter_applied_in_both_locales(app, login_as, monkeypatch):
    from tests.cases import factories as f
    from webapp.cases import operations as ops

    seed(app)
    with time_machine.travel(local(2025, 3, 5, 9), tick=False):
        p = f.assigned_to_town(title="村口路灯不亮")
        ops.sign_for(p, f.user("town"))
        db.session.commit()
        number = p.number
    town_name = f.user("town").full_name
    monkeypatch.setattr(queries, "EXPORT_BATCH", 2)  # several batches, each named on its own
    b = login_as("auditor")
    page = b.get("/audit/", query_string={"kind": "casework"})
    want = shown(page)
    assert len(want) >= 3
    resp = export(b, export_form(page.get_data(as_text=True)))
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["序号", "时间（北京时间）", "记录", "事件", "对象", "结果"]
    body = list(ws.iter_rows(min_row=2))
    # Exactly the filtered rows, newest first; numbers as numbers, words as text.
    assert [r[0].value for r in body] == want
    assert all(r[0].data_type == "n" and r[2].data_type == "s" for r in body)
    sign = next(r for r in body if r[header.index("事件代码")].value == "problem.sign_for")
    assert sign[2].value == f"{town_name}（潘安湖街道） 签收：问题 {number}「村口路灯不亮」"
    assert sign[3].value == "签收" and sign[4].value == f"问题 {number}「村口路灯不亮」"
    assert sign[5].value == "成功"
    # No event code stands where the words go, and every casework row has its sentence.
    assert all("problem." not in (r[2].value or "") and r[2].value for r in body)
    # The same export in English reads in English words.
    b.post("/locale", {"lang": "en", "next": "/audit/"})
    page = b.get("/audit/", query_string={"kind": "casework"})
    resp = b.post("/audit/export", export_form(page.get_data(as_text=True)))
    wb = openpyxl.load_workbook(io.BytesIO(b.client.get(resp.headers["Location"] + "/download").data))
    english = [r for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert any(r[2] and f"Sign for: Problem {number} “村口路灯不亮”" in r[2] for r in english[1:])
