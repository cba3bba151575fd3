"""letters by unit: numbered on approval, several programs per letter, delivery, cancellation reason, restart

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import models.tables

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Unnamed constraints of 0001 get these names when SQLite's batch mode reflects the table.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint('letter_unit_id_program_key_period_stage_key', 'letter', type_='unique')
        batch = op.batch_alter_table('letter', schema=None)
    else:
        batch = op.batch_alter_table('letter', schema=None, naming_convention=NAMING, recreate='always')
    with batch as batch_op:
        if bind.dialect.name != "postgresql":
            batch_op.drop_constraint('uq_letter_unit_id', type_='unique')
        batch_op.alter_column('year', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('number', existing_type=sa.String(length=100), nullable=True)
        batch_op.add_column(sa.Column('letter_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('new_deadline', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('delivery', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('restarted_at', models.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('restarted_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_letter_restarted_by', 'contact', ['restarted_by_id'], ['id'])
        batch_op.create_index('ix_letter_unit_stage', ['unit_id', 'stage'], unique=False)
    op.create_table(
        'letter_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('letter_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('program_key', sa.String(length=32), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['letter_id'], ['letter.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('letter_id', 'program_key', 'period'),
    )
    with op.batch_alter_table('letter_item', schema=None) as batch_op:
        batch_op.create_index('ix_letter_item_letter_id', ['letter_id'], unique=False)
        batch_op.create_index('ix_letter_item_unit', ['unit_id', 'program_key', 'period', 'stage'], unique=False)
    op.execute(
        "INSERT INTO letter_item (letter_id, unit_id, program_key, period, stage, summary) "
        "SELECT id, unit_id, program_key, period, stage, substr(summary, 1, 500) FROM letter"
    )
    op.execute("UPDATE letter SET delivery = 'chat' WHERE status IN ('sent', 'received')")


def downgrade() -> None:
    with op.batch_alter_table('letter_item', schema=None) as batch_op:
        batch_op.drop_index('ix_letter_item_unit')
        batch_op.drop_index('ix_letter_item_letter_id')
    op.drop_table('letter_item')
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.drop_index('ix_letter_unit_stage')
        batch_op.drop_constraint('fk_letter_restarted_by', type_='foreignkey')
        for column in ('restarted_by_id', 'restarted_at', 'cancel_reason', 'delivery', 'new_deadline', 'letter_date'):
            batch_op.drop_column(column)
