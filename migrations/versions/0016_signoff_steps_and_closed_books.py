"""sign-off explains each open step; a task book closes with its problem

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-07 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.core.types

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_steps', sa.JSON(), nullable=True))
    with op.batch_alter_table('task_books', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', webapp.core.types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('task_books', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.drop_column('open_steps')
