"""Monthly tallies of the funnel report: :class:`~plugins.sales.models.FunnelCreated` and
:class:`~plugins.sales.models.FunnelClosed`, so that the report reads a few hundred rows for
the whole months of its period instead of every deal (see :mod:`plugins.sales.funnel`); and
the open deals per stage and owner, :class:`~plugins.sales.models.BoardOpen`, for the board's
column headers (see :mod:`plugins.sales.board`).

Kept in step by the ORM: whenever a flush inserts, updates or deletes an opportunity, its old
key (the values before the flush: attribute history, else the row in the database) is taken
away and its new key added; the changes of one flush are summed per key and written with
one upsert per table (``INSERT … ON CONFLICT … DO UPDATE``, SQLite ≥ 3.24 and PostgreSQL).
A deal counts while it is out of the trash. Rows that fall to ``n = 0`` stay (harmless).

Code writing opportunities with Core statements (bulk loaders, the benchmark's generator)
bypasses the ORM and must call :func:`rebuild` for the company afterwards; so may an
operator (``crm sales rebuild-funnel``). Key columns hold 0 / "" for "none".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Float, cast, delete, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, object_session
from sqlalchemy.orm import attributes as orm_attributes

from plugins.sales.models import BoardOpen, FunnelClosed, FunnelCreated, Opportunity

# The columns of a deal that decide its tally rows.
COLUMNS = ("company_id", "pipeline_id", "owner_id", "team_id", "source", "furthest_stage_id", "stage_id",
           "created_at", "closed_at", "amount", "probability", "deleted_at")
CREATED_KEY = ("company_id", "pipeline_id", "month", "owner_id", "team_id", "source", "furthest_stage_id",
               "stage_id")
CLOSED_KEY = ("company_id", "pipeline_id", "month", "owner_id", "team_id", "source", "stage_id")
OPEN_KEY = ("company_id", "pipeline_id", "stage_id", "owner_id")
# session.info key: {table: {key: [n, amount, days or weighted amount]}}
_PENDING = "sales_funnel_tally"


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s UTC month (naive datetimes are UTC, as SQLite gives them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def _changes(values: dict[str, Any]) -> list[tuple[str, tuple[Any, ...], int, Decimal, float | Decimal]]:
    """The tally rows a deal with ``values`` counts in: (table, key, n, amount, days for a
    closed deal or the weighted amount for an open one)."""
    if values["deleted_at"] is not None or values["created_at"] is None:
        return []
    common = {"company_id": values["company_id"], "pipeline_id": values["pipeline_id"],
              "owner_id": values["owner_id"] or 0, "team_id": values["team_id"] or 0,
              "source": values["source"] or "", "furthest_stage_id": values["furthest_stage_id"] or 0,
              "stage_id": values["stage_id"]}
    created = {**common, "month": month_of(values["created_at"])}
    rows = [("created", tuple(created[name] for name in CREATED_KEY), 1, Decimal(0), 0.0)]
    if values["closed_at"] is not None:
        closed = {**common, "month": month_of(values["closed_at"])}
        closed_at, created_at = values["closed_at"], values["created_at"]
        if (closed_at.tzinfo is None) != (created_at.tzinfo is None):
            closed_at, created_at = closed_at.replace(tzinfo=None), created_at.replace(tzinfo=None)
        days = (closed_at - created_at).total_seconds() / 86400.0
        rows.append(("closed", tuple(closed[name] for name in CLOSED_KEY), 1, Decimal(values["amount"] or 0), days))
    else:
        amount = Decimal(values["amount"] or 0)
        weighted = amount * (values["probability"] or 0) / 100
        rows.append(("open", tuple(common[name] for name in OPEN_KEY), 1, amount, weighted))
    return rows


def _values(connection: Connection, target: Opportunity, *, before: bool) -> dict[str, Any]:
    """The deal's tally columns before the flush writes it (``before``) or after; from the
    object when it holds them, else from its row (the row is not yet written in before_*)."""
    state = orm_attributes.instance_state(target)
    values: dict[str, Any] = {}
    for name in COLUMNS:
        value = state.committed_state.get(name, orm_attributes.NO_VALUE) if before else orm_attributes.NO_VALUE
        if value is orm_attributes.NO_VALUE and not (before and name in state.committed_state):
            value = state.dict.get(name, orm_attributes.NO_VALUE)
        if value is orm_attributes.NO_VALUE:
            table = Opportunity.__table__
            row = connection.execute(select(*(table.c[column] for column in COLUMNS))
                                     .where(table.c.id == target.id)).mappings().first()
            return dict(row) if row is not None else {**dict.fromkeys(COLUMNS), "deleted_at": "gone"}
        values[name] = value
    return values


def _add(target: Opportunity, values: dict[str, Any], sign: int) -> None:
    session = object_session(target)
    if session is None:
        return
    pending = session.info.setdefault(_PENDING, {"created": {}, "closed": {}, "open": {}})
    for table, key, n, amount, days in _changes(values):
        row = pending[table].setdefault(key, [0, Decimal(0), Decimal(0) if table == "open" else 0.0])
        row[0] += sign * n
        row[1] += sign * amount
        row[2] += sign * days


def _before_change(_mapper: Mapper[Any], connection: Connection, target: Opportunity) -> None:
    _add(target, _values(connection, target, before=True), -1)


def _after_change(_mapper: Mapper[Any], connection: Connection, target: Opportunity) -> None:
    _add(target, _values(connection, target, before=False), +1)


def _tallied_columns_changed(target: Opportunity) -> bool:
    """Whether the flush changes a column the tallies read (a note or a name does not)."""
    committed = orm_attributes.instance_state(target).committed_state
    return any(name in committed for name in COLUMNS)


def _before_update(mapper: Mapper[Any], connection: Connection, target: Opportunity) -> None:
    if _tallied_columns_changed(target):
        _before_change(mapper, connection, target)


def _after_update(mapper: Mapper[Any], connection: Connection, target: Opportunity) -> None:
    if _tallied_columns_changed(target):
        _after_change(mapper, connection, target)


def _after_insert(mapper: Mapper[Any], connection: Connection, target: Opportunity) -> None:
    # Columns the new deal was not given were inserted as NULL (none has a server default):
    # say so on the object, which spares a query here and at its next change.
    state = orm_attributes.instance_state(target)
    for name in COLUMNS:
        if name not in state.dict and mapper.columns[name].server_default is None:
            orm_attributes.set_committed_value(target, name, None)
    _after_change(mapper, connection, target)


def _start_flush(session: Session, _context: Any, _instances: Any) -> None:
    session.info.pop(_PENDING, None)  # what a failed flush left behind


def _upsert(connection: Connection, model: type, names: tuple[str, ...], rows: list[dict[str, Any]],
            sums: tuple[str, ...]) -> None:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = model.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in names],
        set_={name: table.c[name] + getattr(statement.excluded, name) for name in sums})
    connection.execute(statement)


def _end_flush(session: Session, _context: Any) -> None:
    """Write the flush's changes: one upsert per table, keys whose changes cancel out skipped."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    created = [dict(zip(CREATED_KEY, key, strict=True), n=n)
               for key, (n, _amount, _days) in sorted(pending["created"].items(), key=repr) if n]
    closed = [dict(zip(CLOSED_KEY, key, strict=True), n=n, amount=amount, days=days)
              for key, (n, amount, days) in sorted(pending["closed"].items(), key=repr) if n or amount or days]
    if created:
        _upsert(connection, FunnelCreated, CREATED_KEY, created, ("n",))
    if closed:
        _upsert(connection, FunnelClosed, CLOSED_KEY, closed, ("n", "amount", "days"))
    opened = [dict(zip(OPEN_KEY, key, strict=True), n=n, amount=amount, weighted=weighted)
              for key, (n, amount, weighted) in sorted(pending["open"].items(), key=repr) if n or amount or weighted]
    if opened:
        _upsert(connection, BoardOpen, OPEN_KEY, opened, ("n", "amount", "weighted"))


event.listen(Opportunity, "before_update", _before_update)
event.listen(Opportunity, "before_delete", _before_change)
event.listen(Opportunity, "after_insert", _after_insert)
event.listen(Opportunity, "after_update", _after_update)
event.listen(Session, "before_flush", _start_flush)
event.listen(Session, "after_flush", _end_flush)


# -- rebuilding --------------------------------------------------------------------------------------


def month_sql(dialect: str, column: Any) -> Any:
    """SQL: the first day of the UTC month of the timestamp ``column``. SQLite stores
    timestamps as UTC text ("2026-11-25 19:56:53.000000"): ``date(…, 'start of month')``
    gives "2026-11-01", the text of a Date; PostgreSQL truncates in UTC, not the session zone."""
    if dialect == "postgresql":
        return cast(func.date_trunc("month", func.timezone("UTC", column)), Date())
    return func.date(column, "start of month")


def days_sql(dialect: str, later: Any, earlier: Any) -> Any:
    """SQL: days (with fractions) from ``earlier`` to ``later``."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return cast(func.julianday(later) - func.julianday(earlier), Float)


def rebuild_statements(dialect: str, company_id: int | None = None) -> list[Any]:
    """The statements that recompute the tallies of ``company_id`` (None: every company)
    from ``sales_opportunity``: two deletes and two ``INSERT … SELECT … GROUP BY``. Core
    only, on the tables' metadata, so that a migration can run them as well."""
    deals = Opportunity.__table__.c
    created, closed, opened = FunnelCreated.__table__, FunnelClosed.__table__, BoardOpen.__table__
    where = [deals.deleted_at.is_(None), deals.created_at.is_not(None)]
    if company_id is not None:
        where.append(deals.company_id == company_id)
    common = [deals.company_id, deals.pipeline_id, func.coalesce(deals.owner_id, 0), func.coalesce(deals.team_id, 0),
              func.coalesce(deals.source, "")]
    created_month = month_sql(dialect, deals.created_at)
    # The same expression objects in SELECT and GROUP BY: PostgreSQL needs them identical,
    # bound parameters included.
    created_key = [*common[:2], created_month, *common[2:], func.coalesce(deals.furthest_stage_id, 0), deals.stage_id]
    created_select = select(*created_key, func.count()).where(*where).group_by(*created_key)
    closed_month = month_sql(dialect, deals.closed_at)
    closed_key = [*common[:2], closed_month, *common[2:], deals.stage_id]
    closed_select = (select(*closed_key, func.count(), func.coalesce(func.sum(deals.amount), 0),
                            func.coalesce(func.sum(days_sql(dialect, deals.closed_at, deals.created_at)), 0.0))
                     .where(*where, deals.closed_at.is_not(None))
                     .group_by(*closed_key))
    open_key = [deals.company_id, deals.pipeline_id, deals.stage_id, common[2]]
    open_select = (select(*open_key, func.count(), func.coalesce(func.sum(deals.amount), 0),
                          func.coalesce(func.sum(deals.amount * deals.probability / 100.0), 0))
                   .where(*where, deals.closed_at.is_(None)).group_by(*open_key))
    return [
        *(delete(table) if company_id is None else delete(table).where(table.c.company_id == company_id)
          for table in (created, closed, opened)),
        created.insert().from_select([*CREATED_KEY, "n"], created_select),
        closed.insert().from_select([*CLOSED_KEY, "n", "amount", "days"], closed_select),
        opened.insert().from_select([*OPEN_KEY, "n", "amount", "weighted"], open_select),
    ]


def rebuild(session: Session, company_id: int | None) -> None:
    """Recompute the tallies of ``company_id`` (None: all companies) from the deals, in the
    session's transaction. For data written with Core statements, and for repairs."""
    connection = session.connection()
    for statement in rebuild_statements(connection.dialect.name, company_id):
        connection.execute(statement)


def tally_rows(session: Session, company_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """The company's tally rows with ``n`` other than 0, as comparable tuples (amounts to
    cents, days to 3 decimals): for tests and checks that the tallies match the deals."""
    created, closed, opened = FunnelCreated.__table__.c, FunnelClosed.__table__.c, BoardOpen.__table__.c
    connection = session.connection()
    made = connection.execute(select(*(created[name] for name in CREATED_KEY), created.n)
                              .where(created.company_id == company_id, created.n != 0))
    done = connection.execute(select(*(closed[name] for name in CLOSED_KEY), closed.n, closed.amount, closed.days)
                              .where(closed.company_id == company_id, closed.n != 0))

    board = connection.execute(select(*(opened[name] for name in OPEN_KEY), opened.n, opened.amount, opened.weighted)
                               .where(opened.company_id == company_id, opened.n != 0))

    def plain(value: Any) -> Any:
        return value.isoformat()[:10] if isinstance(value, date | datetime) else value

    return {
        "created": {tuple(plain(value) for value in row) for row in made},
        "closed": {(*(plain(value) for value in row[:-2]), f"{Decimal(str(row[-2])):.2f}", round(float(row[-1]), 3))
                   for row in done},
        "open": {(*row[:-2], f"{Decimal(str(row[-2])):.2f}", f"{Decimal(str(row[-1])):.2f}") for row in board},
    }


# -- the command line --------------------------------------------------------------------------------


def cli_group() -> Any:
    """``crm sales rebuild-funnel [--company SLUG]``: recompute the tallies from the deals (after
    a bulk load with Core statements, or to repair them); every company when none is named."""
    import click

    from core.cli_support import find_company, with_app
    from core.db import get_session

    @click.group("sales")
    def sales() -> None:
        """Sales: maintenance of the sales plugin's data."""

    @sales.command("rebuild-funnel")
    @click.option("--company", "company_slug", metavar="SLUG", help="Only this company (default: every company).")
    @with_app(check_schema=True)
    def rebuild_funnel(company_slug: str | None) -> None:
        """Recompute the funnel report's monthly tallies from the opportunities."""
        session = get_session()
        company = find_company(company_slug) if company_slug else None
        rebuild(session, company.id if company is not None else None)
        session.commit()
        click.echo(f"Rebuilt the funnel tallies of {company.name if company is not None else 'every company'}.")

    return sales
