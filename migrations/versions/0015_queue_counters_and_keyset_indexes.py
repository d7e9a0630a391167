"""queue counters and keyset indexes

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-07 00:40:00

The counters start empty: ``flask setup`` (or ``flask counts rebuild``) counts the problems
already stored.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('problem_counts',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('bucket', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_problem_counts'))
    )
    op.create_index('ix_problem_counts_scope', 'problem_counts', ['scope', 'bucket', 'day', 'n'], unique=False)
    op.create_index('ix_problems_deadline_id', 'problems', ['deadline', 'id'], unique=False)
    op.create_index('ix_problems_status_deadline_id', 'problems', ['status', 'deadline', 'id'], unique=False)
    op.create_index('ix_problems_registrar_deadline', 'problems', ['registered_by_id', 'deadline', 'id'], unique=False)
    op.create_index('ix_problems_group_deadline', 'problems', ['work_group_id', 'deadline', 'id'], unique=False)
    op.create_table('problem_counted',
    sa.Column('problem_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('key_list', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('problem_id', name=op.f('pk_problem_counted'))
    )


def downgrade():
    op.drop_table('problem_counted')
    op.drop_index('ix_problems_group_deadline', table_name='problems')
    op.drop_index('ix_problems_registrar_deadline', table_name='problems')
    op.drop_index('ix_problems_status_deadline_id', table_name='problems')
    op.drop_index('ix_problems_deadline_id', table_name='problems')
    op.drop_index('ix_problem_counts_scope', table_name='problem_counts')
    op.drop_table('problem_counts')
