"""The core's own tables: companies, people and access, and the platform mechanisms
(audit trail, events, jobs, API tokens, settings). No business domain lives here."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import Audited, Base, CompanyMixin, TimestampMixin, utcnow

FAST_HASH = "pbkdf2:sha256:1000"
_DUMMY_HASH: str | None = None

# -- companies and people --------------------------------------------------------------------


class Company(TimestampMixin, Base):
    """A tenant: every business row belongs to exactly one company."""

    __tablename__ = "core_company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<Company {self.slug}>"


class User(UserMixin, TimestampMixin, Base):
    """A person who signs in. Belongs to one or more companies through memberships."""

    __tablename__ = "core_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: follow the browser's preferred language.
    locale: Mapped[str | None] = mapped_column(String(16))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    def set_password(self, password: str) -> None:
        # scrypt, salted. Test suites may opt into a cheap hash (CRM_FAST_PASSWORD_HASHING,
        # refused outside CRM_ENV=testing): each scrypt hash costs about 0.1 s.
        fast = has_app_context() and current_app.config.get("CRM_FAST_PASSWORD_HASHING", False)
        self.password_hash = generate_password_hash(password, method=FAST_HASH if fast else "scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @staticmethod
    def spend_password_check(password: str) -> None:
        """Hash ``password`` for nothing, as long as a real check takes, so that answering
        for an unknown or inactive account is not faster than for a real one."""
        global _DUMMY_HASH
        if _DUMMY_HASH is None:
            _DUMMY_HASH = generate_password_hash("no account has this password", method="scrypt")
        check_password_hash(_DUMMY_HASH, password)

    def get_id(self) -> str:
        """What sessions and remember-me cookies store: the id plus a fingerprint of the
        password hash, so changing or resetting the password ends every other session."""
        return f"{self.id}:{self.password_fingerprint()}"

    def password_fingerprint(self) -> str:
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Membership(Base):
    """A user's place in a company: administrator or holder of a role."""

    __tablename__ = "core_membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    role_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_role.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    # Joined: every page lists the user's companies (switcher), one query for all of them.
    company: Mapped[Company] = relationship(lazy="joined")
    role: Mapped[Role | None] = relationship()


class PluginState(Base):
    """Whether a plugin is enabled for a company. No row means not enabled."""

    __tablename__ = "core_plugin_state"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), primary_key=True
    )
    plugin: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- teams, roles and visibility ---------------------------------------------------------------


class Team(CompanyMixin, TimestampMixin, Base):
    """A group of users; its manager sees the records its members own."""

    __tablename__ = "core_team"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )

    members: Mapped[list[TeamMember]] = relationship(cascade="all, delete-orphan")


class TeamMember(Base):
    __tablename__ = "core_team_member"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("core_team.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(CompanyMixin, TimestampMixin, Base):
    """A set of permission codes plus a visibility level per record type, per company."""

    __tablename__ = "core_role"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The `default_roles` template it was created from, if any.
    template: Mapped[str | None] = mapped_column(String(120))

    permissions: Mapped[list[RolePermission]] = relationship(cascade="all, delete-orphan")
    visibilities: Mapped[list[RoleVisibility]] = relationship(cascade="all, delete-orphan")


class RolePermission(Base):
    __tablename__ = "core_role_permission"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("core_role.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(120), primary_key=True)


class RoleVisibility(Base):
    """How far a role sees records of one type: ``own``, ``team`` or ``all``."""

    __tablename__ = "core_role_visibility"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("core_role.id", ondelete="CASCADE"), primary_key=True
    )
    record_type: Mapped[str] = mapped_column(String(120), primary_key=True)
    level: Mapped[str] = mapped_column(String(8))


# -- sign-in security ----------------------------------------------------------------------------


class LoginAttempt(Base):
    """A sign-in attempt, kept briefly to throttle guessing per account and per address."""

    __tablename__ = "core_login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class UserToken(Base):
    """A single-use, expiring token sent by email (password reset, invitation).

    Only the token's hash is stored.
    """

    __tablename__ = "core_user_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A hashed API token of one user in one company, with scopes and an optional expiry."""

    __tablename__ = "core_api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    # The first characters of the token, shown in lists so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- audit, events, jobs, settings -------------------------------------------------------------


class AuditEntry(Base):
    """Who did what to which record, and when: one row per create, update, delete (to the
    trash), restore or purge (deleted for good).

    ``changes`` maps each changed field to ``[old, new]``.
    """

    __tablename__ = "core_audit_entry"
    __table_args__ = (
        Index("ix_core_audit_entry_record", "company_id", "record_type", "record_id"),
        # The admin console's audit log: a company's entries, newest first, paged by (at, id).
        Index("ix_core_audit_entry_company_at", "company_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )
    record_type: Mapped[str] = mapped_column(String(120))
    record_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Event(Base):
    """A domain event, written in the transaction of the change that caused it (the outbox)."""

    __tablename__ = "core_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class EventDelivery(Base):
    """One out-of-process handler's delivery of one event: retried with backoff until done
    or dead-lettered. ``idempotency_key`` lets a handler recognise a repeated delivery."""

    __tablename__ = "core_event_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("core_event.id", ondelete="CASCADE"), index=True)
    handler: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A background job's progress, for the UI to poll and the admin to monitor."""

    __tablename__ = "core_job"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    # What runs ("module:function") and its keyword arguments, kept so that a failed job can
    # be run again from the admin console. None for rows older than these columns.
    task: Mapped[str | None] = mapped_column(String(300))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SettingValue(Audited, Base):
    """A company's value for a setting a plugin declared (absent: the declared default).

    Audited: the trail shows who changed which setting from what to what.
    """

    __tablename__ = "core_setting_value"
    __record_type__ = "core.setting"
    __audit_exclude__ = frozenset({"updated_by_id"})

    company_id: Mapped[int] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))


class SavedView(Audited, CompanyMixin, Base):
    """A named state of a list page (its search, sort, filters and columns), kept for its
    owner or shared with the company. ``list_id`` is the ``core.listing.Listing`` id and
    ``query`` the sanitised query string. Audited: the trail shows who saved or removed it."""

    __tablename__ = "core_saved_view"
    __record_type__ = "core.saved_view"
    __table_args__ = (
        UniqueConstraint("company_id", "list_id", "owner_id", "name", name="uq_core_saved_view_name"),
        Index("ix_core_saved_view_list", "company_id", "list_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
