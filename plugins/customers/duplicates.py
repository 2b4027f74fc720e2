"""Possible duplicates among accounts and among contacts: the same email, the same phone, or a
similar name.

Built to stay fast on a hundred thousand accounts: every reason is answered in SQL first,
on indexed normalised columns, and a page of groups costs a fixed number of queries.

* **Same email / same phone**: ``GROUP BY`` the normalised value over
  ``customers_contact_point`` (every phone and email of a record, primary or not, indexed by
  company, kind and value) ``HAVING`` more than one record; a page is a keyset range of values.
* **Similar name**: the stored ``name_key`` (:func:`plugins.customers.similar.name_key`:
  case, width, punctuation and legal forms left out) is grouped into *blocks*: accounts of one
  region, or contacts of one account (or of none), whose keys start with the same
  :data:`PREFIX` characters. Only blocks of two or more rows are read, at most
  :data:`BLOCK_CAP` rows of each, and within a block each key is compared with its
  :data:`WINDOW` neighbours in key order (equal keys are neighbours, so every exact match is
  found; close ones like "acmetrading" / "acmetradng" too). A page is a keyset range of blocks.

Record visibility applies: a user finds duplicates only among the records they may see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from core.access import visible
from plugins.customers.models import Account, Contact, ContactPoint
from plugins.customers.similar import similar

REASONS = ("email", "phone", "name")
GROUPS_PER_PAGE = 20
PREFIX = 3  # characters of the name key that make a block
BLOCKS_PER_ROUND = 100  # blocks read per query
ROUNDS = 3  # rounds of blocks a page may read before it stops (and offers "More")
BLOCK_CAP = 500  # rows read from one block: a huge block is compared in part, never in full
WINDOW = 8  # neighbours in key order each name is compared with


class BadCursor(ValueError):
    """The ``after`` parameter of a duplicates page is not one this module wrote."""


@dataclass(frozen=True)
class Kind:
    """Accounts or contacts, as the finder and the merge screen see them."""

    key: str  # "accounts" or "contacts"
    model: type
    visibility: str  # the record type in roles
    point_owner: Any  # ContactPoint's column naming the record
    block: Any  # the column a similar name must share: region, or account

    def visible(self, statement: Select[Any]) -> Select[Any]:
        return visible(statement, self.model, self.visibility)


ACCOUNTS = Kind("accounts", Account, "customers.account", ContactPoint.account_id, Account.region)
# Contacts without an account form one block of their own (0 is never an account id).
CONTACTS = Kind("contacts", Contact, "customers.contact", ContactPoint.contact_id,
                func.coalesce(Contact.account_id, 0))
KINDS = {kind.key: kind for kind in (ACCOUNTS, CONTACTS)}


@dataclass
class DuplicateGroup:
    """Records that may be one: why (``reason``), what they share (``value``), and them."""

    reason: str
    value: str
    records: list[Any] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [record.id for record in self.records]


@dataclass
class GroupPage:
    groups: list[DuplicateGroup]
    next_cursor: str | None  # the ``after`` of the next page, None on the last one


def find_duplicates(session: Session, kind: Kind, reason: str, after: str | None = None,
                    limit: int | None = None) -> GroupPage:
    """One page of possible-duplicate groups of ``kind`` for ``reason`` ("email", "phone" or
    "name"), after the cursor ``after`` (from the previous page); about ``limit`` groups
    (default :data:`GROUPS_PER_PAGE`). Raises :class:`BadCursor`."""
    limit = limit or GROUPS_PER_PAGE
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    if reason == "name":
        return _similar_names(session, kind, _read_cursor(after, 2), limit)
    cursor = _read_cursor(after, 1)
    return _shared_points(session, kind, reason, cursor[0] if cursor else None, limit)


def _read_cursor(after: str | None, size: int) -> list[Any] | None:
    if not after:
        return None
    try:
        value = json.loads(after)
    except ValueError:
        raise BadCursor(after) from None
    if not isinstance(value, list) or len(value) != size or not all(isinstance(v, (str, int)) for v in value):
        raise BadCursor(after)
    return value


# -- the same email or phone ----------------------------------------------------------------------


def _shared_points(session: Session, kind: Kind, point_kind: str, after: str | None, limit: int) -> GroupPage:
    owner = kind.point_owner
    values_statement = (
        select(ContactPoint.normalized)
        .join(kind.model, kind.model.id == owner)
        .where(ContactPoint.kind == point_kind)
        .group_by(ContactPoint.normalized)
        .having(func.count(distinct(owner)) > 1)
        .order_by(ContactPoint.normalized)
        .limit(limit + 1)
    )
    if after is not None:
        values_statement = values_statement.where(ContactPoint.normalized > str(after))
    values = list(session.scalars(kind.visible(values_statement)))
    more = len(values) > limit
    values = values[:limit]
    if not values:
        return GroupPage([], None)
    rows = session.execute(kind.visible(
        select(ContactPoint.normalized, kind.model)
        .join(kind.model, kind.model.id == owner)
        .where(ContactPoint.kind == point_kind, ContactPoint.normalized.in_(values))
        .order_by(ContactPoint.normalized, kind.model.created_at, kind.model.id)
    )).all()
    groups: dict[str, DuplicateGroup] = {value: DuplicateGroup(point_kind, value) for value in values}
    for value, record in rows:
        if record not in groups[value].records:
            groups[value].records.append(record)
    return GroupPage([group for group in groups.values() if len(group.records) > 1],
                     json.dumps([values[-1]]) if more else None)


# -- similar names --------------------------------------------------------------------------------


def _prefix(kind: Kind) -> Any:
    return func.substr(kind.model.name_key, 1, PREFIX)


def _blocks(session: Session, kind: Kind, after: list[Any] | None) -> tuple[list[tuple[Any, str]], bool]:
    """The next blocks (block value, key prefix) holding two or more visible rows."""
    prefix = _prefix(kind)
    statement = (
        select(kind.block, prefix)
        .where(kind.model.name_key != "")
        .group_by(kind.block, prefix)
        .having(func.count() > 1)
        .order_by(kind.block, prefix)
        .limit(BLOCKS_PER_ROUND + 1)
    )
    if after is not None:
        block, key = after
        statement = statement.where(or_(kind.block > block, and_(kind.block == block, prefix > key)))
    blocks = [(block, key) for block, key in session.execute(kind.visible(statement))]
    return blocks[:BLOCKS_PER_ROUND], len(blocks) > BLOCKS_PER_ROUND


def _block_members(session: Session, kind: Kind, blocks: Sequence[tuple[Any, str]]) -> dict[tuple[Any, str], list[Any]]:
    """The rows of ``blocks`` (at most BLOCK_CAP each), in key order, in one query."""
    prefix = _prefix(kind)
    in_blocks = or_(*(and_(kind.block == block, prefix == key) for block, key in blocks))
    ranked = kind.visible(
        select(kind.model.id.label("id"), kind.block.label("block"), prefix.label("prefix"),
               func.row_number().over(partition_by=(kind.block, prefix),
                                      order_by=(kind.model.name_key, kind.model.id)).label("position"))
        .where(in_blocks)
    ).subquery()
    statement = (
        select(ranked.c.block, ranked.c.prefix, kind.model)
        .join(ranked, ranked.c.id == kind.model.id)
        .where(ranked.c.position <= BLOCK_CAP)
        .order_by(ranked.c.block, ranked.c.prefix, kind.model.name_key, kind.model.id)
    )
    members: dict[tuple[Any, str], list[Any]] = {}
    for block, key, record in session.execute(statement):
        members.setdefault((block, key), []).append(record)
    return members


def _clusters(records: list[Any]) -> list[list[Any]]:
    """Groups of records whose keys are similar, each compared with its WINDOW neighbours."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, record in enumerate(records):
        for j in range(i + 1, min(i + 1 + WINDOW, len(records))):
            if similar(record.name_key, records[j].name_key):
                parent[root(j)] = root(i)
    clusters: dict[int, list[Any]] = {}
    for i, record in enumerate(records):
        clusters.setdefault(root(i), []).append(record)
    return [sorted(c, key=lambda r: (r.created_at, r.id)) for c in clusters.values() if len(c) > 1]


def _similar_names(session: Session, kind: Kind, after: list[Any] | None, limit: int) -> GroupPage:
    groups: list[DuplicateGroup] = []
    cursor, more = after, True
    for _round in range(ROUNDS):
        blocks, more = _blocks(session, kind, cursor)
        if not blocks:
            more = False
            break
        members = _block_members(session, kind, blocks)
        for block in blocks:
            for cluster in _clusters(members.get(block, [])):
                groups.append(DuplicateGroup("name", cluster[0].name, cluster))
        cursor = list(blocks[-1])
        if not more or len(groups) >= limit:
            break
    return GroupPage(groups, json.dumps(cursor) if more and cursor is not None else None)
