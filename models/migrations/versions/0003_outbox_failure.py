"""outbox.failure: why a row failed, as a code (tallies no longer read the error text)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure', sa.String(length=16), nullable=False, server_default=''))
    op.execute("UPDATE outbox SET failure = 'unreachable' WHERE status = 'failed' AND last_error LIKE 'tidak terjangkau%'")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('failure')
