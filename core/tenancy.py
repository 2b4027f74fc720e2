"""The company in context for a request, its enabled plugins, and the plugin route gate."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, g, request, session
from flask_login import current_user

from core.db import get_session
from core.enablement import enabled_plugins
from core.models import Company
from core.plugin_manager import PluginManager, ScopedHooks
from core.scoping import NO_COMPANY, set_company

OWNERS_KEY = "crm.blueprint_owners"


def current_company() -> Company | None:
    return g.get("crm_company")


def enabled_for_request() -> frozenset[str]:
    return g.get("crm_enabled", frozenset())


def hooks() -> ScopedHooks:
    """Hook callers for the plugins enabled for the company in context."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    return manager.hooks(enabled_for_request())


def call_each_enabled(hook_name: str, **kwargs: Any) -> list[tuple[str, list[Any]]]:
    """Call ``hook_name`` for each enabled plugin on its own: ``(plugin name, items)`` pairs.

    For hooks returning an iterable of items that the core composes into one page (search,
    dashboard widgets). ``items`` is the returned iterable as a list (``None`` gives an empty
    one). An implementation that raises, or whose iterable raises, is logged and left out, so
    one broken plugin does not take the page down for everyone. Each implementation gets only
    the arguments it names.
    """
    results: list[tuple[str, list[Any]]] = []
    for impl in getattr(hooks(), hook_name).get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            result = list(impl.function(**{arg: kwargs[arg] for arg in impl.argnames}) or ())
        except Exception:
            current_app.logger.exception("%s hook of plugin %r failed", hook_name, impl.plugin_name)
            continue
        results.append((impl.plugin_name, result))
    return results


def _resolve_company() -> Company | None:
    """The company chosen in the session if the user belongs to it, else their first."""
    if not current_user.is_authenticated:
        return None
    memberships = current_user.memberships
    if not memberships:
        return None
    wanted = session.get("company_id")
    for membership in memberships:
        if membership.company_id == wanted:
            return membership.company
    return min((m.company for m in memberships), key=lambda c: c.name.lower())


def plugin_of_endpoint(endpoint: str | None) -> str | None:
    """The plugin that registered the blueprint serving ``endpoint`` (None for the core)."""
    if not endpoint or "." not in endpoint:
        return None
    blueprint = endpoint.split(".", 1)[0]
    return current_app.extensions[OWNERS_KEY].get(blueprint)


def init_app(app: Flask) -> None:
    app.extensions.setdefault(OWNERS_KEY, {})

    @app.before_request
    def load_company_context():  # type: ignore[no-untyped-def]
        company = _resolve_company()
        g.crm_company = company
        set_company(get_session(), company.id if company else NO_COMPANY)
        manager: PluginManager = current_app.extensions["crm.plugins"]
        g.crm_enabled = (
            enabled_plugins(get_session(), manager, company.id) if company else frozenset()
        )
        owner = plugin_of_endpoint(request.endpoint)
        if owner is not None and owner not in g.crm_enabled:
            # A disabled plugin does not exist for this company: not 403, which would tell.
            abort(404)

    @app.context_processor
    def company_context():  # type: ignore[no-untyped-def]
        return {"current_company": current_company(), "enabled_plugins": enabled_for_request()}

