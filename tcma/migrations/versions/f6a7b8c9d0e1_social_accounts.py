"""social accounts

Revision ID: f6a7b8c9d0e1
Revises: e5f1a2b3c4d6
Create Date: 2026-11-24 10:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import tcma.models


revision = 'f6a7b8c9d0e1'
down_revision = 'e5f1a2b3c4d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('social_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network', sa.Enum('linkedin', 'x', 'facebook', name='network', native_enum=False, length=32), nullable=False),
    sa.Column('kind', sa.Enum('profile', 'organization', 'page', name='accountkind', native_enum=False, length=32), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('handle', sa.String(length=100), nullable=False),
    sa.Column('avatar_url', sa.Text(), nullable=True),
    sa.Column('scopes', sa.String(length=500), nullable=False),
    sa.Column('access_token_encrypted', sa.Text(), nullable=False),
    sa.Column('refresh_token_encrypted', sa.Text(), nullable=True),
    sa.Column('expires_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refresh_expires_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('grant_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('connected', 'expiring', 'broken', name='accountstatus', native_enum=False, length=32), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=False),
    sa.Column('warned_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('connected_by_id', sa.Integer(), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connected_by_id'], ['users.id'], name=op.f('fk_social_accounts_connected_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_social_accounts_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_accounts')),
    sa.UniqueConstraint('partner_id', 'network', 'external_id', name=op.f('uq_social_accounts_partner_id_network_external_id'))
    )
    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_accounts_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_accounts_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_accounts_public_id'), ['public_id'], unique=True)


def downgrade():
    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_social_accounts_public_id'))
        batch_op.drop_index(batch_op.f('ix_social_accounts_partner_id'))
        batch_op.drop_index(batch_op.f('ix_social_accounts_grant_id'))
    op.drop_table('social_accounts')
