"""Notes go to the trash when deleted: soft-delete columns.

Revision ID: e11bdf35a3d8
Revises: 2fcf2cfb496c
Create Date: 2026-11-25 12:17:19.308018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e11bdf35a3d8'
down_revision: str | Sequence[str] | None = '2fcf2cfb496c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notes_note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notes_note_deleted_at'), ['deleted_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_notes_note_deleted_by_id_core_user'), 'core_user', ['deleted_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('notes_note', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notes_note_deleted_by_id_core_user'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notes_note_deleted_at'))
        batch_op.drop_column('deleted_by_id')
        batch_op.drop_column('deleted_at')

