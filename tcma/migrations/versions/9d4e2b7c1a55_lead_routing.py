"""lead routing: rules, offers, and vendor lead import

Revision ID: 9d4e2b7c1a55
Revises: 7c3d9e1a4f20
Create Date: 2026-11-24 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import tcma.models


revision = '9d4e2b7c1a55'
down_revision = '7c3d9e1a4f20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('partner_tiers', sa.JSON(), nullable=False),
    sa.Column('partner_regions', sa.JSON(), nullable=False),
    sa.Column('partner_languages', sa.JSON(), nullable=False),
    sa.Column('partner_types', sa.JSON(), nullable=False),
    sa.Column('same_region', sa.Boolean(), nullable=False),
    sa.Column('strategy', sa.Enum('round_robin', 'fixed', name='routingstrategy', native_enum=False, length=32), nullable=False),
    sa.Column('fixed_partner_id', sa.Integer(), nullable=True),
    sa.Column('window_hours', sa.Integer(), nullable=False),
    sa.Column('last_partner_id', sa.Integer(), nullable=True),
    sa.Column('offers_made', sa.Integer(), nullable=False),
    sa.Column('used_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_routing_rules_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fixed_partner_id'], ['partners.id'], name=op.f('fk_routing_rules_fixed_partner_id_partners'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['last_partner_id'], ['partners.id'], name=op.f('fk_routing_rules_last_partner_id_partners'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_position'), ['position'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_rules_public_id'), ['public_id'], unique=True)

    op.create_table('lead_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tcma.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Enum('pending', 'accepted', 'declined', 'expired', 'withdrawn', name='offeroutcome', native_enum=False, length=32), nullable=False),
    sa.Column('decided_at', tcma.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_lead_offers_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_offers_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_lead_offers_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['routing_rules.id'], name=op.f('fk_lead_offers_rule_id_routing_rules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_offers')),
    sa.UniqueConstraint('lead_id', 'partner_id', name=op.f('uq_lead_offers_lead_id_partner_id'))
    )
    with op.batch_alter_table('lead_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_offers_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_offers_partner_id'), ['partner_id'], unique=False)

    with op.batch_alter_table('lead_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lead_events_partner_id_partners'), 'partners', ['partner_id'], ['id'], ondelete='CASCADE')

    # Existing leads get empty language and source (the models' defaults) from the server
    # default; the new enum values (routing, event kinds) need no DDL: the columns are
    # plain strings.
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('source', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('routing_rule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offer_expires_at', tcma.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_leads_offer_expires_at'), ['offer_expires_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_leads_external_id'), ['external_id'])
        batch_op.create_foreign_key(batch_op.f('fk_leads_routing_rule_id_routing_rules'), 'routing_rules', ['routing_rule_id'], ['id'], ondelete='SET NULL')

    # Events recorded while a partner had the lead are that partner's (partners see only
    # their own, and the ones no partner made).
    op.execute(
        "UPDATE lead_events SET partner_id = (SELECT leads.partner_id FROM leads "
        "WHERE leads.id = lead_events.lead_id) "
        "WHERE kind IN ('status_changed', 'note_added')"
    )


def downgrade():
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_leads_routing_rule_id_routing_rules'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_leads_external_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_leads_offer_expires_at'))
        batch_op.drop_column('offer_expires_at')
        batch_op.drop_column('routing_rule_id')
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')
        batch_op.drop_column('language')

    with op.batch_alter_table('lead_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lead_events_partner_id_partners'), type_='foreignkey')
        batch_op.drop_column('partner_id')

    with op.batch_alter_table('lead_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_offers_partner_id'))
        batch_op.drop_index(batch_op.f('ix_lead_offers_lead_id'))

    op.drop_table('lead_offers')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_public_id'))
        batch_op.drop_index(batch_op.f('ix_routing_rules_position'))

    op.drop_table('routing_rules')
