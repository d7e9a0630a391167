"""personal data encrypted at rest: residents' phone and ID numbers, household and enterprise
phones, TOTP secrets sealed with AES-GCM (core.pii); keyed blind indexes for exact search

The columns widen to hold the sealed values, the index columns are added, then every existing
value is sealed in batches (keyset by id, one UPDATE per batch); downgrade opens them again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 03:50:00.000000

"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

from webapp.core import pii

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BATCH = 2000
# (table, value column, purpose, index column, old length, old nullable)
COLUMNS = [
    ("problems", "resident_phone", "resident_phone", "resident_phone_index", 20, False),
    ("problems", "resident_id_number", "resident_id_number", "resident_id_index", 18, True),
    ("households", "phone", "phone", "phone_index", 32, False),
    ("enterprises", "phone", "phone", "phone_index", 32, False),
    ("users", "totp_secret", "totp_secret", None, 64, True),
]


def _rewrite(table: str, column: str, index: str | None, change) -> None:
    """Rewrite every non-empty value of ``table.column`` with ``change(value) -> (value, index)``."""
    conn = op.get_bind()
    t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.String),
                 *([sa.column(index, sa.String)] if index else []))
    values = {column: sa.bindparam("v")} | ({index: sa.bindparam("ix")} if index else {})
    stmt = sa.update(t).where(t.c.id == sa.bindparam("b_id")).values(values)
    last = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c[column]).where(t.c.id > last, t.c[column].is_not(None),
                                                                  t.c[column] != "")
                            .order_by(t.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for row_id, value in rows:
            new, ix = change(value)
            params.append({"b_id": row_id, "v": new} | ({"ix": ix} if index else {}))
        conn.execute(stmt, params)
        last = rows[-1][0]


@contextmanager
def _foreign_keys_off():
    """SQLite rebuilds a table to change a column's type, and its foreign-key checks would refuse
    the DROP of a table others point at (users, problems). As SQLite's own procedure for such
    changes says: foreign keys off (possible only between transactions), rebuild, check, on."""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("COMMIT")
    conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    yield
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    conn.exec_driver_sql("COMMIT")
    conn.exec_driver_sql("PRAGMA foreign_keys = ON")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    with _foreign_keys_off():
        for table, column, _purpose, index, _length, nullable in COLUMNS:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.alter_column(column, existing_type=sa.String(length=_length), type_=sa.String(length=255),
                                      existing_nullable=nullable)
                if index:
                    batch_op.add_column(sa.Column(index, sa.String(length=32), nullable=True))
                    batch_op.create_index(batch_op.f(f"ix_{table}_{index}"), [index], unique=False)
    ring = pii.keyring()
    for table, column, purpose, index, _length, _nullable in COLUMNS:
        kind = pii.index_kind(purpose)

        def seal(value, purpose=purpose, kind=kind):
            if pii.key_id(value):  # already sealed (a migration resumed after a failure)
                return value, ring.index(ring.decrypt(value, purpose), kind)
            return ring.encrypt(value, purpose), ring.index(value, kind)

        _rewrite(table, column, index, seal)


def downgrade():
    ring = pii.keyring()
    for table, column, purpose, _index, _length, _nullable in COLUMNS:
        def unseal(value, purpose=purpose):
            return (ring.decrypt(value, purpose) if pii.key_id(value) else value), None

        _rewrite(table, column, None, unseal)
    with _foreign_keys_off():
        for table, column, _purpose, index, length, nullable in reversed(COLUMNS):
            with op.batch_alter_table(table, schema=None) as batch_op:
                if index:
                    batch_op.drop_index(batch_op.f(f"ix_{table}_{index}"))
                    batch_op.drop_column(index)
                batch_op.alter_column(column, existing_type=sa.String(length=255), type_=sa.String(length=length),
                                      existing_nullable=nullable)
