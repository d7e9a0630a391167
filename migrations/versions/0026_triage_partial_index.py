"""a group lead's 待研判 reads a partial index of the problems awaiting triage, per work group and
deadline (``ix_problems_triage_group_deadline``), instead of walking the group's deadline index
past the problems of every other status

Revision ID: 0026
Revises: 0023
Create Date: 2026-12-07 12:50:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0023'
branch_labels = None
depends_on = None

TRIAGE = sa.text("status IN ('registered', 'returned')")


def upgrade():
    op.create_index('ix_problems_triage_group_deadline', 'problems', ['work_group_id', 'deadline', 'id'],
                    unique=False, sqlite_where=TRIAGE, postgresql_where=TRIAGE)


def downgrade():
    op.drop_index('ix_problems_triage_group_deadline', table_name='problems')
