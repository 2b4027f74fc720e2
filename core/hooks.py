"""Hook markers and the value types that hooks return.

Plugins import from here (or from ``core`` directly)::

    from core import hookimpl, MenuItem

    @hookimpl
    def menu_items(user):
        return [MenuItem(label="Notes", endpoint="notes.index", icon="sticky", order=50)]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pluggy

PROJECT_NAME = "atrium"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class MenuItem:
    """An entry of the side menu. ``endpoint`` is a Flask endpoint name.

    Items are sorted by ``order`` (then label), never by plugin call order. ``parent`` is
    the label of the group the item belongs to; ``permission`` names the permission code
    needed to see the item; users without it do not see it.
    """

    label: str
    endpoint: str
    icon: str = ""
    order: int = 100
    permission: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Permission:
    """A permission code a plugin declares, e.g. ``notes.note.write``.

    The code starts with the declaring plugin's name and a dot.
    """

    code: str
    label: str


SETTING_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class Setting:
    """A per-company setting a plugin declares.

    ``key`` starts with the plugin name and a dot (``notes.page_size``); ``type`` is one of
    ``str``, ``int``, ``float``, ``bool``; ``default`` must be of that type. Optional limits:
    ``choices``, the only values allowed (not for ``bool``); ``min`` and ``max``, inclusive
    bounds for ``int`` and ``float``. Values are read and written with ``core.settings``.
    """

    key: str
    type: str
    default: Any
    label: str
    help: str = ""
    choices: tuple[Any, ...] | None = None
    min: int | float | None = None
    max: int | float | None = None


VISIBILITY_LEVELS: tuple[str, ...] = ("own", "team", "all")


@dataclass(frozen=True)
class RoleTemplate:
    """A role every company starts with, offered by a plugin through ``default_roles``.

    ``key`` identifies the template across plugins (e.g. ``notes.editor``) and is kept on the
    roles made from it; ``name`` is the role's name in each company (unique among
    templates). ``permissions`` are declared permission codes, any plugin's.
    ``visibility`` maps a record type (e.g. ``notes.note``) to ``own``, ``team`` or
    ``all`` (:data:`VISIBILITY_LEVELS`); a record type left out is ``own``.
    """

    key: str
    name: str
    description: str = ""
    permissions: tuple[str, ...] = ()
    visibility: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleExtension:
    """More permissions and visibility for another plugin's role template, offered through
    ``default_roles`` next to (or instead of) templates.

    A person holds one role per company, so a plugin that builds on another (sales on
    customers) adds its codes to that plugin's roles rather than offering roles of its own.
    ``extends`` is the key of a template offered by a plugin this one depends on;
    ``permissions`` and ``visibility`` are as on :class:`RoleTemplate` and are added to
    it: every role made from the template, and a reset to the template, includes them. A
    record type the template (or another extension) already gives a level to cannot be
    given another.
    """

    extends: str
    permissions: tuple[str, ...] = ()
    visibility: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRecord:
    """A committed domain event, as ``on_event`` and outbox handlers receive it.

    ``name`` is dotted and starts with the emitting plugin's name
    (``notes.note.created``); ``payload`` is the JSON-compatible dict given to
    :func:`core.events.emit`; ``company_id`` is ``None`` for an event of no company.
    """

    id: int
    name: str
    payload: dict[str, Any]
    company_id: int | None
    user_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxHandler:
    """An out-of-process consumer of events (webhook, ERP, mail), run from the job queue.

    ``name`` starts with the declaring plugin's name and a dot. ``events`` lists exact
    event names or prefixes ending in ``*`` (``"notes.*"``; ``"*"`` is every event).
    ``deliver(event, idempotency_key)`` is called at least once per event; it raises to
    ask for a retry, and passes ``idempotency_key`` on so the receiver can drop repeats.
    """

    name: str
    events: tuple[str, ...]
    deliver: Callable[[EventRecord, str], None]

    def matches(self, event_name: str) -> bool:
        """Whether an event called ``event_name`` goes to this handler."""
        return any(
            event_name.startswith(pattern[:-1]) if pattern.endswith("*") else event_name == pattern
            for pattern in self.events
        )


@dataclass(frozen=True)
class PeriodicTask:
    """A task the job queue runs on a schedule.

    ``name`` starts with the declaring plugin's name and a dot; ``schedule`` is a
    five-field crontab expression in UTC (``"*/5 * * * *"``: minute, hour, day of month,
    month, day of week with 0 = Sunday). With ``per_company`` the task runs once for each
    company that has the plugin enabled, scoped to that company; otherwise it runs once,
    system-wide, provided at least one company has the plugin enabled.
    """

    name: str
    schedule: str
    run: Callable[[], None]
    per_company: bool


@dataclass(frozen=True)
class SearchResult:
    """One hit of the global search, contributed by a plugin's ``search`` hook.

    ``kind`` groups results on the page ("Notes", "Accounts"); ``url`` opens the record;
    ``summary`` is one short line shown under the title. Results are listed by ``score``
    (higher first) within their kind, then by title.
    """

    kind: str
    title: str
    url: str
    summary: str = ""
    score: float = 0.0


WIDGET_SIZES: tuple[str, ...] = ("small", "wide")


@dataclass(frozen=True)
class DashboardWidget:
    """A card on the home page, contributed by a plugin's ``dashboard_widgets`` hook.

    ``key`` starts with the plugin name and a dot (``notes.latest``) and names the widget in
    its URL, ``/dashboard/widgets/<key>``. ``render()`` is called only when that URL is
    loaded, never while the home page is built, and returns the card's body: an HTML string
    (``render_template(...)``; escape what you build by hand) or a response. ``permission``
    names the code needed to see the widget; ``order`` then ``title`` sort the cards;
    ``size`` is ``"small"`` (one column) or ``"wide"`` (the whole row), see
    :data:`WIDGET_SIZES`.
    """

    key: str
    title: str
    render: Callable[[], Any]
    permission: str | None = None
    order: int = 100
    size: str = "small"


RECORD_ACTION_METHODS: tuple[str, ...] = ("get", "post")


@dataclass(frozen=True)
class RecordAction:
    """A button in the header of a record's page, contributed by a ``record_actions`` hook.

    ``url`` is where it leads (``url_for(...)``); ``method`` is ``"get"`` (a link) or
    ``"post"`` (a small form with the CSRF token: use it for anything that changes data).
    ``icon`` is a Bootstrap Icons name without the ``bi-`` prefix (``"pencil"``);
    ``permission`` names the code needed to see the button; ``danger`` styles it as
    destructive; ``confirm``, for ``post`` actions, is the question the user must confirm
    first (the route should then call ``core.forms.confirmation_required``). ``order`` then
    ``label`` sort the buttons.
    """

    label: str
    url: str
    method: str = "get"
    icon: str | None = None
    permission: str | None = None
    danger: bool = False
    confirm: str | None = None
    order: int = 100


@dataclass(frozen=True)
class RecordPanel:
    """A card on a record's page, contributed by a ``record_panels`` hook.

    ``key`` starts with the plugin name and a dot (``notes.related``) and identifies the
    card in the page. ``url`` is the plugin's own route that returns the card's body as an
    HTML fragment; the page loads it on its own (htmx), so a slow or failing panel delays or
    breaks only its card. ``permission`` names the code needed to see the card; ``order``
    then ``title`` sort the cards.
    """

    key: str
    title: str
    url: str
    order: int = 100
    permission: str | None = None


IMPORT_MODES: tuple[str, ...] = ("skip", "update", "create")


@dataclass(frozen=True)
class ImportField:
    """A field of an import target that a file column can be mapped to.

    ``name`` is the key of the row dict the target's functions receive; ``label`` is shown
    in the mapping step. ``aliases`` are other column headings that mean this field
    (``"e-mail"``, ``"邮箱"``): the mapping step suggests the field for a column whose
    heading matches the name, the label or an alias, ignoring case, spaces and punctuation.
    """

    name: str
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class ImportKey:
    """A way to recognise a row as a record that exists already (duplicate handling).

    ``name`` is passed to the target's ``find_existing``; ``fields`` must all be mapped to
    columns for the key to be chosen; ``value(row)`` gives the comparable value of a valid
    row (normalised: ``"ann@example.com"``, ``("acme", "north")``), or ``None`` when the
    row has none (such a row is never a duplicate).
    """

    name: str
    label: str
    fields: tuple[str, ...]
    value: Callable[[Mapping[str, Any]], Hashable | None]


@dataclass
class ImportContext:
    """What a target's functions know about the import run they work for.

    ``fields`` are the names of the fields mapped to a column (an update changes only
    those); ``cache`` is a dict kept for the whole run, for lookups a target wants to make
    once (the company's members, its tags) rather than once per batch.
    """

    company_id: int
    user_id: int | None
    fields: frozenset[str]
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportTarget:
    """A kind of record that people can import from CSV and XLSX files (``import_targets``).

    ``key`` starts with the plugin name and a dot (``notes.notes``); ``permission`` is the
    code needed to import. The core reads the file, maps columns to ``fields``, and calls,
    one batch of rows at a time:

    * ``validate(rows, context)``: ``rows`` are dicts of the mapped fields' texts (stripped;
      a field not mapped is absent); return, per row and in order, ``(values, errors)``:
      the loaded values, or ``None`` with ``errors`` mapping a field name (``""`` for the
      row as a whole) to a message;
    * ``find_existing(key, values, context)``: the ids of existing records whose
      ``ImportKey.value`` is among ``values``, as ``{value: id}`` (one query, not one per row);
    * ``write(creates, updates, context)``: insert ``creates`` (a list of values dicts) and
      apply ``updates`` (``(id, values)`` pairs, only ``context.fields`` to change), in bulk.

    ``keys`` are the duplicate keys offered (``ImportKey``); ``order`` then ``label``
    sort the targets.
    """

    key: str
    label: str
    permission: str
    fields: tuple[ImportField, ...]
    validate: Callable[[Sequence[Mapping[str, str]], ImportContext], Sequence[tuple[dict[str, Any] | None, dict[str, str]]]]
    find_existing: Callable[[str, Collection[Hashable], ImportContext], Mapping[Hashable, int]]
    write: Callable[[list[dict[str, Any]], list[tuple[int, dict[str, Any]]], ImportContext], None]
    keys: tuple[ImportKey, ...] = ()
    order: int = 100


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened to a record, contributed by a ``timeline_entries`` hook and
    shown, interleaved by time, on the record's timeline (the customers plugin's "History"
    panel shows it on every record page).

    ``key`` starts with the plugin name and a dot and is unique for the entry
    (``sales.opportunity.12.won``): it breaks ties between entries of the same moment.
    ``at`` is when it happened (a naive value is taken as UTC); ``title`` one line of text
    (``"Opportunity “Renewal” won"``); ``icon`` a Bootstrap Icons name without ``bi-``;
    ``body`` optional plain text; ``url`` a page the entry links to; ``actor`` the name of
    who did it.
    """

    key: str
    at: datetime
    title: str
    icon: str = "dot"
    body: str = ""
    url: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class BenchmarkPage:
    """A page the benchmark suite (``bench/``) measures on the ``large`` demo data, returned by
    a ``benchmarks`` hook.

    ``path`` is requested (GET) by the demo company's administrator and must answer 200.
    ``budget_ms`` is the most its median server time may be (``None``: measured for
    information). A list page gives its ``floor``: SQL by dialect name (``"sqlite"``,
    ``"postgresql"``) fetching the same rows the page shows, with ``:name`` parameters from
    ``floor_params``; the suite runs it with the plain database driver and a minimal template,
    and reports the page's time as a multiple of that.
    """

    label: str
    path: str
    budget_ms: float | None = None
    floor: Mapping[str, str] = field(default_factory=dict)
    floor_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkTask:
    """Work the benchmark suite times on the ``large`` demo data (an import, a job), returned by
    a ``benchmarks`` hook. ``run(app, company_id)`` does it, inside an application context, and
    returns one line saying what it did ("100,000 rows: 98,000 created"); ``budget_s`` is the
    most its wall-clock time may be (``None``: for information). Tasks run after the pages, in
    the order given, and may change the data.
    """

    label: str
    run: Callable[[Any, int], str]
    budget_s: float | None = None
