"""the dashboards' sums kept by the writes: a row of counts per cell (work group, territory,
lead unit, category, source), per half month registered and solved, and what each problem added
(``flask setup`` counts the problems already stored)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stats_cells',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('work_group_id', sa.Integer(), nullable=True),
        sa.Column('town_id', sa.Integer(), nullable=True),
        sa.Column('lead_unit_id', sa.Integer(), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=True),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('solved', sa.Integer(), nullable=False),
        sa.Column('in_progress', sa.Integer(), nullable=False),
        sa.Column('awaiting', sa.Integer(), nullable=False),
        sa.Column('cannot_solve', sa.Integer(), nullable=False),
        sa.Column('other_ended', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.Column('signed', sa.Integer(), nullable=False),
        sa.Column('signed_on_time', sa.Integer(), nullable=False),
        sa.Column('owed', sa.Integer(), nullable=False),
        sa.Column('replied', sa.Integer(), nullable=False),
        sa.Column('reopened', sa.Integer(), nullable=False),
        sa.Column('extended', sa.Integer(), nullable=False),
        sa.Column('reworked', sa.Integer(), nullable=False),
        sa.Column('satisfied', sa.Integer(), nullable=False),
        sa.Column('basically', sa.Integer(), nullable=False),
        sa.Column('unsatisfied', sa.Integer(), nullable=False),
        sa.Column('unreachable', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_stats_cells')),
    )
    op.create_table(
        'stats_periods',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('work_group_id', sa.Integer(), nullable=True),
        sa.Column('start', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_stats_periods')),
    )
    op.create_table(
        'stats_counted',
        sa.Column('problem_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kept', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('problem_id', name=op.f('pk_stats_counted')),
    )


def downgrade():
    op.drop_table('stats_counted')
    op.drop_table('stats_periods')
    op.drop_table('stats_cells')
