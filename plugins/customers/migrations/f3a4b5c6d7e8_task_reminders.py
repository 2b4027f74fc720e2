"""task reminders: when a follow-up task's reminder went out

Revision ID: f3a4b5c6d7e8
Revises: e1f2a3b4c5d6
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = 'f3a4b5c6d7e8'
down_revision: str | Sequence[str] | None = 'e1f2a3b4c5d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_customers_task_reminder_due', ['reminded_at', 'done_at', 'remind_at'], unique=False)
    # Reminders whose time passed before reminders were sent are not sent late, all at once.
    task = sa.table('customers_task', sa.column('remind_at', sa.DateTime(timezone=True)),
                    sa.column('reminded_at', sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    op.execute(task.update().where(task.c.remind_at.is_not(None), task.c.remind_at <= now)
               .values(reminded_at=task.c.remind_at))


def downgrade() -> None:
    with op.batch_alter_table('customers_task', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_task_reminder_due')
        batch_op.drop_column('reminded_at')
