"""coverage counters kept by the visits' writes

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-07 04:00:00

The counters start empty: ``flask setup`` (or ``flask coverage rebuild``) counts the households
and enterprises already stored.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coverage_counts',
    sa.Column('round_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=1), nullable=False),
    sa.Column('by', sa.String(length=8), nullable=False),
    sa.Column('key_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('round_id', 'kind', 'by', 'key_id', name=op.f('pk_coverage_counts'))
    )
    op.create_index('ix_coverage_counts_read', 'coverage_counts', ['kind', 'by', 'round_id', 'key_id', 'n'],
                    unique=False)
    op.create_table('coverage_placed',
    sa.Column('kind', sa.String(length=1), nullable=False),
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'entry_id', name=op.f('pk_coverage_placed'))
    )
    op.create_table('coverage_covered',
    sa.Column('round_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=1), nullable=False),
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('round_id', 'kind', 'entry_id', name=op.f('pk_coverage_covered'))
    )
    op.create_index('ix_coverage_covered_entry', 'coverage_covered', ['kind', 'entry_id'], unique=False)


def downgrade():
    op.drop_index('ix_coverage_covered_entry', table_name='coverage_covered')
    op.drop_table('coverage_covered')
    op.drop_table('coverage_placed')
    op.drop_index('ix_coverage_counts_read', table_name='coverage_counts')
    op.drop_table('coverage_counts')
