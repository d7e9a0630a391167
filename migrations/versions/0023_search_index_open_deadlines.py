"""search by number, title or pinyin through an index; open problems' deadlines

Revision ID: 0023
Revises: 0016
Create Date: 2026-12-07 04:00:00

``problems.search_terms`` holds the words a problem is found by (``webapp.cases.search``); the
problems already stored get theirs here. The index over it: an FTS5 table kept by triggers on
SQLite (left out when this SQLite has no FTS5: the search then falls back to LIKE), a GIN index of
``to_tsvector('simple', …)`` on PostgreSQL. ``ix_problems_open_deadline`` indexes the deadlines
of problems being handled only (a partial index), for 已超期 and 即将到期.
"""
from alembic import op
import sqlalchemy as sa

from webapp.cases.search import FTS_TABLE, terms

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0025'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('accepted', 'assigned', 'cannot_solve_review', 'in_progress', 'plan_review', "
               "'signoff_review')")
SQLITE_FTS = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_terms, content='problems', content_rowid='id')",
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON problems BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_terms) VALUES (new.id, new.search_terms); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON problems BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms) VALUES ('delete', old.id, old.search_terms); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF search_terms ON problems BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms) VALUES ('delete', old.id, old.search_terms); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_terms) VALUES (new.id, new.search_terms); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]


def _fill(conn) -> None:
    problems = sa.table('problems', sa.column('id'), sa.column('title'), sa.column('resident_name'),
                        sa.column('household_name'), sa.column('year'), sa.column('seq'),
                        sa.column('search_terms'))
    last = 0
    while True:
        rows = conn.execute(sa.select(problems).where(problems.c.id > last).order_by(problems.c.id)
                            .limit(2000)).all()
        if not rows:
            return
        conn.execute(problems.update().where(problems.c.id == sa.bindparam('pid'))
                     .values(search_terms=sa.bindparam('terms')),
                     [{'pid': r.id, 'terms': terms(r.title, r.resident_name, r.household_name, r.year, r.seq)}
                      for r in rows])
        last = rows[-1].id


def _has_fts5(conn) -> bool:
    try:
        return bool(conn.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar())
    except sa.exc.DBAPIError:
        return False


def upgrade():
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_terms', sa.Text(), nullable=False, server_default=''))
    op.create_index('ix_problems_open_deadline', 'problems', ['deadline', 'id'], unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    conn = op.get_bind()
    _fill(conn)
    if conn.dialect.name == 'sqlite':
        if _has_fts5(conn):
            for statement in SQLITE_FTS:
                conn.exec_driver_sql(statement)
    else:
        conn.exec_driver_sql(
            "CREATE INDEX ix_problems_search ON problems USING gin (to_tsvector('simple', search_terms))")


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        for name in ('ai', 'ad', 'au'):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{name}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_problems_search")
    op.drop_index('ix_problems_open_deadline', table_name='problems')
    if conn.dialect.name == 'sqlite':
        # SQLite drops a plain column in place (3.35+): no rebuild of a table others point at,
        # which its foreign-key checks would refuse once problems have children.
        conn.exec_driver_sql("ALTER TABLE problems DROP COLUMN search_terms")
    else:
        op.drop_column('problems', 'search_terms')
