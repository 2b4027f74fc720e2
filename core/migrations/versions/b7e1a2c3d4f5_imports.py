"""imports

Revision ID: b7e1a2c3d4f5
Revises: a094f6903290
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7e1a2c3d4f5'
down_revision: str | Sequence[str] | None = 'a094f6903290'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('encoding', sa.String(length=20), nullable=False),
    sa.Column('delimiter', sa.String(length=4), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('last_row', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_import_run_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['core_user.id'], name=op.f('fk_core_import_run_created_by_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_import_run'))
    )
    with op.batch_alter_table('core_import_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_import_run_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_import_run_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_core_import_run_company_created', ['company_id', 'created_at'], unique=False)
        batch_op.create_index('ix_core_import_run_file', ['company_id', 'target', 'sha256'], unique=False)

    op.create_table('core_import_file',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_import_file_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['core_import_run.id'], name=op.f('fk_core_import_file_run_id_core_import_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_core_import_file'))
    )
    with op.batch_alter_table('core_import_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_import_file_company_id'), ['company_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('core_import_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_import_file_company_id'))
    op.drop_table('core_import_file')

    with op.batch_alter_table('core_import_run', schema=None) as batch_op:
        batch_op.drop_index('ix_core_import_run_file')
        batch_op.drop_index('ix_core_import_run_company_created')
        batch_op.drop_index(batch_op.f('ix_core_import_run_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_core_import_run_company_id'))

    op.drop_table('core_import_run')
