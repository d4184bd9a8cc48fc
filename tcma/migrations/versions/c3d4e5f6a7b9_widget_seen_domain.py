"""widget impressions remember the site they were seen on

Revision ID: c3d4e5f6a7b9
Revises: b2c3d4e5f6a8
Create Date: 2026-11-24 15:17:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3d4e5f6a7b9'
down_revision = 'b2c3d4e5f6a8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('widget_impressions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('domain', sa.String(length=260), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('widget_impressions', schema=None) as batch_op:
        batch_op.drop_column('domain')
