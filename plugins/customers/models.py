"""The customers plugin's tables: accounts, contacts, tags, interactions and follow-up tasks.

Accounts and contacts are owned (record visibility own/team/all), audited and go to the trash
when deleted. Interactions and tasks point at the record they are about through a generic
reference (``subject_type``, ``subject_id``), so other plugins attach their history to the
same timeline; ``account_id`` is kept beside it so an account's timeline is one indexed query.
Email addresses and phone numbers are also stored normalised, for search and duplicates.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.db import Audited, Base, CompanyMixin, OwnerMixin, SoftDeleteMixin, TimestampMixin
from plugins.customers.normalize import normalize_email, normalize_phone

ACCOUNT_KINDS = ("organisation", "individual")
ACCOUNT_STATUSES = ("prospect", "active", "inactive", "churned")
ACCOUNT_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
INTERACTION_KINDS = ("call", "email", "meeting", "visit", "note", "other")


class _Reachable:
    """Keeps ``email_normalized`` and ``phone_normalized`` in step with what people type,
    whatever writes the row (a form, the API, an import)."""

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
    __table_args__ = tuple(Index(f"ix_customers_account_company_{name}", "company_id", name)
                           for name in ("name", "industry", "region", "source", "tier"))
    __record_label__ = "Accounts"
    __permission_prefix__ = "customers.account"
    # Derived: the normalised copies, and the follow-up dates the history and tasks keep.
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized", "last_follow_up_at", "next_follow_up_at"})

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
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone_normalized: Mapped[str] = mapped_column(String(40), default="", index=True)
    email_normalized: Mapped[str] = mapped_column(String(254), default="", index=True)
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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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
