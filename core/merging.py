"""Merging duplicate records: one survivor keeps the chosen values, every reference follows it.

A plugin that lets people merge its records calls :func:`merge` with the survivor, the records
merged into it and the surviving value of each field. In one savepoint of the caller's
transaction the core

1. gives the survivor the chosen values;
2. calls the ``merge_records`` hook of **every installed plugin** (enabled for the company or
   not: a disabled plugin keeps its data, so its references must not be left pointing at a
   record in the trash), in dependency order, so that each re-points its own rows;
3. moves the merged records to the trash (:func:`core.trash.soft_delete`);
4. writes the audit trail: a ``merge`` entry on the survivor (``{"merged": [None, [ids]]}``,
   shown as "merged #12, #13 into this") and a ``merged_into`` entry on each merged record
   (``{"merged_into": [None, id]}``), besides the ordinary change and trash entries.

Any exception rolls the savepoint back, so nothing is half-merged, and reaches the caller.
The domain event is the plugin's to emit (``<plugin>.<record>.merged``), with the payload its
subscribers need; the core does not guess a name. :func:`mergeable_fields` and
:func:`differing_fields` give a merge screen the fields worth asking about.
See docs/plugins/merging.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from core.audit import NOT_AUDITED, log_actions, record_id, record_type
from core.db import CompanyMixin, SoftDeleteMixin
from core.trash import soft_delete

# Columns a merge never copies: identity, tenancy, bookkeeping of the mixins.
NEVER_MERGED = NOT_AUDITED | frozenset({"id", "company_id", "deleted_at", "deleted_by_id"})


class MergeError(ValueError):
    """The records cannot be merged as asked; the message says why (for a 4xx answer)."""


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge` did: the survivor, the records merged into it (now in the trash)
    and the fields whose value changed on the survivor."""

    survivor: Any
    merged: list[Any]
    changed: list[str] = field(default_factory=list)

    @property
    def merged_ids(self) -> list[str]:
        return [record_id(record) for record in self.merged]


def mergeable_fields(model: type) -> list[str]:
    """The columns of ``model`` a person chooses a surviving value for, in table order.

    Leaves out primary keys, foreign keys to the company, the mixins' bookkeeping (timestamps,
    soft delete), derived columns (``__audit_exclude__``) and those a model names in
    ``__merge_exclude__`` (values a merge computes itself, e.g. follow-up dates).
    """
    excluded = (NEVER_MERGED | getattr(model, "__audit_exclude__", frozenset())
                | getattr(model, "__merge_exclude__", frozenset()))
    mapper = inspect(model)
    keys = {column.key for column in mapper.primary_key}
    return [attr.key for attr in mapper.column_attrs if attr.key not in excluded and attr.key not in keys]


def differing_fields(records: Sequence[Any], names: Sequence[str] | None = None) -> list[str]:
    """The mergeable fields (or ``names``) whose values are not all equal among ``records``."""
    if not records:
        return []
    names = names if names is not None else mergeable_fields(type(records[0]))
    return [name for name in names if len({_comparable(getattr(r, name)) for r in records}) > 1]


def _comparable(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _check(survivor: Any, merged: Sequence[Any], values: Mapping[str, Any]) -> None:
    model = type(survivor)
    if not merged:
        raise MergeError("Choose at least one record to merge into the survivor.")
    if any(type(record) is not model for record in merged):
        raise MergeError("Only records of the same type can be merged.")
    ids = [record_id(record) for record in merged]
    if record_id(survivor) in ids:
        raise MergeError("The surviving record cannot also be merged into itself.")
    if len(set(ids)) != len(ids):
        raise MergeError("A record is named twice among the merged records.")
    if isinstance(survivor, CompanyMixin) and any(r.company_id != survivor.company_id for r in merged):
        raise MergeError("Records of different companies cannot be merged.")
    if isinstance(survivor, SoftDeleteMixin) and any(r.deleted_at is not None for r in (survivor, *merged)):
        raise MergeError("A record in the trash cannot be merged; restore it first.")
    unknown = sorted(set(values) - set(mergeable_fields(model)))
    if unknown:
        raise MergeError(f"These fields cannot be chosen in a merge: {', '.join(unknown)}.")


def merge(
    session: Session,
    survivor: Any,
    merged: Sequence[Any],
    values: Mapping[str, Any] | None = None,
    *,
    user_id: int | None = None,
) -> MergeResult:
    """Merge ``merged`` into ``survivor`` (see the module docstring); return what was done.

    ``values`` maps field names (among :func:`mergeable_fields`) to the survivor's new values;
    fields left out keep the survivor's value. ``user_id`` is recorded as who moved the merged
    records to the trash. Raises :class:`MergeError` for records that cannot be merged (before
    anything changes); an exception from a hook implementation rolls everything back.
    """
    values = dict(values or {})
    _check(survivor, merged, values)
    kind = record_type(survivor)
    survivor_id = record_id(survivor)
    merged_ids = [record_id(record) for record in merged]
    company_id = survivor.company_id if isinstance(survivor, CompanyMixin) else None
    manager = current_app.extensions["crm.plugins"]
    with session.begin_nested():
        changed = [name for name, value in values.items() if getattr(survivor, name) != value]
        for name in changed:
            setattr(survivor, name, values[name])
        session.flush()
        # Every installed plugin (enabled=None), whatever the company enabled: see the docstring.
        manager.call_in_order("merge_records", session=session, record_type=kind, survivor_id=survivor_id,
                              merged_ids=list(merged_ids), company_id=company_id)
        for record in merged:
            if isinstance(record, SoftDeleteMixin):
                soft_delete(record, user_id)
            else:
                session.delete(record)
        session.flush()
        log_actions(session, [(survivor, "merge", {"merged": [None, merged_ids]}),
                              *((record, "merged_into", {"merged_into": [None, survivor_id]}) for record in merged)])
    return MergeResult(survivor, list(merged), changed)

