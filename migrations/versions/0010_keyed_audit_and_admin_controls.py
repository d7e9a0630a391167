"""keyed audit chain, two-person admin role changes, reset codes, session epochs, TOTP

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:40:00

The audit rows already in the database keep their unkeyed SHA-256 hashes: ``alg`` is added with
the server default ``'sha256'`` (no row is updated, so the append-only triggers do not fire), and
the chain verifies them as its beginning, sealed by the HMAC of the first keyed row after them.
Run ``flask audit anchor`` right after the upgrade so the anchor file pins that keyed row too.
A downgrade drops the head's keyed seal; after upgrading again, ``flask audit verify`` reports the
head until the next audited event seals it anew (the rows themselves still verify by their HMAC).
"""
from alembic import op
import sqlalchemy as sa
import webapp.core.types

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (not batch mode): SQLite must not rebuild audit_events, whose triggers
    # keep it append-only.
    op.add_column('audit_events', sa.Column('alg', sa.String(length=16), server_default='sha256', nullable=False))
    op.add_column('audit_head', sa.Column('seal', sa.String(length=64), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reset_code_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('reset_code_expires_at', webapp.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reset_notice_at', webapp.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enrolled_at', webapp.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    with op.batch_alter_table('security_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_roles', sa.String(length=255), server_default='', nullable=False))
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', webapp.core.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.Integer(), server_default='0', nullable=False))
    roles = ('cadre', 'group_lead', 'handler', 'unit_leader', 'desk', 'office', 'leader', 'sysadmin', 'secadmin', 'auditor')
    op.create_table('role_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('from_role', sa.Enum(*roles, name='role', native_enum=False, length=16), nullable=True),
    sa.Column('to_role', sa.Enum(*roles, name='role', native_enum=False, length=16), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', name='rolechangestatus', native_enum=False, length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', webapp.core.types.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', webapp.core.types.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_role_changes_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_role_changes_requested_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_changes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_changes'))
    )
    with op.batch_alter_table('role_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_changes_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_changes_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('role_changes')
    op.drop_table('recovery_codes')
    with op.batch_alter_table('security_policy', schema=None) as batch_op:
        batch_op.drop_column('totp_roles')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('epoch')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enrolled_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('reset_notice_at')
        batch_op.drop_column('reset_code_expires_at')
        batch_op.drop_column('reset_code_hash')
        batch_op.drop_column('session_epoch')
    op.drop_column('audit_head', 'seal')
    op.drop_column('audit_events', 'alg')  # ALTER TABLE … DROP COLUMN: the triggers stay
