"""index leads by company, owner and status (what each rep holds, counted without a scan);
a text index on the names of opportunities (the search, the list and the board); the open
deals per stage and owner (the board's column headers)

Revision ID: 7c2e3f4a5b61
Revises: 6b1d2e3f4a50
Create Date: 2026-11-25 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.textsearch import create_text_index, drop_text_index

revision: str = '7c2e3f4a5b61'
down_revision: str | Sequence[str] | None = '6b1d2e3f4a50'
branch_labels: str | Sequence[str] | None = None
# Accounts get the same index in the customers branch: the holdings count both.
depends_on: str | Sequence[str] | None = 'c6d7e8f9a0b1'


def upgrade() -> None:
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.create_index('ix_sales_lead_company_owner_status', ['company_id', 'owner_id', 'status'],
                              unique=False)
    create_text_index('sales_opportunity', 'name')
    op.create_table('sales_board_open',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('weighted', sa.Numeric(precision=20, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'],
                            name=op.f('fk_sales_board_open_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_board_open')),
    sa.UniqueConstraint('company_id', 'pipeline_id', 'stage_id', 'owner_id', name=op.f('uq_sales_board_open_key'))
    )
    # What plugins.sales.funnel_tally.rebuild writes, for the deals already there.
    op.execute("INSERT INTO sales_board_open (company_id, pipeline_id, stage_id, owner_id, n, amount, weighted) "
               "SELECT company_id, pipeline_id, stage_id, coalesce(owner_id, 0), count(*), coalesce(sum(amount), 0), "
               "coalesce(sum(amount * probability / 100.0), 0) FROM sales_opportunity "
               "WHERE deleted_at IS NULL AND created_at IS NOT NULL AND closed_at IS NULL "
               "GROUP BY company_id, pipeline_id, stage_id, coalesce(owner_id, 0)")


def downgrade() -> None:
    op.drop_table('sales_board_open')
    drop_text_index('sales_opportunity', 'name')
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_lead_company_owner_status')
