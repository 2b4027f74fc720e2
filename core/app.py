"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter, Map

from core import (
    accounts,
    admin_audit,
    admin_companies,
    admin_jobs,
    admin_roles,
    admin_teams,
    admin_users,
    admin_views,
    api,
    dashboard,
    apps_views,
    search,
    auth,
    db,
    declarations,
    events,
    i18n,
    imports_views,
    jobs,
    migrate,
    notifications,
    saved_views,
    settings_views,
    tenancy,
    tokens_views,
    trash,
    ui,
    web,
)
from core.config import default_instance_path, load_config, resolve_secret_key
from core.errors import StartupError
from core.plugin_manager import PluginManager, discover

CORE_DIR = Path(__file__).parent


def shell_templates_dir() -> Path:
    """The shell templates: inside the package when installed from a wheel, else ``templates/``."""
    packaged = CORE_DIR / "shell_templates"
    return packaged if packaged.is_dir() else CORE_DIR.parent / "templates"


class RecordIdConverter(IntegerConverter):
    """``<int:...>`` in every route: at most 2**31 - 1, the largest id an INTEGER column holds
    on every supported database, so a larger number is simply not found (404) instead of
    a database error (500) on PostgreSQL."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: read configuration, load plugins, check the database.

    ``config`` overrides every other source (see ``core.config``); besides the ``CRM_``
    options it may hold Flask's own keys and ``CRM_INSTANCE_PATH``. Raises
    :class:`~core.errors.StartupError` listing every problem found.
    """
    from core import __version__

    overrides = dict(config or {})
    instance_path = Path(overrides.pop("CRM_INSTANCE_PATH", None) or default_instance_path()).resolve()
    values, problems = load_config(instance_path, overrides)
    secret_key, secret_problems = resolve_secret_key(values, instance_path)
    problems += secret_problems
    if problems:
        raise StartupError(problems)

    app = Flask(
        "core",
        instance_path=str(instance_path),
        template_folder=str(shell_templates_dir()),
        static_folder=str(CORE_DIR / "static"),
    )
    app.url_map.converters["int"] = RecordIdConverter
    app.config.update(values)
    production = values["CRM_ENV"] == "production"
    app.config.update(
        SECRET_KEY=secret_key,
        TESTING=values["CRM_ENV"] == "testing" or values.get("TESTING", False),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    app.config["CRM_VERSION"] = __version__
    if values["CRM_PROXY_COUNT"]:  # trust that many proxies' X-Forwarded-* (client address, https)
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = values["CRM_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    manager = PluginManager(__version__)
    candidates, discovery_problems = discover(values["CRM_PLUGIN_MODULES"])
    manager.load(candidates, discovery_problems, values["CRM_PLUGINS"])
    app.extensions["crm.plugins"] = manager

    database_url = values["CRM_DATABASE_URL"] or f"sqlite:///{instance_path / 'atrium.sqlite3'}"
    db.init_app(app, database_url)
    auth.init_app(app)
    i18n.init_app(app)
    CSRFProtect(app)
    Htmx(app)
    tenancy.init_app(app)
    ui.init_app(app)
    admin_views.init_app(app)
    app.register_blueprint(web.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(search.blueprint)
    app.register_blueprint(dashboard.blueprint)
    app.register_blueprint(trash.blueprint)
    app.register_blueprint(settings_views.blueprint)
    app.register_blueprint(apps_views.blueprint)
    for admin_page in (admin_users, admin_teams, admin_roles, admin_companies, admin_audit, admin_jobs):
        app.register_blueprint(admin_page.blueprint)
    app.register_blueprint(jobs.blueprint)
    app.register_blueprint(tokens_views.blueprint)
    app.register_blueprint(saved_views.blueprint)
    app.register_blueprint(imports_views.blueprint)
    app.register_blueprint(notifications.blueprint)
    _register_error_pages(app)
    api.init_app(app)  # after auth, CSRF and tenancy: it orders its request hooks around theirs

    problems += _register_plugin_blueprints(app, manager)
    tenancy.exempt_company_from_url_views(app)  # forms posted from other sites: no CSRF token
    problems += _register_plugin_commands(app, manager)
    collected, declaration_problems = declarations.collect(manager)
    problems += declaration_problems
    problems += events.init_app(app)
    problems += jobs.init_app(app)
    app.extensions["crm.declarations"] = collected
    if problems:
        raise StartupError(problems)

    manager.call_in_order("startup", problems=problems, app=app)
    if problems:
        raise StartupError(problems)

    if app.config["CRM_CHECK_SCHEMA"]:
        schema_problems = migrate.schema_problems(app)
        if schema_problems:
            raise StartupError(schema_problems)
    return app


def _register_plugin_blueprints(app: Flask, manager: PluginManager) -> list[str]:
    problems = []
    owners: dict[str, str] = app.extensions[tenancy.OWNERS_KEY]
    for info, blueprints in manager.call_in_order("register_blueprints", problems=problems, app=app):
        for blueprint in blueprints or ():
            if blueprint.name in app.blueprints:
                problems.append(
                    f"plugin '{info.name}' registers blueprint '{blueprint.name}', "
                    "whose name is already taken"
                )
                continue
            if api.is_api_blueprint(blueprint):  # flask-smorest: under /api/v1/<plugin>/, in the OpenAPI document
                problems += api.register_plugin_blueprint(app, blueprint, info.name)
            else:
                app.register_blueprint(blueprint)
            owners[blueprint.name] = info.name
    return problems


def _register_plugin_commands(app: Flask, manager: PluginManager) -> list[str]:
    from core.cli import CORE_COMMAND_NAMES

    problems = []
    for info, command in manager.declared("cli_commands", problems):
        if not isinstance(command, click.Command) or not command.name:
            problems.append(f"plugin '{info.name}' returned {command!r}, not a named click command")
        elif command.name in CORE_COMMAND_NAMES or command.name in app.cli.commands:
            problems.append(f"plugin '{info.name}' adds command '{command.name}', which is taken")
        else:
            app.cli.add_command(command)
    return problems


def _register_error_pages(app: Flask) -> None:
    def bad_value(description: str):  # type: ignore[no-untyped-def]
        if api.is_api_request():
            return api.problem_response(BadRequest(description=description))
        return render_template("error.html", code=400, title=_("Invalid value"), message=description), 400

    @app.before_request
    def refuse_nul_characters():  # type: ignore[no-untyped-def]
        # No database stores U+0000 in text (PostgreSQL refuses it outright): say so up front
        # instead of failing later with a 500.
        values = [*request.args.values(), *request.form.values()]
        if any("\x00" in value for value in values) or (
            request.is_json and b"\\u0000" in request.get_data(cache=True)
        ):
            return bad_value(_("The request contains a NUL character (U+0000), which no field may hold."))
        return None

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def value_out_of_range(error: Exception):  # type: ignore[no-untyped-def]
        # A number too large for its column, and the like: the client's mistake, not ours.
        db.rollback_request_session()
        return bad_value(_("A value in the request is out of the range the database can store."))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        if api.is_api_request():
            return api.problem_response(error)
        from flask_babel import gettext as _

        return render_template(
            "error.html",
            code=400,
            title=_("This form has expired"),
            message=_("The page was open too long or was sent from elsewhere. "
                      "Go back, reload the page and try again."),
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error
        if error.code >= 500:
            # A failed flush or commit leaves the session needing a rollback; the error
            # page itself reads the user and company, so roll back before rendering it.
            db.rollback_request_session()
        if api.is_api_request():  # application/problem+json under /api/
            return api.problem_response(error)
        return render_template(
            "error.html", code=error.code, title=error.name, message=error.description
        ), error.code
