"""broadcast.audience as text: a long list of unit codes is kept whole

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.alter_column('audience', existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.alter_column('audience', existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=False)
