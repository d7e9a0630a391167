"""keyed audit chain, two-person admin role changes, reset codes, session epochs, TOTP

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:40:00

The audit rows already in the database keep their unkeyed SHA-256 hashes: ``alg`` is added with
the server default ``'sha256'`` (no row is updated, so the append-only triggers do not fire), and
the chain verifies them as its beginning, sealed by the HMAC of the first keyed row after them.
Run ``flask audit anchor`` right after the upgrade so the anchor file pins that keyed row too.
"""
from alembic import op
import sqlalchemy as sa
import webapp.core.types

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (not batch mode): SQLite must not rebuild audit_events, whose triggers
    # keep it append-only.
    op.add_column('audit_events', sa.Column('alg', sa.String(length=16), server_default='sha256', nullable=False))
    op.add_column('audit_head', sa.Column('seal', sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column('audit_head', 'seal')
    op.drop_column('audit_events', 'alg')  # ALTER TABLE … DROP COLUMN: the triggers stay
