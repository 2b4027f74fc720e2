"""index accounts by company and owner: what each rep owns, counted without a scan

Revision ID: c6d7e8f9a0b1
Revises: b5c6d7e8f9a0
Create Date: 2026-11-25 20:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c6d7e8f9a0b1'
down_revision: str | Sequence[str] | None = 'b5c6d7e8f9a0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers_account', schema=None) as batch_op:
        batch_op.create_index('ix_customers_account_company_owner_id', ['company_id', 'owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customers_account', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_account_company_owner_id')
