"""several phones and emails per account and contact

Adds ``other_phones``/``other_emails`` and ``search_text`` to accounts and contacts and the
``customers_contact_point`` index of every phone and email, filled from the existing rows.

Revision ID: e1f2a3b4c5d6
Revises: b369202bb554
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1f2a3b4c5d6'
down_revision: str | Sequence[str] | None = 'b369202bb554'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BATCH = 2000
TABLES = (("customers_account", "account_id"), ("customers_contact", "contact_id"))


def upgrade() -> None:
    # Pure functions (no model code): how values are split, normalised and searched.
    from plugins.customers.normalize import normalize_email, normalize_phone, search_text

    op.create_table('customers_contact_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.Column('normalized', sa.String(length=254), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['customers_account.id'], name=op.f('fk_customers_contact_point_account_id_customers_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_customers_contact_point_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['customers_contact.id'], name=op.f('fk_customers_contact_point_contact_id_customers_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers_contact_point'))
    )
    with op.batch_alter_table('customers_contact_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_contact_point_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_contact_point_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_contact_point_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_customers_contact_point_lookup', ['company_id', 'kind', 'normalized'], unique=False)

    for table, _owner in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ('other_phones', 'other_emails', 'search_text'):
                batch_op.add_column(sa.Column(column, sa.Text(), nullable=False, server_default=''))

    # Existing rows had one phone and one email: index them and make them searchable.
    connection = op.get_bind()
    points = sa.table('customers_contact_point', *(sa.column(name) for name in (
        'account_id', 'contact_id', 'kind', 'value', 'normalized', 'position', 'company_id')))
    for table, owner in TABLES:
        records = sa.table(table, sa.column('id'), sa.column('company_id'), sa.column('name'),
                           sa.column('phone'), sa.column('email'), sa.column('search_text'))
        last_id = 0
        while True:
            rows = connection.execute(sa.select(records.c.id, records.c.company_id, records.c.name, records.c.phone,
                                                records.c.email).where(records.c.id > last_id)
                                      .order_by(records.c.id).limit(BATCH)).all()
            if not rows:
                break
            last_id = rows[-1].id
            new_points = []
            for row in rows:
                phone, email = (row.phone or "").strip(), (row.email or "").strip()
                for kind, value, normalized in (("phone", phone, normalize_phone(phone)),
                                                ("email", email, normalize_email(email))):
                    if normalized:
                        new_points.append({"account_id": row.id if owner == "account_id" else None,
                                           "contact_id": row.id if owner == "contact_id" else None,
                                           "kind": kind, "value": value[:254], "normalized": normalized[:254],
                                           "position": 0, "company_id": row.company_id})
                connection.execute(records.update().where(records.c.id == row.id).values(
                    search_text=search_text(row.name, [phone] if phone else [], [email] if email else [])))
            if new_points:
                connection.execute(points.insert(), new_points)


def downgrade() -> None:
    for table, _owner in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ('search_text', 'other_emails', 'other_phones'):
                batch_op.drop_column(column)
    with op.batch_alter_table('customers_contact_point', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_contact_point_lookup')
        batch_op.drop_index(batch_op.f('ix_customers_contact_point_contact_id'))
        batch_op.drop_index(batch_op.f('ix_customers_contact_point_company_id'))
        batch_op.drop_index(batch_op.f('ix_customers_contact_point_account_id'))
    op.drop_table('customers_contact_point')
