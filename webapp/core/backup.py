"""Backup and restore of a whole deployment: the database, the uploads and the audit anchors.

``flask backup create`` writes one archive (``huiyin-backup-<UTC time>.tar.gz``, mode 0600, in a
0700 folder): the database as SQLite's online backup (a consistent copy while the app runs) or
PostgreSQL's ``pg_dump --format=custom``, every stored upload (``UPLOAD_DIR`` or the S3 bucket, :mod:`.storage`), the anchor file, and a
``manifest.json`` with each member's SHA-256, each table's row count and the audit chain's head.

``flask backup restore`` checks every member against the manifest first, then loads the
database (``pg_restore`` for PostgreSQL), the uploads and the anchor file into the configured
places — an empty database and upload store unless ``--force`` — and proves the result: the
same row counts as the manifest, and an audit chain that verifies against the restored anchors
(which needs the same ``AUDIT_HMAC_KEY``, and ``PII_KEYS`` to read the sealed personal data: keep
them with the backups, apart from them).
"""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from . import anchors, audit, clock, storage
from .extensions import db

MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"


class BackupError(Exception):
    """The backup or the restore cannot go on; ``args[0]`` says why."""


@dataclass
class RestoreReport:
    tables: dict[str, int]
    files: int
    chain: audit.ChainReport
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatched and self.chain.ok


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def row_counts() -> dict[str, int]:
    """Rows in every table of the schema (and the migration marker)."""
    existing = set(sa.inspect(db.engine).get_table_names())
    tables = [t for t in db.metadata.sorted_tables if t.name in existing]
    if "alembic_version" in existing:
        tables.append(sa.table("alembic_version"))
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables}


def _pg_target(url: sa.engine.URL) -> tuple[str, dict]:
    """A libpq URL without the password (which goes in PGPASSWORD, not on the command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip()[:2000]}")


def _dump_database(work: Path) -> str:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        target = work / SQLITE_MEMBER
        raw = db.engine.raw_connection()
        try:
            dst = sqlite3.connect(target)
            try:
                raw.driver_connection.backup(dst)
            finally:
                dst.close()
        finally:
            raw.close()
        return SQLITE_MEMBER
    if url.get_backend_name() == "postgresql":
        conninfo, env = _pg_target(url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(work / PG_MEMBER),
              conninfo], env)
        return PG_MEMBER
    raise BackupError(f"no backup for {url.get_backend_name()}")


def create(dest_dir: str | Path) -> Path:
    """Write a backup archive into ``dest_dir``; returns its path."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    db.session.commit()  # no transaction of ours left open while the database is copied
    stamp = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    archive = dest / f"huiyin-backup-{stamp}.tar.gz"
    head = db.session.get(audit.AuditHead, 1)
    with tempfile.TemporaryDirectory(prefix="huiyin-backup-") as tmp:
        work = Path(tmp)
        members: dict[str, Path] = {}
        name = _dump_database(work)
        members[name] = work / name
        # Every stored file, from whichever store holds them (copied here first, so that an
        # object store's files are in the archive just like a local folder's).
        store = storage.current()
        for stored in store.names():
            path = work / "uploads" / stored
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(store.get(stored))
            members["uploads/" + stored] = path
        anchor_file = anchors.anchor_path()
        if anchor_file.exists():
            members["audit-anchors.log"] = anchor_file
        manifest = {
            "created_at": clock.now().isoformat(),
            "dialect": db.engine.url.get_backend_name(),
            "tables": row_counts(),
            "audit_head": {"seq": head.count, "hash": head.last_hash} if head else None,
            "files": {n: _sha256(p) for n, p in members.items()},
        }
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for n, p in members.items():
                tar.add(p, arcname=n, recursive=False)
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(clock.now().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
    return archive


def _extract(archive: Path, work: Path) -> dict:
    with tarfile.open(archive, mode="r:gz") as tar:
        tar.extractall(work, filter="data")
    manifest_path = work / MANIFEST
    if not manifest_path.exists():
        raise BackupError("not a Huiyin backup: manifest.json missing")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for name, digest in manifest["files"].items():
        path = work / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name}: missing or not the file that was backed up (SHA-256 differs)")
    return manifest


def _load_sqlite(source: Path, force: bool) -> None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise BackupError("this backup holds a SQLite database; the app is configured for another")
    if not force and sa.inspect(db.engine).get_table_names():
        raise BackupError("the database is not empty (use --force to replace it)")
    db.session.remove()
    db.engine.dispose()
    src = sqlite3.connect(source)
    dst = sqlite3.connect(url.database)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(url.database, 0o600)


def _load_pg(source: Path, force: bool) -> None:
    url = db.engine.url
    if url.get_backend_name() != "postgresql":
        raise BackupError("this backup holds a PostgreSQL dump; the app is configured for another")
    if not force and sa.inspect(db.engine).get_table_names():
        raise BackupError("the database is not empty (use --force to replace it)")
    db.session.remove()
    db.engine.dispose()
    conninfo, env = _pg_target(url)
    args = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            "--dbname", conninfo]
    if force:
        args += ["--clean", "--if-exists"]
    _run([*args, str(source)], env)


def restore(archive: str | Path, *, force: bool = False) -> RestoreReport:
    """Check and load a backup archive, then prove it (row counts, audit chain with anchors)."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"no such file: {archive}")
    store = storage.current()
    if not force and next(iter(store.names()), None) is not None:
        raise BackupError(f"the upload store ({store.kind}) is not empty (use --force to replace it)")
    with tempfile.TemporaryDirectory(prefix="huiyin-restore-") as tmp:
        work = Path(tmp)
        manifest = _extract(archive, work)
        if (work / SQLITE_MEMBER).exists():
            _load_sqlite(work / SQLITE_MEMBER, force)
        else:
            _load_pg(work / PG_MEMBER, force)
        if force:
            for stored in list(store.names()):
                store.delete(stored)
        files = 0
        for name in manifest["files"]:
            if name.startswith("uploads/"):
                with open(work / name, "rb") as fh:
                    store.put(name.removeprefix("uploads/"), fh, overwrite=True)
                files += 1
        if "audit-anchors.log" in manifest["files"]:
            anchor_file = anchors.anchor_path()
            anchor_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(work / "audit-anchors.log", anchor_file)
            os.chmod(anchor_file, 0o600)
    counts = row_counts()
    mismatched = {
        t: (n, counts.get(t, -1)) for t, n in manifest["tables"].items() if counts.get(t, -1) != n
    }
    chain = audit.verify_chain(anchors.read_anchors())
    return RestoreReport(counts, files, chain, mismatched)
