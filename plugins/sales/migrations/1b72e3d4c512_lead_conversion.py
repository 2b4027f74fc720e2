"""lead conversion references

Revision ID: 1b72e3d4c512
Revises: 0a61f2c3b401
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1b72e3d4c512'
down_revision: str | Sequence[str] | None = '0a61f2c3b401'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The opportunity a lead's conversion created (the account and contact columns exist already).
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.add_column(sa.Column('converted_opportunity_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sales_lead_converted_opportunity_id'), ['converted_opportunity_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_sales_lead_converted_opportunity_id_sales_opportunity'),
                                    'sales_opportunity', ['converted_opportunity_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_sales_lead_converted_opportunity_id_sales_opportunity'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sales_lead_converted_opportunity_id'))
        batch_op.drop_column('converted_opportunity_id')
