"""Loading many rows fast: the demo data at scale, and any plugin's bulk generator.

Three pieces, used together inside one transaction::

    from core.bulk import bulk_loading, insert_rows, reserve_ids

    connection = session.connection()
    ids = reserve_ids(connection, Note.__table__, 100_000)
    with bulk_loading(connection, Note.__table__):
        insert_rows(connection, Note.__table__, ({"id": i, "company_id": company.id, ...} for i in ids))

:func:`bulk_loading` drops the tables' secondary indexes (and defers their text indexes,
:func:`core.textsearch.deferred_indexing`) and builds them again at the end: building an index
once from sorted rows is several times faster than growing it row by row. :func:`insert_rows`
writes rows with the driver's fastest path: ``executemany`` of ready tuples on SQLite (values
converted once per column kind, not through SQLAlchemy's per-value processors), ``COPY`` on
PostgreSQL. :func:`reserve_ids` hands out the ids the new rows will have, so that rows of
another table can point at them before they are written.

This is for rows nobody else is writing at the same time (a generator, a first load): the
indexes are missing for the length of the load, and no ORM event or audit entry is made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Table, text
from sqlalchemy.engine import Connection

from core.textsearch import deferred_indexing

BATCH_ROWS = 10_000


@contextmanager
def bulk_loading(connection: Connection, *tables: Table) -> Iterator[None]:
    """Drop the secondary indexes of ``tables`` for the length of the ``with`` block and build
    them again at its end, in the same transaction (if the block fails, the rollback brings
    them back). Indexes backing a primary key or a unique constraint stay; a ``CREATE UNIQUE
    INDEX`` of its own goes too on SQLite, so a duplicate fails when it is built again. On PostgreSQL the
    tables' foreign keys go too and are added back at the end, which checks every row in one
    pass instead of one lookup per row during ``COPY`` (SQLite cannot drop a constraint, and
    checks them as the rows come), and the tables are analysed for the planner."""
    _begin(connection)
    with ExitStack() as stack:
        rebuild: list[str] = []
        for table in tables:
            stack.enter_context(deferred_indexing(connection, table.name))
            for name, definition in _secondary_indexes(connection, table.name):
                connection.exec_driver_sql(f"DROP INDEX {name}")
                rebuild.append(definition)
            for name, definition in _foreign_keys(connection, table.name):
                connection.exec_driver_sql(f"ALTER TABLE {table.name} DROP CONSTRAINT {name}")
                rebuild.append(f"ALTER TABLE {table.name} ADD CONSTRAINT {name} {definition}")
        yield
        for statement in rebuild:
            connection.exec_driver_sql(statement)
        if connection.dialect.name == "postgresql":
            # Fresh statistics: until autovacuum gets to the new rows the planner knows nothing
            # of them, and a text search over 100,000 rows took 770 ms instead of milliseconds.
            for table in tables:
                connection.exec_driver_sql(f"ANALYZE {table.name}")


def _begin(connection: Connection) -> None:
    """Make sure the DDL to come is part of a transaction: Python's ``sqlite3`` opens one by
    itself only before a DML statement, and runs DDL outside one otherwise (committed at once,
    not undone by a rollback)."""
    if connection.dialect.name == "sqlite" and not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def _secondary_indexes(connection: Connection, table_name: str) -> list[tuple[str, str]]:
    if connection.dialect.name == "sqlite":
        # Indexes declared by a constraint (primary key, UNIQUE) have no SQL of their own.
        rows = connection.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"),
            {"table": table_name})
    elif connection.dialect.name == "postgresql":
        rows = connection.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = :table AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.conrelid = to_regclass(i.tablename))"),
            {"table": table_name})
    else:
        return []
    return [(name, definition) for name, definition in rows]


def _foreign_keys(connection: Connection, table_name: str) -> list[tuple[str, str]]:
    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = to_regclass(:table)"), {"table": table_name})
    return [(name, definition) for name, definition in rows]


def reserve_ids(connection: Connection, table: Table, count: int) -> Sequence[int]:
    """``count`` ids of ``table`` (an integer ``id`` primary key) that no other row has or will
    get: give them to :func:`insert_rows` as the rows' ``id``. On SQLite the ids after the
    greatest one in use (within a write transaction, nobody else can take them); on PostgreSQL,
    taken from the table's sequence."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        return list(connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count}).scalars())
    last = connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()
    return range(last + 1, last + 1 + count)


def insert_rows(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (mappings with the same keys, named after ``table``'s columns) into
    ``table``; returns how many. A column left out of the rows gets its default when that is a
    constant or a function of nothing (called once for the whole load, so every row gets the
    same ``created_at``), else the database's default."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    prepared = _Prepared(connection, table, list(first))
    write = _copy if connection.dialect.name == "postgresql" else _executemany
    count = 0
    everything = chain([first], iterator)
    while batch := prepared.tuples(islice(everything, BATCH_ROWS)):
        write(connection, table, prepared.columns, batch)
        count += len(batch)
    return count


# SQLite's limit of bound parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
SQLITE_MAX_PARAMETERS = 32_766


def insert_values(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                  return_ids: bool = False) -> list[int]:
    """Insert ``rows`` on SQLite with multi-row ``INSERT … VALUES (…), (…)`` statements of
    ready values; with ``return_ids``, the new ids (column ``id``) in the order of ``rows``.
    For a live database, where the text indexes' triggers stay (:func:`core.imports.bulk_insert`):
    one statement per row under ``executemany`` would make FTS5 flush its terms after each row,
    and SQLAlchemy's own multi-row statements process every value in Python. SQLite numbers
    new rows in the order it inserts them, so the ids sorted are those of ``rows`` in order."""
    if not rows:
        return []
    prepared = _Prepared(connection, table, list(rows[0]))
    row_marks = "(" + ", ".join("?" for _ in prepared.columns) + ")"
    per_statement = max(1, min(1000, SQLITE_MAX_PARAMETERS // len(prepared.columns)))
    ids: list[int] = []
    head = f"INSERT INTO {table.name} ({', '.join(prepared.columns)}) VALUES "
    for start in range(0, len(rows), per_statement):
        batch = prepared.tuples(rows[start:start + per_statement])
        statement = head + ", ".join(row_marks for _ in batch) + (" RETURNING id" if return_ids else "")
        result = connection.exec_driver_sql(statement, tuple(chain.from_iterable(batch)))
        if return_ids:
            ids.extend(result.scalars())
    return sorted(ids)


class _Prepared:
    """How the rows with ``keys`` go into ``table``: the columns written (the keys, then the
    defaults of the columns left out) and the values as the driver takes them."""

    def __init__(self, connection: Connection, table: Table, keys: list[str]) -> None:
        defaults = _defaults(table, keys)
        self.columns = [*keys, *defaults]
        self._values_of = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
        self._converted = [(position, convert) for position, convert
                           in enumerate(_converters(connection, table, keys)) if convert is not None]
        # The defaults go through the same conversion as the rows' values, once.
        self._constants = tuple(value if convert is None else convert(value) for value, convert in
                                zip(defaults.values(), _converters(connection, table, list(defaults)), strict=True))

    def tuples(self, batch: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        rows = []
        for row in batch:
            values = list(self._values_of(row))
            for position, convert in self._converted:
                values[position] = convert(values[position])
            rows.append((*values, *self._constants))
        return rows


def _defaults(table: Table, keys: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in keys or default is None:
            continue
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)  # SQLAlchemy passes a context; ours ignore it
    return values


def _executemany(connection: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    placeholders = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def _copy(connection: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _sqlite_datetime(value: datetime | None) -> str | None:
    # What SQLAlchemy's SQLite DATETIME stores (the time zone is dropped), in one C call.
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_boolean(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _converters(connection: Connection, table: Table, keys: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """For each key, the function making its values what the driver takes: psycopg adapts
    Python's values itself (but for JSON, which ``COPY`` takes as text); on SQLite the common
    types have a fast path and any other goes through the type's own bind processor. ``None``
    where the value goes as it is."""
    dialect = connection.dialect
    converters = []
    for key in keys:
        column_type = table.c[key].type
        convert: Callable[[Any], Any] | None
        if isinstance(column_type, JSON):
            convert = json.dumps
        elif dialect.name == "postgresql" or isinstance(column_type, Integer):
            convert = None
        elif isinstance(column_type, DateTime):
            convert = _sqlite_datetime
        elif isinstance(column_type, Date):
            convert = _sqlite_date
        elif isinstance(column_type, Boolean):
            convert = _sqlite_boolean
        else:
            convert = column_type.dialect_impl(dialect).bind_processor(dialect)
        converters.append(convert)
    return converters
