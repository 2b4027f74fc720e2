"""What every ``crm`` command module shares: loading the app, the ``--company`` option,
printing tables. Kept apart from ``core.cli`` so command modules import it at the top
without an import cycle (``core.cli`` imports them to register their commands)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core import migrate
from core.db import get_session
from core.errors import StartupError
from core.models import Company

F = TypeVar("F", bound=Callable[..., Any])


def _create_app_for_cli() -> Flask:
    from core import create_app

    try:
        # Commands check the schema themselves where it matters: `crm db upgrade` must be
        # able to run on a database that is behind.
        return create_app({"CRM_CHECK_SCHEMA": False})
    except StartupError as error:
        raise click.ClickException(error.format()) from None


def load_app() -> Flask:
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


def with_app(check_schema: bool = True) -> Callable[[F], F]:
    """Run the command inside an application context; optionally refuse a stale schema."""

    def decorator(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            app = load_app()
            with app.app_context():
                if check_schema:
                    problems = migrate.schema_problems(app)
                    if problems:
                        raise click.ClickException(StartupError(problems).format())
                try:
                    return function(*args, **kwargs)
                except SQLAlchemyError as error:
                    get_session().rollback()
                    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
                    raise click.ClickException(f"database error: {reason}") from None

        return wrapper  # type: ignore[return-value]

    return decorator


def find_company(slug: str | None) -> Company:
    """The company named by ``--company``; when omitted, the only company there is."""
    session = get_session()
    if slug is None:
        companies = session.scalars(select(Company).order_by(Company.slug).limit(2)).all()
        if len(companies) == 1:
            return companies[0]
        if not companies:
            raise click.UsageError("there is no company yet: run `crm demo` or `crm companies create`")
        raise click.UsageError("there are several companies: choose one with --company SLUG")
    company = session.scalar(select(Company).where(Company.slug == slug))
    if company is None:
        known = ", ".join(session.scalars(select(Company.slug).order_by(Company.slug))) or "none"
        raise click.BadParameter(f"no company '{slug}' (companies: {known})", param_hint="--company")
    return company


company_option = click.option("--company", "company_slug", metavar="SLUG",
                              help="The company (needed when there are several).")


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
