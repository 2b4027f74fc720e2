"""opportunities' follow-up dates; the board index covers the board's sums

Revision ID: 5fb6c7b8a956
Revises: 4ea5b6a7f845
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5fb6c7b8a956'
down_revision: str | Sequence[str] | None = '4ea5b6a7f845'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOARD_KEY = ['company_id', 'pipeline_id', 'stage_id', 'closed_at', 'expected_close_date', 'id']
BOARD_COVERED = ['deleted_at', 'owner_id', 'amount', 'probability']


def upgrade() -> None:
    with op.batch_alter_table('sales_opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_follow_up_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_follow_up_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_sales_opportunity_company_next_follow_up_at', ['company_id', 'next_follow_up_at'],
                              unique=False)
        # The board reads open deals (closed_at NULL) by close date and closed ones by closing
        # time, and sums amounts per stage from the index alone.
        batch_op.drop_index('ix_sales_opportunity_board')
        batch_op.create_index('ix_sales_opportunity_board', [*BOARD_KEY, *BOARD_COVERED], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sales_opportunity', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_opportunity_board')
        batch_op.create_index('ix_sales_opportunity_board', ['company_id', 'pipeline_id', 'stage_id',
                                                             'expected_close_date'], unique=False)
        batch_op.drop_index('ix_sales_opportunity_company_next_follow_up_at')
        batch_op.drop_column('next_follow_up_at')
        batch_op.drop_column('last_follow_up_at')
