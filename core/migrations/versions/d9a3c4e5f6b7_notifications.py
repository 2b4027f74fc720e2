"""notifications

Revision ID: d9a3c4e5f6b7
Revises: b7e1a2c3d4f5
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd9a3c4e5f6b7'
down_revision: str | Sequence[str] | None = 'b7e1a2c3d4f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_notification_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_notification_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_notification'))
    )
    with op.batch_alter_table('core_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_notification_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_notification_read_at'), ['read_at'], unique=False)
        batch_op.create_index('ix_core_notification_unread', ['user_id', 'company_id', 'read_at'], unique=False)
        batch_op.create_index('ix_core_notification_user', ['user_id', 'company_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('core_notification', schema=None) as batch_op:
        batch_op.drop_index('ix_core_notification_user')
        batch_op.drop_index('ix_core_notification_unread')
        batch_op.drop_index(batch_op.f('ix_core_notification_read_at'))
        batch_op.drop_index(batch_op.f('ix_core_notification_company_id'))

    op.drop_table('core_notification')
