"""Several people act on ONE problem at the same instant, through the real pages.

Each thread is its own browser (its own test client, logged in as a different eligible user),
and each request runs in its own app context with its own database connection — the way
gunicorn workers do. A barrier releases the posts together. On SQLite writing requests queue on
``BEGIN IMMEDIATE``; on PostgreSQL the problem row is locked (``SELECT … FOR UPDATE``). Either
way exactly one wins; the others are told, in Chinese, that the problem has moved on (409); the
timeline, the closure, the reply and the audit chain record the act once.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.conftest import DEMO_PASSWORD
from tests.handling import factories as hf
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.cases.models import Problem, ProblemEvent
from webapp.cases.workflow import Status
from webapp.core import clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db
from webapp.handling import operations as handling
from webapp.handling.models import Closure, ClosureStatus, Reply

MOVED_ON = ("不能执行", "已被他人处理或修改")


def account(username: str, unit: str, role: Role):
    """Another eligible person, able to log in with the demo password."""
    u = f.make_user(username, unit, role)
    u.password_hash = hash_password(DEMO_PASSWORD)
    u.must_change_password = False
    db.session.commit()
    return username


def race(browsers, url: str, data_of) -> list:
    """Everyone has the page open (same version); then all post at once. Returns the responses."""
    for b in browsers:
        assert b.get(url).status_code == 200
    db.session.commit()  # the test holds no transaction while the threads write
    barrier = threading.Barrier(len(browsers))
    results: list = [None] * len(browsers)

    def run(i, b):
        try:
            barrier.wait(timeout=30)
            results[i] = b.post(url, data_of(i))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(browsers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request hung"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    db.session.rollback()  # a fresh snapshot: see what the threads committed
    return results


def one_winner(responses, problem_id: int) -> int:
    codes = sorted(r.status_code for r in responses)
    assert codes == [302] + [409] * (len(responses) - 1), codes
    winner = next(i for i, r in enumerate(responses) if r.status_code == 302)
    assert responses[winner].headers["Location"].endswith(f"/cases/{problem_id}")
    for r in responses:
        if r.status_code == 409:
            body = r.get_data(as_text=True)
            assert any(m in body for m in MOVED_ON), body[:2000]
    return winner


def widen(monkeypatch, name: str) -> None:
    """The operation holds its transaction open a little longer: the others arrive meanwhile."""
    real = getattr(handling, name)

    def slow(*args, **kwargs):
        out = real(*args, **kwargs)
        time.sleep(0.3)
        return out

    monkeypatch.setattr(handling, name, slow)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audited(problem_id: int, action: str) -> int:
    return count(AuditEvent, AuditEvent.event == f"problem.{action}", AuditEvent.object_id == str(problem_id))


def events(problem_id: int, action: str) -> list[ProblemEvent]:
    return db.session.scalars(select(ProblemEvent).where(
        ProblemEvent.problem_id == problem_id, ProblemEvent.action == action)).all()


def test_simultaneous_verifications_verify_once(app, login_as, monkeypatch):
    p = hf.pending_verification()
    widen(monkeypatch, "verify")
    pid = p.id
    users = ["grouplead", account("gl-race", "潘安湖街道工作组", Role.group_lead),
             "office", account("office-race", "区活动办", Role.office)]
    browsers = [login_as(u) for u in users]
    version = p.version
    responses = race(browsers, f"/cases/{pid}/verification",
                     lambda i: {"version": version, "action": "verify", "note": f"核销意见{i}"})
    winner = one_winner(responses, pid)
    p = db.session.get(Problem, pid)
    assert p.status == Status.signed_off and p.reply_due is not None
    verified = db.session.scalars(select(Closure).where(Closure.problem_id == pid,
                                                        Closure.status == ClosureStatus.verified)).all()
    assert len(verified) == 1 and verified[0].verifier_id == f.user(users[winner]).id
    assert verified[0].verifier_note == f"核销意见{winner}"
    assert len(events(pid, "verify")) == 1 and audited(pid, "verify") == 1
    assert verify_chain().ok


def test_simultaneous_signoff_approvals_approve_once(app, login_as, monkeypatch):
    p = hf.signoff_review()
    widen(monkeypatch, "approve_signoff")
    pid = p.id
    users = ["townlead", account("townlead-r2", "潘安湖街道", Role.unit_leader),
             account("townlead-r3", "潘安湖街道", Role.unit_leader)]
    browsers = [login_as(u) for u in users]
    version = p.version
    responses = race(browsers, f"/cases/{pid}/sign-off/review",
                     lambda i: {"version": version, "action": "approve_signoff", "note": f"同意{i}"})
    winner = one_winner(responses, pid)
    p = db.session.get(Problem, pid)
    assert p.status == Status.pending_verification
    closure = db.session.scalar(select(Closure).where(Closure.problem_id == pid))
    assert closure.status == ClosureStatus.verifying and closure.leader_id == f.user(users[winner]).id
    assert count(Closure, Closure.problem_id == pid) == 1
    assert len(events(pid, "approve_signoff")) == 1 and audited(pid, "approve_signoff") == 1
    assert verify_chain().ok


@pytest.mark.parametrize("reopen", [False, True], ids=["satisfied", "reopened"])
def test_simultaneous_replies_record_once(app, login_as, monkeypatch, reopen):
    p = hf.signed_off()
    widen(monkeypatch, "reply")
    pid = p.id
    users = ["cadre", "office", account("office-reply", "区活动办", Role.office)]
    browsers = [login_as(u) for u in users]
    version = p.version
    when = clock.local(clock.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")

    def data(i):
        form = {"version": version, "method": "phone", "replied_at": when, "content": f"已电话告知办理结果{i}",
                "verdict": "unsatisfied" if reopen else "satisfied", "token": f"race-token-{i}"}
        if reopen:
            form |= {"resident_words": "路灯还是不亮", "substantive": "y"}
        return form

    responses = race(browsers, f"/cases/{pid}/reply", data)
    winner = one_winner(responses, pid)
    p = db.session.get(Problem, pid)
    action = "reply_reopen" if reopen else "reply"
    assert p.status == (Status.in_progress if reopen else Status.closed)
    assert p.reopen_count == (1 if reopen else 0) and p.reply_due is None
    replies = db.session.scalars(select(Reply).where(Reply.problem_id == pid)).all()
    assert len(replies) == 1 and replies[0].replied_by_id == f.user(users[winner]).id
    assert replies[0].content == f"已电话告知办理结果{winner}" and replies[0].reopened is reopen
    assert len(events(pid, action)) == 1 and audited(pid, action) == 1
    assert verify_chain().ok
