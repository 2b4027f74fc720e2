"""text search index on accounts and contacts

Revision ID: a4b5c6d7e8f9
Revises: f3a4b5c6d7e8
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

from core.textsearch import create_text_index, drop_text_index


revision: str = 'a4b5c6d7e8f9'
down_revision: str | Sequence[str] | None = 'f3a4b5c6d7e8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("customers_account", "customers_contact")


def upgrade() -> None:
    # Substring search on the lists (name, emails, phones), filled from the rows already there.
    for table in TABLES:
        create_text_index(table, "search_text")


def downgrade() -> None:
    for table in TABLES:
        drop_text_index(table, "search_text")
