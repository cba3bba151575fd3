"""evidence (bukti dukung) with its verdict; imported figures: report source and date, satker mapping, snapshots

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import models.tables

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='chat'))
        batch_op.add_column(sa.Column('observed_at', models.tables.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'evidence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('program_key', sa.String(length=32), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=True),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('mime', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('verifier_id', sa.Integer(), nullable=True),
        sa.Column('verified_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False, server_default=''),
        sa.Column('reminded_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['file_id'], ['stored_file.id']),
        sa.ForeignKeyConstraint(['report_id'], ['report.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['contact.id']),
        sa.ForeignKeyConstraint(['verifier_id'], ['contact.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_queue', ['status', 'uploaded_at'], unique=False)
        batch_op.create_index('ix_evidence_report_id', ['report_id'], unique=False)
        batch_op.create_index('ix_evidence_unit_id', ['unit_id'], unique=False)
    op.create_table(
        'satker_map',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('satker_key', sa.String(length=200), nullable=False),
        sa.Column('satker_label', sa.String(length=300), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_at', models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['confirmed_by_id'], ['contact.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('satker_key'),
    )
    op.create_table(
        'figure_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('as_of', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_at', models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by_id', sa.Integer(), nullable=True),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('unmatched', sa.Integer(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False, server_default=''),
        sa.Column('snapshot', sa.Text(), nullable=False, server_default=''),
        sa.ForeignKeyConstraint(['imported_by_id'], ['contact.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('figure_import', schema=None) as batch_op:
        batch_op.create_index('ix_figure_import_sha256', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_table('figure_import')
    op.drop_table('satker_map')
    op.drop_table('evidence')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('observed_at')
        batch_op.drop_column('source')
