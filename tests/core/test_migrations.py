"""Migrations: one branch per plugin, the schema they build, and the start-up check."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import StartupError, create_app, migrate
from core.db import Base, get_database


def make_app(tmp_path, url, check_schema=False, plugins=()):
    return create_app({
        "CRM_ENV": "testing",
        "CRM_INSTANCE_PATH": str(tmp_path),
        "CRM_DATABASE_URL": url,
        "CRM_PLUGINS": list(plugins),
        "SECRET_KEY": "test",
        "CRM_CHECK_SCHEMA": check_schema,
    })


def schema_diff(app):
    """What the database lacks or has extra, compared with the models of the loaded branches
    (other tests in this process may have imported plugins this app does not load: their
    tables are left out)."""
    return migrate.schema_differences(app)


def test_upgrade_from_empty_gives_exactly_the_models_schema(tmp_path, fresh_database_url):
    app = make_app(tmp_path, fresh_database_url)
    assert schema_diff(app), "an empty database must differ from the models"
    migrate.upgrade(app)
    assert schema_diff(app) == []
    get_database(app).dispose()


def test_app_refuses_a_database_behind_its_heads_and_names_the_command(tmp_path, fresh_database_url):
    with pytest.raises(StartupError) as caught:
        make_app(tmp_path, fresh_database_url, check_schema=True)
    assert "behind its migrations for core" in str(caught.value)
    assert "crm db upgrade" in str(caught.value)


def test_app_starts_once_the_database_is_upgraded(tmp_path, fresh_database_url):
    migrate.upgrade(make_app(tmp_path, fresh_database_url))
    app = make_app(tmp_path, fresh_database_url, check_schema=True)
    assert app.extensions["crm.plugins"].names == []


def test_status_shows_each_branch_applied_and_head(tmp_path, fresh_database_url):
    app = make_app(tmp_path, fresh_database_url)
    before, problems = migrate.status(app)
    assert problems == []
    assert [(s.branch, s.current, s.up_to_date) for s in before] == [("core", None, False)]
    migrate.upgrade(app)
    after, _ = migrate.status(app)
    assert after[0].current == after[0].head and after[0].up_to_date


def test_downgrade_to_base_removes_the_tables_and_upgrade_restores_them(tmp_path, fresh_database_url):
    app = make_app(tmp_path, fresh_database_url)
    migrate.upgrade(app)
    migrate.downgrade(app, "core@base")
    engine = get_database(app).engine
    assert "core_company" not in engine.dialect.get_table_names(engine.connect())
    migrate.upgrade(app)
    assert schema_diff(app) == []


@pytest.mark.parametrize(("plugin", "dependencies"), [("customers", []), ("sales", ["customers"])])
def test_a_built_in_plugins_migrations_build_its_models_and_go_down_and_up_again(tmp_path, fresh_database_url,
                                                                                  plugin, dependencies):
    app = make_app(tmp_path, fresh_database_url, plugins=[*dependencies, plugin])
    migrate.upgrade(app)
    assert schema_diff(app) == []
    migrate.downgrade(app, f"{plugin}@base")
    engine = get_database(app).engine
    with engine.connect() as connection:
        assert not [name for name in engine.dialect.get_table_names(connection) if name.startswith(f"{plugin}_")]
    migrate.upgrade(app)
    assert schema_diff(app) == []


def test_a_revision_no_installed_plugin_provides_is_reported(tmp_path, fresh_database_url):
    app = make_app(tmp_path, fresh_database_url)
    migrate.upgrade(app)
    with get_database(app).engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('feedfacecafe')"))
    problems = migrate.schema_problems(app)
    assert any("feedfacecafe" in p and "no installed plugin provides" in p for p in problems)


def test_an_unknown_revision_is_the_only_problem_reported(tmp_path, fresh_database_url):
    app = make_app(tmp_path, fresh_database_url)
    migrate.upgrade(app)
    with get_database(app).engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'feedfacecafe'"))
    problems = migrate.schema_problems(app)
    assert len(problems) == 1 and "feedfacecafe" in problems[0]  # no misleading "behind"


def test_every_model_table_belongs_to_the_branch_that_defines_it(app):
    owners = migrate.table_owners(app.extensions["crm.plugins"])
    core_tables = {name for name in Base.metadata.tables if name.startswith("core_")}
    assert {"core_company", "core_user", "core_membership"} <= core_tables
    assert {name: owners[name] for name in core_tables} == dict.fromkeys(core_tables, "core")
