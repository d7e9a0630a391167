"""The audit chain is keyed and anchored: someone who can write to the database cannot edit,
delete (the tail included), insert or recompute a row unseen, and ``flask audit verify`` says
which row."""

import json
import os
import stat

import sqlalchemy as sa
from sqlalchemy import select

from webapp import schedule
from webapp.core import anchors, audit
from webapp.core.audit import AuditEvent, AuditHead, verify_chain
from webapp.core.extensions import db


def drop_guard():
    """What an attacker with database rights does first: switch off the append-only triggers."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))


def events(n=5):
    for i in range(n):
        audit.record("test.event", object_type="thing", object_id=i, detail={"n": i})
    db.session.commit()
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def codes(report):
    return [(f.code, f.seq) for f in report.findings]


def full_check():
    db.session.commit()
    return verify_chain(anchors.read_anchors())


def test_rows_are_hmac_keyed_with_a_key_outside_the_database(app):
    rows = events(2)
    ev = rows[-1]
    assert ev.alg == "hmac-sha256"
    assert ev.hash != audit._unkeyed(ev)  # not the plain digest anyone could compute
    app.config["AUDIT_HMAC_KEY"] = "another-key"
    report = verify_chain()
    assert not report.ok and {f.code for f in report.findings} >= {"edited", "head_seal"}


def test_an_edited_row_is_named(app, runner_factory):
    rows = events()
    drop_guard()
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{\"n\": 99}' WHERE seq = :s"), {"s": rows[3].seq})
    report = full_check()
    assert codes(report) == [("edited", rows[3].seq)]
    result = runner_factory().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row edited (content does not match its keyed hash) (seq {rows[3].seq}, event {rows[3].id})" in result.output


def test_a_row_recomputed_without_the_key_is_named(app):
    rows = events()
    target = rows[2]
    drop_guard()
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{\"n\": 42}' WHERE id = :i"), {"i": target.id})
    db.session.commit()
    db.session.expire_all()
    forged = db.session.get(AuditEvent, target.id)
    # The forger recomputes the plain SHA-256 of the edited row, and of the next row's link.
    db.session.execute(sa.text("UPDATE audit_events SET hash = :h WHERE id = :i"),
                       {"h": audit._unkeyed(forged), "i": target.id})
    report = full_check()
    assert ("recomputed", target.seq) in codes(report)


def test_a_deleted_row_is_named(app):
    rows = events()
    drop_guard()
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": rows[2].id})
    report = full_check()
    assert codes(report) == [("gap", rows[3].seq), ("link", rows[3].seq)]


def test_a_deleted_tail_is_found_by_the_head_seal(app):
    rows = events()
    drop_guard()
    last, before = rows[-1], rows[-2]
    db.session.execute(sa.text("UPDATE audit_head SET last_event_id = :i, last_hash = :h, count = :c"),
                       {"i": before.id, "h": before.hash, "c": before.seq})
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": last.id})
    report = full_check()
    assert codes(report) == [("head_seal", None)]


def test_a_deleted_tail_with_an_old_head_restored_is_found_by_the_anchor(app, runner_factory):
    rows = events(3)
    old_head = db.session.get(AuditHead, 1)
    saved = {"i": old_head.last_event_id, "h": old_head.last_hash, "c": old_head.count, "s": old_head.seal}
    first_new = rows[-1].seq + 1
    assert runner_factory().invoke(args=["audit", "anchor"]).exit_code == 0  # anchors seq first_new - 1
    events(3)
    assert runner_factory().invoke(args=["audit", "anchor"]).exit_code == 0
    drop_guard()
    # The forger cuts every row after the old head and restores the head saved back then: the
    # chain and its seal are exactly what they were, so only the anchor outside shows the cut.
    db.session.execute(sa.text("UPDATE audit_head SET last_event_id = :i, last_hash = :h, count = :c, seal = :s"),
                       saved)
    db.session.execute(sa.text("DELETE FROM audit_events WHERE seq >= :s"), {"s": first_new})
    db.session.commit()
    assert verify_chain().ok  # without the anchors nothing shows
    report = full_check()
    assert [f.code for f in report.findings] == ["anchor_missing"]
    result = runner_factory().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "anchored row missing" in result.output


def test_an_inserted_row_is_named(app):
    rows = events(3)
    drop_guard()
    last = rows[-1]
    # A forged row slipped in after the last one, linked correctly and with a guessed hash.
    db.session.execute(sa.text(
        "INSERT INTO audit_events (seq, created_at, event, result, prev_hash, hash, alg) "
        "VALUES (:seq, :at, 'test.forged', 'success', :prev, :hash, 'hmac-sha256')"),
        {"seq": last.seq + 1, "at": last.created_at, "prev": last.hash, "hash": "f" * 64})
    report = full_check()
    assert ("edited", last.seq + 1) in codes(report) and ("tail", None) in codes(report)


def test_rewriting_the_whole_chain_unkeyed_is_found_by_the_anchor(app, runner_factory):
    events(3)
    assert runner_factory().invoke(args=["audit", "anchor"]).exit_code == 0
    drop_guard()
    db.session.commit()
    # Downgrade attack: every row recomputed as an unkeyed row, the head unsealed.
    prev = audit.GENESIS
    for ev in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all():
        ev_id = ev.id
        ev.prev_hash = prev
        ev.alg = "sha256"
        digest = audit._unkeyed(ev)
        db.session.expunge(ev)
        db.session.execute(sa.text("UPDATE audit_events SET prev_hash = :p, alg = 'sha256', hash = :h WHERE id = :i"),
                           {"p": prev, "h": digest, "i": ev_id})
        prev = digest
    db.session.execute(sa.text("UPDATE audit_head SET last_hash = :h, seal = NULL"), {"h": prev})
    report = full_check()
    assert "anchor_changed" in [f.code for f in report.findings]


def test_rows_from_before_keying_verify_as_the_chain_beginning(app):
    """An upgraded database: its old rows (alg sha256, unkeyed) stay valid, sealed by the first
    keyed row; editing one of them still shows."""
    drop_guard()
    db.session.execute(sa.text("DELETE FROM audit_head"))
    db.session.execute(sa.text("DELETE FROM audit_events"))
    db.session.commit()
    prev = audit.GENESIS
    for seq in (1, 2, 3):
        ev = AuditEvent(seq=seq, created_at=audit.clock.now(), event="legacy.event", result="success",
                        prev_hash=prev, alg="sha256", detail=json.dumps({"n": seq}))
        ev.hash = audit._unkeyed(ev)
        db.session.add(ev)
        prev = ev.hash
    db.session.flush()
    db.session.add(AuditHead(id=1, last_event_id=ev.id, last_hash=prev, count=3))
    db.session.commit()
    report = verify_chain()
    assert report.ok and report.unkeyed == 3
    audit.record("test.after_upgrade")
    db.session.commit()
    report = verify_chain()
    assert report.ok and report.unkeyed == 3 and report.checked == 4
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{\"n\": 7}' WHERE seq = 2"))
    report = full_check()
    assert ("edited", 2) in codes(report)


def test_anchor_file_is_append_only_0600_and_shown_to_the_audit_admin(app, runner_factory, login_as):
    events(2)
    result = runner_factory().invoke(args=["audit", "anchor"])
    assert result.exit_code == 0
    path = anchors.anchor_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    head = db.session.get(AuditHead, 1)
    db.session.refresh(head)
    [line] = path.read_text().splitlines()
    data = json.loads(line)
    # The anchor names the head as it was before its own audit entry was appended.
    assert data["seq"] == head.count - 1 and data["source"] == "cli"
    anchored = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == data["seq"]))
    assert data["hash"] == anchored.hash and data["event_id"] == anchored.id
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "audit.anchored")) is not None
    page = login_as("auditor").get("/audit/verify").get_data(as_text=True)
    short = " ".join(data["hash"][i:i + 4] for i in range(0, 16, 4))
    assert short in page and "最近的锚点" in page
    # A forged line is told apart.
    with open(path, "a") as fh:
        fh.write(json.dumps({**data, "seq": data["seq"] + 1}) + "\n")
    assert "anchor_forged" in [f.code for f in full_check().findings]


def test_the_daily_anchor_runs_on_the_schedule(app):
    schedule.daily_audit_anchor.enqueue()  # through the queue (immediate in the tests)
    [a] = anchors.read_anchors()
    assert a.source == "schedule" and a.valid
    schedule.daily_audit_anchor.enqueue()  # once per local day
    assert len(anchors.read_anchors()) == 1
    assert full_check().ok


def test_a_keyed_row_is_keyed_whatever_its_alg_says(app):
    """A schema downgrade and upgrade resets ``alg`` to 'sha256' on every row: the HMAC decides."""
    events(3)
    drop_guard()
    db.session.execute(sa.text("UPDATE audit_events SET alg = 'sha256'"))
    report = full_check()
    assert report.ok and report.unkeyed == 0
