"""pytest fixtures for Atrium CRM and for plugin authors (registered as a pytest plugin).

A plugin package tests itself the way the core does::

    # conftest.py of a plugin
    import pytest

    @pytest.fixture
    def crm_plugins():
        return ["notes"]          # load only this plugin (and say so if a dependency is missing)

    def test_lists_notes(app, client, company, login_as):
        login_as(company.admin)
        assert client.get("/notes/").status_code == 200

Databases: SQLite by default; PostgreSQL when ``CRM_TEST_DATABASE_URL`` names a database
on a server where the user may create databases. Each plugin set gets a database migrated
once per test session (and per xdist worker); every test starts from it empty.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from core.models import Company, Membership, User

TEST_DATABASE_ENV = "CRM_TEST_DATABASE_URL"
TEST_PASSWORD = "correct horse battery"


# -- databases -----------------------------------------------------------------------------------


class ServerDatabases:
    """Creates and drops throw-away databases on the PostgreSQL server of ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)
        self.admin_engine = create_engine(self.base, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"{self.base.database}_{label}_{uuid.uuid4().hex[:8]}"
        with self.admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(self.base.set(database=name).render_as_string(hide_password=False))
        self.admin_engine.dispose()


@dataclass
class MigratedDatabase:
    url: str
    template_file: Path | None  # SQLite: a migrated file that each test copies


class DatabasePool:
    """One migrated database per plugin set, reset for every test."""

    def __init__(self, tmp_dir: Path, server_url: str | None) -> None:
        self.tmp_dir = tmp_dir
        self.server = ServerDatabases(server_url) if server_url else None
        self.migrated: dict[tuple[Any, ...], MigratedDatabase] = {}
        self.counter = itertools.count()

    def empty_url(self, label: str = "fresh") -> str:
        """A new empty database (dropped at the end of the session on a server)."""
        if self.server is not None:
            return self.server.create(label)
        return f"sqlite:///{self.tmp_dir / f'{label}-{next(self.counter)}.sqlite3'}"

    def drop(self, url: str) -> None:
        if self.server is not None:
            self.server.drop(url)

    def migrated_for(self, plugins: tuple[Any, ...], make_app: Callable[[str], Flask]) -> MigratedDatabase:
        from core import migrate
        from core.db import get_database

        if plugins not in self.migrated:
            url = self.empty_url("migrated")
            app = make_app(url)
            migrate.upgrade(app)
            get_database(app).dispose()
            template = make_url(url).database if self.server is None else None
            self.migrated[plugins] = MigratedDatabase(url, Path(template) if template else None)
        return self.migrated[plugins]

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@contextmanager
def counting_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements ``app``'s database runs inside the block, in order: for tests that
    prove a page runs a bounded number of queries whatever the data size."""
    from core.db import get_database

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = get_database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def reset_database(app: Flask) -> None:
    """Empty every table the models know (not Alembic's version table)."""
    from core.db import Base, get_database

    engine = get_database(app).engine
    with engine.begin() as connection:
        present = set(engine.dialect.get_table_names(connection))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in present:
                connection.execute(table.delete())


@pytest.fixture(scope="session")
def crm_test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabasePool]:
    databases = DatabasePool(tmp_path_factory.mktemp("databases"), os.environ.get(TEST_DATABASE_ENV))
    yield databases
    databases.close()


@pytest.fixture
def fresh_database_url(crm_test_databases: DatabasePool) -> Iterator[str]:
    """An empty, unmigrated database of the backend under test, for migration tests."""
    url = crm_test_databases.empty_url()
    yield url
    crm_test_databases.drop(url)


# -- the application -----------------------------------------------------------------------------


@pytest.fixture
def crm_plugins() -> list[str] | None:
    """The plugins to load; ``None`` loads every installed plugin. Override per package."""
    return None


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Extra configuration for the ``app`` fixture. Override to change a setting."""
    return {}


def base_test_config(tmp_path: Path, database_url: str, plugins: list[str] | None) -> dict[str, Any]:
    return {
        "CRM_ENV": "testing",
        "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
        "CRM_DATABASE_URL": database_url,
        "CRM_PLUGINS": plugins,
        "SECRET_KEY": "test-secret-key",
    }


class CrmTestClient(FlaskClient):
    """A test client that sends a valid CSRF token with every form it submits.

    It behaves like a browser that loaded the form first, so tests keep CSRF protection
    on and see forms exactly as they arrive in production (token field included). Pass
    your own ``csrf_token`` in ``data`` to test what happens with a wrong or missing one.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        method = str(kwargs.get("method", "GET")).upper()
        field = self.application.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        if (
            (data is None and "json" not in kwargs or isinstance(data, dict))
            and method in {"POST", "PUT", "PATCH", "DELETE"}
            and self.application.config.get("WTF_CSRF_ENABLED", True)
            and field not in (data or {})
        ):
            kwargs["data"] = {**(data or {}), field: self.csrf_token()}
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """A token valid for this client's session (as Flask-WTF's generate_csrf makes it)."""
        app = self.application
        field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        with self.session_transaction() as session:
            raw = session.setdefault(field, hashlib.sha1(os.urandom(64)).hexdigest())
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


@pytest.fixture
def app(
    tmp_path: Path,
    crm_test_databases: DatabasePool,
    crm_plugins: list[str] | None,
    app_config: dict[str, Any],
) -> Iterator[Flask]:
    """The application with the chosen plugins, on an empty, fully migrated database."""
    from core import create_app
    from core.db import get_database

    def make_app(url: str, check_schema: bool = False) -> Flask:
        config = base_test_config(tmp_path, url, crm_plugins)
        config.update(app_config)
        config["CRM_CHECK_SCHEMA"] = check_schema
        # Cheap password hashes keep suites fast; a test of production behaviour hashes for real.
        config.setdefault("CRM_FAST_PASSWORD_HASHING", config.get("CRM_ENV") == "testing")
        return create_app(config)

    # The schema depends on which plugins load: the selection and any extra modules.
    key = (
        tuple(sorted(crm_plugins)) if crm_plugins is not None else None,
        tuple(app_config.get("CRM_PLUGIN_MODULES", ())),
    )
    migrated = crm_test_databases.migrated_for(key, make_app)
    url = migrated.url
    if migrated.template_file is not None:
        copy = tmp_path / "test.sqlite3"
        shutil.copyfile(migrated.template_file, copy)
        url = f"sqlite:///{copy}"
    application = make_app(url, check_schema=True)
    application.test_client_class = CrmTestClient
    yield application
    if migrated.template_file is None:
        reset_database(application)
    get_database(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Any]:
    """A session inside an application context, for arranging data and checking results."""
    from core.db import get_session

    with app.app_context():
        yield get_session()


# -- people and companies ------------------------------------------------------------------------


@dataclass
class CompanyFixture:
    """A company, its administrator, and the means to enable plugins for it."""

    id: int
    name: str
    slug: str
    admin: User
    app: Flask

    def enable(self, *names: str) -> None:
        from core.db import get_session
        from core.enablement import enable

        with self.app.app_context():
            session = get_session()
            company = session.get(Company, self.id)
            for name in names:
                enable(session, self.app.extensions["crm.plugins"], company, name)
            session.commit()

    def disable(self, *names: str) -> None:
        from core.db import get_session
        from core.enablement import disable

        with self.app.app_context():
            session = get_session()
            company = session.get(Company, self.id)
            for name in names:
                disable(session, self.app.extensions["crm.plugins"], company, name)
                session.flush()
            session.commit()


def make_company(app: Flask, name: str, slug: str) -> CompanyFixture:
    """Create a company with an administrator ``admin@<slug>.test``, no plugin enabled."""
    from core.db import get_session

    with app.app_context():
        session = get_session()
        company = Company(name=name, slug=slug)
        admin = User(email=f"admin@{slug}.test", name=f"{name} Admin")
        admin.set_password(TEST_PASSWORD)
        admin.memberships.append(Membership(company=company, is_admin=True))
        session.add_all([company, admin])
        session.commit()
        return CompanyFixture(company.id, company.name, company.slug, admin, app)


@pytest.fixture
def company(app: Flask) -> CompanyFixture:
    """A company ("Acme") with an administrator; no plugin enabled."""
    return make_company(app, "Acme", "acme")


@pytest.fixture
def login_as(client: FlaskClient) -> Callable[[User], None]:
    """Sign ``user`` in on the ``client`` without going through the form."""

    def sign_in(user: User) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    return sign_in
