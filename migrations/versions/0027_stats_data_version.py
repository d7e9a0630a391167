"""the statistics' data version: one row that every transaction changing a problem, a callback,
an extension or a sign-off raises before it commits; the dashboards key their kept counts by it
instead of summing every problem's version on each view

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'stats_data_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_data_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'n': 0}])


def downgrade():
    op.drop_table('stats_data_version')
