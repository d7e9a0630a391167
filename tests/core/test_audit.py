"""The audit chain: appended in the change's transaction, verifiable, tamper-evident."""

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from webapp.core import audit
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db


def test_events_chain_and_verify(app):
    for i in range(5):
        audit.record("test.event", object_type="thing", object_id=i, detail={"n": i})
    db.session.commit()
    report = verify_chain()
    assert report.ok and report.checked == 6  # plus demo.loaded
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))


def test_rolled_back_change_leaves_no_event(app):
    audit.record("test.rolled_back")
    db.session.rollback()
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "test.rolled_back")) is None
    assert verify_chain().ok


def test_rows_cannot_be_changed_or_deleted(app):
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.text("UPDATE audit_events SET event = 'forged'"))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.text("DELETE FROM audit_events"))
        db.session.flush()
    db.session.rollback()


def _drop_guard():
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))


def test_tampering_is_detected(app, runner_factory):
    for i in range(3):
        audit.record("test.event", detail={"n": i})
    db.session.commit()
    # Someone with database access bypasses the guard and edits a row.
    _drop_guard()
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{\"n\": 99}' WHERE seq = 3"))
    db.session.commit()
    report = verify_chain()
    assert not report.ok and "hash" in report.problem
    result = runner_factory().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN" in result.output


def test_deleting_the_last_rows_is_detected(app):
    for i in range(3):
        audit.record("test.event", detail={"n": i})
    db.session.commit()
    _drop_guard()
    # Remove the newest event and point the head at the one before, as a careful forger would.
    db.session.execute(sa.text(
        "UPDATE audit_head SET last_event_id = (SELECT id FROM audit_events WHERE seq = "
        "(SELECT MAX(seq) - 1 FROM audit_events))"))
    db.session.execute(sa.text("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)"))
    db.session.commit()
    assert not verify_chain().ok


def test_cli_verify_passes_on_an_intact_chain(app, runner_factory):
    result = runner_factory().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact" in result.output
