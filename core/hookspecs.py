"""The hook specifications: the whole contract between the core and its plugins.

Every hook is documented in ``docs/plugins/hooks.md`` as well; a test fails when a hook
here is missing there or its signature differs.

Conventions (pluggy's, stated once):

* Arguments are passed by keyword. An implementation may accept any subset of the
  arguments named here, and must not give them default values.
* Unless a hook says ``firstresult``, the caller gets a list with one entry per
  implementation, in pluggy's order (last registered first). Hooks that return items
  to be shown carry their own ``order`` field; never rely on call order.
* "Enabled plugins" means the plugins enabled for the company in context. Hooks that
  say so are called only for those; the others are called for every loaded plugin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.hooks import hookspec

if TYPE_CHECKING:
    from datetime import datetime

    import click
    from flask import Blueprint, Flask
    from sqlalchemy.orm import Session

    from core.hooks import (
        BenchmarkPage,
        BenchmarkTask,
        DashboardWidget,
        EventRecord,
        ImportTarget,
        MenuItem,
        OutboxHandler,
        PeriodicTask,
        Permission,
        RecordAction,
        RecordPanel,
        RoleExtension,
        RoleTemplate,
        SearchResult,
        Setting,
        TimelineEntry,
    )
    from core.models import Company, User


@hookspec
def register_blueprints(app: Flask) -> Iterable[Blueprint] | None:
    """Return the Flask blueprints (HTML pages, htmx fragments, API) of this plugin.

    When: once per application, while ``create_app`` builds it, for every loaded plugin.
    Arguments: ``app``, the application being built (read its config; do not register
    the blueprints yourself).
    Returns: an iterable of :class:`flask.Blueprint`, or ``None``. The core registers
    them and records which plugin owns each one, so that their routes answer 404 for
    a company that has not enabled the plugin.
    firstresult: no.
    """


@hookspec
def menu_items(user: User | None) -> Iterable[MenuItem] | None:
    """Return entries for the side menu.

    When: on every full page render, for the enabled plugins only.
    Arguments: ``user``, the signed-in user (``None`` when anonymous).
    Returns: an iterable of :class:`core.hooks.MenuItem`, or ``None``. The core sorts
    them by ``order`` then label, groups them by ``parent``, and drops the entries whose
    ``permission`` the user lacks.
    firstresult: no.
    """


@hookspec
def permissions() -> Iterable[Permission] | None:
    """Declare the permission codes this plugin checks.

    When: once at start-up for every loaded plugin; the core validates the codes
    (each starts with the plugin name and a dot, none is declared twice).
    Returns: an iterable of :class:`core.hooks.Permission`, or ``None``.
    firstresult: no.
    """


@hookspec
def settings() -> Iterable[Setting] | None:
    """Declare per-company settings, with their types and defaults.

    When: once at start-up for every loaded plugin; the core validates each declaration
    (key prefixed with the plugin name and at most 120 characters, a known type, a default
    of that type, ``choices`` and ``min``/``max`` consistent with the type and the default,
    no duplicate key) and refuses to start on any problem. Values are read and written
    with ``core.settings.get_setting``/``set_setting``; administrators edit them at /settings.
    Returns: an iterable of :class:`core.hooks.Setting`, or ``None``.
    firstresult: no.
    """


@hookspec
def cli_commands() -> Iterable[click.Command] | None:
    """Return click commands to add under ``crm``.

    When: once per application, while ``create_app`` builds it, for every loaded plugin
    (the command line is not scoped to a company; a command that works on one takes a
    ``--company`` option). Commands run inside an application context.
    Returns: an iterable of :class:`click.Command` (or groups), or ``None``. A name that
    is already taken is a start-up error.
    firstresult: no.
    """


@hookspec
def demo_data(session: Session, company: Company, size: str) -> None:
    """Create realistic demo records for ``company``.

    When: by ``crm demo``, once per enabled plugin, in dependency order (a plugin runs
    after the plugins it depends on, so their demo records exist), inside one
    transaction that ``crm demo`` commits at the end.
    Arguments: ``session``, the database session to add records to; ``company``, the
    demo company; ``size``, ``"small"`` (a few hundred hand-made records to look around
    in), ``"medium"`` or ``"large"`` (data at scale for the benchmarks in ``bench/``:
    write it with :mod:`core.bulk`, owned by the company's members, who include a staff
    of reps in teams at these sizes). Reproducible: seed any randomness.
    Returns: nothing.
    firstresult: no (not called through pluggy's ordering; see above).
    """


@hookspec
def benchmarks(session: Session, company: Company) -> Iterable[BenchmarkPage | BenchmarkTask] | None:
    """Return what the benchmark suite (``python -m bench``) measures of this plugin.

    When: by the suite only, once, after ``crm demo --size large`` (or the size asked for)
    has made ``company``, for every plugin enabled in it; never in a running application.
    Arguments: ``session``, to look up the records to aim at (an account with history, a
    pipeline); ``company``, the demo company.
    Returns: :class:`core.hooks.BenchmarkPage` and :class:`core.hooks.BenchmarkTask` values
    with their budgets, or ``None``.
    firstresult: no.
    """


@hookspec
def startup(app: Flask) -> None:
    """Finish setting up the application once every plugin is loaded.

    When: once, at the end of ``create_app``, for every loaded plugin, in dependency
    order. Use it to add template filters, context processors or extension set-up that
    needs the complete application.
    Arguments: ``app``, the application.
    Returns: nothing.
    firstresult: no (called in dependency order, see above).
    """


@hookspec
def default_roles() -> Iterable[RoleTemplate | RoleExtension] | None:
    """Offer the roles a company starts with: permission codes plus record visibility; or add
    codes and visibility to the roles a plugin this one depends on offers.

    When: once at start-up for every loaded plugin; the core validates the templates (keys
    and names unique across plugins, every permission code declared by some plugin, every
    visibility level ``own``, ``team`` or ``all``) and the extensions (the extended template
    offered by a plugin in ``depends``, the same checks for codes and levels, no other level
    for a record type the template sets) and refuses to start on any problem, listing all.
    Extensions are merged into their templates. ``core.access.seed_roles`` later creates
    one role per template in a company: when ``crm demo`` or ``crm companies create`` makes
    it, and on ``crm roles seed``. When a company enables a plugin for the first time, its
    extensions are added to the company's roles made from the extended templates
    (``core.access.apply_role_extensions``).
    Arguments: none.
    Returns: an iterable of :class:`core.hooks.RoleTemplate` and
    :class:`core.hooks.RoleExtension` values, or ``None``.
    firstresult: no.
    """


@hookspec
def on_event(event: EventRecord) -> None:
    """React, in process, to a domain event once the transaction that emitted it committed.

    When: right after the commit of the transaction that called
    :func:`core.events.emit` (a rolled-back transaction emits nothing), for the plugins
    enabled for the event's company when it was emitted (every loaded plugin for an
    event of no company), one plugin at a time in dependency order. Each call runs in
    its own application context and transaction, scoped to the event's company:
    committed when it returns, rolled back when it raises. An exception is logged and
    affects neither the other handlers nor the committed change. Work that reaches
    outside the process belongs in :func:`outbox_handlers`.
    Arguments: ``event``, a :class:`core.hooks.EventRecord`.
    Returns: nothing (the return value is ignored).
    firstresult: no.
    """


@hookspec
def outbox_handlers() -> Iterable[OutboxHandler] | None:
    """Declare out-of-process event handlers, delivered from the outbox by the job queue.

    When: once at start-up for every loaded plugin; the core validates each handler
    (name prefixed with the plugin name, unique; ``events`` a tuple of names or prefixes
    ending in ``*``; ``deliver`` callable) and refuses to start on any problem. When an
    event is emitted, one delivery row per matching handler of a plugin enabled for the
    event's company is written in the same transaction; after the commit the job queue
    calls ``deliver(event, idempotency_key)`` at least once, retrying with exponential
    backoff until it returns, or until the last attempt, when the delivery is dead.
    Returns: an iterable of :class:`core.hooks.OutboxHandler`, or ``None``.
    firstresult: no.
    """


@hookspec
def periodic_tasks() -> Iterable[PeriodicTask] | None:
    """Declare tasks that the job queue runs on a crontab schedule.

    When: once at start-up for every loaded plugin; the core validates each task (name
    prefixed with the plugin name, unique; a five-field crontab ``schedule``; ``run``
    callable) and refuses to start on any problem. A worker started with ``--periodic``
    then runs ``run()`` whenever the schedule matches (UTC), in its own transaction:
    once per company that has the plugin enabled, scoped to it, when ``per_company``;
    otherwise once, system-wide, if any company has the plugin enabled.
    Returns: an iterable of :class:`core.hooks.PeriodicTask`, or ``None``.
    firstresult: no.
    """


@hookspec
def search(query: str, user: User, limit: int) -> Iterable[SearchResult] | None:
    """Find records matching what the user typed in the global search box.

    When: on every global search (the page and its search-as-you-type results), for the
    plugins enabled for the company in context only. Queries run through the ORM are
    scoped to that company automatically; apply record visibility (``core.access.visible``)
    where the plugin's records have owners.
    Arguments: ``query``, the text typed (stripped, at least two characters); ``user``, the
    signed-in user; ``limit``, the most results the core will show from one plugin.
    Returns: an iterable of :class:`core.hooks.SearchResult` (at most ``limit``), or ``None``.
    firstresult: no.
    """


@hookspec
def dashboard_widgets(user: User) -> Iterable[DashboardWidget] | None:
    """Offer cards for the home page (figures, short lists, charts).

    When: on every home page, for the plugins enabled for the company in context only, and
    again when one card's body is loaded (``/dashboard/widgets/<key>``). The core calls each
    implementation on its own: one that raises is logged and left out. Keep the hook cheap
    (no queries): the work belongs in each widget's ``render``, which the core calls only
    when the card's body is loaded, one request per card, so a slow card delays nothing else.
    Arguments: ``user``, the signed-in user.
    Returns: an iterable of :class:`core.hooks.DashboardWidget`, or ``None``. The core drops
    the widgets whose ``permission`` the user lacks and those with a key not prefixed with
    the plugin name (logged), then sorts them by ``order`` then title.
    firstresult: no.
    """


@hookspec
def record_actions(record_type: str, record: object, user: User | None) -> Iterable[RecordAction] | None:
    """Offer buttons for the header of a record's page (any plugin's records).

    When: on every record page built with ``core.records.detail_context``, for the plugins
    enabled for the company in context only. The core calls each implementation on its own:
    one that raises is logged and left out. Keep it cheap: it runs on every page view.
    Arguments: ``record_type``, the record's type (``core.audit.record_type``, e.g.
    ``notes.note``; return nothing for types you do not know); ``record``, the record shown;
    ``user``, the signed-in user.
    Returns: an iterable of :class:`core.hooks.RecordAction`, or ``None``. The core drops
    the actions whose ``permission`` the user lacks, then sorts them by ``order`` then label.
    firstresult: no.
    """


@hookspec
def record_panels(record_type: str, record: object, user: User | None) -> Iterable[RecordPanel] | None:
    """Offer cards for a record's page, each loaded from the plugin's own route.

    When: on every record page built with ``core.records.detail_context``, for the plugins
    enabled for the company in context only. The core calls each implementation on its own:
    one that raises is logged and left out. Keep it cheap (no queries): the work belongs in
    the panel's route, which the page loads on its own, one request per card.
    Arguments: ``record_type``, the record's type (e.g. ``notes.note``); ``record``, the
    record shown; ``user``, the signed-in user.
    Returns: an iterable of :class:`core.hooks.RecordPanel`, or ``None``. The core drops the
    panels whose ``permission`` the user lacks and those with a key not prefixed with the
    plugin name (logged), then sorts them by ``order`` then title.
    firstresult: no.
    """


@hookspec
def import_targets() -> Iterable[ImportTarget] | None:
    """Declare the kinds of records people can import from CSV and XLSX files.

    When: whenever the import pages need the targets (the upload form, the mapping step,
    each import job), for the plugins enabled for the company in context only. The core
    calls each implementation on its own: one that raises is logged and left out. Keep it
    cheap (no queries): the target's functions do the work, one batch of rows at a time.
    Arguments: none.
    Returns: an iterable of :class:`core.hooks.ImportTarget`, or ``None``. The core drops
    targets whose key does not start with the plugin name and a dot (logged) and, for each
    user, those whose ``permission`` the user lacks; it sorts them by ``order`` then label.
    firstresult: no.
    """


@hookspec
def merge_records(session: Session, record_type: str, survivor_id: str, merged_ids: list[str], company_id: int) -> None:
    """Re-point this plugin's rows that refer to records being merged into one.

    When: by :func:`core.merging.merge`, inside the merge's transaction (a savepoint), after
    the survivor took its chosen values and before the merged records go to the trash. Called
    for **every installed plugin**, enabled for the company or not, one plugin at a time in
    dependency order: a disabled plugin keeps its data, so its references must follow too.
    An exception rolls the whole merge back (nothing is half-merged) and reaches the caller.
    Arguments: ``session``, the session of the merge (write with it, never commit);
    ``record_type``, the merged records' type (:func:`core.audit.record_type`, e.g.
    ``notes_note``; do nothing for types you do not refer to); ``survivor_id``, the id of the
    record that stays, as text (:func:`core.audit.record_id`); ``merged_ids``, the ids of the
    records merged into it, as text; ``company_id``, their company. Update with Core
    ``update()`` statements filtered on ``company_id`` (they are not scoped automatically),
    rows in the trash included: foreign keys to the merged records and generic references
    (``subject_type``/``subject_id``) alike. Where a unique constraint forbids two rows for the
    survivor (link tables), drop the merged record's row when the survivor already has one.
    Returns: nothing (the return value is ignored).
    firstresult: no.
    """


@hookspec
def timeline_entries(
    record_type: str, record: object, user: User | None, before: datetime | None, limit: int
) -> Iterable[TimelineEntry] | None:
    """Tell what happened to a record, for its timeline (the customers plugin's "History").

    When: each time a page of a record's timeline is shown (``core.timeline.contributions``),
    for the plugins enabled for the company in context only. The core calls each
    implementation on its own: one that raises is logged and left out.
    Arguments: ``record_type``, the record's type (``core.audit.record_type``, e.g.
    ``customers_account``; answer ``None`` for types you know nothing about); ``record``, the
    record (company-scoped, already visible to ``user``); ``user``, the signed-in user (leave
    out what they may not see); ``before``, an aware datetime: return only entries at or
    before it (``None``: the newest; the core drops those the page showed already);
    ``limit``, the most entries wanted.
    Returns: an iterable of :class:`core.hooks.TimelineEntry`, newest first, at most
    ``limit`` (one or two indexed queries; more are cut), or ``None``. Entries whose key does
    not start with the plugin name and a dot are logged and left out.
    firstresult: no.
    """
