"""assignment rules

Revision ID: 4ea5b6a7f845
Revises: 3d94a5f6e734
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4ea5b6a7f845'
down_revision: str | Sequence[str] | None = '3d94a5f6e734'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sales_assignment_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('region', sa.String(length=400), nullable=False),
    sa.Column('industry', sa.String(length=400), nullable=False),
    sa.Column('source', sa.String(length=400), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('cap', sa.Integer(), nullable=True),
    sa.Column('last_user_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_assignment_rule_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_user_id'], ['core_user.id'], name=op.f('fk_sales_assignment_rule_last_user_id_core_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['core_team.id'], name=op.f('fk_sales_assignment_rule_team_id_core_team'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_sales_assignment_rule_user_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_assignment_rule'))
    )
    with op.batch_alter_table('sales_assignment_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_assignment_rule_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_sales_assignment_rule_company_position', ['company_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_assignment_rule_last_user_id'), ['last_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_assignment_rule_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_assignment_rule_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sales_assignment_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_assignment_rule_user_id'))
        batch_op.drop_index(batch_op.f('ix_sales_assignment_rule_team_id'))
        batch_op.drop_index(batch_op.f('ix_sales_assignment_rule_last_user_id'))
        batch_op.drop_index('ix_sales_assignment_rule_company_position')
        batch_op.drop_index(batch_op.f('ix_sales_assignment_rule_company_id'))

    op.drop_table('sales_assignment_rule')
