"""social posts and autopilot

Revision ID: a1b2c3d4e5f7
Revises: f6a7b8c9d0e1
Create Date: 2026-11-24 13:35:03.803544
"""
from alembic import op
import sqlalchemy as sa
import tcma.models


revision = 'a1b2c3d4e5f7'
down_revision = 'f6a7b8c9d0e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('social_autopilot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('notice_hours', sa.Integer(), nullable=False),
    sa.Column('paused_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('since', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['social_accounts.id'], name=op.f('fk_social_autopilot_account_id_social_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_social_autopilot_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_social_autopilot_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_autopilot')),
    sa.UniqueConstraint('account_id', name=op.f('uq_social_autopilot_account_id'))
    )
    with op.batch_alter_table('social_autopilot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_autopilot_partner_id'), ['partner_id'], unique=False)

    op.create_table('social_autopilot_launches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kit_id', sa.Integer(), nullable=False),
    sa.Column('launch_id', sa.Integer(), nullable=True),
    sa.Column('problem', sa.String(length=500), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kit_id'], ['kits.id'], name=op.f('fk_social_autopilot_launches_kit_id_kits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['launch_id'], ['launches.id'], name=op.f('fk_social_autopilot_launches_launch_id_launches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_social_autopilot_launches_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_autopilot_launches')),
    sa.UniqueConstraint('partner_id', 'kit_id', name=op.f('uq_social_autopilot_launches_partner_id_kit_id'))
    )
    with op.batch_alter_table('social_autopilot_launches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_autopilot_launches_partner_id'), ['partner_id'], unique=False)

    op.create_table('social_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('launch_id', sa.Integer(), nullable=True),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('kit_name', sa.String(length=200), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('network', sa.Enum('linkedin', 'x', 'facebook', name='network', native_enum=False, length=32), nullable=False),
    sa.Column('account_name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('image_asset_id', sa.String(length=40), nullable=True),
    sa.Column('edited', sa.Boolean(), nullable=False),
    sa.Column('due_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'publishing', 'published', 'needs_reconnect', 'failed', 'skipped', 'cancelled', name='poststatus', native_enum=False, length=32), nullable=False),
    sa.Column('next_attempt_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('lease_until', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('called_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('external_url', sa.Text(), nullable=True),
    sa.Column('published_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('error_kind', sa.String(length=20), nullable=True),
    sa.Column('notified_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['social_accounts.id'], name=op.f('fk_social_posts_account_id_social_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['launch_id'], ['launches.id'], name=op.f('fk_social_posts_launch_id_launches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_social_posts_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['launch_steps.id'], name=op.f('fk_social_posts_step_id_launch_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_posts')),
    sa.UniqueConstraint('step_id', 'account_id', name=op.f('uq_social_posts_step_id_account_id'))
    )
    with op.batch_alter_table('social_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_posts_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_social_posts_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_posts_launch_id'), ['launch_id'], unique=False)
        batch_op.create_index('ix_social_posts_partner_due', ['partner_id', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_posts_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_posts_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_social_posts_step_id'), ['step_id'], unique=False)



def downgrade():
    with op.batch_alter_table('social_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_social_posts_step_id'))
        batch_op.drop_index(batch_op.f('ix_social_posts_public_id'))
        batch_op.drop_index(batch_op.f('ix_social_posts_partner_id'))
        batch_op.drop_index('ix_social_posts_partner_due')
        batch_op.drop_index(batch_op.f('ix_social_posts_launch_id'))
        batch_op.drop_index('ix_social_posts_due')
        batch_op.drop_index(batch_op.f('ix_social_posts_account_id'))

    op.drop_table('social_posts')
    with op.batch_alter_table('social_autopilot_launches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_social_autopilot_launches_partner_id'))

    op.drop_table('social_autopilot_launches')
    with op.batch_alter_table('social_autopilot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_social_autopilot_partner_id'))

    op.drop_table('social_autopilot')
