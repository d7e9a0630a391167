"""sign-off explains each open step; a task book closes with its problem; task books and closure
requests carry document numbers

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-07 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.core.types

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_steps', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('number', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_closures_number'), ['number'])
    with op.batch_alter_table('task_books', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', webapp.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('number', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_task_books_number'), ['number'])


def downgrade():
    with op.batch_alter_table('task_books', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_task_books_number'), type_='unique')
        batch_op.drop_column('number')
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_closures_number'), type_='unique')
        batch_op.drop_column('number')
        batch_op.drop_column('open_steps')
