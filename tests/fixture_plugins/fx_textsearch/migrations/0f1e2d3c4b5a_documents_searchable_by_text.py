"""fx_textsearch: the document table and the text index on its search column

Revision ID: 0f1e2d3c4b5a
Revises:
Create Date: 2026-11-25 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.textsearch import create_text_index, drop_text_index

revision: str = '0f1e2d3c4b5a'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('fx_textsearch',)
depends_on: str | Sequence[str] | None = '2d9839f51c3d'


def upgrade() -> None:
    op.create_table('fx_textsearch_doc',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_fx_textsearch_doc_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_textsearch_doc'))
    )
    with op.batch_alter_table('fx_textsearch_doc', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fx_textsearch_doc_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fx_textsearch_doc_kind'), ['kind'], unique=False)
    create_text_index('fx_textsearch_doc', 'search_text')


def downgrade() -> None:
    drop_text_index('fx_textsearch_doc', 'search_text')
    with op.batch_alter_table('fx_textsearch_doc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fx_textsearch_doc_kind'))
        batch_op.drop_index(batch_op.f('ix_fx_textsearch_doc_company_id'))
    op.drop_table('fx_textsearch_doc')
