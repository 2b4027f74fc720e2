"""Merging duplicate accounts or contacts, on top of :mod:`core.merging`.

:func:`merge_customers` is the public service (re-exported by :mod:`plugins.customers.services`):
the survivor takes the chosen values and every phone and email of the others (added to its
other phones and emails, so nothing typed is lost), every reference follows it (through the
``merge_records`` hook, :func:`repoint` for this plugin's own rows), the others go to the
trash, and ``customers.account.merged`` / ``customers.contact.merged`` is emitted with the
survivor's ``id`` and ``name`` and the ``merged_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from core.audit import record_type
from core.events import emit
from core.merging import MergeResult, differing_fields, merge, mergeable_fields
from plugins.customers.followups import recompute_next_follow_up
from plugins.customers.models import (
    Account,
    AccountTag,
    Contact,
    ContactTag,
    FollowUpTask,
    Interaction,
)
from plugins.customers.normalize import normalize_email, normalize_phone, split_values

ACCOUNT_TYPE = record_type(Account)
CONTACT_TYPE = record_type(Contact)
EVENTS = {ACCOUNT_TYPE: "customers.account.merged", CONTACT_TYPE: "customers.contact.merged"}
# Combined rather than chosen: the survivor keeps every phone and email of every record.
COMBINED = ("other_phones", "other_emails")


def choice_fields(model: type) -> list[str]:
    """The fields a person picks a surviving value for when merging ``model`` records."""
    return [name for name in mergeable_fields(model) if name not in COMBINED]


def fields_to_choose(records: Sequence[Any]) -> list[str]:
    """The choice fields whose values differ among ``records``: the merge screen's questions."""
    return differing_fields(records, choice_fields(type(records[0]))) if records else []


def _combined(survivor: Any, merged: Sequence[Any], values: Mapping[str, Any]) -> dict[str, str]:
    """The survivor's other phones and emails plus every one of the merged records' that it
    lacks (compared normalised), the chosen primary values excepted."""
    result = {}
    for primary, others, normalize in (("phone", "other_phones", normalize_phone),
                                       ("email", "other_emails", normalize_email)):
        chosen = values.get(primary, getattr(survivor, primary))
        seen = {normalize(chosen)} if chosen else set()
        kept: list[str] = []
        for record in (survivor, *merged):
            for value in [getattr(record, primary) or "", *split_values(getattr(record, others))]:
                key = normalize(value)
                if key and key not in seen:
                    seen.add(key)
                    kept.append(value)
        result[others] = "\n".join(kept)
    return result


def merge_customers(session: Session, survivor: Account | Contact, merged: Sequence[Account | Contact],
                    values: Mapping[str, Any], user_id: int | None) -> MergeResult:
    """Merge accounts (or contacts) ``merged`` into ``survivor`` with the chosen ``values``.

    Raises :class:`core.merging.MergeError` when they cannot be merged (nothing changes).
    """
    chosen = {name: value for name, value in values.items() if name in choice_fields(type(survivor))}
    result = merge(session, survivor, merged, {**chosen, **_combined(survivor, merged, chosen)}, user_id=user_id)
    if isinstance(survivor, Account):
        _refresh_follow_up_dates(session, survivor)
    emit(EVENTS[record_type(survivor)], {
        "id": survivor.id, "name": survivor.name, "merged_ids": [record.id for record in merged],
    }, session=session)
    return result


def _refresh_follow_up_dates(session: Session, account: Account) -> None:
    """The survivor's last and next follow-up, now that the others' history is its own."""
    account.last_follow_up_at = session.scalar(
        select(func.max(Interaction.occurred_at)).where(Interaction.account_id == account.id))
    recompute_next_follow_up(session, account.id)
    session.flush()


# -- the merge_records hook: this plugin's own references ----------------------------------------


def repoint(session: Session, kind: str, survivor_id: str, merged_ids: list[str], company_id: int) -> None:
    """Point this plugin's rows at the survivor instead of the merged records (any record type:
    interactions and tasks may be about another plugin's records)."""
    for model in (Interaction, FollowUpTask):
        table = model.__table__
        session.execute(update(table).where(
            table.c.company_id == company_id, table.c.subject_type == kind, table.c.subject_id.in_(merged_ids),
        ).values(subject_id=survivor_id))
    if kind == ACCOUNT_TYPE:
        survivor, merged = int(survivor_id), [int(i) for i in merged_ids]
        for model in (Contact, Interaction, FollowUpTask):
            _set(session, model.__table__, "account_id", survivor, merged, company_id)
        _union_tags(session, AccountTag.__table__, "account_id", survivor, merged)
    elif kind == CONTACT_TYPE:
        survivor, merged = int(survivor_id), [int(i) for i in merged_ids]
        _set(session, Interaction.__table__, "contact_id", survivor, merged, company_id)
        _union_tags(session, ContactTag.__table__, "contact_id", survivor, merged)


def _set(session: Session, table: Table, column: str, survivor: int, merged: list[int], company_id: int) -> None:
    session.execute(update(table).where(table.c.company_id == company_id, table.c[column].in_(merged))
                    .values({column: survivor}))


def _union_tags(session: Session, table: Table, column: str, survivor: int, merged: list[int]) -> None:
    """Give the survivor every tag of the merged records; theirs stay (for a restore)."""
    owner = table.c[column]
    has = set(session.scalars(select(table.c.tag_id).where(owner == survivor)))
    missing = set(session.scalars(select(table.c.tag_id).where(owner.in_(merged)))) - has
    if missing:
        session.execute(insert(table), [{column: survivor, "tag_id": tag_id} for tag_id in sorted(missing)])


# -- what the merge screen says will move --------------------------------------------------------


@dataclass(frozen=True)
class WhatMoves:
    contacts: int
    interactions: int
    tasks: int


def what_moves(session: Session, kind: str, merged_ids: Sequence[int]) -> WhatMoves:
    """How many contacts, interactions and tasks of the merged records will follow the survivor."""
    ids = list(merged_ids)
    text_ids = [str(i) for i in ids]
    if kind == ACCOUNT_TYPE:
        contacts = session.scalar(select(func.count()).select_from(Contact).where(Contact.account_id.in_(ids)))
        about = {model: model.account_id.in_(ids) for model in (Interaction, FollowUpTask)}
    else:
        contacts = 0
        about = {Interaction: (Interaction.contact_id.in_(ids))
                 | ((Interaction.subject_type == kind) & Interaction.subject_id.in_(text_ids)),
                 FollowUpTask: (FollowUpTask.subject_type == kind) & FollowUpTask.subject_id.in_(text_ids)}
    counts = {model: session.scalar(select(func.count()).select_from(model).where(condition))
              for model, condition in about.items()}
    return WhatMoves(contacts or 0, counts[Interaction] or 0, counts[FollowUpTask] or 0)
