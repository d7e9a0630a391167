"""a scheduling meeting (调度会) held on its agenda: the agenda names the meeting whose minutes
(纪要) are recorded

Revision ID: 0025
Revises: 0021
Create Date: 2026-12-07 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supervision_agendas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_supervision_agendas_meeting_id', ['meeting_id'])
        batch_op.create_foreign_key('fk_supervision_agendas_meeting_id_meetings', 'meetings', ['meeting_id'], ['id'])


def downgrade():
    with op.batch_alter_table('supervision_agendas', schema=None) as batch_op:
        batch_op.drop_constraint('fk_supervision_agendas_meeting_id_meetings', type_='foreignkey')
        batch_op.drop_constraint('uq_supervision_agendas_meeting_id', type_='unique')
        batch_op.drop_column('meeting_id')
