"""Core tables: companies, users, memberships, per-company plugin state.

Revision ID: 2d9839f51c3d
Revises:
Create Date: 2026-11-25 11:54:33.721371
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '2d9839f51c3d'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('core',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_company')),
    sa.UniqueConstraint('slug', name=op.f('uq_core_company_slug'))
    )
    op.create_table('core_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_user')),
    sa.UniqueConstraint('email', name=op.f('uq_core_user_email'))
    )
    op.create_table('core_membership',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_membership_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_membership_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'company_id', name=op.f('pk_core_membership'))
    )
    with op.batch_alter_table('core_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_membership_company_id'), ['company_id'], unique=False)

    op.create_table('core_plugin_state',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_plugin_state_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', 'plugin', name=op.f('pk_core_plugin_state'))
    )


def downgrade() -> None:
    op.drop_table('core_plugin_state')
    with op.batch_alter_table('core_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_membership_company_id'))

    op.drop_table('core_membership')
    op.drop_table('core_user')
    op.drop_table('core_company')
