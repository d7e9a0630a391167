"""GeoReport v2 over the campaign: discovery, services, creating and reading requests, errors."""

from sqlalchemy import select

from tests.api.factories import BASE, body, get, make_key, mid_window, post_order, xml
from tests.cases import factories as f
from webapp.api.models import WorkOrder
from webapp.cases.models import Channel, Problem
from webapp.cases.workflow import Status
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db


def audits(event):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)).all()


def test_discovery_in_json_and_xml(client):
    resp = get(client, "/discovery.json")
    assert resp.status_code == 200 and resp.content_type == "application/json; charset=utf-8"
    [endpoint] = body(resp)["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "text/xml" in endpoint["formats"]
    resp = get(client, "/discovery.xml")
    assert resp.content_type == "text/xml; charset=utf-8"
    assert resp.get_data(as_text=True).startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = xml(resp)
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_services_are_the_active_categories_with_their_attributes(app, client):
    made = make_key()
    services = body(get(client, "/services.json", made.key))
    names = [s["service_name"] for s in services]
    assert "民生保障" in names
    first = services[0]
    assert set(first) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert first["metadata"] is True and first["type"] == "realtime"
    # XML: the spec's <services><service>… with the same codes.
    root = xml(get(client, "/services.xml", made.key))
    assert [s.findtext("service_code") for s in root.findall("service")] == [s["service_code"] for s in services]
    assert root.find("service/metadata").text == "true"

    code = str(f.category("民生保障").id)
    definition = body(get(client, f"/services/{code}.json", made.key))
    assert definition["service_code"] == code
    village = next(a for a in definition["attributes"] if a["code"] == "village")
    assert village["datatype"] == "singlevaluelist" and village["required"] is True
    assert {"key": str(f.unit("权台村").id), "name": "潘安湖街道 权台村"} in village["values"]
    root = xml(get(client, f"/services/{code}.xml", made.key))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key") is not None


def test_a_work_order_lands_in_the_desk_queue_like_a_transferred_problem(app, client, login_as):
    made = make_key()
    resp = post_order(client, made.key)
    assert resp.status_code == 201
    [created] = body(resp)
    problem = db.session.get(Problem, int(created["service_request_id"]))
    assert created["work_order_no"] == "GD20261207001" and created["service_notice"]
    assert problem.status == Status.assigned and problem.source == "12345_api"
    assert problem.lead_unit.name == "区12345平台大走访专席"
    assert problem.current_assignment.channel == Channel.desk
    assert problem.resident_name == "王秀兰" and problem.resident_phone == "13912345678"
    assert problem.village.name == "权台村" and problem.address == "权台村三组12号"
    # Through the workflow: timeline and audit as for any problem, plus the API's own entries.
    assert [e.action for e in problem.events] == ["register", "transfer_desk"]
    assert audits("api.work_order")[-1].object_id == str(problem.id)
    assert audits("api.call")[-1].result == "success"
    # The desk sees it in its queue and may sign for it.
    page = login_as("desk").get(f"/cases/{problem.id}")
    assert page.status_code == 200 and "签收" in page.get_data(as_text=True)


def test_a_resend_returns_the_existing_problem(app, client):
    made = make_key()
    first = post_order(client, made.key)
    again = post_order(client, made.key, description="内容有变化的重发")
    assert first.status_code == 201 and again.status_code == 200
    assert body(first)[0]["service_request_id"] == body(again)[0]["service_request_id"]
    assert db.session.scalar(select(db.func.count()).select_from(WorkOrder)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(Problem).where(Problem.source == "12345_api")) == 1
    # Another caller's work order of the same number is its own problem.
    other = make_key(name="市12345平台")
    third = post_order(client, other.key)
    assert third.status_code == 201 and body(third)[0]["service_request_id"] != body(first)[0]["service_request_id"]


def test_create_in_xml(app, client):
    made = make_key()
    resp = post_order(client, made.key, fmt="xml", work_order_no="GD-XML-1")
    assert resp.status_code == 201
    root = xml(resp)
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id").isdigit()
    assert root.findtext("request/account_id") == ""


def test_missing_and_wrong_fields_are_listed_in_the_spec_format(app, client):
    made = make_key()
    resp = post_order(client, made.key, work_order_no=None, description=None, **{"attribute[village]": "x"},
                      address_string=None, phone="123")
    assert resp.status_code == 400
    errors = body(resp)
    assert all(e["code"] == 400 for e in errors)
    text = " ".join(e["description"] for e in errors)
    for needle in ("work_order_no", "attribute[village]", "description", "位置", "phone"):
        assert needle in text
    # XML: <errors><error><code>400</code>…
    root = xml(post_order(client, made.key, fmt="xml", lat="91", long="0"))
    assert root.tag == "errors" and root.findtext("error/code") == "400" and "lat" in root.findtext("error/description")
    # Unknown service: 404; no service code: 400.
    assert post_order(client, made.key, service_code="999999").status_code == 404
    assert post_order(client, made.key, service_code="").status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(WorkOrder)) == 0


def test_keys_scopes_and_revocation(app, client):
    from webapp.api.keys import revoke_client

    reader = make_key(name="只读系统", scopes=("read",))
    writer = make_key(name="只写系统", scopes=("create",))
    resp = post_order(client, reader.key)
    assert resp.status_code == 403 and "create" in body(resp)[0]["description"]
    resp = post_order(client, writer.key)
    assert resp.status_code == 201
    sid = body(resp)[0]["service_request_id"]
    assert get(client, f"/requests/{sid}.json", writer.key).status_code == 403
    # No key, a wrong key: 403 in the spec's words (and audited as failures).
    assert get(client, "/services.json").status_code == 403
    assert body(get(client, "/services.json", "hy_not-a-key"))[0]["code"] == 403
    assert audits("api.call")[-1].result == "failure"
    # The spec's api_key parameter works as the header does.
    assert client.get(f"{BASE}/services.json?api_key={reader.key}").status_code == 200
    revoke_client(reader.client, None)
    db.session.commit()
    assert get(client, "/services.json", reader.key).status_code == 403
    assert client.get(f"{BASE}/services.json?api_key={reader.key}").status_code == 403


def test_get_requests_shows_status_notes_and_reply_but_no_personal_data(app, client):
    made = make_key()
    sid = body(post_order(client, made.key))[0]["service_request_id"]
    [one] = body(get(client, f"/requests/{sid}.json", made.key))
    assert one["status"] == "open" and one["status_notes"] == "待签收"
    assert one["agency_responsible"] == "区12345平台大走访专席"
    assert one["work_order_no"] == "GD20261207001" and one["reply"] is None
    assert one["requested_datetime"].endswith("+08:00") and one["expected_datetime"]
    raw = get(client, f"/requests/{sid}.xml", made.key).get_data(as_text=True)
    for secret in ("13912345678", "1391", "5678", "王秀兰"):
        assert secret not in raw
        assert secret not in get(client, "/requests.json", made.key).get_data(as_text=True)
    # The problem ends with a reply: closed, the reply flows back.
    problem = db.session.get(Problem, int(sid))
    _not_accept_and_reply(problem)
    [one] = body(get(client, f"/requests/{sid}.json", made.key))
    assert one["status"] == "closed" and one["status_notes"] == "不予受理：不属于走访帮扶受理范围"
    assert one["reply"] == "已电话说明不予受理的原因。" and one["reply_datetime"]
    root = xml(get(client, f"/requests/{sid}.xml", made.key))
    assert root.findtext("request/status") == "closed" and root.findtext("request/reply") == one["reply"]


def _not_accept_and_reply(problem):
    """The desk returns the problem; the office does not accept it, and replies to the resident."""
    from datetime import timedelta

    from webapp.cases import operations as ops
    from webapp.core import clock
    from webapp.handling import operations as hops
    from webapp.handling.models import ReplyMethod, Verdict

    ops.return_problem(problem, f.user("desk"), reason="不是专席办理范围")
    ops.not_accept(problem, f.user("office"), reason="不属于走访帮扶受理范围")
    hops.reply(problem, f.user("office"), method=ReplyMethod.phone, replied_at=clock.now() - timedelta(minutes=5),
               content="已电话说明不予受理的原因。", verdict=Verdict.basically)
    db.session.commit()


def test_list_filters_of_the_spec(app, client):
    made = make_key()
    a = body(post_order(client, made.key, work_order_no="A1"))[0]["service_request_id"]
    b = body(post_order(client, made.key, work_order_no="B2", service_code=str(f.category("教育").id)))[0][
        "service_request_id"]
    other = make_key(name="别的系统")
    body(post_order(client, other.key, work_order_no="C3"))
    ids = lambda resp: sorted(r["service_request_id"] for r in body(resp))  # noqa: E731
    assert ids(get(client, "/requests.json", made.key)) == sorted([a, b])  # only the caller's own
    assert ids(get(client, f"/requests.json?service_code={f.category('教育').id}", made.key)) == [b]
    assert ids(get(client, "/requests.json?status=open", made.key)) == sorted([a, b])
    assert ids(get(client, "/requests.json?status=closed", made.key)) == []
    assert ids(get(client, f"/requests.json?service_request_id={a}&status=closed", made.key)) == [a]
    assert ids(get(client, "/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z",
                   made.key)) == []
    # Bad filters: 400 with the reason.
    for query in ("status=pending", "start_date=yesterday", "start_date=2026-01-01T00:00:00",
                  "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "service_request_id=a,b"):
        resp = get(client, f"/requests.json?{query}", made.key)
        assert resp.status_code == 400, query
        assert body(resp)[0]["code"] == 400
    # A problem of another caller, or not from the API at all, is not found.
    assert get(client, f"/requests/{int(a) + 1000}.json", made.key).status_code == 404
    plain = f.transferred_to_desk()
    assert get(client, f"/requests/{plain.id}.json", made.key).status_code == 404


def test_tokens_are_the_callers_work_order_numbers(app, client):
    made = make_key()
    sid = body(post_order(client, made.key, work_order_no="GD-T-9"))[0]["service_request_id"]
    assert body(get(client, "/tokens/GD-T-9.json", made.key)) == [{"service_request_id": sid, "token": "GD-T-9"}]
    root = xml(get(client, "/tokens/GD-T-9.xml", made.key))
    assert root.findtext("request/service_request_id") == sid and root.findtext("request/token") == "GD-T-9"
    other = make_key(name="别的系统")
    assert get(client, "/tokens/GD-T-9.json", other.key).status_code == 404


def test_unknown_paths_and_methods_answer_in_the_spec_format(app, client):
    resp = client.get(f"{BASE}/nothing.xml")
    assert resp.status_code == 404 and xml(resp).findtext("error/code") == "404"
    resp = client.put(f"{BASE}/requests.json")
    assert resp.status_code == 405 and body(resp)[0]["code"] == 405 and "POST" in resp.headers["Allow"]
    assert client.get(f"{BASE}/services.csv").status_code == 404
    # Elsewhere the app's own pages stay.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.content_type.startswith("text/html")


def test_the_rate_limit_answers_429_in_the_spec_format(app, client):
    app.config["API_RATE_LIMIT"] = 3
    made = make_key()
    with mid_window():
        codes = [get(client, "/services.json", made.key).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        resp = get(client, "/services.xml", made.key)
        assert resp.status_code == 429 and xml(resp).findtext("error/code") == "429"
        assert resp.headers["Retry-After"] == "30"  # the rest of the minute
        # Another key has its own window.
        assert get(client, "/services.json", make_key(name="另一系统").key).status_code == 200


def test_the_openapi_document_names_every_endpoint(app, client):
    doc = body(client.get(f"{BASE}/openapi.json"))
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("open311.") and "<any" in rule.rule:
            path = rule.rule.removeprefix(BASE).replace("<any(json,xml):fmt>", "{format}")
            path = path.replace("<code>", "{service_code}").replace("<int:request_id>", "{service_request_id}")
            assert path.replace("<token>", "{token}") in paths, rule.rule
    assert "post" in doc["paths"]["/requests.{format}"]


def test_a_fault_and_an_oversized_request_answer_in_the_spec_format(app, client, monkeypatch):
    made = make_key()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("the database went away")

    monkeypatch.setattr("webapp.api.queries.services", broken)
    resp = get(client, "/services.xml", made.key)
    assert resp.status_code == 500 and xml(resp).findtext("error/code") == "500"
    assert "the database went away" not in resp.get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = post_order(client, made.key, description="长" * 2000)
    assert resp.status_code == 413 and body(resp)[0]["code"] == 413


def test_the_openapi_call_is_audited_too(app, client):
    assert client.get(f"{BASE}/openapi.json").status_code == 200
    [call] = audits("api.call")[-1:]
    assert "/openapi.json" in call.detail


def test_listing_takes_as_many_queries_for_many_requests_as_for_few(app, client):
    from sqlalchemy import event

    # One rate window for the whole test: opening a new one costs statements of its own.
    app.config["API_RATE_WINDOW_SECONDS"] = 10**9
    made = make_key()

    def statements() -> int:
        count = [0]

        def counted(*_args):
            count[0] += 1

        event.listen(db.engine, "before_cursor_execute", counted)
        try:
            assert get(client, "/requests.json", made.key).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", counted)
        return count[0]

    for n in range(2):
        post_order(client, made.key, work_order_no=f"FEW{n}")
    few = statements()
    for n in range(8):
        post_order(client, made.key, work_order_no=f"MANY{n}")
    _not_accept_and_reply(db.session.get(Problem, int(body(get(client, "/tokens/MANY0.json", made.key))[0][
        "service_request_id"])))
    assert len(body(get(client, "/requests.json", made.key))) == 10
    many = statements()
    assert many == few


def test_control_characters_are_dropped_so_the_xml_stays_readable(app, client):
    made = make_key()
    sid = body(post_order(client, made.key, description="路灯\x00坏了\x0b一个月\n夜里看不见"))[0]["service_request_id"]
    root = xml(get(client, f"/requests/{sid}.xml", made.key))
    assert root.findtext("request/description") == "路灯坏了一个月\n夜里看不见"
