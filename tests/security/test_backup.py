"""Backup and restore: an archive restored into a fresh database and upload folder gives the same
row counts, the same files (by hash) and an audit chain that verifies against the anchors."""

import hashlib
import io
import json
import os
import stat
import tarfile
import uuid

import pytest

from tests.conftest import PG_URL, _admin_engine, _pg_url, _test_config, use_s3
from webapp import create_app
from webapp.core import anchors, audit, backup, storage
from webapp.core.extensions import db


@pytest.fixture
def empty_database(tmp_path):
    """A database with nothing in it, to restore into."""
    if PG_URL:
        name = f"huiyin_restore_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield _pg_url(name)
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"


def stored_hashes() -> dict[str, str]:
    store = storage.current()
    return {n: hashlib.sha256(store.get(n)).hexdigest() for n in store.names()}


def test_backup_restores_into_a_fresh_database(app, runner_factory, tmp_path, empty_database, store_backend):
    storage.current().put("2026/03/evidence.jpg", os.urandom(4096))
    storage.current().put("note.pdf", b"%PDF-1.4 demo")
    for i in range(3):
        audit.record("test.event", detail={"n": i})
    db.session.commit()
    assert runner_factory().invoke(args=["audit", "anchor"]).exit_code == 0
    before_counts = backup.row_counts()
    before_files = stored_hashes()
    assert len(before_files) == 2

    result = runner_factory().invoke(args=["backup", "create", "--dir", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [archive] = (tmp_path / "backups").glob("huiyin-backup-*.tar.gz")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "audit-anchors.log", "uploads/note.pdf", "uploads/2026/03/evidence.jpg"} <= names

    fresh_tmp = tmp_path / "fresh"
    fresh = create_app(_test_config(fresh_tmp, empty_database))
    if store_backend == "s3":  # a new, empty bucket
        use_s3(fresh, app.config["S3_ENDPOINT_URL"])
    with fresh.app_context():
        assert db.inspect(db.engine).get_table_names() == []
        result = fresh.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert "audit chain intact" in result.output
        after = backup.row_counts()
        assert {t: n for t, n in after.items() if t != "audit_events"} == \
            {t: n for t, n in before_counts.items() if t != "audit_events"}
        # The restore is itself audited, after the proof: one event more than the backup held.
        assert after["audit_events"] == before_counts["audit_events"] + 1
        assert stored_hashes() == before_files
        report = audit.verify_chain(anchors.read_anchors())
        assert report.ok and report.anchors == 1
        db.session.remove()
        db.engine.dispose()


def test_a_backup_restores_only_into_an_empty_place_and_only_when_intact(app, runner_factory, tmp_path):
    result = runner_factory().invoke(args=["backup", "create", "--dir", str(tmp_path / "b")])
    assert result.exit_code == 0
    [archive] = (tmp_path / "b").glob("*.tar.gz")
    # Into the live database: refused without --force.
    result = runner_factory().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code != 0 and "not empty" in result.output
    # A member changed after the backup: refused before anything is touched.
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(forged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["files"] = {k: "0" * 64 for k in manifest["files"]}
                data = json.dumps(manifest).encode()
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(backup.BackupError, match="SHA-256 differs"):
        backup.restore(forged, force=True)
