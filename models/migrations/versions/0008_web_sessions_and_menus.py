"""the dashboard's one-time links and sessions; the Telegram command menus set (by fingerprint)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import models.tables

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('created_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('web_link', schema=None) as batch_op:
        batch_op.create_index('ix_web_link_contact_id', ['contact_id'], unique=False)
    op.create_table(
        'web_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('link_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id']),
        sa.ForeignKeyConstraint(['link_id'], ['web_link.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index('ix_web_session_contact_id', ['contact_id'], unique=False)
    op.create_table(
        'menu_state',
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('set_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('channel', 'scope'),
    )


def downgrade() -> None:
    op.drop_table('menu_state')
    op.drop_table('web_session')
    op.drop_table('web_link')
