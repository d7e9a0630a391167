"""a town's open households in the lists' order (village, 户号): its unvisited list reads the first
page from ``ix_households_town_open_number`` instead of sorting every open household of the town

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 13:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_households_town_open_number', 'households',
                    ['town_id', 'is_closed', 'village_id', 'number'], unique=False)


def downgrade():
    op.drop_index('ix_households_town_open_number', table_name='households')
