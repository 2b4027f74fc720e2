"""Record timelines: what happened to a record, from every plugin, interleaved by time.

A plugin that shows a record's timeline (the customers plugin's "History" panel does, on
every record page) builds it from its own rows plus two generic sources:

* :func:`contributions`: the ``timeline_entries`` hook of the enabled plugins, each
  answering with :class:`core.hooks.TimelineEntry` values about the record (an opportunity
  won, a ticket closed), a page at a time;
* :func:`audit_events`: the record's audit entries worth a line on a timeline (created,
  moved to the trash, restored, merged, and the changes of the fields the caller names).

Every source is paged the same way, newest first, from a :class:`Cursor` (a time and a key,
exclusive) and a ``limit``, so a timeline page costs a bounded number of queries however long
the record's history is; :func:`merge_pages` interleaves the sources and cuts the page. See docs/plugins/hooks.md
(``timeline_entries``) and docs/plugins/events-and-jobs.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session

from core.audit import record_id, record_type
from core.db import CompanyMixin
from core.hooks import TimelineEntry
from core.models import AuditEntry, User

# Audit actions that are events in a record's life whatever changed.
LIFE_ACTIONS: tuple[str, ...] = ("create", "delete", "restore", "merge", "merged_into")

T = TypeVar("T")


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone (SQLite gives naive UTC values)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- what other plugins contribute -----------------------------------------------------------------


def contributions(record_type_: str, record: object, user: Any, *, cursor: Cursor | None,
                  limit: int) -> list[TimelineEntry]:
    """The ``timeline_entries`` of the enabled plugins for ``record``, newest first.

    The hook is asked for entries at or before ``cursor.at``. Each plugin's answer is
    checked: an item that is not a :class:`TimelineEntry`, whose key does not start with the
    plugin's name and a dot, or whose ``at`` is not a datetime, is logged and left out;
    entries the cursor does not admit are dropped, and at most ``limit`` are kept per plugin.
    A plugin whose hook raises is logged and left out.
    """
    before = cursor.at if cursor is not None else None
    from core.tenancy import call_each_enabled

    kept: list[TimelineEntry] = []
    for plugin, offered in call_each_enabled("timeline_entries", record_type=record_type_, record=record,
                                             user=user, before=before, limit=limit):
        valid = []
        for entry in offered:
            if not isinstance(entry, TimelineEntry) or not isinstance(entry.at, datetime) \
                    or not str(entry.key).startswith(f"{plugin}."):
                current_app.logger.warning("plugin %r offered %r, not a TimelineEntry with a key starting with %r",
                                           plugin, entry, f"{plugin}.")
                continue
            if entry.at.tzinfo is None:
                entry = TimelineEntry(**{**entry.__dict__, "at": aware(entry.at)})
            if cursor is None or cursor.admits(entry.at, entry.key):
                valid.append(entry)
        kept.extend(sorted(valid, key=sort_key, reverse=True)[:limit])
    return sorted(kept, key=sort_key, reverse=True)


def sort_key(entry: TimelineEntry) -> tuple[datetime, str]:
    return (entry.at, entry.key)


# -- the audit trail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """An audit entry worth a line on a timeline, with the acting user's name."""

    id: int
    action: str
    at: datetime
    changes: dict[str, list[Any]]
    actor: str | None


def audit_events(session: Session, record: object, *, fields: Collection[str] = (),
                 cursor: Cursor | None = None, key_prefix: str = "", limit: int = 20) -> list[AuditEvent]:
    """The record's audit entries of :data:`LIFE_ACTIONS`, and its updates that changed one of
    ``fields``, newest first, older than ``cursor`` (whose items of this source have the keys
    ``padded_key(key_prefix, id)``); at most ``limit``. One query (through the index on the
    record)."""
    life = AuditEntry.action.in_(LIFE_ACTIONS)
    if fields:
        changed = or_(*(AuditEntry.changes[name].as_string().is_not(None) for name in fields))
        life = or_(life, and_(AuditEntry.action == "update", changed))
    statement = (
        select(AuditEntry.id, AuditEntry.action, AuditEntry.at, AuditEntry.changes, User.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.record_type == record_type(record), AuditEntry.record_id == record_id(record), life)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if isinstance(record, CompanyMixin):
        statement = statement.where(AuditEntry.company_id == record.company_id)
    if cursor is not None:
        statement = statement.where(cursor.clause(AuditEntry.at, AuditEntry.id, key_prefix))
    return [AuditEvent(row.id, row.action, aware(row.at), dict(row.changes or {}), row.name)
            for row in session.execute(statement)]


# -- paging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a timeline page starts: items strictly older than ``(at, key)``, newest first.

    Items are ordered by time, then by key, so that many items of the same moment (an import
    dates them all alike) still page without loss. A source whose keys are its prefix plus a
    zero-padded id (``customers.interaction.000000000042``) reads its page with
    :meth:`clause`; anything else filters with :meth:`admits`.
    """

    at: datetime
    key: str

    @classmethod
    def parse(cls, at: str | None, key: str | None) -> Cursor | None:
        """The cursor of a page's query string (``before`` and ``key``); None for the first
        page; ``ValueError`` when ``at`` is not an ISO date and time."""
        if not at:
            return None
        return cls(aware(datetime.fromisoformat(at)), key or "")

    def params(self) -> dict[str, str]:
        return {"before": self.at.isoformat(), "key": self.key}

    def admits(self, at: datetime, key: str) -> bool:
        return (aware(at), key) < (self.at, self.key)

    def clause(self, at_column: Any, id_column: Any, prefix: str) -> Any:
        """SQL for the rows of a source with keys ``prefix + f"{id:012d}"`` older than the cursor."""
        if self.key > prefix + "~":  # every key of this source sorts before the cursor's
            tie = true()
        elif not self.key.startswith(prefix):
            tie = false()
        else:
            digits = self.key[len(prefix):len(prefix) + KEY_DIGITS]
            tie = id_column < int(digits) if digits.isdigit() else false()
        return or_(at_column < self.at, and_(at_column == self.at, tie))


KEY_DIGITS = 12


def padded_key(prefix: str, row_id: int) -> str:
    """The key of a row of a source paged with :meth:`Cursor.clause`."""
    return f"{prefix}{row_id:0{KEY_DIGITS}d}"


@dataclass
class TimelinePage(Generic[T]):
    """One page of a timeline: its ``items`` newest first, whether older ones exist, and the
    cursor that asks for the next page."""

    items: list[T]
    has_more: bool
    next_cursor: Cursor | None


def merge_pages(sources: Sequence[Sequence[T]], at: Callable[[T], datetime], key: Callable[[T], str],
                limit: int) -> TimelinePage[T]:
    """Interleave sources that each gave their newest ``limit + 1`` items older than the same
    cursor into one page of at most ``limit`` items, newest first."""
    merged = sorted((item for source in sources for item in source), key=lambda item: (at(item), key(item)),
                    reverse=True)
    items = merged[:limit]
    has_more = len(merged) > limit
    return TimelinePage(items, has_more, Cursor(at(items[-1]), key(items[-1])) if has_more else None)
