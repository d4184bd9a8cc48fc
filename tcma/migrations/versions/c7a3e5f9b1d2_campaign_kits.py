"""campaign kits

Revision ID: c7a3e5f9b1d2
Revises: b2f6c8d1e3a7
Create Date: 2026-11-24 08:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import tcma.models


revision = 'c7a3e5f9b1d2'
down_revision = 'b2f6c8d1e3a7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('goal', sa.String(length=500), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'retired', name='kitstatus', native_enum=False, length=32), nullable=False),
    sa.Column('allowed_tiers', sa.JSON(), nullable=False),
    sa.Column('allowed_regions', sa.JSON(), nullable=False),
    sa.Column('allowed_languages', sa.JSON(), nullable=False),
    sa.Column('allowed_types', sa.JSON(), nullable=False),
    sa.Column('publish_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_kits_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kits'))
    )
    with op.batch_alter_table('kits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kits_public_id'), ['public_id'], unique=True)

    op.create_table('kit_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['kit_id'], ['kits.id'], name=op.f('fk_kit_versions_kit_id_kits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_kit_versions_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kit_versions')),
    sa.UniqueConstraint('kit_id', 'number', name=op.f('uq_kit_versions_kit_id_number'))
    )
    with op.batch_alter_table('kit_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_versions_kit_id'), ['kit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('kit_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kit_versions_kit_id'))
    op.drop_table('kit_versions')
    with op.batch_alter_table('kits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kits_public_id'))
    op.drop_table('kits')
