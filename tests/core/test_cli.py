"""The ``crm`` command line: every command helps, and bad input ends in one clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cli import cli
from core.models import Company, Membership, PluginState, User

CRM = str(Path(sys.executable).parent / "crm")


def invoke(runner, *args, input=None):
    return runner.invoke(cli, list(args), input=input)


def test_users_create_adds_a_member_who_can_sign_in(app, runner, company, client):
    result = invoke(runner, "users", "create", "--email", "Sam@Acme.test", "--name", "Sam",
                    "--password", "long enough", "--company", "acme")
    assert result.exit_code == 0, result.output
    assert "Created sam@acme.test, member of Acme." in result.output
    response = client.post("/login", data={"email": "sam@acme.test", "password": "long enough"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--name", "X", "--password", "long enough"], "is not an email address"),
        (["--email", "x@acme.test", "--name", " ", "--password", "long enough"], "must not be empty"),
        (["--email", "x@acme.test", "--name", "X", "--password", "short"], "at least 8 characters"),
        (["--email", "admin@acme.test", "--name", "X", "--password", "long enough"], "exists already"),
        (["--email", "x@acme.test", "--name", "X", "--password", "long enough", "--company", "nope"],
         "no company 'nope' (companies: acme)"),
    ],
)
def test_users_create_refuses_bad_input_naming_the_problem(app, runner, company, db_session, args, message):
    result = invoke(runner, "users", "create", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert db_session.scalar(select(User).where(User.email == "x@acme.test")) is None


def test_users_create_asks_which_company_when_there_are_several(app, runner, company):
    invoke(runner, "companies", "create", "--name", "Beta", "--slug", "beta")
    result = invoke(runner, "users", "create", "--email", "x@acme.test", "--name", "X", "--password", "long enough")
    assert result.exit_code == 2
    assert "choose one with --company" in result.output


def test_companies_create_validates_the_slug_and_refuses_duplicates(app, runner, db_session):
    assert invoke(runner, "companies", "create", "--name", "Beta", "--slug", "Beta Co").exit_code == 2
    assert invoke(runner, "companies", "create", "--name", "Beta", "--slug", "beta").exit_code == 0
    again = invoke(runner, "companies", "create", "--name", "Beta 2", "--slug", "beta")
    assert again.exit_code == 2 and "exists already" in again.output
    assert db_session.scalars(select(Company.name)).all() == ["Beta"]


def test_demo_creates_a_company_with_an_administrator_once(app, runner, db_session):
    first = invoke(runner, "demo")
    assert first.exit_code == 0, first.output
    assert "Sign in as admin@example.com with password atrium-demo" in first.output
    second = invoke(runner, "demo", "--email", "someone-else@example.com")
    assert second.exit_code == 0
    assert "exists already; sign in as admin@example.com" in second.output
    # One company, one administrator (the demo's plugins may add members of their own).
    membership = db_session.scalars(select(Membership).where(Membership.is_admin)).one()
    assert membership.company.slug == "demo" and membership.user.email == "admin@example.com"


def test_plugins_enable_of_an_unknown_plugin_names_it_and_changes_nothing(app, runner, company, db_session):
    result = invoke(runner, "plugins", "enable", "nosuch", "--company", "acme")
    assert result.exit_code == 1
    assert "no plugin named 'nosuch' is installed" in result.output
    assert db_session.scalars(select(PluginState)).all() == []


@pytest.mark.parametrize("crm_plugins", [[]])  # not even the built-in ones
def test_plugins_list_without_plugins_says_so(app, runner):
    result = invoke(runner, "plugins", "list")
    assert result.exit_code == 0 and "No plugins are installed." in result.output


def test_run_refuses_to_start_a_debugger_in_production(app, runner):
    app.config["CRM_ENV"] = "production"
    result = invoke(runner, "run")
    assert result.exit_code == 1
    assert "in production use `crm serve`" in result.output


def test_db_status_shows_the_core_branch_up_to_date(app, runner):
    result = invoke(runner, "db", "status", "--check")
    assert result.exit_code == 0
    assert "core" in result.output and "up to date" in result.output


def test_db_downgrade_to_an_unknown_revision_is_a_clear_error(app, runner):
    result = invoke(runner, "db", "downgrade", "nosuchrev")
    assert result.exit_code == 1
    assert "Error:" in result.output and "nosuchrev" in result.output


# -- the installed console script, as a user runs it --------------------------------------------


def crm(*args: str, env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(CRM_INSTANCE_PATH=str(tmp_path), **env_extra)
    return subprocess.run([CRM, *args], env=env, capture_output=True, text=True, timeout=60)


def test_crm_help_lists_the_commands(tmp_path):
    result = crm("--help", env_extra={}, tmp_path=tmp_path)
    assert result.returncode == 0
    for command in ("run", "serve", "db", "plugins", "users", "companies", "demo"):
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", [["run"], ["serve"], ["db", "upgrade"], ["db", "downgrade"], ["db", "status"],
                                     ["db", "revision"], ["plugins", "list"], ["plugins", "enable"],
                                     ["plugins", "disable"], ["users", "create"], ["companies", "create"], ["demo"]])
def test_every_command_has_help(runner, command):
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x", "is not a database URL Atrium understands"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot connect to the database"),
    ],
)
def test_a_bad_or_unreachable_database_gives_one_message_and_no_traceback(tmp_path, url, message):
    result = crm("db", "status", env_extra={"CRM_DATABASE_URL": url}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_setting_in_the_instance_file_stops_every_command(tmp_path):
    (tmp_path / "atrium.toml").write_text('databse_url = "sqlite://"\n')
    result = crm("db", "upgrade", env_extra={}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert "unknown setting 'databse_url'" in result.stderr
    assert "Traceback" not in result.stderr
