"""the dashboards' 已超期: the open problems' deadlines with their dashboard cell (work group,
territory, lead unit, category, source) after status, so the day's overdue problems are counted from the
index alone (``ix_problems_open_deadline_cells``)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 16:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('accepted', 'assigned', 'cannot_solve_review', 'in_progress', 'plan_review', "
               "'signoff_review')")
COLUMNS = ['status', 'deadline', 'work_group_id', 'town_id', 'lead_unit_id', 'category_id', 'source']


def upgrade():
    op.create_index('ix_problems_open_deadline_cells', 'problems', COLUMNS, unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade():
    op.drop_index('ix_problems_open_deadline_cells', table_name='problems')
