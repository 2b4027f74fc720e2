"""customer pools, claims and their history

Revision ID: 3d94a5f6e734
Revises: 2c83f4e5d623
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3d94a5f6e734'
down_revision: str | Sequence[str] | None = '2c83f4e5d623'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sales_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=80), nullable=False),
    sa.Column('for_leads', sa.Boolean(), nullable=False),
    sa.Column('for_accounts', sa.Boolean(), nullable=False),
    sa.Column('follow_up_days', sa.Integer(), nullable=True),
    sa.Column('close_days', sa.Integer(), nullable=True),
    sa.Column('warn_days', sa.Integer(), nullable=False),
    sa.Column('protect_days', sa.Integer(), nullable=False),
    sa.Column('cooldown_days', sa.Integer(), nullable=False),
    sa.Column('daily_claim_limit', sa.Integer(), nullable=False),
    sa.Column('holding_cap', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_pool_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['core_team.id'], name=op.f('fk_sales_pool_team_id_core_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_pool')),
    sa.UniqueConstraint('company_id', 'name', name=op.f('uq_sales_pool_company_id_name'))
    )
    with op.batch_alter_table('sales_pool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_pool_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_sales_pool_company_position', ['company_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_pool_team_id'), ['team_id'], unique=False)

    op.create_table('sales_pool_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=16), nullable=True),
    sa.Column('recycle_rule', sa.String(length=16), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_pool_claim_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_sales_pool_claim_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_pool_claim'))
    )
    with op.batch_alter_table('sales_pool_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_pool_claim_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_pool_claim_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_sales_pool_claim_record', ['company_id', 'record_type', 'record_id', 'released_at'], unique=False)
        batch_op.create_index('ix_sales_pool_claim_user_day', ['company_id', 'user_id', 'kind', 'claimed_at'], unique=False)
        batch_op.create_index('ix_sales_pool_claim_cooldown', ['record_id', 'user_id', 'released_at'], unique=False)


def downgrade() -> None:
    op.drop_table('sales_pool_claim')
    op.drop_table('sales_pool')
