"""List pages: server-side search, sort, pagination and CSV export, declared once per list.

A plugin describes its list with a :class:`Listing` (the rows, the columns, what the search box
looks in) and gets, for each request, a :class:`ListPage` to render with the macros of
``templates/macros/list.html``::

    NOTES = Listing(
        Note,
        columns=[
            Column("title", _l("Title"), sortable=True),
            Column("added", _l("Added"), Note.created_at, sortable=True),
        ],
        search=[Note.title, Note.body],
        default_sort="-added",
        extra=[Note.id],
    )

    page = NOTES.page()             # reads q, sort and page from the query string
    return NOTES.render("notes/index.html", page)
    return NOTES.export_csv("notes.csv")

Fast by construction: a page runs two queries (a count and the rows) whatever the row count,
and selects only the columns the list shows (plus ``extra``). Company scoping and soft-delete
hiding apply as to any ORM query; record visibility is the plugin's: pass a statement made
with :func:`core.access.visible`. Bad input never fails: an unknown sort key falls back to the
default sort, a page number that is not a number to the first page, a page after the last to
the last one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from flask import Response, current_app, request, stream_with_context, url_for
from sqlalchemy import Select, String, and_, cast, func, inspect, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.db import get_database, get_session
from core.i18n import format_date, format_datetime, translate

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
EXPORT_BATCH_SIZE = 500
RESULTS_BLOCK = "results"

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _default_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def _export_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # in UTC, without an offset, as spreadsheets read it
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column of a list.

    ``key`` names it in the query string (``?sort=key``) and on each row (``row.key``);
    ``label`` is its header (a lazy string, translated when shown, and the CSV header);
    ``expression`` is how to read the value: a model attribute or any SQL expression
    (default: the model's attribute named ``key``). ``format`` turns a value into the text
    shown in the page (default: dates and times in the reader's language, ``None`` as
    nothing); ``export`` into the CSV text (default: ISO dates, ``str`` otherwise).
    """

    key: str
    label: Any
    expression: Any = None
    sortable: bool = False
    format: Callable[[Any], str] | None = None
    export: Callable[[Any], str] | None = None

    def text(self, value: Any) -> str:
        return (self.format or _default_text)(value)

    def export_text(self, value: Any) -> str:
        return (self.export or _export_text)(value)


@dataclass
class ListPage:
    """What a template needs to show one page of a list."""

    listing: Listing
    rows: list[Any]
    total: int
    page: int
    pages: int
    sort: str  # "key" or "-key"; "" when unsorted
    q: str

    @property
    def columns(self) -> Sequence[Column]:
        return self.listing.columns

    @property
    def id(self) -> str:
        return self.listing.id

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def label(self, column: Column) -> str:
        """``column``'s header in the reader's language."""
        return translate(column.label)

    def text(self, row: Any, column: Column) -> str:
        """The text of ``column`` in ``row``, as shown in the page."""
        return column.text(getattr(row, column.key))

    def sort_state(self, column: Column) -> str | None:
        """``ascending``/``descending`` when the list is sorted on ``column`` (for aria-sort)."""
        if self.sort == column.key:
            return "ascending"
        if self.sort == "-" + column.key:
            return "descending"
        return None

    def sort_toggle(self, column: Column) -> str:
        """The sort a click on ``column``'s header asks for: ascending first, then descending."""
        return "-" + column.key if self.sort == column.key else column.key

    def url(self, endpoint: str | None = None, **changes: Any) -> str:
        """This list's URL (or ``endpoint``'s) with the current q and sort, and ``changes``.

        A value of ``None`` or ``""`` drops the parameter; the first page is left out.
        """
        params: dict[str, Any] = {"q": self.q, "sort": self.sort}
        if endpoint is None:
            params["page"] = self.page
        params.update(changes)
        if params.get("page") == 1:
            del params["page"]
        values = {key: value for key, value in params.items() if value not in (None, "")}
        if endpoint is None:
            return url_for(str(request.endpoint), **(request.view_args or {}), **values)
        return url_for(endpoint, **values)


@dataclass
class Listing:
    """The declaration of a list: see the module's documentation.

    ``source`` is a model or a ``select()`` statement whose FROM and WHERE the list keeps
    (its columns are replaced by the list's; no GROUP BY). ``search`` are the expressions the
    search box looks in: each word of the search must occur (case-insensitively) in one of
    them. ``default_sort`` is ``"key"`` or ``"-key"`` of a sortable column. Rows are ordered
    by the primary key after the chosen sort, so pages never overlap. ``extra`` are
    expressions selected but not shown (an id for links). ``id`` names the list's results
    region in the page (the htmx target).
    """

    source: Any
    columns: Sequence[Column]
    search: Sequence[Any] = ()
    default_sort: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    extra: Sequence[Any] = ()
    id: str = "list"
    _expressions: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.source, Select):
            statement = self.source
            entity = statement.column_descriptions[0].get("entity") if statement.column_descriptions else None
        else:
            entity = self.source
        self.entity = entity
        self._expressions = {}
        for column in self.columns:
            expression = column.expression
            if expression is None:
                if entity is None or not hasattr(entity, column.key):
                    raise ValueError(f"column {column.key!r} needs an expression")
                expression = getattr(entity, column.key)
            self._expressions[column.key] = expression
        self.page_size = max(1, min(int(self.page_size), MAX_PAGE_SIZE))
        if self.default_sort and self.default_sort.lstrip("-") not in self._sortable():
            raise ValueError(f"default_sort {self.default_sort!r} is not a sortable column")
        mapper = inspect(entity, raiseerr=False) if entity is not None else None
        self._tiebreak = list(mapper.primary_key) if mapper is not None and hasattr(mapper, "primary_key") else []

    def _sortable(self) -> set[str]:
        return {column.key for column in self.columns if column.sortable}

    # -- reading the request ------------------------------------------------------------------

    def _base(self, statement: Select[Any] | None) -> Select[Any]:
        if statement is not None:
            return statement
        if isinstance(self.source, Select):
            return self.source
        return select(self.source)

    def _sort_from(self, value: str | None) -> str:
        value = (value or "").strip()
        key = value[1:] if value.startswith("-") else value
        return value if key in self._sortable() else self.default_sort

    def _filtered(self, base: Select[Any], q: str) -> Select[Any]:
        words = q.split()
        if not words or not self.search:
            return base
        conditions = []
        for word in words:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(or_(*(cast(expression, String).ilike(pattern, escape="\\")
                                    for expression in self.search)))
        return base.where(and_(*conditions))

    def _ordered(self, statement: Select[Any], sort: str) -> Select[Any]:
        order = []
        descending = sort.startswith("-")
        if sort:
            expression = self._expressions[sort.lstrip("-")]
            order.append(expression.desc() if descending else expression.asc())
        # Equal values keep the direction asked for (newest-first stays newest-first when two
        # rows share a timestamp), and pages never overlap.
        tiebreak = [column.desc() if descending else column.asc() for column in self._tiebreak]
        return statement.order_by(None).order_by(*order, *tiebreak)

    def _selected(self, statement: Select[Any]) -> Select[Any]:
        columns = [expression.label(key) for key, expression in self._expressions.items()]
        columns += [expression.label(expression.key) if isinstance(expression, ColumnElement) else expression
                    for expression in self.extra]
        return statement.with_only_columns(*columns, maintain_column_froms=True)

    def page(self, statement: Select[Any] | None = None, args: Any = None) -> ListPage:
        """The page the request asks for (``q``, ``sort``, ``page`` of the query string).

        ``statement`` replaces the declared source for this request (e.g. the source passed
        through :func:`core.access.visible`). Two queries: the count, then the rows.
        """
        args = request.args if args is None else args
        q = (args.get("q") or "").strip()[:200]
        sort = self._sort_from(args.get("sort"))
        try:
            number = int(args.get("page", 1))
        except (TypeError, ValueError):
            number = 1
        filtered = self._filtered(self._base(statement), q)
        session = get_session()
        count = filtered.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        total = int(session.scalar(count) or 0)
        pages = max(1, -(-total // self.page_size))
        number = min(max(number, 1), pages)
        rows: list[Any] = []
        if total:
            query = self._ordered(self._selected(filtered), sort)
            rows = list(session.execute(query.limit(self.page_size).offset((number - 1) * self.page_size)))
        return ListPage(self, rows, total, number, pages, sort, q)

    # -- responses ------------------------------------------------------------------------------

    def render(self, template: str, page: ListPage, **context: Any) -> Any:
        """``template`` with ``page`` (as ``page``): the whole page, or only its ``results``
        block when htmx asks (search as you type, sort, pagination)."""
        from flask import render_template

        htmx = getattr(request, "htmx", None)
        if htmx and not htmx.history_restore_request and htmx.target == self.id:
            context["page"] = page
            current_app.update_template_context(context)
            compiled = current_app.jinja_env.get_template(template)
            body = "".join(compiled.blocks[RESULTS_BLOCK](compiled.new_context(context)))
        else:
            body = render_template(template, page=page, **context)
        response = current_app.make_response(body)
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
        return response

    def export_csv(self, filename: str, statement: Select[Any] | None = None, args: Any = None) -> Response:
        """Every row of the current search and sort as a CSV download, streamed in batches."""
        args = request.args if args is None else args
        q = (args.get("q") or "").strip()[:200]
        sort = self._sort_from(args.get("sort"))
        query = self._ordered(self._selected(self._filtered(self._base(statement), q)), sort)
        columns = list(self.columns)
        # The body is written after the view returns, when the request's session may be gone:
        # read with a session of its own, scoped like the request's.
        scope = dict(get_session().info)
        database = get_database()

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)

            def flush() -> str:
                text = buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                return text

            writer.writerow([translate(column.label) for column in columns])
            yield flush()
            session = database.sessionmaker()
            session.info.update(scope)
            try:
                result = session.execute(query.execution_options(yield_per=EXPORT_BATCH_SIZE))
                for batch in result.partitions():
                    for row in batch:
                        writer.writerow([_cell(column, getattr(row, column.key)) for column in columns])
                    yield flush()
            finally:
                session.close()

        response = Response(stream_with_context(generate()), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _cell(column: Column, value: Any) -> str:
    """The CSV text of ``value``; text a spreadsheet would run as a formula gets a leading ``'``."""
    text = column.export_text(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_STARTS) else text
