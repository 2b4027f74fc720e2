"""The customers plugin's tables: accounts, contacts, tags, interactions and follow-up tasks.

Accounts and contacts are owned (record visibility own/team/all), audited and go to the trash
when deleted. Interactions and tasks point at the record they are about through a generic
reference (``subject_type``, ``subject_id``), so other plugins attach their history to the
same timeline; ``account_id`` is kept beside it so an account's timeline is one indexed query.
An account or a contact has a primary phone and email (``phone``, ``email``) and any number of
others (``other_phones``, ``other_emails``: one per line). Every one of them is also kept,
normalised, in ``customers_contact_point``, which duplicate checks and imports look up by
index; and ``search_text`` holds what the list's search box matches. Both are derived from the
record's own columns whenever the ORM writes it (the mapper events at the end of this module);
code that writes rows with Core inserts fills them with
:func:`plugins.customers.services.contact_point_rows` and ``search_text``.
"""

from __future__ import annotations

from datetime import date, datetime

from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, delete, event, insert
from sqlalchemy import inspect as inspect_state
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, validates

from core.db import Audited, Base, CompanyMixin, OwnerMixin, SoftDeleteMixin, TimestampMixin
from plugins.customers.normalize import normalize_email, normalize_phone, search_text, split_values
from plugins.customers.similar import name_key

ACCOUNT_KINDS = ("organisation", "individual")
ACCOUNT_STATUSES = ("prospect", "active", "inactive", "churned")
ACCOUNT_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
INTERACTION_KINDS = ("call", "email", "meeting", "visit", "note", "other")


REACHABLE_COLUMNS = ("name", "phone", "email", "other_phones", "other_emails")


class _Reachable:
    """Keeps ``email_normalized`` and ``phone_normalized`` in step with what people type,
    whatever writes the row (a form, the API, an import), and stores the other phones and
    emails one per line, without repeats."""

    name: Mapped[str]
    phone: Mapped[str]
    email: Mapped[str]
    other_phones: Mapped[str]
    other_emails: Mapped[str]

    @validates("other_phones", "other_emails")
    def _one_per_line(self, _key: str, value: str | list[str]) -> str:
        return "\n".join(split_values(value) if isinstance(value, str) else split_values("\n".join(value)))

    def phones(self) -> list[str]:
        """Every phone number: the primary one first."""
        return [value for value in [self.phone or "", *split_values(self.other_phones)] if value]

    def dialable_phones(self) -> list[tuple[str, str]]:
        """Every phone number as typed and as a ``tel:`` link dials it."""
        return [(value, normalize_phone(value)) for value in self.phones()]

    def emails(self) -> list[str]:
        """Every email address: the primary one first."""
        return [value for value in [self.email or "", *split_values(self.other_emails)] if value]

    # The name as duplicates compare it (plugins.customers.similar.name_key), kept in step here.
    name_key: Mapped[str] = mapped_column(String(200), default="", index=True)

    @validates("name")
    def _key_name(self, _key: str, value: str) -> str:
        self.name_key = name_key(value)
        return value

    @validates("email")
    def _normalize_email(self, _key: str, value: str) -> str:
        self.email_normalized = normalize_email(value)
        return (value or "").strip()

    @validates("phone")
    def _normalize_phone(self, _key: str, value: str) -> str:
        self.phone_normalized = normalize_phone(value)
        return (value or "").strip()


class Tag(CompanyMixin, TimestampMixin, Base):
    """A label for accounts and contacts, unique by name within a company."""

    __tablename__ = "customers_tag"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))


class Account(_Reachable, CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """A customer: an organisation or an individual."""

    __tablename__ = "customers_account"
    # Each index starts with the company: the list in name order reads its first page straight
    # from (company_id, name), and the classification filters' choices are read one index
    # probe per value (core.listing.distinct_values).
    # (company_id, owner_id): how many accounts each rep owns (services.owned_account_counts).
    __table_args__ = tuple(Index(f"ix_customers_account_company_{name}", "company_id", name)
                           for name in ("name", "industry", "region", "source", "tier", "owner_id"))
    __record_label__ = "Accounts"
    __permission_prefix__ = "customers.account"
    # Derived: the normalised copies, and the follow-up dates the history and tasks keep.
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized", "search_text", "name_key",
                                   "last_follow_up_at", "next_follow_up_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="organisation")
    industry: Mapped[str] = mapped_column(String(80), default="")
    size: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone_normalized: Mapped[str] = mapped_column(String(40), default="", index=True)
    email_normalized: Mapped[str] = mapped_column(String(254), default="", index=True)
    other_phones: Mapped[str] = mapped_column(Text, default="")
    other_emails: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(60), default="")
    tier: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(16), default="prospect", index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class AccountTag(Base):
    __tablename__ = "customers_account_tag"

    account_id: Mapped[int] = mapped_column(ForeignKey("customers_account.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("customers_tag.id", ondelete="CASCADE"), primary_key=True, index=True)


class Contact(_Reachable, CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """A person, usually at an account; consent says how they may be contacted."""

    __tablename__ = "customers_contact"
    __record_label__ = "Contacts"
    __permission_prefix__ = "customers.contact"
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized", "search_text", "name_key"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone_normalized: Mapped[str] = mapped_column(String(40), default="", index=True)
    email_normalized: Mapped[str] = mapped_column(String(254), default="", index=True)
    other_phones: Mapped[str] = mapped_column(Text, default="")
    other_emails: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    im_handle: Mapped[str] = mapped_column(String(120), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str] = mapped_column(String(400), default="")
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    # When and how the consent flags were last given or withdrawn ("web form", "call", ...).
    consent_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consent_source: Mapped[str] = mapped_column(String(120), default="")


class ContactTag(Base):
    __tablename__ = "customers_contact_tag"

    contact_id: Mapped[int] = mapped_column(ForeignKey("customers_contact.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("customers_tag.id", ondelete="CASCADE"), primary_key=True, index=True)


CONTACT_POINT_KINDS = ("phone", "email")


class ContactPoint(CompanyMixin, Base):
    """One phone number or email address of an account or a contact, normalised: the index
    that finds a record by any of its numbers or addresses (duplicates, imports).

    Derived from the record's columns (never edited on its own): ``position`` 0 is the
    primary value, the others follow in their order."""

    __tablename__ = "customers_contact_point"
    __table_args__ = (Index("ix_customers_contact_point_lookup", "company_id", "kind", "normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customers_account.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("customers_contact.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(254))
    normalized: Mapped[str] = mapped_column(String(254))
    position: Mapped[int] = mapped_column(default=0)


class Interaction(CompanyMixin, OwnerMixin, Audited, TimestampMixin, Base):
    """Something that happened with a customer: a call, an email, a meeting, a visit, a note."""

    __tablename__ = "customers_interaction"
    __record_label__ = "Interactions"
    __table_args__ = (
        Index("ix_customers_interaction_subject", "company_id", "subject_type", "subject_id", "occurred_at"),
        Index("ix_customers_interaction_account", "account_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text, default="")
    participants: Mapped[str] = mapped_column(String(400), default="")
    outcome: Mapped[str] = mapped_column(String(400), default="")
    next_step: Mapped[str] = mapped_column(String(400), default="")
    # The record it is about, of any plugin (core.audit.record_type and its id).
    subject_type: Mapped[str] = mapped_column(String(120))
    subject_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customers_account.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("customers_contact.id", ondelete="SET NULL"), index=True)


class FollowUpTask(CompanyMixin, Audited, TimestampMixin, Base):
    """Something to do for a customer by a date, for one person."""

    __tablename__ = "customers_task"
    __record_label__ = "Follow-up tasks"
    __table_args__ = (
        Index("ix_customers_task_subject", "company_id", "subject_type", "subject_id"),
        Index("ix_customers_task_assignee_open", "assignee_id", "done_at", "due_at"),
        # The reminder job: open tasks not reminded yet whose reminder time has passed.
        Index("ix_customers_task_reminder_due", "reminded_at", "done_at", "remind_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when the reminder went out
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    subject_type: Mapped[str] = mapped_column(String(120))
    subject_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)


SEGMENT_TARGETS = ("accounts", "contacts")


class Segment(CompanyMixin, Audited, TimestampMixin, Base):
    """A saved filter over accounts or contacts, evaluated when asked (its members change as
    the records do). ``query`` is the list's query string: search and filters."""

    __tablename__ = "customers_segment"
    __record_label__ = "Segments"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(16))
    query: Mapped[str] = mapped_column(String(2000), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))


# -- derived columns and rows, whatever writes the record through the ORM --------------------------


def contact_point_values(record: Any) -> list[dict[str, Any]]:
    """The ``customers_contact_point`` rows of ``record`` (an account or a contact, an object
    or a mapping of its columns), without their owner: kind, value, normalised, position."""
    get = record.get if isinstance(record, dict) else lambda name, default="": getattr(record, name, default)
    rows: list[dict[str, Any]] = []
    for kind, primary, others, normalize in (("phone", "phone", "other_phones", normalize_phone),
                                             ("email", "email", "other_emails", normalize_email)):
        values = [v for v in [(get(primary, "") or "").strip(), *split_values(get(others, ""))] if v]
        seen: set[str] = set()
        for value in values:
            normalized = normalize(value)
            if normalized and normalized not in seen:
                seen.add(normalized)
                rows.append({"kind": kind, "value": value[:254], "normalized": normalized[:254],
                             "position": len(seen) - 1})
    return rows


def record_search_text(record: Any) -> str:
    """``search_text`` of an account or a contact (an object or a mapping of its columns)."""
    get = record.get if isinstance(record, dict) else lambda name, default="": getattr(record, name, default)
    phones = [v for v in [get("phone", "") or "", *split_values(get("other_phones", ""))] if v]
    emails = [v for v in [get("email", "") or "", *split_values(get("other_emails", ""))] if v]
    return search_text(get("name", ""), phones, emails)


def _reachability_changed(target: Any) -> bool:
    state = inspect_state(target)
    return any(state.attrs[name].history.has_changes() for name in REACHABLE_COLUMNS)


def _write_contact_points(connection: Connection, target: Any, owner_key: str) -> None:
    owner_column = ContactPoint.__table__.c[owner_key]
    connection.execute(delete(ContactPoint.__table__).where(owner_column == target.id))
    rows = [{**row, "company_id": target.company_id, owner_key: target.id} for row in contact_point_values(target)]
    if rows:
        connection.execute(insert(ContactPoint.__table__), rows)


def _listen(model: type, owner_key: str) -> None:
    """Derive ``search_text`` and the contact points of ``model``'s rows on every ORM write."""

    def before_insert(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
        target.search_text = record_search_text(target)

    def before_update(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
        if _reachability_changed(target):
            target.search_text = record_search_text(target)

    def after_insert(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
        _write_contact_points(connection, target, owner_key)

    def after_update(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
        if _reachability_changed(target):
            _write_contact_points(connection, target, owner_key)

    for name, listener in (("before_insert", before_insert), ("before_update", before_update),
                           ("after_insert", after_insert), ("after_update", after_update)):
        event.listen(model, name, listener)


_listen(Account, "account_id")
_listen(Contact, "contact_id")
