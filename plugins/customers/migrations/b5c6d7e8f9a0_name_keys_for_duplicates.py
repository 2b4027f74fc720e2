"""name keys on accounts and contacts, for finding duplicates

Revision ID: b5c6d7e8f9a0
Revises: a4b5c6d7e8f9
Create Date: 2026-11-25 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5c6d7e8f9a0'
down_revision: str | Sequence[str] | None = 'a4b5c6d7e8f9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers_account", "customers_contact")
BATCH = 2000


def _fill(table_name: str) -> None:
    """Compute the key of every existing row, a batch at a time (keyset on id)."""
    # A pure function (no model code): the key the models keep in step from now on.
    from plugins.customers.similar import name_key

    connection = op.get_bind()
    table = sa.table(table_name, sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("name_key", sa.String))
    last = 0
    while True:
        rows = connection.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                                  .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(table.update().where(table.c.id == sa.bindparam("row_id")),
                           [{"row_id": row_id, "name_key": name_key(name)} for row_id, name in rows])
        last = rows[-1][0]


def upgrade() -> None:
    for table_name in TABLES:
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=False, server_default=''))
        _fill(table_name)
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.alter_column('name_key', server_default=None)
            batch_op.create_index(batch_op.f(f'ix_{table_name}_name_key'), ['name_key'], unique=False)


def downgrade() -> None:
    for table_name in TABLES:
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table_name}_name_key'))
            batch_op.drop_column('name_key')
