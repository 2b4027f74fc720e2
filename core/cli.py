"""The ``crm`` command line: Flask's CLI machinery with Atrium's commands.

Core commands are always available, even when the application cannot start (so that
``crm db upgrade`` can mend a database that is behind). Plugins add commands through the
``cli_commands`` hook. Every failure ends in one readable message and a non-zero exit.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import ScriptInfo, routes_command, shell_command
from sqlalchemy import select

from core import migrate
from core.cli_access import roles_group
from core.cli_api import tokens_group
from core.cli_jobs import outbox_group, worker_command
from core.cli_settings import settings_group
from core.cli_support import (
    _create_app_for_cli,
    company_option,
    find_company,
    load_app,
    print_table,
    with_app,
)
from core.cli_teams import teams_group
from core.db import get_session
from core.demo import SIZES, create_demo, demo_company
from core.enablement import disable, enable
from core.errors import PluginStateError, StartupError
from core.models import Company, Membership, PluginState, User
from core.plugin_manager import PluginManager

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


class CrmGroup(click.Group):
    """Core commands, plus the ones plugins contribute through the loaded application."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        extra.setdefault("obj", ScriptInfo(create_app=_create_app_for_cli, set_debug_flag=False))
        return super().make_context(info_name, args, parent=parent, **extra)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        app = ctx.ensure_object(ScriptInfo).load_app()
        ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        try:
            names.update(ctx.ensure_object(ScriptInfo).load_app().cli.list_commands(ctx))
        except click.ClickException as error:
            click.secho(f"Plugin commands are unavailable:\n{error.format_message()}\n", err=True, fg="red")
        return sorted(names)


@click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="atrium-crm", prog_name="Atrium CRM")
def cli() -> None:
    """Atrium CRM: a modular CRM.

    Configuration comes from CRM_* environment variables and instance/atrium.toml;
    see the README. Start with: crm db upgrade && crm demo && crm run
    """


cli.add_command(shell_command)
cli.add_command(routes_command)


# -- serving ---------------------------------------------------------------------------------


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--reload/--no-reload", default=True, show_default=True, help="Restart when code changes.")
def run_command(host: str, port: int, reload: bool) -> None:
    """Run the development server (debugger on; never expose it to a network)."""
    app = load_app()
    if app.config["CRM_ENV"] == "production":
        raise click.ClickException("`crm run` starts a debugger; in production use `crm serve`")
    with app.app_context():
        problems = migrate.schema_problems(app)
    if problems:
        raise click.ClickException(StartupError(problems).format())
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        click.echo(f"Atrium CRM on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=True, use_reloader=reload)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 for all.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@with_app(check_schema=True)
def serve_command(host: str, port: int, workers: int) -> None:
    """Run the production server (gunicorn). Set CRM_ENV=production and CRM_SECRET_KEY."""
    click.echo(f"Atrium CRM on http://{host}:{port}/ with {workers} workers")
    arguments = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--no-control-socket",  # gunicorn 27 otherwise shares one socket in $HOME between instances
        "core.wsgi:app",
    ]
    sys.stdout.flush()
    os.execv(sys.executable, arguments)


# -- database --------------------------------------------------------------------------------


@cli.group("db")
def db_group() -> None:
    """Create and migrate the database (one migration branch per plugin)."""


def _show_migration_progress() -> None:
    logging.basicConfig(format="  %(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO)


def _alembic(action: Callable[[], None]) -> None:
    from alembic.util.exc import CommandError

    try:
        action()
    except CommandError as error:
        raise click.ClickException(str(error)) from None


@db_group.command("upgrade")
@click.argument("target", default="heads")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@with_app(check_schema=False)
def db_upgrade(target: str, sql: bool) -> None:
    """Bring the database to TARGET (default: every branch to its head).

    TARGET may be 'heads', a branch head such as 'notes@head', or a revision id.
    """
    _show_migration_progress()
    _alembic(lambda: migrate.upgrade(current_app, target, sql=sql))
    if not sql:
        click.echo("Database is up to date." if target == "heads" else f"Upgraded to {target}.")


@db_group.command("downgrade")
@click.argument("target")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@with_app(check_schema=False)
def db_downgrade(target: str, sql: bool) -> None:
    """Undo migrations down to TARGET.

    Examples: 'notes@-1' (one step of the notes branch), 'notes@base' (remove the notes
    plugin's tables), or a revision id. Take a backup first: downgrades drop data.
    """
    _show_migration_progress()
    _alembic(lambda: migrate.downgrade(current_app, target, sql=sql))
    if not sql:
        click.echo(f"Downgraded to {target}.")


@db_group.command("status")
@click.option("--check", is_flag=True, help="Exit with status 1 when any branch is behind.")
@with_app(check_schema=False)
def db_status(check: bool) -> None:
    """Show each migration branch: the applied revision and the head."""
    try:
        statuses, problems = migrate.status(current_app)
    except migrate.SchemaInspectionError as error:
        raise click.ClickException(str(error)) from None
    rows = [("BRANCH", "APPLIED", "HEAD", "STATE")]
    for entry in statuses:
        rows.append((entry.branch, entry.current or "-", entry.head or "-",
                     "up to date" if entry.up_to_date else "behind: run `crm db upgrade`"))
    print_table(rows)
    for problem in problems:
        click.secho(f"Problem: {problem}", fg="red", err=True)
    if check and (problems or any(not entry.up_to_date for entry in statuses)):
        sys.exit(1)


@db_group.command("revision")
@click.option("-p", "--plugin", required=True, help="The plugin (or 'core') whose branch gets the revision.")
@click.option("-m", "--message", required=True, help="What the revision does, e.g. 'add note table'.")
@click.option("--autogenerate", is_flag=True, help="Fill it in from the difference between models and database.")
@with_app(check_schema=False)
def db_revision(plugin: str, message: str, autogenerate: bool) -> None:
    """Write a new migration for a plugin (for plugin developers)."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    if plugin != migrate.CORE_BRANCH and plugin not in manager:
        raise click.BadParameter(f"no plugin named '{plugin}' is loaded", param_hint="--plugin")
    _alembic(lambda: click.echo(f"Created {migrate.new_revision(current_app, plugin, message, autogenerate)}"))


# -- plugins ---------------------------------------------------------------------------------


@cli.group("plugins")
def plugins_group() -> None:
    """List installed plugins; enable or disable them per company."""


@plugins_group.command("list")
@with_app(check_schema=True)
def plugins_list() -> None:
    """Every installed plugin, its dependencies and the companies that enabled it."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    session = get_session()
    enabled_in: dict[str, list[str]] = {}
    for plugin, slug in session.execute(
        select(PluginState.plugin, Company.slug)
        .join(Company, Company.id == PluginState.company_id)
        .where(PluginState.enabled.is_(True))
        .order_by(Company.slug)
    ):
        enabled_in.setdefault(plugin, []).append(slug)
    rows = [("NAME", "VERSION", "DEPENDS ON", "ENABLED FOR", "SUMMARY")]
    for info in manager:
        rows.append((info.name, str(info.manifest.version), ", ".join(info.manifest.depends) or "-",
                     ", ".join(enabled_in.get(info.name, [])) or "-", info.manifest.summary))
    if len(rows) == 1:
        click.echo("No plugins are installed.")
        return
    print_table(rows)


@plugins_group.command("enable")
@click.argument("names", nargs=-1, required=True)
@company_option
@with_app(check_schema=True)
def plugins_enable(names: tuple[str, ...], company_slug: str | None) -> None:
    """Enable plugins for a company; the plugins they depend on are enabled too."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    session = get_session()
    company = find_company(company_slug)
    newly: list[str] = []
    try:
        for name in names:
            newly += [n for n in enable(session, manager, company, name) if n not in newly]
    except PluginStateError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    for name in newly:
        reason = "" if name in names else " (needed by " + ", ".join(
            n for n in names if name in manager.dependencies(n)) + ")"
        click.echo(f"Enabled {name} for {company.name}{reason}.")
    for name in names:
        if name not in newly:
            click.echo(f"{name} was already enabled for {company.name}.")


@plugins_group.command("disable")
@click.argument("names", nargs=-1, required=True)
@company_option
@with_app(check_schema=True)
def plugins_disable(names: tuple[str, ...], company_slug: str | None) -> None:
    """Disable plugins for a company. Their data is kept; enabling them again shows it."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    session = get_session()
    company = find_company(company_slug)
    # Disable dependents before what they depend on, whatever order they were typed in.
    ordered = sorted(names, key=lambda n: -manager.names.index(n) if n in manager else 0)
    changed = []
    try:
        for name in ordered:
            if disable(session, manager, company, name):
                changed.append(name)
            session.flush()
    except PluginStateError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    for name in ordered:
        click.echo(f"Disabled {name} for {company.name}; its data is kept." if name in changed
                   else f"{name} was not enabled for {company.name}.")


# -- companies and users ---------------------------------------------------------------------


@cli.group("companies")
def companies_group() -> None:
    """Create companies (tenants)."""


@companies_group.command("create")
@click.option("--name", required=True, help="The company's display name.")
@click.option("--slug", required=True, help="Short unique id: lower-case letters, digits and dashes.")
@with_app(check_schema=True)
def companies_create(name: str, slug: str) -> None:
    """Create a company; no plugin is enabled until you enable it."""
    from core.admin_companies import create_company
    from core.admin_users import AdminError

    session = get_session()
    try:
        company = create_company(session, name, slug)  # also seeds the roles plugins offer
    except AdminError as error:
        raise click.BadParameter(error.message, param_hint=f"--{error.field}") from None
    session.commit()
    click.echo(f"Created company {company.name} ({company.slug}). Enable plugins with: "
               f"crm plugins enable NAME --company {company.slug}")


@cli.group("users")
def users_group() -> None:
    """Create user accounts."""


def create_user(email: str, name: str, password: str, company: Company, admin: bool) -> User:
    """Validate and add a user with a membership of ``company`` (not committed)."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise click.BadParameter(f"'{email}' is not an email address", param_hint="--email")
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"must have at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password")
    session = get_session()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise click.BadParameter(f"a user with email {email} exists already", param_hint="--email")
    user = User(email=email, name=name.strip())
    user.set_password(password)
    user.memberships.append(Membership(company=company, is_admin=admin))
    session.add(user)
    return user


@users_group.command("create")
@click.option("--email", required=True, help="Sign-in address.")
@click.option("--name", required=True, help="Full name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help=f"At least {MIN_PASSWORD_LENGTH} characters; asked for when omitted.")
@company_option
@click.option("--admin", is_flag=True, help="Make the user an administrator of the company.")
@with_app(check_schema=True)
def users_create(email: str, name: str, password: str, company_slug: str | None, admin: bool) -> None:
    """Create a user who belongs to a company."""
    company = find_company(company_slug)
    user = create_user(email, name, password, company, admin)
    get_session().commit()
    role = "administrator" if admin else "member"
    click.echo(f"Created {user.email}, {role} of {company.name}.")


# -- demo ------------------------------------------------------------------------------------


@cli.command("demo")
@click.option("--email", default="admin@example.com", show_default=True, help="The demo administrator's email.")
@click.option("--password", default="atrium-demo", show_default=True, help="The demo administrator's password.")
@click.option("--size", type=click.Choice(list(SIZES)), default="small", show_default=True,
              help="small: hand-made records to look around; medium and large: data at scale (large is "
                   "what the benchmarks measure; each plugin's documentation says how much it adds).")
@with_app(check_schema=True)
def demo_command(email: str, password: str, size: str) -> None:
    """Create a demo company, its administrator, and every enabled plugin's demo data."""
    session = get_session()
    manager: PluginManager = current_app.extensions["crm.plugins"]
    existing = demo_company(session)
    if existing is not None:
        admin = session.scalar(
            select(User).join(Membership)
            .where(Membership.company_id == existing.id, Membership.is_admin.is_(True))
            .order_by(User.id)
        )
        who = f" as {admin.email}" if admin else ""
        click.echo(f"The demo company exists already; sign in{who} with the password set when it was created.")
        return
    company, plugins = create_demo(session, manager, SIZES[size], lambda company: create_user(
        email, "Demo Administrator", password, company, admin=True))
    for info in plugins:
        click.echo(f"  demo data: {info.manifest.title}")
    session.commit()
    click.echo(f"Created {company.name} ({size}) with {len(manager.names)} plugin(s) enabled.")
    click.echo(f"Sign in as {email} with password {password}")


def main() -> None:
    cli.main(prog_name="crm")


# Commands of the platform's mechanisms, each in its own module; registered before the
# names are frozen so that no plugin can take them.
for command in (roles_group, teams_group, settings_group, worker_command, outbox_group, tokens_group):
    cli.add_command(command)

CORE_COMMAND_NAMES = frozenset(cli.commands)
