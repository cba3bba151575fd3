"""report withdrawal: a report can be withdrawn (by its reporter within a day, or by an admin); the row stays

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import models.tables

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', models.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdraw_reason', sa.String(length=300), nullable=False, server_default=''))
        batch_op.create_foreign_key('fk_report_withdrawn_by', 'contact', ['withdrawn_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint('fk_report_withdrawn_by', type_='foreignkey')
        batch_op.drop_column('withdraw_reason')
        batch_op.drop_column('withdrawn_by_id')
        batch_op.drop_column('withdrawn_at')
