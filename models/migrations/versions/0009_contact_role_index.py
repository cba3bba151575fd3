"""an index on contact.role: the admins and a program's verifiers are found without reading every contact

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:00:00.000000
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_role', ['role'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_role')
