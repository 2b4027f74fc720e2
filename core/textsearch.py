"""Substring search served by an index: "every row whose text contains this fragment", fast on
large tables, on SQLite and PostgreSQL.

A plugin keeps one text column per searchable table (say ``search_text``), lower-cased, holding
everything a row should be found by, and indexes it in a migration::

    from core.textsearch import create_text_index, drop_text_index

    def upgrade() -> None:
        create_text_index("notes_note", "search_text")

    def downgrade() -> None:
        drop_text_index("notes_note", "search_text")

and asks for matching rows with :func:`text_contains` (one fragment) or :func:`text_matches`
(every word of a search, or one of several alternatives), or gives the column to a
:class:`core.listing.Listing` as ``search_text``.

How it is indexed:

* **SQLite**: an FTS5 table with the ``trigram`` tokenizer holding its own copy of the column
  (followed by one space, see below), kept in step by triggers after every insert, delete and
  update of the column on the base table: rows written with Core ``insert()`` by imports are
  indexed with no extra code. A fragment of 3 characters or more is looked up in it with
  ``MATCH``. A trigram index cannot look up fewer characters, so a two-character fragment (a
  two-character Chinese name is common) is found through the index's vocabulary (an
  ``fts5vocab`` table): the trigrams that begin with it, ORed in one ``MATCH``; the space after
  the copied text makes every two characters of it the beginning of a trigram. A
  one-character fragment is matched with ``LIKE`` against the rows the longer words found, or,
  alone, against the narrow copy in the index (a scan of it, not of the wide base rows).
* **PostgreSQL**: a GIN index with ``gin_trgm_ops`` (the ``pg_trgm`` extension, created if
  missing: the migration's database user may need the right to create it), which serves
  ``ILIKE '%fragment%'`` directly.
* Other databases: no index, ``LIKE`` over the column.

The index's objects are named after the table and column with the suffix ``_textsearch``
(the FTS5 table, its shadow tables, its vocabulary table, its triggers, the PostgreSQL index),
and
:func:`is_text_index_object` tells the migration check to leave them out of the comparison
with the models, which do not declare them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

SUFFIX = "_textsearch"
MIN_INDEXED_LENGTH = 3  # the trigram tokenizer finds nothing for fewer characters
_LAST = "\U0010ffff"  # the greatest code point: the end of a range of terms sharing a beginning
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The FTS5 table, its shadow tables (data, idx, docsize, config, content), its fts5vocab table
# and the PostgreSQL index.
_INDEX_OBJECT = re.compile(rf"^(ix_)?[A-Za-z0-9_]+{SUFFIX}(_(data|idx|docsize|config|content|vocab))?$")
# Appended to the indexed copy of the text: the last character of the text then begins a
# trigram too, so every two characters of the text begin one (the short-word lookup needs it).
# Words are stripped, so none ends with it and it never makes a match of its own.
_PADDING = " "


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching ``text`` anywhere, taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def index_name(table_name: str, column_name: str) -> str:
    """The name of the index of ``table_name.column_name`` (the FTS5 table on SQLite)."""
    for name in (table_name, column_name):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain SQL identifier")
    return f"{table_name}_{column_name}{SUFFIX}"


def is_text_index_object(name: str | None) -> bool:
    """Whether ``name`` is a table or an index that :func:`create_text_index` made (the schema
    comparison with the models leaves them out)."""
    return bool(name) and _INDEX_OBJECT.match(str(name)) is not None


# -- migrations ---------------------------------------------------------------------------------------


_TRIGGER_EVENTS = ("insert", "delete", "update")


def vocabulary_name(table_name: str, column_name: str) -> str:
    """The ``fts5vocab`` table listing the trigrams of the SQLite index (one row per trigram)."""
    return index_name(table_name, column_name) + "_vocab"


def _sqlite_definitions(table_name: str, column_name: str) -> list[str]:
    """The statements creating the SQLite index's objects, as ``sqlite_master`` keeps them."""
    fts = index_name(table_name, column_name)
    # The FTS5 table keeps its own copy of the text (no content= option): the one-character
    # scan reads that narrow copy, and the copy carries the padding. columnsize=0: no per-row
    # token counts, which only ranking would read.
    return [f"CREATE VIRTUAL TABLE {fts} USING fts5({column_name}, tokenize='trigram', columnsize=0)",
            f"CREATE VIRTUAL TABLE {vocabulary_name(table_name, column_name)} USING fts5vocab({fts}, 'row')",
            *_sqlite_triggers(table_name, column_name)]


def sqlite_statements(table_name: str, column_name: str) -> list[str]:
    """The statements that create the SQLite index of ``table_name.column_name`` and fill it."""
    fts = index_name(table_name, column_name)
    return [*_sqlite_definitions(table_name, column_name),
            f"INSERT INTO {fts}(rowid, {column_name}) SELECT rowid, {_copied('', column_name)} FROM {table_name}"]


def _copied(row: str, column_name: str) -> str:
    """The text the index keeps for a row's ``column_name`` (``row`` is ``new.`` in a trigger)."""
    return f"{row}{column_name} || '{_PADDING}'"


def _sqlite_triggers(table_name: str, column_name: str) -> list[str]:
    fts = index_name(table_name, column_name)
    column = column_name
    add = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.rowid, {_copied('new.', column)});"
    remove = f"DELETE FROM {fts} WHERE rowid = old.rowid;"
    return [
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table_name} BEGIN {add} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table_name} BEGIN {remove} END",
        # Only when the text (or the id) changes: an update of other columns, or one writing the
        # same text again (the ORM does), leaves the index alone.
        (f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {table_name} "
         f"WHEN old.rowid IS NOT new.rowid OR old.{column} IS NOT new.{column} BEGIN {remove} {add} END"),
    ]


def sqlite_drop_statements(table_name: str, column_name: str) -> list[str]:
    fts = index_name(table_name, column_name)
    return [*(f"DROP TRIGGER IF EXISTS {fts}_{event}" for event in _TRIGGER_EVENTS),
            f"DROP TABLE IF EXISTS {vocabulary_name(table_name, column_name)}", f"DROP TABLE IF EXISTS {fts}"]


def postgresql_statements(table_name: str, column_name: str) -> list[str]:
    name = "ix_" + index_name(table_name, column_name)
    return ["CREATE EXTENSION IF NOT EXISTS pg_trgm",
            f"CREATE INDEX {name} ON {table_name} USING gin ({column_name} gin_trgm_ops)"]


def postgresql_drop_statements(table_name: str, column_name: str) -> list[str]:
    # The extension stays: other indexes may use it.
    return [f"DROP INDEX IF EXISTS ix_{index_name(table_name, column_name)}"]


def _run(statements: Sequence[str]) -> None:
    from alembic import op

    for statement in statements:
        op.execute(statement)


def _dialect() -> str:
    from alembic import op

    return str(op.get_context().dialect.name)


def create_text_index(table_name: str, column_name: str) -> None:
    """Index ``table_name.column_name`` for substring search, filled from the existing rows.
    Call it in a plugin's Alembic migration (``upgrade``), after the column exists."""
    dialect = _dialect()
    if dialect == "sqlite":
        _run(sqlite_statements(table_name, column_name))
    elif dialect == "postgresql":
        _run(postgresql_statements(table_name, column_name))


def drop_text_index(table_name: str, column_name: str) -> None:
    """Remove what :func:`create_text_index` made (in ``downgrade``, before the column or the
    table goes)."""
    dialect = _dialect()
    if dialect == "sqlite":
        _run(sqlite_drop_statements(table_name, column_name))
    elif dialect == "postgresql":
        _run(postgresql_drop_statements(table_name, column_name))


_FTS_COLUMN = re.compile(r"USING\s+fts5\(\s*(\w+)\s*,", re.IGNORECASE)


def repair_text_indexes(connection: Connection) -> list[str]:
    """Remake, filled from the rows, the SQLite text indexes that are not exactly what
    :func:`create_text_index` makes today; returns their names. Called after every migration
    run.

    SQLite cannot alter most of a table, so Alembic's batch mode (``batch_alter_table``
    changing a column or a constraint) copies the table to a new one and drops the old one,
    and the triggers go with it: the index would silently stop following the rows. The ids
    are copied as they were, so refilling the index is all that is needed. An index made by
    an earlier version of this module (another shape) is remade the same way."""
    if connection.dialect.name != "sqlite":
        return []
    objects = connection.execute(text("SELECT type, name, sql FROM sqlite_master")).all()
    tables = {name for kind, name, _sql in objects if kind == "table"}
    definitions = {name: sql for _kind, name, sql in objects}
    repaired = []
    for kind, name, sql in objects:
        found = _FTS_COLUMN.search(sql or "") if kind == "table" and name.endswith(SUFFIX) else None
        if found is None:
            continue
        column_name = found.group(1)
        table_name = name[:-len(f"_{column_name}{SUFFIX}")]
        if not table_name or index_name(table_name, column_name) != name or table_name not in tables:
            continue
        expected = _sqlite_definitions(table_name, column_name)
        if all(statement in definitions.values() for statement in expected):
            continue
        for statement in [*sqlite_drop_statements(table_name, column_name), *sqlite_statements(table_name, column_name)]:
            connection.exec_driver_sql(statement)
        repaired.append(name)
    return repaired


@contextmanager
def deferred_indexing(connection: Connection, table_name: str) -> Iterator[None]:
    """Leave the SQLite text indexes of ``table_name`` alone while rows are bulk-inserted,
    then index the new rows in one statement per index. Within one transaction.

    The insert trigger makes FTS5 flush its pending terms at the end of every statement, once
    per row under ``executemany``: ten times slower than one ``INSERT … SELECT`` of the new rows
    at the end. Only inserts are deferred: the rows must be new (a higher ``rowid`` than any
    before), and updates or deletes meanwhile are not seen. Nothing to do on PostgreSQL, whose
    GIN index is an ordinary index (see :func:`core.bulk.bulk_loading`)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    columns = _sqlite_text_columns(connection, table_name)
    last = connection.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {table_name}").scalar()
    for column_name in columns:
        connection.exec_driver_sql(f"DROP TRIGGER {index_name(table_name, column_name)}_insert")
    yield
    for column_name in columns:
        fts = index_name(table_name, column_name)
        connection.exec_driver_sql(
            f"INSERT INTO {fts}(rowid, {column_name}) SELECT rowid, {_copied('', column_name)} "
            f"FROM {table_name} WHERE rowid > ?", (last,))
        connection.exec_driver_sql(_sqlite_triggers(table_name, column_name)[0])


def _sqlite_text_columns(connection: Connection, table_name: str) -> list[str]:
    """The columns of ``table_name`` that have a text index on SQLite (its insert trigger)."""
    prefix, suffix = f"{table_name}_", f"{SUFFIX}_insert"
    names = connection.execute(
        text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"),
        {"table": table_name}).scalars()
    return [name[len(prefix):-len(suffix)] for name in names if name.startswith(prefix) and name.endswith(suffix)]


# -- queries -----------------------------------------------------------------------------------------


def _dialect_of_app() -> str:
    from core.db import get_database

    return str(get_database().engine.dialect.name)


def _phrase(word: str) -> str:
    """``word`` as an FTS5 string: every character literal (quotes doubled), so ``*``, ``-``,
    ``^``, ``NEAR``, ``OR`` or a stray ``"`` in a search are text, never query syntax."""
    return '"' + word.replace('"', '""') + '"'


def _column(column: Any) -> Any:
    """The table column behind ``column`` (a model attribute or a Core column)."""
    return getattr(column, "expression", column)


def _row_key(column: Any) -> Any:
    """What the FTS5 rowid equals in ``column``'s table: its integer primary key (SQLite's
    rowid alias), else the rowid itself."""
    source = _column(column).table
    keys = list(source.primary_key.columns) if hasattr(source, "primary_key") else []
    if len(keys) == 1 and isinstance(keys[0].type, Integer):
        return keys[0]
    return literal_column(f"{source.name}.rowid")


def _table_name(column: Any) -> str:
    source = _column(column).table
    original = getattr(source, "element", source)  # an alias reads its table's index
    return str(getattr(original, "name", source.name))


def _like(column: Any, word: str, dialect: str) -> ColumnElement[bool]:
    pattern = contains_pattern(word)
    # SQLite's LIKE already ignores the case of ASCII letters; ILIKE is what pg_trgm serves.
    return column.like(pattern, escape="\\") if dialect == "sqlite" else column.ilike(pattern, escape="\\")


def _normalised(words: Iterable[str]) -> list[str]:
    return [word for word in (str(word).strip().lower() for word in words) if word]


def text_matches(column: Any, *alternatives: Iterable[str], dialect: str | None = None) -> ColumnElement[bool]:
    """The rows whose indexed ``column`` contains every word of at least one of the
    ``alternatives`` (each a list of words), matched lower-cased.

    On SQLite the words of 3 characters or more of every alternative are looked up in the
    index with one ``MATCH`` (``("a" AND "b") OR "c"``); a two-character word is looked up in
    the index too, as the trigrams beginning with it; a one-character word becomes a ``LIKE``
    condition on the column that sifts the rows the other words found, or, in an alternative
    of one-character words only, a scan of the index's copy of the text. An alternative
    without words matches every row; no alternative matches none. ``dialect`` defaults to
    the application database's.
    """
    dialect = dialect or _dialect_of_app()
    groups = [list(words) for words in dict.fromkeys(tuple(_normalised(words)) for words in alternatives)]
    if not groups:
        return false()
    if any(not words for words in groups):
        return true()
    if dialect != "sqlite":
        return or_(*(and_(*(_like(column, word, dialect) for word in words)) for words in groups))
    indexed = [[w for w in words if len(w) >= MIN_INDEXED_LENGTH] for words in groups]
    if all(len(long) == len(words) for long, words in zip(indexed, groups, strict=True)):
        return _in_index(column, indexed)  # the usual case: one lookup in the index answers all
    return or_(*(_sqlite_group(column, words, long) for words, long in zip(groups, indexed, strict=True)))


def _sqlite_group(column: Any, words: list[str], long: list[str]) -> ColumnElement[bool]:
    """Every word of one alternative, some of them shorter than a trigram, on SQLite."""
    pairs = [word for word in words if len(word) == 2]
    singles = [word for word in words if len(word) == 1]
    found = [*([_in_index(column, [long])] if long else []), *(_in_pairs(column, word) for word in pairs)]
    if found:  # the index narrowed the rows down: a LIKE on each of them costs little
        return and_(*found, *(_like(column, word, "sqlite") for word in singles))
    return _in_copy(column, singles)


def _in_index(column: Any, groups: list[list[str]]) -> ColumnElement[bool]:
    """``rowid IN (SELECT rowid FROM <fts> WHERE <fts> MATCH :query)`` for SQLite."""
    query = " OR ".join("(" + " AND ".join(_phrase(word) for word in words) + ")" for words in groups)
    return _matching(column, bindparam(None, query, unique=True))


def _matching(column: Any, query: Any) -> ColumnElement[bool]:
    fts = _fts(column)
    found = select(literal_column("rowid")).select_from(table(fts)).where(literal_column(fts).op("MATCH")(query))
    return _row_key(column).in_(found)


def _in_pairs(column: Any, word: str) -> ColumnElement[bool]:
    """The rows containing the two-character ``word``: those holding a trigram that begins
    with it (the index's copy ends with a padding character, so its last two characters begin
    one too). The index's vocabulary lists these trigrams, found by a range of its sorted
    terms (a B-tree lookup); they are ORed into one ``MATCH``. None found: the word itself as a
    phrase, which a trigram index answers with no row."""
    vocabulary = literal_column("term")
    as_phrase = literal('"').concat(func.replace(vocabulary, '"', '""')).concat('"')
    # Every term is three characters: those in [word, word + the last code point] begin with it.
    terms = vocabulary.between(bindparam(None, word, unique=True), bindparam(None, word + _LAST, unique=True))
    query = (select(func.coalesce(func.group_concat(as_phrase, " OR "), bindparam(None, _phrase(word), unique=True)))
             .select_from(table(vocabulary_name(_table_name(column), _column(column).name))).where(terms))
    return _matching(column, query.scalar_subquery())


def _in_copy(column: Any, words: list[str]) -> ColumnElement[bool]:
    """The rows whose copy of the text in the index contains every word: a scan of that
    narrow copy (row id and text) instead of the wide rows of the table. The ``ESCAPE`` keeps
    FTS5 from taking the ``LIKE`` over itself (it answers patterns of fewer than three
    characters with no row)."""
    fts = _fts(column)
    copy = literal_column(f"{fts}.{_column(column).name}")
    found = select(literal_column("rowid")).select_from(table(fts)).where(
        *(_like(copy, word, "sqlite") for word in words))
    return _row_key(column).in_(found)


def _fts(column: Any) -> str:
    return index_name(_table_name(column), _column(column).name)


def text_contains(column: Any, word: str, dialect: str | None = None) -> ColumnElement[bool]:
    """The rows whose indexed ``column`` contains ``word`` (lower-cased), anywhere: see
    :func:`text_matches`."""
    return text_matches(column, [word], dialect=dialect)
