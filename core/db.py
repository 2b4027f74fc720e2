"""The data layer: declarative base, engine set-up, one session per request.

Every model, in the core or a plugin, derives from :class:`Base`, so one metadata holds
the whole schema (cross-plugin foreign keys resolve, and migrations can be compared
against it). A request gets one session, created on first use, committed after a
successful response and rolled back otherwise: a request is one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from flask import Flask, Response, current_app, g, has_request_context
from sqlalchemy import DateTime, Engine, ForeignKey, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from core.errors import StartupError

# Stable constraint names, so migrations can alter and drop constraints on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EXTENSION_KEY = "crm.db"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampMixin:
    """``created_at`` and ``updated_at``, set by the application in UTC."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class CompanyMixin:
    """Marks a business row as belonging to one company (tenant).

    Queries for such models are scoped to the company in context automatically.
    """

    company_id: Mapped[int] = mapped_column(
        ForeignKey("core_company.id", ondelete="CASCADE"), index=True
    )


class OwnerMixin:
    """The user who owns a record; record visibility (own/team/all) is decided on it."""

    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )


class Audited:
    """Mixin: record every change of this model in the audit trail (see ``core.audit``).

    ``__audit_exclude__`` names columns never recorded (secrets, derived values).
    The record type defaults to the table name; set ``__record_type__`` to change it.
    """

    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()


class SoftDeleteMixin:
    """Deleting sets ``deleted_at``: the row leaves every query but the trash, and can be restored."""

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    deleted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )


class Database:
    """The engine and session factory of one application (``app.extensions["crm.db"]``)."""

    def __init__(self, url: str, sqlite_busy_timeout_ms: int = 5000, sqlite_cache_mb: int = 64) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ValueError) as error:
            raise StartupError(
                [f"CRM_DATABASE_URL {safe_url(url)!r} is not a database URL Atrium understands ({error})"]
            ) from None
        except ModuleNotFoundError as error:
            raise StartupError(
                [f"the driver for {safe_url(url)!r} is not installed ({error}); "
                 "for PostgreSQL install atrium-crm[postgres]"]
            ) from None
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms, sqlite_cache_mb)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        from core import audit, scoping

        scoping.install(self.sessionmaker)
        audit.install(self.sessionmaker)

    def dispose(self) -> None:
        self.engine.dispose()


def safe_url(url: str | URL) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url).split("@")[-1]


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, cache_mb: int) -> None:
    database = engine.url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if database and database != ":memory:":
            # WAL lets readers run while one writer commits.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        # SQLite's default page cache is 2 MB: a job changing 100,000 rows spilled its pages
        # to the log over and over (one such job took 10.2 s instead of 8.9 s). The
        # cache grows only as far as a connection uses it.
        cursor.execute(f"PRAGMA cache_size={-1024 * int(cache_mb)}")
        cursor.close()


def init_app(app: Flask, url: str) -> Database:
    database = Database(url, app.config["CRM_SQLITE_BUSY_TIMEOUT_MS"], app.config["CRM_SQLITE_CACHE_MB"])
    app.extensions[EXTENSION_KEY] = database
    app.after_request(_commit_or_rollback)
    app.teardown_appcontext(_close_session)
    return database


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The session of the current application context, created on first use."""
    session = g.get("_crm_session")
    if session is None:
        session = get_database().sessionmaker()
        if has_request_context():
            from core.scoping import COMPANY_KEY, NO_COMPANY

            # Deny by default until the request's company is known (core.tenancy).
            session.info[COMPANY_KEY] = NO_COMPANY
        g._crm_session = session
    return session


def rollback_request_session() -> None:
    """Undo the current request's work, if it has a session (before an error page)."""
    session: Session | None = g.get("_crm_session")
    if session is not None:
        session.rollback()


def _commit_or_rollback(response: Response) -> Response:
    session: Session | None = g.get("_crm_session")
    if session is not None:
        if response.status_code < 400:
            # A failing commit raises here, so the client sees an error, never a false 200.
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("_crm_session", None)
    if session is not None:
        session.rollback()  # no-op after a commit; undoes a failed request's work
        session.close()
