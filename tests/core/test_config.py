"""Configuration: defaults < instance file < CRM_ environment variables < create_app mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import create_app
from core.config import ENV_PREFIX, INSTANCE_FILE, OPTIONS, load_config
from core.db import get_database
from core.errors import StartupError

UNREACHABLE_POSTGRESQL = "postgresql+psycopg://nobody@127.0.0.1:1/none"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No CRM_ variable of the machine running the tests leaks into these tests."""
    for option in OPTIONS:
        monkeypatch.delenv(option.key, raising=False)
    monkeypatch.delenv("CRM_INSTANCE_PATH", raising=False)


def app_config(tmp_path: Path, **changes) -> dict:
    """A configuration that starts without plugins or a database check; ``changes`` on top."""
    config = {
        "CRM_ENV": "testing",
        "CRM_INSTANCE_PATH": str(tmp_path),
        "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
        "SECRET_KEY": "x",
        "CRM_CHECK_SCHEMA": False,
        "CRM_PLUGINS": [],
    }
    config.update(changes)
    return {key: value for key, value in config.items() if value is not None}


def refusal(config: dict) -> list[str]:
    with pytest.raises(StartupError) as caught:
        create_app(config)
    return caught.value.problems


def write_instance_file(tmp_path: Path, text: str) -> None:
    (tmp_path / INSTANCE_FILE).write_text(text)


# -- sources and precedence ----------------------------------------------------------------------


def test_defaults_apply_when_nothing_is_configured(tmp_path):
    values, problems = load_config(tmp_path, None)

    expected = {
        "CRM_ENV": "development",
        "CRM_SECRET_KEY": None,
        "CRM_DATABASE_URL": None,
        "CRM_PLUGINS": None,
        "CRM_PLUGIN_MODULES": [],
        "CRM_REDIS_URL": None,
        "CRM_SQLITE_BUSY_TIMEOUT_MS": 5000,
        "CRM_SQLITE_CACHE_MB": 64,
        "CRM_CHECK_SCHEMA": True,
    }
    assert problems == []
    assert set(values) == {option.key for option in OPTIONS}  # every option gets a value
    assert {key: values[key] for key in expected} == expected


def test_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path):
    app = create_app(app_config(tmp_path, CRM_DATABASE_URL=None))

    assert get_database(app).url == f"sqlite:///{tmp_path / 'atrium.sqlite3'}"


def test_sqlite_connections_get_the_configured_page_cache(tmp_path):
    app = create_app(app_config(tmp_path, CRM_DATABASE_URL=None, CRM_SQLITE_CACHE_MB=8))

    with get_database(app).engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -8 * 1024  # negative: in KiB


def test_instance_file_overrides_defaults(tmp_path):
    write_instance_file(tmp_path, 'sqlite_busy_timeout_ms = 1000\nplugins = ["notes"]\n')

    values, problems = load_config(tmp_path, None)

    assert problems == []
    assert values["CRM_SQLITE_BUSY_TIMEOUT_MS"] == 1000
    assert values["CRM_PLUGINS"] == ["notes"]


def test_environment_variable_overrides_instance_file(tmp_path, monkeypatch):
    write_instance_file(tmp_path, 'sqlite_busy_timeout_ms = 1000\nredis_url = "redis://file/0"\n')
    monkeypatch.setenv("CRM_SQLITE_BUSY_TIMEOUT_MS", "2000")

    values, problems = load_config(tmp_path, None)

    assert problems == []
    assert values["CRM_SQLITE_BUSY_TIMEOUT_MS"] == 2000
    assert values["CRM_REDIS_URL"] == "redis://file/0"


def test_create_app_mapping_overrides_environment(tmp_path, monkeypatch):
    write_instance_file(tmp_path, "sqlite_busy_timeout_ms = 1000\n")
    monkeypatch.setenv("CRM_SQLITE_BUSY_TIMEOUT_MS", "2000")
    monkeypatch.setenv("CRM_REDIS_URL", "redis://env/0")

    app = create_app(app_config(tmp_path, CRM_SQLITE_BUSY_TIMEOUT_MS=3000))

    assert app.config["CRM_SQLITE_BUSY_TIMEOUT_MS"] == 3000
    assert app.config["CRM_REDIS_URL"] == "redis://env/0"


def test_flask_keys_in_the_mapping_reach_the_flask_config(tmp_path):
    app = create_app(app_config(tmp_path, WTF_CSRF_ENABLED=False, SERVER_NAME="crm.test"))

    assert app.config["WTF_CSRF_ENABLED"] is False
    assert app.config["SERVER_NAME"] == "crm.test"


# -- refused settings ----------------------------------------------------------------------------


def test_unknown_key_in_instance_file_is_refused_naming_it(tmp_path):
    write_instance_file(tmp_path, 'databse_url = "sqlite:///typo.sqlite3"\n')

    problems = refusal(app_config(tmp_path))

    assert len(problems) == 1, problems
    assert "unknown setting 'databse_url'" in problems[0]
    assert INSTANCE_FILE in problems[0]


def test_invalid_toml_in_instance_file_is_refused(tmp_path):
    write_instance_file(tmp_path, "database_url = \n")

    problems = refusal(app_config(tmp_path))

    assert len(problems) == 1, problems
    assert INSTANCE_FILE in problems[0]
    assert "not valid TOML" in problems[0]


def test_unknown_crm_key_in_the_mapping_is_refused_naming_it(tmp_path):
    problems = refusal(app_config(tmp_path, CRM_DATABSE_URL="sqlite:///typo.sqlite3"))

    assert problems == ["unknown setting 'CRM_DATABSE_URL'"]


@pytest.mark.parametrize("value", ["maybe", "2", ""])
def test_bad_boolean_is_refused_naming_the_key(tmp_path, monkeypatch, value):
    monkeypatch.setenv("CRM_CHECK_SCHEMA", value)

    problems = refusal(app_config(tmp_path, CRM_CHECK_SCHEMA=None))

    assert len(problems) == 1, problems
    assert "CRM_CHECK_SCHEMA" in problems[0]
    assert "expected true or false" in problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True),
     ("0", False), ("false", False), ("NO", False), ("off", False)],
)
def test_boolean_words_are_understood(tmp_path, monkeypatch, text, expected):
    monkeypatch.setenv("CRM_CHECK_SCHEMA", text)

    values, problems = load_config(tmp_path, None)

    assert problems == []
    assert values["CRM_CHECK_SCHEMA"] is expected


@pytest.mark.parametrize("value", ["soon", "5.5", True, None])
def test_bad_integer_is_refused_naming_the_key(tmp_path, value):
    values, problems = load_config(tmp_path, {"CRM_SQLITE_BUSY_TIMEOUT_MS": value})

    assert len(problems) == 1, problems
    assert "CRM_SQLITE_BUSY_TIMEOUT_MS" in problems[0]
    assert "expected a whole number" in problems[0]


def test_integer_from_the_environment_is_converted(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_SQLITE_BUSY_TIMEOUT_MS", "250")

    values, _ = load_config(tmp_path, None)

    assert values["CRM_SQLITE_BUSY_TIMEOUT_MS"] == 250


def test_invalid_environment_name_is_refused(tmp_path):
    problems = refusal(app_config(tmp_path, CRM_ENV="staging"))

    assert len(problems) == 1, problems
    assert "CRM_ENV" in problems[0]
    assert "development, production, testing" in problems[0]


def test_every_configuration_problem_is_reported_together(tmp_path, monkeypatch):
    write_instance_file(tmp_path, 'colour = "blue"\n')
    monkeypatch.setenv("CRM_CHECK_SCHEMA", "maybe")

    problems = refusal(
        app_config(tmp_path, CRM_CHECK_SCHEMA=None, CRM_ENV="staging", CRM_PLUGINZ="x")
    )

    assert len(problems) == 4, problems
    assert any("unknown setting 'colour'" in p for p in problems)
    assert any("CRM_CHECK_SCHEMA" in p for p in problems)
    assert any("CRM_ENV" in p for p in problems)
    assert "unknown setting 'CRM_PLUGINZ'" in problems


# -- plugin lists --------------------------------------------------------------------------------


def test_plugins_comma_separated_string_is_parsed_into_a_list(tmp_path):
    values, problems = load_config(tmp_path, {"CRM_PLUGINS": " notes, deals ,,tasks "})

    assert problems == []
    assert values["CRM_PLUGINS"] == ["notes", "deals", "tasks"]


def test_plugins_from_the_environment_are_parsed_into_a_list(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_PLUGINS", "notes,deals")
    monkeypatch.setenv("CRM_PLUGIN_MODULES", "acme_crm_notes")

    values, problems = load_config(tmp_path, None)

    assert problems == []
    assert values["CRM_PLUGINS"] == ["notes", "deals"]
    assert values["CRM_PLUGIN_MODULES"] == ["acme_crm_notes"]


def test_plugins_that_are_not_names_are_refused(tmp_path):
    values, problems = load_config(tmp_path, {"CRM_PLUGINS": ["notes", 3]})

    assert len(problems) == 1, problems
    assert "CRM_PLUGINS" in problems[0]


# -- the secret key ------------------------------------------------------------------------------


def test_production_without_a_secret_key_is_refused_naming_crm_secret_key(tmp_path):
    problems = refusal(app_config(tmp_path, CRM_ENV="production", SECRET_KEY=None,
                                CRM_BASE_URL="https://crm.example.com"))

    assert len(problems) == 1, problems
    assert "CRM_SECRET_KEY" in problems[0]
    assert not (tmp_path / "secret_key").exists()


def test_production_uses_the_secret_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(f"{ENV_PREFIX}SECRET_KEY", "a-long-production-secret")

    app = create_app(app_config(tmp_path, CRM_ENV="production", SECRET_KEY=None,
                                CRM_BASE_URL="https://crm.example.com"))

    assert app.secret_key == "a-long-production-secret"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


def test_development_generates_a_secret_key_once_and_reuses_it(tmp_path):
    config = app_config(tmp_path, CRM_ENV="development", SECRET_KEY=None)

    first = create_app(config)
    key_file = tmp_path / "secret_key"
    second = create_app(config)

    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    assert key_file.stat().st_mode & 0o077 == 0
    assert second.secret_key == first.secret_key


# -- the database --------------------------------------------------------------------------------


def test_database_url_that_is_not_understood_is_refused_naming_the_setting(tmp_path):
    problems = refusal(app_config(tmp_path, CRM_DATABASE_URL="nosuchdb://x"))

    assert len(problems) == 1, problems
    assert "CRM_DATABASE_URL" in problems[0]
    assert "nosuchdb://x" in problems[0]


def test_unreachable_postgresql_is_refused_saying_it_cannot_connect(tmp_path):
    problems = refusal(
        app_config(tmp_path, CRM_DATABASE_URL=UNREACHABLE_POSTGRESQL, CRM_CHECK_SCHEMA=True)
    )

    assert len(problems) == 1, problems
    assert "cannot connect to the database" in problems[0]
    assert "127.0.0.1:1/none" in problems[0]


def test_an_empty_plugin_list_variable_means_every_installed_plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_PLUGINS", "")
    values, problems = load_config(tmp_path, None)
    assert problems == [] and values["CRM_PLUGINS"] is None


def test_a_fractional_number_is_refused_for_a_whole_number_setting(tmp_path):
    _values, problems = load_config(tmp_path, {"CRM_SQLITE_BUSY_TIMEOUT_MS": 5.7})
    assert problems == ["setting CRM_SQLITE_BUSY_TIMEOUT_MS=5.7: expected a whole number"]


def test_fast_password_hashing_is_refused_outside_tests(tmp_path):
    _values, problems = load_config(tmp_path, {"CRM_ENV": "production", "CRM_FAST_PASSWORD_HASHING": True,
                                             "CRM_BASE_URL": "https://crm.example.com"})
    assert problems == ["CRM_FAST_PASSWORD_HASHING weakens stored passwords: it is only allowed with CRM_ENV=testing"]


def test_passwords_are_hashed_with_scrypt_unless_a_test_suite_asks_otherwise(tmp_path):
    from core.models import User

    slow = User(email="a@b.test", name="A")
    slow.set_password("long enough")
    assert slow.password_hash.startswith("scrypt:")
    app = create_app(app_config(tmp_path, CRM_FAST_PASSWORD_HASHING=True))
    with app.app_context():
        fast = User(email="b@b.test", name="B")
        fast.set_password("long enough")
    assert fast.password_hash.startswith("pbkdf2:") and fast.check_password("long enough")


def test_production_needs_the_public_address_for_links_in_mail(tmp_path):
    _values, problems = load_config(tmp_path, {"CRM_ENV": "production", "CRM_SECRET_KEY": "s" * 40})
    assert len(problems) == 1 and "CRM_BASE_URL is not set" in problems[0]


def test_a_redis_url_with_a_port_that_is_not_a_number_is_refused(tmp_path):
    _values, problems = load_config(tmp_path, {"CRM_REDIS_URL": "redis://localhost:notaport/0"})
    assert problems == ["setting CRM_REDIS_URL='redis://localhost:notaport/0': the port is not a number"]


def test_a_relative_instance_path_is_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app(app_config(tmp_path, CRM_INSTANCE_PATH="relative"))
    assert app.instance_path == str(tmp_path / "relative")
