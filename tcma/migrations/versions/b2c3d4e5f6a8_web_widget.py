"""web widget

Revision ID: b2c3d4e5f6a8
Revises: a1b2c3d4e5f7
Create Date: 2026-11-24 14:15:54.014874
"""
from alembic import op
import sqlalchemy as sa
import tcma.models


revision = 'b2c3d4e5f6a8'
down_revision = 'a1b2c3d4e5f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('widgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('layout', sa.Enum('grid', 'list', 'banner', name='widgetlayout', native_enum=False, length=32), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('accent', sa.String(length=7), nullable=False),
    sa.Column('font', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('domains', sa.JSON(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_widgets_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widgets')),
    sa.UniqueConstraint('token', name=op.f('uq_widgets_token'))
    )
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_widgets_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_widgets_public_id'), ['public_id'], unique=True)

    op.create_table('syndicated_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('article', 'video', 'asset', 'cta', name='itemkind', native_enum=False, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('hero_asset_id', sa.String(length=24), nullable=True),
    sa.Column('asset_id', sa.String(length=24), nullable=True),
    sa.Column('video_url', sa.String(length=500), nullable=True),
    sa.Column('landing_page_id', sa.String(length=24), nullable=True),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('allowed_tiers', sa.JSON(), nullable=False),
    sa.Column('allowed_regions', sa.JSON(), nullable=False),
    sa.Column('allowed_types', sa.JSON(), nullable=False),
    sa.Column('publish_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_syndicated_items_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_syndicated_items'))
    )
    with op.batch_alter_table('syndicated_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_syndicated_items_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_syndicated_items_public_id'), ['public_id'], unique=True)

    op.create_table('widget_impressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('widget_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('item_key', sa.String(length=24), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['syndicated_items.id'], name=op.f('fk_widget_impressions_item_id_syndicated_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_widget_impressions_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['widget_id'], ['widgets.id'], name=op.f('fk_widget_impressions_widget_id_widgets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widget_impressions')),
    sa.UniqueConstraint('widget_id', 'item_key', 'day', name=op.f('uq_widget_impressions_widget_id_item_key_day'))
    )
    with op.batch_alter_table('widget_impressions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_widget_impressions_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_widget_impressions_widget_id'), ['widget_id'], unique=False)



def downgrade():
    with op.batch_alter_table('widget_impressions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_widget_impressions_widget_id'))
        batch_op.drop_index(batch_op.f('ix_widget_impressions_partner_id'))

    op.drop_table('widget_impressions')
    with op.batch_alter_table('syndicated_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_syndicated_items_public_id'))
        batch_op.drop_index(batch_op.f('ix_syndicated_items_category'))

    op.drop_table('syndicated_items')
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_widgets_public_id'))
        batch_op.drop_index(batch_op.f('ix_widgets_partner_id'))

    op.drop_table('widgets')
