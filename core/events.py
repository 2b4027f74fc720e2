"""Domain events and the outbox.

:func:`emit` records an event (a ``core_event`` row) in the transaction of the change
that caused it, plus one ``core_event_delivery`` row for each outbox handler that wants
it. Nothing leaves the process before that transaction commits:

* after the commit, the ``on_event`` implementations of the plugins enabled for the
  event's company run in process, each in its own application context and transaction;
  one that raises is logged and changes nothing for the others or for the commit;
* each delivery is queued on the job queue, which calls the handler's ``deliver`` at
  least once: a failure is retried with exponential backoff
  (``RETRY_BASE_SECONDS * 2**(attempt - 1)``, at most ``RETRY_MAX_SECONDS``) until
  ``CRM_OUTBOX_MAX_ATTEMPTS`` attempts, after which the delivery is ``dead`` and keeps
  its last error until :func:`retry_delivery` puts it back in the queue;
* a periodic sweep (every minute, in a worker run with ``--periodic``) queues every
  pending delivery that is due, so a delivery survives a process that dies between the
  commit and the queueing, or a queue that was unreachable.

A rolled-back transaction (or savepoint) emits nothing: the after-commit actions are
kept per session and per transaction and dropped on rollback (:func:`on_commit`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import re
import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session, SessionTransaction

from core.db import get_session, utcnow
from core.hooks import EventRecord, OutboxHandler
from core.models import Event, EventDelivery
from core.scoping import COMPANY_KEY

logger = logging.getLogger(__name__)

EXTENSION_KEY = "crm.events"
PENDING_KEY = "crm.after_commit"
ACTING_USER_KEY = "crm_acting_user_id"

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
EVENT_NAME_MAX = 120
HANDLER_NAME_MAX = 200  # idempotency keys are "<event id>:<handler>", at most 255 characters

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# A claimed delivery is not due again for this long, so that the sweep does not hand it
# to a second worker while the first is still delivering it.
LEASE_SECONDS = 600
SWEEP_BATCH = 500
ERROR_MAX = 4000

DELIVER_TASK = "crm.outbox.deliver"
SWEEP_TASK = "crm.outbox.sweep"


# -- after-commit actions ------------------------------------------------------------------------


@dataclass
class _Pending:
    callback: Callable[[], None]
    transaction: SessionTransaction


def on_commit(callback: Callable[[], None], session: Session | None = None) -> None:
    """Run ``callback`` once the current transaction of ``session`` commits.

    ``session`` defaults to :func:`core.db.get_session`. Nothing runs if the transaction
    (or the savepoint in which this was called) rolls back, or if the session is closed
    without committing. Callbacks run in the order they were registered; one that raises
    is logged and does not stop the others. They run while the session is between
    transactions, so they must not use it: :func:`core.jobs.run_in_transaction` gives
    them a session of their own.
    """
    session = session if session is not None else get_session()
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    if not sa_event.contains(session, "after_commit", _after_commit):
        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_soft_rollback", _after_soft_rollback)
        sa_event.listen(session, "after_transaction_end", _after_transaction_end)
    session.info.setdefault(PENDING_KEY, []).append(_Pending(callback, transaction))


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; its actions wait for the real commit
    for pending in session.info.pop(PENDING_KEY, []):
        try:
            pending.callback()
        except Exception:
            logger.exception("an after-commit action failed")


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(PENDING_KEY)
    if pending:
        session.info[PENDING_KEY] = [
            item for item in pending if not _within(item.transaction, previous_transaction)
        ]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        # The outermost transaction ended without a commit (after a commit, _after_commit
        # has taken everything already): closing a session must not keep stale actions.
        session.info.pop(PENDING_KEY, None)


# -- registry of outbox handlers -----------------------------------------------------------------


@dataclass
class EventRegistry:
    """The outbox handlers of one application (``app.extensions["crm.events"]``)."""

    handlers: dict[str, OutboxHandler] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # handler name -> plugin

    def matching(self, event_name: str, enabled: Collection[str] | None) -> list[OutboxHandler]:
        """The handlers of ``enabled`` plugins (every plugin when None) that want ``event_name``."""
        return [
            handler
            for name, handler in self.handlers.items()
            if (enabled is None or self.owners[name] in enabled) and handler.matches(event_name)
        ]


def init_app(app: Flask) -> list[str]:
    """Collect and validate the plugins' outbox handlers; return the problems found."""
    problems: list[str] = []
    registry = EventRegistry()
    manager = app.extensions["crm.plugins"]
    for info, handler in manager.declared("outbox_handlers", problems):
        problem = _handler_problem(info.name, handler, registry)
        if problem:
            problems.append(problem)
        else:
            registry.handlers[handler.name] = handler
            registry.owners[handler.name] = info.name
    app.extensions[EXTENSION_KEY] = registry
    return problems


def _handler_problem(plugin: str, handler: Any, registry: EventRegistry) -> str | None:
    if not isinstance(handler, OutboxHandler):
        return f"plugin '{plugin}' returned {handler!r} from outbox_handlers, not an OutboxHandler"
    where = f"plugin '{plugin}' outbox handler '{handler.name}'"
    if not isinstance(handler.name, str) or not handler.name.startswith(f"{plugin}."):
        return f"{where}: the name must start with '{plugin}.'"
    if len(handler.name) > HANDLER_NAME_MAX:
        return f"{where}: the name is longer than {HANDLER_NAME_MAX} characters"
    if handler.name in registry.handlers:
        return f"{where}: the name is taken (by plugin '{registry.owners[handler.name]}')"
    events = handler.events
    if isinstance(events, str) or not isinstance(events, (tuple, list)) or not events:
        return f"{where}: events must be a non-empty tuple of event names or prefixes ending in '*'"
    for pattern in events:
        if not isinstance(pattern, str) or not pattern or "*" in pattern[:-1]:
            return f"{where}: {pattern!r} is not an event name or a prefix ending in '*'"
    if not callable(handler.deliver):
        return f"{where}: deliver is not callable"
    return None


def get_registry(app: Flask | None = None) -> EventRegistry:
    return (app or current_app).extensions[EXTENSION_KEY]


# -- emitting ------------------------------------------------------------------------------------


def acting_user_id() -> int | None:
    """The signed-in user in a request; the user a job or handler runs for otherwise."""
    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user.id
    if has_app_context():
        return g.get(ACTING_USER_KEY)
    return None


def _checked(name: str, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The payload as it is stored (a JSON round trip), once ``name`` and it are checked."""
    if not isinstance(name, str) or len(name) > EVENT_NAME_MAX or not EVENT_NAME.match(name):
        raise ValueError(
            f"event name {name!r} must be dotted lower-case words starting with the plugin "
            f"name, e.g. 'notes.note.created' (at most {EVENT_NAME_MAX} characters)"
        )
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise ValueError(f"event {name!r}: the payload must be a mapping, not {type(payload).__name__}")
    try:
        return json.loads(json.dumps(dict(payload)))
    except (TypeError, ValueError) as error:
        raise ValueError(f"event {name!r}: the payload must be JSON-serialisable ({error})") from None


def _routes(app: Flask, session: Session, company_id: int | None, name: str) -> tuple[list[str], list[str]]:
    """Where events ``name`` of ``company_id`` go: the matching outbox handlers of the enabled
    plugins, and the enabled plugins with an ``on_event``, in dependency order."""
    manager = app.extensions["crm.plugins"]
    registry = get_registry(app)
    listeners = _on_event_plugins(manager)
    enabled = _enabled(app, session, company_id) if (listeners or registry.handlers) else frozenset()
    handlers = [handler.name for handler in registry.matching(name, enabled)]
    receivers = [plugin for plugin in manager.names if plugin in listeners and (enabled is None or plugin in enabled)]
    return handlers, receivers


def emit(
    name: str,
    payload: Mapping[str, Any] | None,
    company_id: int | None = None,
    *,
    session: Session | None = None,
) -> EventRecord:
    """Record the domain event ``name`` in the current transaction; return it.

    ``payload`` must be JSON-serialisable (ids and plain values, not ORM objects).
    ``company_id`` defaults to the company the session is scoped to (none outside a
    company). ``session`` defaults to :func:`core.db.get_session`. The event row, and
    one delivery row per matching outbox handler, are flushed now; handlers run only
    after the transaction commits. Raises ``ValueError`` for a malformed name, a payload
    that JSON cannot hold, or a company other than the one the session is scoped to.
    """
    stored = _checked(name, payload)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    session = session if session is not None else get_session()
    scoped = session.info.get(COMPANY_KEY) or None  # NO_COMPANY (0) counts as none
    if company_id is None:
        company_id = scoped
    elif scoped is not None and company_id != scoped:
        raise ValueError(f"event {name!r}: company {company_id} is not the company in context ({scoped})")

    row = Event(company_id=company_id, user_id=acting_user_id(), name=name, payload=stored, created_at=utcnow())
    session.add(row)
    session.flush()
    record = _record(row)

    handlers, receivers = _routes(app, session, company_id, name)
    deliveries = [
        EventDelivery(
            event_id=row.id, handler=handler, idempotency_key=f"{row.id}:{handler}",
            status="pending", attempts=0, next_attempt_at=row.created_at,
        )
        for handler in handlers
    ]
    if deliveries:
        session.add_all(deliveries)
        session.flush()
    delivery_ids = [delivery.id for delivery in deliveries]
    if delivery_ids or receivers:
        on_commit(lambda: _after_event_commit(app, record, delivery_ids, receivers), session=session)
    return record


def emit_many(name: str, payloads: Sequence[Mapping[str, Any]], *, session: Session | None = None) -> int:
    """:func:`emit` of the event ``name`` once per payload of ``payloads``, for bulk work (an
    import, a bulk assignment): the event rows and their deliveries are written with one
    statement each, whatever their number. After the commit every delivery is queued, and
    each plugin's ``on_event`` gets the events in one transaction (a savepoint each, so one
    failing event leaves the others). For the company the session is scoped to. Returns the
    number of events."""
    stored = [_checked(name, payload) for payload in payloads]
    if not stored:
        return 0
    from core.imports import bulk_insert  # core.imports needs core.jobs, which needs this module

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    session = session if session is not None else get_session()
    company_id = session.info.get(COMPANY_KEY) or None
    user_id, now = acting_user_id(), utcnow()
    ids = bulk_insert(Event.__table__, [{"company_id": company_id, "user_id": user_id, "name": name,
                                          "payload": payload, "created_at": now} for payload in stored],
                      return_ids=True)
    handlers, receivers = _routes(app, session, company_id, name)
    delivery_ids = bulk_insert(EventDelivery.__table__, [
        {"event_id": event_id, "handler": handler, "idempotency_key": f"{event_id}:{handler}", "status": "pending",
         "attempts": 0, "next_attempt_at": now} for event_id in ids for handler in handlers], return_ids=True)
    if delivery_ids or receivers:
        records = [EventRecord(id=event_id, name=name, payload=payload, company_id=company_id, user_id=user_id,
                               created_at=now) for event_id, payload in zip(ids, stored, strict=True)]

        def after_commit() -> None:
            for delivery_id in delivery_ids:
                enqueue_delivery(app, delivery_id)
            dispatch_many(app, records, receivers)
        on_commit(after_commit, session=session)
    return len(ids)


def _record(row: Event) -> EventRecord:
    created_at = row.created_at
    if created_at.tzinfo is None:  # SQLite returns naive datetimes; they are UTC
        created_at = created_at.replace(tzinfo=UTC)
    return EventRecord(
        id=row.id, name=row.name, payload=dict(row.payload or {}), company_id=row.company_id,
        user_id=row.user_id, created_at=created_at,
    )


def _on_event_plugins(manager: Any) -> set[str]:
    return {
        impl.plugin_name
        for impl in manager.pluggy.hook.on_event.get_hookimpls()
        if not (impl.hookwrapper or impl.wrapper)
    }


def _enabled(app: Flask, session: Session, company_id: int | None) -> frozenset[str] | None:
    """The plugins enabled for ``company_id``; None (every plugin) for no company."""
    if company_id is None:
        return None
    if has_request_context():
        company = g.get("crm_company")
        if company is not None and company.id == company_id and "crm_enabled" in g:
            return g.crm_enabled
    from core.enablement import enabled_plugins

    return enabled_plugins(session, app.extensions["crm.plugins"], company_id)


def _after_event_commit(app: Flask, record: EventRecord, delivery_ids: list[int], receivers: list[str]) -> None:
    for delivery_id in delivery_ids:
        enqueue_delivery(app, delivery_id)
    dispatch(app, record, receivers)


def dispatch(app: Flask, record: EventRecord, plugins: list[str]) -> None:
    """Call ``on_event`` of each of ``plugins`` (in order), each in its own transaction."""
    from core.jobs import run_in_transaction

    manager = app.extensions["crm.plugins"]
    for plugin in plugins:
        # Each handler gets its own copy, so one cannot change what the next one sees.
        event = dataclasses.replace(record, payload=copy.deepcopy(record.payload))
        try:
            run_in_transaction(
                app,
                lambda plugin=plugin, event=event: manager.call_in_order("on_event", enabled={plugin}, event=event),
                company_id=record.company_id,
                user_id=record.user_id,
            )
        except Exception:
            logger.exception(
                "plugin '%s' failed handling event %s (#%s); its changes were rolled back, "
                "other handlers and the committed change are unaffected", plugin, record.name, record.id,
            )


def dispatch_many(app: Flask, records: Sequence[EventRecord], plugins: list[str]) -> None:
    """:func:`dispatch` of many events of one company: each plugin's ``on_event`` gets them
    all in one transaction, each event in a savepoint of its own (a failing one is rolled
    back and logged, the others stay)."""
    from core.jobs import run_in_transaction

    if not records:
        return
    manager = app.extensions["crm.plugins"]

    def handle(plugin: str) -> None:
        session = get_session()
        for record in records:
            event = dataclasses.replace(record, payload=copy.deepcopy(record.payload))
            try:
                with session.begin_nested():
                    manager.call_in_order("on_event", enabled={plugin}, event=event)
            except Exception:
                logger.exception("plugin '%s' failed handling event %s (#%s); its changes were rolled back, "
                                 "other handlers and the committed change are unaffected", plugin, record.name,
                                 record.id)

    for plugin in plugins:
        try:
            run_in_transaction(app, lambda plugin=plugin: handle(plugin), company_id=records[0].company_id,
                               user_id=records[0].user_id)
        except Exception:
            logger.exception("plugin '%s' failed handling %d events %s", plugin, len(records), records[0].name)


# -- delivering ----------------------------------------------------------------------------------


def enqueue_delivery(app: Flask, delivery_id: int, delay: float | None = None) -> bool:
    """Queue one delivery attempt; on failure log it and leave the delivery to the sweep."""
    from core.jobs import get_jobs

    try:
        get_jobs(app).enqueue(DELIVER_TASK, delivery_id, delay=delay)
    except Exception:
        logger.exception("could not queue outbox delivery #%s; the sweep will retry it", delivery_id)
        return False
    return True


def backoff_seconds(attempts: int) -> int:
    """How long to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)


@dataclass
class _Claim:
    attempts: int
    handler: str
    key: str
    record: EventRecord


def _claim(delivery_id: int, now: datetime) -> _Claim | None:
    """Take a due pending delivery (counting the attempt), or None if it is not ours to run."""
    session = get_session()
    claimed = session.execute(
        update(EventDelivery)
        .where(
            EventDelivery.id == delivery_id,
            EventDelivery.status == "pending",
            EventDelivery.next_attempt_at <= now,
        )
        .values(attempts=EventDelivery.attempts + 1, next_attempt_at=now + timedelta(seconds=LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    delivery = session.execute(
        select(EventDelivery).where(EventDelivery.id == delivery_id).execution_options(populate_existing=True)
    ).scalar_one()
    event = session.get(Event, delivery.event_id)
    return _Claim(delivery.attempts, delivery.handler, delivery.idempotency_key, _record(event))


def deliver(delivery_id: int, app: Flask | None = None) -> str:
    """Make one attempt at a delivery if it is pending and due; return its status after.

    The attempt is claimed in its own transaction first. The handler then runs in a
    transaction scoped to the event's company, which also marks the delivery delivered,
    so the handler's own database work and the mark commit together. On failure the
    delivery waits for its next attempt (and a retry is queued) or, after the last
    attempt, is ``dead``. Returns ``"skipped"`` when there was nothing to do (delivered
    or dead already, not due, or another worker holds it).
    """
    from core.jobs import run_in_transaction

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = utcnow()
    claim = run_in_transaction(app, lambda: _claim(delivery_id, now))
    if claim is None:
        return "skipped"
    handler = get_registry(app).handlers.get(claim.handler)
    if handler is None:
        error = f"no outbox handler named '{claim.handler}' is installed"
    else:
        try:
            run_in_transaction(
                app,
                lambda: _deliver_and_mark(handler, claim, delivery_id),
                company_id=claim.record.company_id,
                user_id=claim.record.user_id,
            )
            return "delivered"
        except Exception as caught:
            error = _describe(caught)
    status, delay = run_in_transaction(app, lambda: _record_failure(app, delivery_id, claim.attempts, error))
    if status == "dead":
        logger.error("outbox delivery #%s (%s, %s) is dead after %s attempts: %s",
                     delivery_id, claim.handler, claim.record.name, claim.attempts, error.splitlines()[0])
    else:
        logger.warning("outbox delivery #%s (%s, %s) failed, attempt %s; next in %ss: %s",
                       delivery_id, claim.handler, claim.record.name, claim.attempts, delay,
                       error.splitlines()[0])
        enqueue_delivery(app, delivery_id, delay=delay)
    return status


def _deliver_and_mark(handler: OutboxHandler, claim: _Claim, delivery_id: int) -> None:
    handler.deliver(claim.record, claim.key)
    get_session().execute(
        update(EventDelivery)
        .where(EventDelivery.id == delivery_id)
        .values(status="delivered", delivered_at=utcnow(), last_error=None)
        .execution_options(synchronize_session=False)
    )


def _record_failure(app: Flask, delivery_id: int, attempts: int, error: str) -> tuple[str, int]:
    dead = attempts >= app.config["CRM_OUTBOX_MAX_ATTEMPTS"]
    delay = 0 if dead else backoff_seconds(attempts)
    get_session().execute(
        update(EventDelivery)
        .where(EventDelivery.id == delivery_id)
        .values(
            status="dead" if dead else "pending",
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            last_error=error,
        )
        .execution_options(synchronize_session=False)
    )
    return ("dead" if dead else "pending"), delay


def _describe(error: BaseException) -> str:
    """The error's type and message first, then the traceback, within ERROR_MAX characters."""
    summary = f"{type(error).__name__}: {error}"
    details = "".join(traceback.format_exception(error))
    text = f"{summary}\n\n{details}"
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 15] + "\n[...truncated]"


def sweep(app: Flask | None = None, limit: int = SWEEP_BATCH) -> int:
    """Queue up to ``limit`` pending deliveries that are due; return how many."""
    from core.jobs import run_in_transaction

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = utcnow()
    due = run_in_transaction(app, lambda: list(get_session().scalars(
        select(EventDelivery.id)
        .where(EventDelivery.status == "pending", EventDelivery.next_attempt_at <= now)
        .order_by(EventDelivery.next_attempt_at, EventDelivery.id)
        .limit(limit)
    )))
    for delivery_id in due:
        enqueue_delivery(app, delivery_id)
    return len(due)


def retry_delivery(delivery_id: int, *, session: Session | None = None) -> bool:
    """Put a dead (or waiting) delivery back in the queue now, with a fresh set of attempts.

    For the administration UI. The delivery is queued when the transaction commits.
    Returns False when there is no such delivery, it was delivered already, or its event
    belongs to a company other than the one the session is scoped to.
    """
    session = session if session is not None else get_session()
    delivery = session.get(EventDelivery, delivery_id)
    if delivery is None or delivery.status == "delivered":
        return False
    scoped = session.info.get(COMPANY_KEY)
    if scoped is not None:
        event_company = session.scalar(select(Event.company_id).where(Event.id == delivery.event_id))
        if event_company != scoped:
            return False
    if delivery.status == "dead":
        delivery.attempts = 0
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    session.flush()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    on_commit(lambda: enqueue_delivery(app, delivery_id), session=session)
    return True


def dead_deliveries(limit: int = 100, *, session: Session | None = None) -> list[tuple[EventDelivery, Event]]:
    """The dead deliveries, newest event first, with their events (for the administration UI).

    Limited to the company the session is scoped to, if any.
    """
    session = session if session is not None else get_session()
    query = (
        select(EventDelivery, Event)
        .join(Event, Event.id == EventDelivery.event_id)
        .where(EventDelivery.status == "dead")
        .order_by(Event.id.desc(), EventDelivery.id)
        .limit(limit)
    )
    scoped = session.info.get(COMPANY_KEY)
    if scoped is not None:
        query = query.where(Event.company_id == scoped)
    return [(delivery, event) for delivery, event in session.execute(query)]
