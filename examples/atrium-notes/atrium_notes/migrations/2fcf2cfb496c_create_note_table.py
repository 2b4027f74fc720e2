"""Create the notes_note table.

Revision ID: 2fcf2cfb496c
Revises:
Create Date: 2026-11-25 11:55:56.667921
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '2fcf2cfb496c'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('notes',)
depends_on: str | Sequence[str] | None = '2d9839f51c3d'


def upgrade() -> None:
    op.create_table('notes_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_notes_note_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes_note'))
    )
    with op.batch_alter_table('notes_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_note_company_id'), ['company_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notes_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notes_note_company_id'))

    op.drop_table('notes_note')
