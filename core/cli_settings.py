"""``crm settings``: show, change, reset and check the per-company settings plugins declare.

Registered in ``core.cli``.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import current_app

from core.cli_support import company_option, find_company, print_table, with_app
from core.hooks import Setting


def _type_text(setting: Setting) -> str:
    """``int 1..500``, ``str: a|b|c``: the type with its limits."""
    text = setting.type
    if setting.choices is not None:
        text += ": " + "|".join(str(choice) for choice in setting.choices)
    if setting.min is not None or setting.max is not None:
        low = "" if setting.min is None else str(setting.min)
        high = "" if setting.max is None else str(setting.max)
        text += f" {low}..{high}"
    return text


def _company_and_enabled(slug: str | None) -> tuple[Any, frozenset[str]]:
    from core.db import get_session
    from core.enablement import enabled_plugins

    company = find_company(slug)
    return company, enabled_plugins(get_session(), current_app.extensions["crm.plugins"], company.id)


def _declaration(key: str) -> Setting:
    from core.settings import UnknownSettingError, declaration

    try:
        return declaration(key)
    except UnknownSettingError as error:
        raise click.BadParameter(str(error), param_hint="KEY") from None


@click.group("settings")
def settings_group() -> None:
    """Show, change and check per-company settings."""


@settings_group.command("list")
@company_option
@click.option("--all", "show_all", is_flag=True,
              help="Include the settings of plugins the company has not enabled.")
@with_app(check_schema=True)
def settings_list(company_slug: str | None, show_all: bool) -> None:
    """The company's settings: value, default, type, and whether the company set it."""
    from core.settings import (
        declared_settings,
        format_value,
        get_settings,
        plugin_of,
        stored_values,
    )

    company, enabled = _company_and_enabled(company_slug)
    values = get_settings(company_id=company.id)
    stored = stored_values(company.id)
    rows = [("KEY", "VALUE", "DEFAULT", "SOURCE", "TYPE")]
    for key, setting in sorted(declared_settings().items()):
        if not show_all and plugin_of(key) not in enabled:
            continue
        rows.append((key, format_value(values[key]), format_value(setting.default),
                     "company" if key in stored else "default", _type_text(setting)))
    if len(rows) == 1:
        which = "plugin" if show_all else "plugin enabled for " + company.name
        click.echo(f"No {which} declares settings.")
        return
    print_table(rows)


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@company_option
@with_app(check_schema=True)
def settings_set(key: str, value: str, company_slug: str | None) -> None:
    """Set KEY to VALUE for a company.

    Booleans: true/false (also yes/no, on/off, 1/0). A negative number goes after --:
    crm settings set KEY -- -5
    """
    from core.db import get_session
    from core.settings import (
        InvalidSettingValue,
        format_value,
        parse_text,
        plugin_of,
        set_setting,
    )

    setting = _declaration(key)
    company, enabled = _company_and_enabled(company_slug)
    try:
        stored = set_setting(key, parse_text(setting, value), company_id=company.id)
    except InvalidSettingValue as error:
        raise click.BadParameter(str(error), param_hint="VALUE") from None
    get_session().commit()
    click.echo(f"Set {key} to {format_value(stored)} for {company.name}.")
    if plugin_of(key) not in enabled:
        click.echo(f"Note: {plugin_of(key)} is not enabled for {company.name}; "
                   "the value applies once it is.")


@settings_group.command("reset")
@click.argument("key")
@company_option
@with_app(check_schema=True)
def settings_reset(key: str, company_slug: str | None) -> None:
    """Forget a company's value of KEY, so the declared default applies again.

    Also removes a stored value whose setting no plugin declares any more.
    """
    from core.db import get_session
    from core.settings import (
        UnknownSettingError,
        declaration,
        forget_stored_value,
        format_value,
    )

    company, _enabled = _company_and_enabled(company_slug)
    try:
        setting = declaration(key)
    except UnknownSettingError as error:
        if not forget_stored_value(key, company.id):
            raise click.BadParameter(str(error), param_hint="KEY") from None
        get_session().commit()
        click.echo(f"Removed {company.name}'s stored value of {key}, which no plugin declares.")
        return
    if forget_stored_value(key, company.id):
        get_session().commit()
        click.echo(f"Reset {key} for {company.name}; it is back to {format_value(setting.default)}.")
    else:
        click.echo(f"{company.name} had not set {key}; it uses the default, {format_value(setting.default)}.")


@settings_group.command("check")
@company_option
@with_app(check_schema=True)
def settings_check(company_slug: str | None) -> None:
    """Report stored values that no plugin declares any more, or that their declaration
    now refuses. Exits with status 1 when there are any. Every company unless --company."""
    from core.settings import stored_problems

    company_id = find_company(company_slug).id if company_slug else None
    problems = list(stored_problems(company_id))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} stored setting value(s) need attention: "
                   "set them again or reset them with `crm settings reset KEY --company SLUG`.", err=True)
        sys.exit(1)
    click.echo("Every stored setting value is declared and valid.")
