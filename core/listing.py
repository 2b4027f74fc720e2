"""List pages: server-side search, filters, sort, pagination, selectable columns, bulk actions
and CSV/XLSX export, declared once per list.

A plugin describes its list with a :class:`Listing` (the rows, the columns, what the search box
looks in, the filters, the bulk actions) and gets, for each request, a :class:`ListPage` to
render with the macros of ``templates/macros/list.html``::

    NOTES = Listing(
        Note,
        columns=[
            Column("title", _l("Title"), sortable=True),
            Column("added", _l("Added"), Note.created_at, sortable=True),
            Column("body", _l("Text"), optional=True, default=False),
        ],
        search=[Note.title, Note.body],
        filters=[BooleanFilter("pinned", _l("Pinned"), Note.pinned)],
        default_sort="-added",
        extra=[Note.id],
    )

    page = NOTES.page()             # reads q, sort, page, filters and cols from the request
    return NOTES.render("notes/index.html", page)
    return NOTES.export("notes")    # CSV, or XLSX with ?format=xlsx

Fast by construction: an offset page runs two queries (a count and the rows), a keyset page
one (the rows), whatever the row count, and selects only the columns the reader shows (plus
``extra`` and the primary key). Company scoping and soft-delete hiding apply as to any ORM
query; record visibility is the plugin's: pass a statement made with
:func:`core.access.visible`. Bad input never fails: an unknown sort key falls back to the
default sort, a page number that is not a number to the first page, a page after the last to
the last one, an invalid filter value or cursor is ignored (and the filter says so).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import operator
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

from flask import Response, abort, current_app, request, session as http_session, stream_with_context, url_for
from flask_babel import gettext, ngettext
from sqlalchemy import Boolean, Date, DateTime, Select, String, and_, cast, false, func, inspect, or_, select, true
from sqlalchemy.sql.elements import BinaryExpression, ColumnElement

from core.db import get_database, get_session
from core.forms import confirmation_required
from core.i18n import format_date, format_datetime, translate
from core.textsearch import contains_pattern, text_matches

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
EXPORT_BATCH_SIZE = 500
RESULTS_BLOCK = "results"
MAX_SELECTED_IDS = 1000
PK_LABEL = "_listing_pk"
SESSION_COLUMNS = "listing_columns"
# Query-string names the list itself reads: a filter may not take them.
RESERVED_PARAMS = frozenset({"q", "sort", "page", "cols", "after", "before", "format", "ids", "action",
                             "confirm", "next", "csrf_token"})
MAX_VALUE_LENGTH = 200  # characters of a search or filter value read from the request
# Every declared Listing by id (filled when a Listing is made), so that a saved view
# (core.saved_views) can tell a real list from a made-up id.
LISTINGS: dict[str, Listing] = {}
_MAX_CURSOR = 2000

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters an XLSX file cannot hold (openpyxl refuses them).
_XLSX_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_XLSX_MAX_TEXT = 32767


def distinct_values(column: Any, *where: Any) -> list[Any]:
    """The distinct non-null values of a table ``column`` among the rows matching ``where``,
    in order, for a filter's choices.

    A "loose index scan": one index probe per distinct value (a recursive query asking for the
    next value above the last one) instead of a DISTINCT over every row, so it stays fast on
    large tables when an index starts with the ``where`` equality columns and then ``column``
    (e.g. ``(company_id, industry)``). Give Core columns (``Model.__table__.c.name``) and say
    the company and soft-delete conditions yourself: the automatic ORM scoping does not apply.
    """
    first = select(func.min(column)).where(*where).scalar_subquery()
    present = select(first.label("value")).cte("present", recursive=True)
    # Each step starts above the last value found, which met every lower bound of ``where`` on
    # ``column`` already: leave those out, or SQLite may range the index from them (a scan of
    # every row per step) instead of from the last value.
    step_where = [condition for condition in where if not _lower_bound_on(condition, column)]
    following = select(func.min(column)).where(*step_where, column > present.c.value).scalar_subquery()
    present = present.union_all(select(following).where(present.c.value.is_not(None)))
    return list(get_session().scalars(select(present.c.value).where(present.c.value.is_not(None))))


def _lower_bound_on(condition: Any, column: Any) -> bool:
    """Whether ``condition`` is ``column > x`` or ``column >= x``."""
    return (isinstance(condition, BinaryExpression) and condition.operator in (operator.gt, operator.ge)
            and condition.left.compare(column))


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
        return _naive_utc(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Column:
    """One column of a list.

    ``key`` names it in the query string (``?sort=key``) and on each row (``row.key``);
    ``label`` is its header (a lazy string, translated when shown, and the export header);
    ``expression`` is how to read the value: a model attribute or any SQL expression
    (default: the model's attribute named ``key``). ``format`` turns a value into the text
    shown in the page (default: dates and times in the reader's language, ``None`` as
    nothing); ``export`` into the CSV text (default: ISO dates, ``str`` otherwise) and, when
    given, the XLSX text too. ``optional`` columns can be hidden by the reader with the column
    picker; ``default=False`` makes a column optional and hidden until the reader picks it.
    """

    key: str
    label: Any
    expression: Any = None
    sortable: bool = False
    format: Callable[[Any], str] | None = None
    export: Callable[[Any], str] | None = None
    optional: bool = False
    default: bool = True

    @property
    def pickable(self) -> bool:
        """Whether the reader may show or hide this column."""
        return self.optional or not self.default

    def text(self, value: Any) -> str:
        return (self.format or _default_text)(value)

    def export_text(self, value: Any) -> str:
        return (self.export or _export_text)(value)


# -- filters ------------------------------------------------------------------------------------

Choices = Sequence[tuple[Any, Any]] | Callable[[], Iterable[tuple[Any, Any]]]


@dataclass(frozen=True)
class Filter:
    """A filter control: ``?key=value`` keeps the rows whose ``expression`` equals the value.

    ``choices`` are ``(value, label)`` pairs, or a callable returning them (called once per
    request, e.g. to read them from a query); a value not among them is ignored and reported.
    Without choices the control is a text box and ``coerce`` turns the text into the value
    compared (a ``ValueError`` makes it ignored and reported).
    """

    key: str
    label: Any
    expression: Any
    choices: Choices | None = None
    coerce: Callable[[str], Any] = str

    kind: ClassVar[str] = "choice"

    def params(self) -> list[str]:
        """The query-string names this filter reads."""
        return [self.key]

    def options(self) -> list[tuple[Any, str]]:
        """The ``(value, label)`` pairs to offer, labels translated."""
        choices = self.choices() if callable(self.choices) else (self.choices or ())
        return [(value, translate(label)) for value, label in choices]

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        """The valid raw values, the invalid ones, and the SQL conditions they give."""
        raw = _arg(args, self.key)
        if not raw:
            return {}, {}, []
        if self.choices is not None:
            for value, _label in options:
                if str(value) == raw:
                    return {self.key: raw}, {}, [self.expression == value]
            return {}, {self.key: raw}, []
        try:
            value = self.coerce(raw)
        except (TypeError, ValueError, ArithmeticError):
            return {}, {self.key: raw}, []
        return {self.key: raw}, {}, [self.expression == value]

    def describe(self, values: dict[str, str], options: list[tuple[Any, str]]) -> str:
        """The active value as the reader reads it (for the "active filters" line)."""
        raw = values.get(self.key, "")
        return next((label for value, label in options if str(value) == raw), raw)


@dataclass(frozen=True)
class BooleanFilter(Filter):
    """A yes/no filter: ``?key=yes`` keeps the rows where ``expression`` is true, ``?key=no``
    those where it is false or NULL. ``expression`` may be a boolean column or any condition
    (``Item.owner_id.is_not(None)``)."""

    kind: ClassVar[str] = "boolean"
    _YES: ClassVar[frozenset[str]] = frozenset({"yes", "true", "1", "on"})
    _NO: ClassVar[frozenset[str]] = frozenset({"no", "false", "0", "off"})

    def options(self) -> list[tuple[Any, str]]:
        return [("yes", gettext("Yes")), ("no", gettext("No"))]

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        raw = _arg(args, self.key)
        if not raw:
            return {}, {}, []
        if raw.lower() in self._YES:
            return {self.key: "yes"}, {}, [self.expression == true()]
        if raw.lower() in self._NO:
            return {self.key: "no"}, {}, [or_(self.expression == false(), self.expression.is_(None))]
        return {}, {self.key: raw}, []


@dataclass(frozen=True)
class DateRangeFilter(Filter):
    """A date range: ``?key_from=2024-01-01&key_to=2024-01-31`` (ISO dates, both ends
    included, either may be left out). On a date-and-time column the range covers whole days
    in UTC. A value that is not a date is ignored and reported."""

    kind: ClassVar[str] = "date_range"

    @property
    def from_param(self) -> str:
        return self.key + "_from"

    @property
    def to_param(self) -> str:
        return self.key + "_to"

    def params(self) -> list[str]:
        return [self.from_param, self.to_param]

    def options(self) -> list[tuple[Any, str]]:
        return []

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        values: dict[str, str] = {}
        invalid: dict[str, str] = {}
        conditions: list[Any] = []
        with_time = isinstance(getattr(self.expression, "type", None), DateTime)
        for param, upper in ((self.from_param, False), (self.to_param, True)):
            raw = _arg(args, param)
            if not raw:
                continue
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                invalid[param] = raw
                continue
            values[param] = day.isoformat()
            if with_time:
                if upper:
                    if day < date.max:  # the end of the day: before the next midnight
                        conditions.append(self.expression < _midnight(day + timedelta(days=1)))
                else:
                    conditions.append(self.expression >= _midnight(day))
            else:
                conditions.append(self.expression <= day if upper else self.expression >= day)
        return values, invalid, conditions

    def describe(self, values: dict[str, str], options: list[tuple[Any, str]]) -> str:
        start, end = values.get(self.from_param), values.get(self.to_param)
        if start and end:
            return gettext("%(start)s to %(end)s", start=format_date(date.fromisoformat(start)),
                           end=format_date(date.fromisoformat(end)))
        if start:
            return gettext("from %(start)s", start=format_date(date.fromisoformat(start)))
        return gettext("until %(end)s", end=format_date(date.fromisoformat(end or "")))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _arg(args: Any, name: str) -> str:
    return (args.get(name) or "").strip()[:MAX_VALUE_LENGTH]


@dataclass
class FilterState:
    """One filter as the request set it: ``values`` in use, ``invalid`` ones ignored."""

    filter: Filter
    values: dict[str, str]
    invalid: dict[str, str]
    options: list[tuple[Any, str]]
    conditions: list[Any] = field(default_factory=list, repr=False)

    @property
    def active(self) -> bool:
        return bool(self.values)

    @property
    def label(self) -> str:
        return translate(self.filter.label)

    @property
    def text(self) -> str:
        """The active value(s) as the reader reads them."""
        return self.filter.describe(self.values, self.options)

    def value(self, param: str | None = None) -> str:
        """The value in use for ``param`` (default: the filter's key), or ``""``."""
        return self.values.get(param or self.filter.key, "")

    def ignored(self, param: str | None = None) -> str | None:
        """The value given for ``param`` that was ignored as invalid, if any."""
        return self.invalid.get(param or self.filter.key)


# -- bulk actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkAction:
    """A button applying to the rows the reader ticked: it POSTs their ids (``ids`` form
    field, with the CSRF token) to ``endpoint``, whose view reads them with
    :meth:`Listing.selected`. Hidden from readers without ``permission``. An action with
    ``confirm`` text or ``danger=True`` asks for confirmation: a browser dialog with
    JavaScript, and in any case a confirmation page sent by :meth:`Listing.selected` unless
    the request says ``confirm=yes``."""

    name: str
    label: Any
    endpoint: str
    permission: str | None = None
    confirm: Any = None
    danger: bool = False

    @property
    def needs_confirmation(self) -> bool:
        return self.danger or self.confirm is not None

    def confirm_text(self) -> str:
        """The question asked before the action runs."""
        if self.confirm is not None:
            return translate(self.confirm)
        return gettext("Apply “%(action)s” to the selected records?", action=translate(self.label))

    def text(self) -> str:
        return translate(self.label)

    def allowed(self) -> bool:
        """Whether the signed-in reader may use this action."""
        if self.permission is None:
            return True
        from flask_login import current_user

        from core.access import has_permission

        return has_permission(current_user, self.permission)


# -- a page -----------------------------------------------------------------------------------


@dataclass
class ListPage:
    """What a template needs to show one page of a list."""

    listing: Listing
    rows: list[Any]
    total: int  # in keyset mode: the capped count, or the rows on this page without count_limit
    page: int
    pages: int
    sort: str  # "key" or "-key"; "" when unsorted
    q: str
    filters: list[FilterState] = field(default_factory=list)
    visible: Sequence[Column] | None = None
    cols: str = ""  # the ``cols`` parameter links carry; "" for the default columns
    after: str = ""
    before: str = ""
    next_cursor: str = ""
    previous_cursor: str = ""
    counted: bool = True  # whether ``total`` counts every matching row
    total_capped: bool = False  # keyset with count_limit: more rows than the limit

    @property
    def columns(self) -> Sequence[Column]:
        """The columns the reader shows."""
        return self.visible if self.visible is not None else self.listing.columns

    @property
    def id(self) -> str:
        return self.listing.id

    @property
    def keyset(self) -> bool:
        return self.listing.pagination == "keyset"

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_cursor) if self.keyset else self.page > 1

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor) if self.keyset else self.page < self.pages

    @property
    def active_filters(self) -> list[FilterState]:
        return [state for state in self.filters if state.active]

    @property
    def ignored_filters(self) -> list[FilterState]:
        return [state for state in self.filters if state.invalid]

    @property
    def filtered(self) -> bool:
        """Whether a search or a filter narrows the rows."""
        return bool(self.q or self.active_filters)

    @property
    def pickable_columns(self) -> list[Column]:
        return [column for column in self.listing.columns if column.pickable]

    def shown(self, column: Column) -> bool:
        """Whether ``column`` is among the columns the reader shows."""
        return any(shown.key == column.key for shown in self.columns)

    @property
    def bulk_actions(self) -> list[BulkAction]:
        """The bulk actions the reader may use."""
        return [action for action in self.listing.bulk_actions if action.allowed()]

    def row_id(self, row: Any) -> Any:
        """The primary key of ``row`` (the value of its selection checkbox)."""
        return getattr(row, PK_LABEL)

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

    def filter_params(self) -> dict[str, str]:
        """The query-string values of the filters in use."""
        params: dict[str, str] = {}
        for state in self.filters:
            params.update(state.values)
        return params

    def state_params(self, *leave_out: str) -> dict[str, str]:
        """q, sort, filters and cols as they are (for hidden fields), without ``leave_out``."""
        params = {"q": self.q, "sort": self.sort, **self.filter_params(), "cols": self.cols}
        return {key: value for key, value in params.items() if value and key not in leave_out}

    def url(self, endpoint: str | None = None, **changes: Any) -> str:
        """This list's URL (or ``endpoint``'s) with the current search, sort, filters, columns
        and position, and ``changes``.

        A value of ``None`` or ``""`` drops the parameter; the first page is left out. A change
        of ``page`` (even to ``None``) also leaves the keyset position (``after``/``before``).
        Another endpoint (an export) gets no position.
        """
        params: dict[str, Any] = {"q": self.q, "sort": self.sort}
        if endpoint is None:
            params["page"] = None if self.keyset else self.page
        params.update(self.filter_params())
        params["cols"] = self.cols
        if endpoint is None and self.keyset and "page" not in changes:
            params["after"] = self.after
            params["before"] = self.before
        params.update(changes)
        if params.get("page") == 1:
            del params["page"]
        values = {key: value for key, value in params.items() if value not in (None, "")}
        if endpoint is None:
            return url_for(str(request.endpoint), **(request.view_args or {}), **values)
        return url_for(endpoint, **values)

    @property
    def saved_query(self) -> str:
        """The query string a saved view of this page keeps: search, sort, filters and
        columns, never the position. The default columns are named (``cols=default``) so that
        applying the view also undoes a column choice the reader's session remembers."""
        query = urlsplit(self.url(page=None)).query
        if self.pickable_columns and not self.cols:
            query = f"{query}&cols=default" if query else "cols=default"
        return query

    def clear_filters_url(self) -> str:
        """This list without its filters (the search stays)."""
        return self.url(page=None, **{param: None for param in self.filter_params()})

    def clear_filter_url(self, state: FilterState) -> str:
        return self.url(page=None, **{param: None for param in state.values})


# -- the declaration ------------------------------------------------------------------------------


@dataclass
class Listing:
    """The declaration of a list: see the module's documentation and docs/plugins/lists.md.

    ``source`` is a model or a ``select()`` statement whose FROM and WHERE the list keeps
    (its columns are replaced by the list's; no GROUP BY). ``search`` are the expressions the
    search box looks in: each word of the search must occur (case-insensitively) in one of
    them. ``search_text`` instead names one text column indexed for substring search
    (:mod:`core.textsearch`): each word of the search must occur in it, found through the index
    on large tables; ``search_variants(q)`` may then give other spellings of the whole search,
    each of which, contained in that column, also makes a row match (a phone number's digits
    however it was typed). ``search_also(q)`` may return another condition under which a row
    matches the whole search text, or ``None``. ``filters`` are
    :class:`Filter` controls. ``default_sort`` is ``"key"`` or ``"-key"``
    of a sortable column. Rows are ordered by the primary key after the chosen sort, so pages
    never overlap. ``extra`` are expressions selected but not shown (an id for links). ``id``
    names the list's results region in the page (the htmx target) and the reader's remembered
    columns: make it unique in the application. ``pagination`` is ``"offset"`` (numbered pages
    and a count) or ``"keyset"`` (Previous/Next after a cursor, no count; ``count_limit``
    adds a count that stops at that many rows). ``bulk_actions`` are :class:`BulkAction`
    buttons; ``export_formats`` the links the results footer offers (``"csv"``, ``"xlsx"``).
    """

    source: Any
    columns: Sequence[Column]
    search: Sequence[Any] = ()
    default_sort: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    extra: Sequence[Any] = ()
    id: str = "list"
    filters: Sequence[Filter] = ()
    bulk_actions: Sequence[BulkAction] = ()
    pagination: str = "offset"
    count_limit: int | None = None
    export_formats: Sequence[str] = ("csv",)
    search_also: Callable[[str], Any] | None = None
    search_text: Any = None
    search_variants: Callable[[str], Iterable[str]] | None = None
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
        self._check_declaration()
        LISTINGS[self.id] = self

    def _check_declaration(self) -> None:
        if self.search and self.search_text is not None:
            raise ValueError("a list searches either the `search` expressions or one `search_text` column")
        if self.search_variants is not None and self.search_text is None:
            raise ValueError("`search_variants` needs a `search_text` column")
        if self.pagination not in ("offset", "keyset"):
            raise ValueError(f"pagination {self.pagination!r} is neither 'offset' nor 'keyset'")
        if (self.pagination == "keyset" or self.bulk_actions) and len(self._tiebreak) != 1:
            raise ValueError("keyset pagination and bulk actions need a model with a one-column primary key")
        params: set[str] = set()
        for filter_ in self.filters:
            for param in filter_.params():
                if param in RESERVED_PARAMS or param in params:
                    raise ValueError(f"filter parameter {param!r} is reserved or used twice")
                params.add(param)
        names = [action.name for action in self.bulk_actions]
        if len(names) != len(set(names)):
            raise ValueError("bulk action names must be unique")
        unknown = set(self.export_formats) - {"csv", "xlsx"}
        if unknown:
            raise ValueError(f"unknown export formats: {sorted(unknown)}")

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

    def _searched(self, base: Select[Any], q: str) -> Select[Any]:
        words = q.split()
        if not words or not (self.search or self.search_text is not None):
            return base
        if self.search_text is not None:
            variants = [variant for variant in (self.search_variants(q) if self.search_variants else ())
                        if variant and variant.strip()]
            # One lookup in the index: every word, or any variant whole.
            by_words = text_matches(self.search_text, words, *([variant] for variant in variants))
        else:
            by_words = and_(*(or_(*(cast(expression, String).ilike(contains_pattern(word), escape="\\")
                                    for expression in self.search)) for word in words))
        also = self.search_also(q) if self.search_also is not None else None
        return base.where(by_words if also is None else or_(by_words, also))

    def _filter_states(self, args: Any) -> list[FilterState]:
        states = []
        for filter_ in self.filters:
            options = filter_.options()
            values, invalid, conditions = filter_.parse(args, options)
            states.append(FilterState(filter_, values, invalid, options, conditions))
        return states

    def _where(self, base: Select[Any], q: str, states: list[FilterState]) -> Select[Any]:
        statement = self._searched(base, q)
        conditions = [condition for state in states for condition in state.conditions]
        return statement.where(*conditions) if conditions else statement

    def _ordered(self, statement: Select[Any], sort: str, reverse: bool = False) -> Select[Any]:
        order = []
        descending = sort.startswith("-") != reverse
        if sort:
            expression = self._expressions[sort.lstrip("-")]
            order.append(expression.desc() if descending else expression.asc())
        # Equal values keep the direction asked for (newest-first stays newest-first when two
        # rows share a timestamp), and pages never overlap.
        tiebreak = [column.desc() if descending else column.asc() for column in self._tiebreak]
        return statement.order_by(None).order_by(*order, *tiebreak)

    def _selected(self, statement: Select[Any], columns: Sequence[Column] | None = None,
                  sort: str = "") -> Select[Any]:
        keys = [column.key for column in (self.columns if columns is None else columns)]
        if sort and sort.lstrip("-") not in keys:  # keyset cursors read the sort value
            keys.append(sort.lstrip("-"))
        selected = [self._expressions[key].label(key) for key in keys]
        selected += [expression.label(expression.key) if isinstance(expression, ColumnElement) else expression
                     for expression in self.extra]
        if len(self._tiebreak) == 1:
            selected.append(self._tiebreak[0].label(PK_LABEL))
        return statement.with_only_columns(*selected, maintain_column_froms=True)

    # -- columns the reader picked ------------------------------------------------------------

    def _columns_key(self) -> str:
        from flask_login import current_user

        user = current_user.get_id() if getattr(current_user, "is_authenticated", False) else "anonymous"
        return f"{user}:{self.id}"

    def visible_columns(self, args: Any, remember: bool) -> tuple[list[Column], str]:
        """The columns to show and the ``cols`` parameter links carry ("" for the default).

        ``?cols=a,b`` (or repeated ``cols``) picks the optional columns shown; unknown names
        are ignored; ``?cols=default`` goes back to the declared default. The choice is kept in
        the reader's session, per list, and used when the request names no columns.
        """
        pickable = [column.key for column in self.columns if column.pickable]
        if not pickable:
            return list(self.columns), ""
        default = {column.key for column in self.columns if column.pickable and column.default}
        stored = http_session.get(SESSION_COLUMNS, {})
        key = self._columns_key()
        chosen: set[str] | None
        if "cols" in args:
            given = args.getlist("cols") if hasattr(args, "getlist") else [args.get("cols")]
            names = {name.strip() for value in given for name in str(value or "").split(",")}
            chosen = None if "default" in names else names & set(pickable)
            if chosen == default:
                chosen = None
            if remember:
                remembered = dict(http_session.get(SESSION_COLUMNS, {}))
                if chosen is None:
                    remembered.pop(key, None)
                else:
                    remembered[key] = sorted(chosen)
                http_session[SESSION_COLUMNS] = remembered
        else:
            kept = stored.get(key)
            chosen = set(kept) & set(pickable) if isinstance(kept, list) else None
        shown = default if chosen is None else chosen
        visible = [column for column in self.columns if not column.pickable or column.key in shown]
        if not visible:  # every column optional and none picked: show the default ones
            visible = [column for column in self.columns if not column.pickable or column.key in default]
            chosen = None
        cols = "" if chosen is None else (",".join(k for k in pickable if k in chosen) or "none")
        return visible, cols

    # -- a page -------------------------------------------------------------------------------

    def matching(self, args: Any, statement: Select[Any] | None = None) -> Select[Any]:
        """The records the search and filters of ``args`` select (a query string's values, such
        as a saved view's), as a statement of the list's model: to count them or act on them
        away from a list page. Invalid filter values are ignored, as on the page."""
        filtered = self._where(self._base(statement), _arg(args, "q"), self._filter_states(args))
        return filtered.with_only_columns(self.entity, maintain_column_froms=True)

    def page(self, statement: Select[Any] | None = None, args: Any = None) -> ListPage:
        """The page the request asks for (``q``, ``sort``, ``page`` or ``after``/``before``,
        the filters and ``cols`` of the query string).

        ``statement`` replaces the declared source for this request (e.g. the source passed
        through :func:`core.access.visible`). Offset pagination runs two queries (the count,
        then the rows), keyset pagination one (plus one when a stale cursor leads nowhere, and
        one when ``count_limit`` is set); filters with callable choices add theirs.
        """
        args = request.args if args is None else args
        q = _arg(args, "q")
        sort = self._sort_from(args.get("sort"))
        states = self._filter_states(args)
        visible, cols = self.visible_columns(args, remember=True)
        filtered = self._where(self._base(statement), q, states)
        if self.pagination == "keyset":
            return self._keyset_page(filtered, args, q, sort, states, visible, cols)
        try:
            number = int(args.get("page", 1))
        except (TypeError, ValueError):
            number = 1
        session = get_session()
        count = filtered.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        total = int(session.scalar(count) or 0)
        pages = max(1, -(-total // self.page_size))
        number = min(max(number, 1), pages)
        rows: list[Any] = []
        if total:
            query = self._ordered(self._selected(filtered, visible), sort)
            rows = list(session.execute(query.limit(self.page_size).offset((number - 1) * self.page_size)))
        return ListPage(self, rows, total, number, pages, sort, q, states, visible, cols)

    # -- keyset pagination --------------------------------------------------------------------

    def _nulls_high(self) -> bool:
        """Whether the database sorts NULL after every value in ascending order (PostgreSQL,
        Oracle) rather than before it (SQLite, MySQL). The list uses each database's own
        order, which its indexes serve, and writes the cursor condition to match."""
        return get_database().engine.dialect.name not in ("sqlite", "mysql", "mariadb")

    def _beyond(self, sort: str, value: Any, pk_value: Any, reverse: bool) -> Any:
        """The rows that come after (``reverse``: before) the row ``(value, pk_value)``."""
        pk = self._tiebreak[0]
        ascending = sort.startswith("-") == reverse

        def later(a: Any, b: Any) -> Any:
            return a > b if ascending else a < b

        if not sort:
            return later(pk, pk_value)
        expression = self._expressions[sort.lstrip("-")]
        nulls_at_end = self._nulls_high() == ascending
        if value is None:
            condition = and_(expression.is_(None), later(pk, pk_value))
            return condition if nulls_at_end else or_(condition, expression.is_not(None))
        condition = or_(later(expression, value), and_(expression == value, later(pk, pk_value)))
        return or_(condition, expression.is_(None)) if nulls_at_end else condition

    def _keyset_page(self, filtered: Select[Any], args: Any, q: str, sort: str, states: list[FilterState],
                     visible: list[Column], cols: str) -> ListPage:
        session = get_session()
        query = self._selected(filtered, visible, sort)
        size = self.page_size
        after = self._decode_cursor(args.get("after"), sort)
        before = self._decode_cursor(args.get("before"), sort) if after is None else None
        rows: list[Any] = []
        next_cursor = previous_cursor = ""
        if after is not None:
            found = list(session.execute(self._ordered(query.where(self._beyond(sort, *after, reverse=False)),
                                                       sort).limit(size + 1)))
            rows = found[:size]
            if rows:  # there is a row before (the cursor's), and maybe some after
                previous_cursor = self._cursor(sort, rows[0])
                next_cursor = self._cursor(sort, rows[-1]) if len(found) > size else ""
        elif before is not None:
            found = list(session.execute(self._ordered(query.where(self._beyond(sort, *before, reverse=True)),
                                                       sort, reverse=True).limit(size + 1)))
            rows = found[:size][::-1]
            if len(rows) == size:  # a full page, and the cursor's row after it
                previous_cursor = self._cursor(sort, rows[0]) if len(found) > size else ""
                next_cursor = self._cursor(sort, rows[-1])
            else:  # back at the start with rows gone since: show the first page whole
                rows = []
        if not rows:  # the first page: asked for, or what an invalid or stale cursor falls back to
            after = before = None
            found = list(session.execute(self._ordered(query, sort).limit(size + 1)))
            rows = found[:size]
            next_cursor = self._cursor(sort, rows[-1]) if len(found) > size else ""
        total, capped, counted = len(rows), False, False
        if self.count_limit:
            limited = filtered.with_only_columns(self._tiebreak[0], maintain_column_froms=True)
            limited = limited.order_by(None).limit(self.count_limit + 1).subquery()
            total = int(session.scalar(select(func.count()).select_from(limited)) or 0)
            capped, counted = total > self.count_limit, True
            total = min(total, self.count_limit)
        return ListPage(self, rows, total, 1, 1, sort, q, states, visible, cols,
                        after=str(args.get("after")) if after is not None else "",
                        before=str(args.get("before")) if before is not None else "",
                        next_cursor=next_cursor, previous_cursor=previous_cursor,
                        counted=counted, total_capped=capped)

    def _cursor(self, sort: str, row: Any) -> str:
        value = getattr(row, sort.lstrip("-")) if sort else None
        payload = {"s": sort, "v": _tagged(value), "k": _tagged(getattr(row, PK_LABEL))}
        text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def _decode_cursor(self, token: Any, sort: str) -> tuple[Any, Any] | None:
        """The ``(sort value, primary key)`` of a cursor, or ``None`` when it is missing,
        malformed, made for another sort or holds values of the wrong type."""
        if not token or not isinstance(token, str) or len(token) > _MAX_CURSOR:
            return None
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            payload = json.loads(text)
            if not isinstance(payload, dict) or payload.get("s") != sort:
                return None
            value, pk_value = _untagged(payload["v"]), _untagged(payload["k"])
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, InvalidOperation):
            return None
        if pk_value is None or not _fits(pk_value, self._tiebreak[0]):
            return None
        if sort and value is not None and not _fits(value, self._expressions[sort.lstrip("-")]):
            return None
        return value, pk_value

    # -- responses ------------------------------------------------------------------------------

    def render(self, template: str, page: ListPage, **context: Any) -> Any:
        """``template`` with ``page`` (as ``page``): the whole page, or only its ``results``
        block when htmx asks (search as you type, filters, column picker)."""
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

    def _export_query(self, statement: Select[Any] | None, args: Any) -> tuple[Select[Any], list[Column]]:
        q = _arg(args, "q")
        sort = self._sort_from(args.get("sort"))
        states = self._filter_states(args)
        columns, _cols = self.visible_columns(args, remember=False)
        query = self._ordered(self._selected(self._where(self._base(statement), q, states), columns), sort)
        return query, columns

    def _stream_rows(self, query: Select[Any]) -> Callable[[], Iterator[list[Any]]]:
        """Batches of rows of ``query`` read after the view returns, when the request's
        session may be gone: with a session of its own, scoped like the request's."""
        scope = dict(get_session().info)
        database = get_database()

        def batches() -> Iterator[list[Any]]:
            session = database.sessionmaker()
            session.info.update(scope)
            try:
                result = session.execute(query.execution_options(yield_per=EXPORT_BATCH_SIZE))
                for batch in result.partitions():
                    yield list(batch)
            finally:
                session.close()

        return batches

    def export_csv(self, filename: str, statement: Select[Any] | None = None, args: Any = None) -> Response:
        """Every row of the current search, filters and sort (all pages) as a CSV download,
        with the columns the reader shows, streamed in batches."""
        args = request.args if args is None else args
        query, columns = self._export_query(statement, args)
        batches = self._stream_rows(query)

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
            for batch in batches():
                for row in batch:
                    writer.writerow([_cell(column, getattr(row, column.key)) for column in columns])
                yield flush()

        response = Response(stream_with_context(generate()), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def export_xlsx(self, filename: str, statement: Select[Any] | None = None, args: Any = None) -> Response:
        """Every row of the current search, filters and sort (all pages) as an Excel workbook,
        with the columns the reader shows. Rows are read in batches and written by openpyxl in
        write-only mode to a temporary file (a workbook is a zip: its end comes last), which is
        then streamed. Dates and numbers stay dates and numbers; text a spreadsheet would run
        as a formula gets a leading ``'`` and is stored as text."""
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        args = request.args if args is None else args
        query, columns = self._export_query(statement, args)
        batches = self._stream_rows(query)
        headers = [translate(column.label) for column in columns]

        def generate() -> Iterator[bytes]:
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet(title="Export")
            sheet.append([_xlsx_text(header) for header in headers])
            for batch in batches():
                for row in batch:
                    cells = []
                    for column in columns:
                        value = _xlsx_value(column, getattr(row, column.key))
                        cell = WriteOnlyCell(sheet, value=value)
                        if isinstance(value, str):
                            cell.data_type = "s"  # text, never a formula
                        elif isinstance(value, datetime):
                            cell.number_format = "yyyy-mm-dd hh:mm:ss"
                        elif isinstance(value, date):
                            cell.number_format = "yyyy-mm-dd"
                        cells.append(cell)
                    sheet.append(cells)
            with tempfile.TemporaryFile() as file:
                workbook.save(file)
                file.seek(0)
                while chunk := file.read(64 * 1024):
                    yield chunk

        response = Response(stream_with_context(generate()),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def export(self, filename_stem: str, statement: Select[Any] | None = None, args: Any = None) -> Response:
        """The export ``?format=`` asks for: ``csv`` (the default) or ``xlsx``; any other
        format is answered 400."""
        args = request.args if args is None else args
        kind = (args.get("format") or "csv").strip().lower()
        if kind == "csv":
            return self.export_csv(f"{filename_stem}.csv", statement, args)
        if kind == "xlsx":
            return self.export_xlsx(f"{filename_stem}.xlsx", statement, args)
        abort(400, description=gettext("Unknown export format “%(format)s”: use csv or xlsx.", format=kind[:20]))

    # -- bulk actions ---------------------------------------------------------------------------

    def action_for(self, name: str | None = None) -> BulkAction | None:
        """The bulk action a POST is for: the one named in the ``action`` field if it targets
        this endpoint, else the first declared for this endpoint."""
        name = request.form.get("action") if name is None else name
        mine = [action for action in self.bulk_actions if action.endpoint == request.endpoint]
        return next((action for action in mine if action.name == name), mine[0] if mine else None)

    def selected(self, statement: Select[Any] | None = None, action: str | None = None) -> list[Any]:
        """The records whose ids the POST carries (``ids``), re-read through ``statement`` (or
        the declared source): ids of another company, of the trash or of records the reader
        may not see are dropped without a word. Answers 400 for no ids, an id that is not one,
        or more than ``MAX_SELECTED_IDS``; 403 when the action's permission is missing; and,
        for an action that needs confirmation, sends the confirmation page of
        :func:`core.forms.confirmation_required` unless the POST is confirmed."""
        bulk = self.action_for(action)
        if bulk is not None and not bulk.allowed():
            abort(403, description=gettext("You may not use “%(action)s”.", action=bulk.text()))
        raw = [value.strip() for value in request.form.getlist("ids") if value.strip()]
        if not raw:
            abort(400, description=gettext("Select at least one record."))
        if len(raw) > MAX_SELECTED_IDS:
            abort(400, description=gettext("Select at most %(num)s records at a time.", num=MAX_SELECTED_IDS))
        pk = self._tiebreak[0]
        ids = []
        for value in raw:
            parsed = _parse_id(value, pk)
            if parsed is None:
                abort(400, description=gettext("“%(value)s” is not a record id.", value=value[:40]))
            ids.append(parsed)
        if bulk is not None and bulk.needs_confirmation:
            selected = ngettext("%(num)s record selected.", "%(num)s records selected.", len(raw))
            asking = confirmation_required(f"{bulk.confirm_text()} {selected}", title=bulk.text(),
                                           label=bulk.text(), danger=bulk.danger,
                                           cancel_url=request.form.get("next"))
            if asking is not None:  # no JavaScript (or a crafted request): ask with a page
                abort(asking)
        query = self._base(statement).with_only_columns(self.entity, maintain_column_froms=True)
        return list(get_session().scalars(query.where(pk.in_(ids)).order_by(pk)))


def _tagged(value: Any) -> list[Any]:
    """``value`` as JSON that says its type, so the cursor reads back the same value."""
    if value is None:
        return ["n"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", value]
    if isinstance(value, Decimal):
        return ["m", str(value)]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, time):
        return ["h", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    raise TypeError(f"a list cannot page on values of type {type(value).__name__}")


def _untagged(tagged: Any) -> Any:
    if not isinstance(tagged, list) or not tagged or not isinstance(tagged[0], str):
        raise ValueError("not a tagged value")
    tag = tagged[0]
    if tag == "n":
        return None
    value = tagged[1]
    expected = {"b": bool, "i": int, "f": (int, float), "m": str, "s": str, "t": str, "d": str, "h": str, "u": str}
    if tag not in expected or not isinstance(value, expected[tag]) or (tag == "i" and isinstance(value, bool)):
        raise ValueError("bad tag")
    if tag == "i" and not -(2**63) <= value < 2**63:
        raise ValueError("out of range")
    if tag == "f" and not math.isfinite(value):
        raise ValueError("not finite")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL")
    readers: dict[str, Callable[[Any], Any]] = {"b": bool, "i": int, "f": float, "m": Decimal, "s": str,
                                                "t": datetime.fromisoformat, "d": date.fromisoformat,
                                                "h": time.fromisoformat, "u": uuid.UUID}
    return readers[tag](value)


def _fits(value: Any, expression: Any) -> bool:
    """Whether ``value`` is of the Python type ``expression``'s SQL type reads as (a tampered
    cursor must not make the database fail)."""
    try:
        python_type = expression.type.python_type
    except (AttributeError, NotImplementedError):
        return isinstance(value, str | int | float | Decimal | date | time | uuid.UUID)
    if python_type is float and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return True
    if python_type is Decimal and isinstance(value, int | float) and not isinstance(value, bool):
        return True
    if python_type is int and isinstance(value, bool):
        return False
    if python_type is date and isinstance(value, datetime):
        return False
    if isinstance(expression.type, Boolean):
        return isinstance(value, bool)
    if isinstance(expression.type, Date) and not isinstance(expression.type, DateTime):
        return isinstance(value, date) and not isinstance(value, datetime)
    return isinstance(value, python_type)


def _parse_id(value: str, pk: Any) -> Any:
    try:
        python_type = pk.type.python_type
    except (AttributeError, NotImplementedError):
        python_type = str
    try:
        if python_type is int:
            number = int(value)
            return number if -(2**63) <= number < 2**63 else None
        if python_type is uuid.UUID:
            return uuid.UUID(value)
        return python_type(value) if "\x00" not in value and len(value) <= 200 else None
    except (TypeError, ValueError):
        return None


def spreadsheet_safe(text: str) -> str:
    """``text`` for a CSV cell: text a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@`` ...) gets a leading ``'``, so it is shown, never run (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cell(column: Column, value: Any) -> str:
    """The CSV text of ``value`` in ``column``, formula-safe when the value is text."""
    text = column.export_text(value)
    return spreadsheet_safe(text) if isinstance(value, str) else text


def _xlsx_text(text: str) -> str:
    text = _XLSX_ILLEGAL.sub("", text)
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    return text[:_XLSX_MAX_TEXT]


def _xlsx_value(column: Column, value: Any) -> Any:
    """The value of an XLSX cell: numbers, booleans and dates as they are (times in UTC,
    without an offset, as Excel has none), other values as text."""
    if column.export is not None:
        return _xlsx_text(column.export_text(value))
    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    if isinstance(value, datetime):
        return _naive_utc(value)
    if isinstance(value, date | time):
        return value
    return _xlsx_text(str(value))
