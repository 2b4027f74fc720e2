"""web-to-lead forms (owned by the capture work)

Revision ID: 0a61f2c3b401
Revises: dff201746b9a
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0a61f2c3b401'
down_revision: str | Sequence[str] | None = 'dff201746b9a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sales_web_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('success_url', sa.String(length=500), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_web_form_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['core_user.id'], name=op.f('fk_sales_web_form_owner_id_core_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['core_team.id'], name=op.f('fk_sales_web_form_team_id_core_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_web_form')),
    sa.UniqueConstraint('key', name=op.f('uq_sales_web_form_key'))
    )
    with op.batch_alter_table('sales_web_form', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_web_form_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_sales_web_form_company_name', ['company_id', 'name'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_web_form_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_web_form_team_id'), ['team_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sales_web_form', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_web_form_team_id'))
        batch_op.drop_index(batch_op.f('ix_sales_web_form_owner_id'))
        batch_op.drop_index('ix_sales_web_form_company_name')
        batch_op.drop_index(batch_op.f('ix_sales_web_form_company_id'))

    op.drop_table('sales_web_form')
