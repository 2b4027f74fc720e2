"""The audit trail: who changed what, when, with old and new values.

A model opts in with the :class:`Audited` mixin (defined with the other mixins in
``core.db``, importable from here). Every flush that creates, changes,
soft-deletes, restores or deletes such a row writes one ``core_audit_entry`` row in the
same transaction, so the trail cannot disagree with the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import DateTime, Integer, Select, String, cast, event, func, insert, inspect, literal, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import Audited, CompanyMixin, utcnow
from core.models import AuditEntry, User
from core.scoping import COMPANY_KEY

__all__ = ["Audited", "history", "log_action", "log_many", "log_actions", "record_id", "record_type", "set_actor"]

ACTOR_KEY = "crm_user_id"
NOT_AUDITED = frozenset({"created_at", "updated_at", "deleted_by_id"})


def record_type(model: type | object) -> str:
    cls = model if isinstance(model, type) else type(model)
    return getattr(cls, "__record_type__", None) or cls.__tablename__  # type: ignore[attr-defined]


def record_id(instance: object) -> str:
    """The primary key as text (composite keys joined by commas); known right after INSERT."""
    values = inspect(instance).mapper.primary_key_from_instance(instance)
    return ",".join(str(value) for value in values)


def install(factory: sessionmaker) -> None:
    event.listen(factory, "after_flush", _record_changes)


def set_actor(session: Session, user_id: int | None) -> None:
    """Name the user acting outside a request (CLI, jobs)."""
    session.info[ACTOR_KEY] = user_id


def _actor(session: Session) -> int | None:
    """Who is acting: named on the session (CLI), else the signed-in user or the user a job
    or event handler runs for."""
    if ACTOR_KEY in session.info:
        return session.info[ACTOR_KEY]
    from core.events import acting_user_id

    return acting_user_id()


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return str(value)


def _audited_columns(instance: object) -> list[str]:
    excluded = NOT_AUDITED | getattr(instance, "__audit_exclude__", frozenset())
    return [attr.key for attr in inspect(instance).mapper.column_attrs if attr.key not in excluded]


def _changes(instance: object, action: str) -> dict[str, list[Any]]:
    state = inspect(instance)
    changes: dict[str, list[Any]] = {}
    for key in _audited_columns(instance):
        if action == "create":
            value = getattr(instance, key)
            if value is not None:
                changes[key] = [None, _json_safe(value)]
        elif action == "purge":
            changes[key] = [_json_safe(state.attrs[key].loaded_value), None]
        else:
            history = state.attrs[key].history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                new = history.added[0] if history.added else None
                if old != new:
                    changes[key] = [_json_safe(old), _json_safe(new)]
    return changes


def _action_for_update(changes: dict[str, list[Any]]) -> str:
    if "deleted_at" in changes:
        old, new = changes["deleted_at"]
        if old is None and new is not None:
            return "delete"
        if old is not None and new is None:
            return "restore"
    return "update"


def _record_changes(session: Session, _flush_context: object) -> None:
    entries: list[dict[str, Any]] = []
    actor = _actor(session)
    now = utcnow()

    def add(instance: object, action: str, changes: dict[str, list[Any]]) -> None:
        company_id = instance.company_id if isinstance(instance, CompanyMixin) else session.info.get(COMPANY_KEY) or None
        entries.append({
            "company_id": company_id,
            "user_id": actor,
            "record_type": record_type(instance),
            "record_id": record_id(instance),
            "action": action,
            "changes": changes,
            "at": now,
        })

    for instance in session.new:
        if isinstance(instance, Audited):
            add(instance, "create", _changes(instance, "create"))
    for instance in session.dirty:
        if isinstance(instance, Audited) and session.is_modified(instance, include_collections=False):
            changes = _changes(instance, "update")
            if changes:
                add(instance, _action_for_update(changes), changes)
    for instance in session.deleted:
        if isinstance(instance, Audited):
            add(instance, "purge", _changes(instance, "purge"))
    if entries:
        session.connection().execute(AuditEntry.__table__.insert(), entries)


def log_action(session: Session, record: object, action: str, changes: dict[str, list[Any]]) -> None:
    """Write one entry for an action the flush listener cannot see in the columns (a merge):
    ``action`` (at most 16 characters) and ``changes`` as ``{name: [old, new]}``, by the acting
    user, in the session's transaction."""
    log_actions(session, [(record, action, changes)])


def log_actions(session: Session, actions: Iterable[tuple[object, str, dict[str, list[Any]]]]) -> None:
    """:func:`log_action` for many ``(record, action, changes)`` at once, in one statement
    (bulk work writes its trail without a query per record)."""
    actor, now, scoped = _actor(session), utcnow(), session.info.get(COMPANY_KEY) or None
    rows = [{
        "company_id": record.company_id if isinstance(record, CompanyMixin) else scoped, "user_id": actor,
        "record_type": record_type(record), "record_id": record_id(record), "action": action,
        "changes": _json_safe(changes), "at": now,
    } for record, action, changes in actions]
    if rows:
        session.connection().execute(AuditEntry.__table__.insert(), rows)


def log_many(session: Session, company_id: int | None, type_name: str, action: str, field: str,
             rows: Select[Any]) -> int:
    """Write, in one INSERT … SELECT, an entry for each row of ``rows`` (a Select of three
    columns: the record's id, the old and the new value of ``field``) about records of the
    type ``type_name`` (:func:`record_type`) in ``company_id``: ``changes`` is
    ``{field: [old, new]}``, by the acting user, in the session's transaction. For changes
    made with Core statements over many rows at once, which the flush listener does not see:
    no row comes back to Python. Returns the number of entries written."""
    source = rows.subquery()
    record, old, new = source.c[0], source.c[1], source.c[2]
    if session.get_bind().dialect.name == "postgresql":
        changes = func.json_build_object(field, func.json_build_array(old, new))
    else:
        changes = func.json_object(field, func.json_array(old, new))
    statement = insert(AuditEntry).from_select(
        ["company_id", "user_id", "record_type", "record_id", "action", "changes", "at"],
        select(literal(company_id, Integer), literal(_actor(session), Integer), literal(type_name),
               cast(record, String), literal(action), changes, literal(utcnow(), DateTime(timezone=True))))
    return int(session.execute(statement).rowcount or 0)


def history(session: Session, record: object, limit: int = 100) -> list[tuple[AuditEntry, str | None]]:
    """The record's audit entries, newest first, each with the acting user's name."""
    company_id = record.company_id if isinstance(record, CompanyMixin) else None
    statement = (
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.record_type == record_type(record), AuditEntry.record_id == record_id(record))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if company_id is not None:
        statement = statement.where(AuditEntry.company_id == company_id)
    return [(entry, name) for entry, name in session.execute(statement)]
