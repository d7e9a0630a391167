"""Status changes pushed to the caller: signed, received by a real local HTTP server, retried."""

import hashlib
import hmac
import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from tests.api.factories import body, make_key, post_order
from tests.cases import factories as f
from tests.queue import run_scheduled
from webapp.cases import operations as ops
from webapp.cases.models import Problem
from webapp.core import tasks
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db


@contextmanager
def receiver(port: int = 0):
    """An HTTP server in a thread that keeps what it is sent and answers 204."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            length = int(self.headers["Content-Length"])
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/huiyin", received
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verify(secret: str, headers: dict, raw: bytes) -> bool:
    """What the 12345 platform does with a delivery: recompute the signature, check the age."""
    timestamp = headers["X-Huiyin-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Huiyin-Signature"]) and abs(time.time() - int(timestamp)) < 300


def audits(event):
    db.session.commit()  # a fresh snapshot: see what the task committed
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)).all()


def test_each_status_change_is_pushed_signed_to_the_caller(app, client):
    with receiver() as (url, received):
        made = make_key(webhook_url=url)
        sid = body(post_order(client, made.key))[0]["service_request_id"]
        assert received == []  # the answer to the POST says it all; no echo
        problem = db.session.get(Problem, int(sid))
        ops.sign_for(problem, f.user("desk"))
        db.session.commit()
        ops.append_note(problem, f.user("desk"), "note", "内部备注")  # no status change: nothing sent
        db.session.commit()
        assert len(received) == 1
        headers, raw = received[0]
        assert headers["Content-Type"].startswith("application/json")
        assert verify(made.secret, headers, raw)
        assert not verify("another-secret", headers, raw)
        assert not verify(made.secret, headers, raw + b" ")  # the body is covered
        event = json.loads(raw)
        assert event["event"] == "sign_for" and event["from_status"] == "assigned"
        request = event["service_request"]
        assert request["service_request_id"] == sid and request["status"] == "open"
        assert request["status_notes"] == "已签收" and request["work_order_no"] == "GD20261207001"
        assert "13912345678" not in raw.decode() and "王秀兰" not in raw.decode()
    [delivered] = audits("api.webhook_delivered")
    assert json.loads(delivered.detail)["event"] == "sign_for"


def test_a_delivery_is_retried_after_the_receiver_was_down(app, client):
    port = free_port()
    made = make_key(webhook_url=f"http://127.0.0.1:{port}/hooks/huiyin")
    sid = body(post_order(client, made.key))[0]["service_request_id"]
    problem = db.session.get(Problem, int(sid))
    ops.sign_for(problem, f.user("desk"))
    db.session.commit()  # the first attempt runs now (immediate queue) and finds nobody listening
    [failed] = audits("api.webhook_failed")
    assert failed.result == "failure" and json.loads(failed.detail)["retries_left"] == 6
    q = tasks.queue(app)
    [retry] = q.huey.scheduled()
    assert retry.retries == 5
    with receiver(port) as (_url, received):
        assert run_scheduled(q) == 1
        assert len(received) == 1
        headers, raw = received[0]
        assert verify(made.secret, headers, raw)
        assert json.loads(raw)["event"] == "sign_for"
    assert len(audits("api.webhook_delivered")) == 1
    assert q.huey.scheduled() == []


def test_no_webhook_for_a_revoked_key_or_a_problem_from_elsewhere(app, client):
    from webapp.api.keys import revoke_client

    with receiver() as (url, received):
        made = make_key(webhook_url=url)
        sid = body(post_order(client, made.key))[0]["service_request_id"]
        plain = f.transferred_to_desk()
        ops.sign_for(plain, f.user("desk"))
        db.session.commit()
        assert received == []
        revoke_client(made.client, None)
        db.session.commit()
        ops.sign_for(db.session.get(Problem, int(sid)), f.user("desk"))
        db.session.commit()
        assert received == []
