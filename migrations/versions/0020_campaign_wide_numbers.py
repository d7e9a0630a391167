"""visits carry their 走访记录表 number, counted from the campaign's start

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-07 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_no', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_visits_record_no'), ['record_no'])
    # The visits recorded so far, numbered in the order they were written; the campaign-wide
    # counter (year 0) continues after them.
    op.execute(
        "UPDATE visits SET record_no = (SELECT n FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n "
        "FROM visits) AS numbered WHERE numbered.id = visits.id)"
    )
    op.execute(
        "INSERT INTO number_sequences (kind, year, last) "
        "SELECT 'visit_record', 0, COUNT(*) FROM visits"
    )


def downgrade():
    op.execute("DELETE FROM number_sequences WHERE kind = 'visit_record' AND year = 0")
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_visits_record_no'), type_='unique')
        batch_op.drop_column('record_no')
