"""work group leads propose hard cases for the office's scheduling meeting; 问责 records name
persons with their finding and carry the decision's number

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-07 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.core.types

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'supervision_agenda_proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('problem_id', sa.Integer(), nullable=False),
        sa.Column('work_group_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('proposed_by_id', sa.Integer(), nullable=False),
        sa.Column('proposed_at', webapp.core.types.UTCDateTime(), nullable=False),
        sa.Column('agenda_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['agenda_id'], ['supervision_agendas.id'],
                                name=op.f('fk_supervision_agenda_proposals_agenda_id_supervision_agendas')),
        sa.ForeignKeyConstraint(['problem_id'], ['problems.id'],
                                name=op.f('fk_supervision_agenda_proposals_problem_id_problems')),
        sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'],
                                name=op.f('fk_supervision_agenda_proposals_proposed_by_id_users')),
        sa.ForeignKeyConstraint(['work_group_id'], ['units.id'],
                                name=op.f('fk_supervision_agenda_proposals_work_group_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_agenda_proposals')),
    )
    with op.batch_alter_table('supervision_agenda_proposals', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_agenda_proposals_open', ['agenda_id', 'work_group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_agenda_proposals_problem_id'), ['problem_id'], unique=False)
    op.create_table(
        'accountability_persons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('post', sa.String(length=64), nullable=False),
        sa.Column('finding', sa.Enum('false_closure', 'overdue', 'perfunctory', 'other', name='finding',
                                     native_enum=False, length=16), nullable=False),
        sa.ForeignKeyConstraint(['record_id'], ['accountability_records.id'],
                                name=op.f('fk_accountability_persons_record_id_accountability_records')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accountability_persons')),
    )
    with op.batch_alter_table('accountability_persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accountability_persons_record_id'), ['record_id'], unique=False)
    with op.batch_alter_table('accountability_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_accountability_records_number'), ['number'])


def downgrade():
    with op.batch_alter_table('accountability_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_accountability_records_number'), type_='unique')
        batch_op.drop_column('number')
    with op.batch_alter_table('accountability_persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accountability_persons_record_id'))
    op.drop_table('accountability_persons')
    with op.batch_alter_table('supervision_agenda_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_agenda_proposals_problem_id'))
        batch_op.drop_index('ix_supervision_agenda_proposals_open')
    op.drop_table('supervision_agenda_proposals')
