"""The company in context for a request, its enabled plugins, and the plugin route gate.

The company of a request is the signed-in user's (chosen in their session). A few public
views serve a company that the *URL* names instead, such as a form on a company's own website
posting to a URL that holds the form's key: mark them :func:`company_from_url` and call
:func:`enter_company` once the company is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, request, session
from flask_login import current_user

from core.db import get_session
from core.enablement import enabled_plugins
from core.models import Company
from core.plugin_manager import PluginManager, ScopedHooks
from core.scoping import NO_COMPANY, set_company

F = TypeVar("F", bound=Callable[..., object])

OWNERS_KEY = "crm.blueprint_owners"
COMPANY_FROM_URL = "_crm_company_from_url"


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


def company_from_url(view: F) -> F:
    """Mark a public view whose company comes from its URL (a key), not from the session.

    Such a view serves visitors of another site (a form on a company's website), signed
    in or not, so the core does not resolve the visitor's company for it: the request starts
    with no company (every scoped query finds nothing) and the plugin gate is left to
    :func:`enter_company`, which the view calls once it has found its company (look the key
    up with ``execution_options(crm_unscoped=True)``). Nothing of the visitor's session is
    used, so there is nothing for a CSRF token to protect: the view is exempt from the CSRF
    check (another site's form cannot carry our token). Combine it with
    :func:`core.auth.public`, and do not read ``current_user`` in it.
    """
    setattr(view, COMPANY_FROM_URL, True)
    return view


def enter_company(company_id: int) -> bool:
    """Make ``company_id`` the company in context of a :func:`company_from_url` view: its
    enabled plugins, the scope of the request's queries. False (answer 404, as for any
    route of a disabled plugin) when the plugin serving the view is not enabled for it.
    The audit trail records what the view changes with no user: the visitor is nobody of
    ours, even if someone happens to be signed in in that browser."""
    from core.audit import set_actor

    company = get_session().get(Company, company_id)
    if company is None:
        return False
    set_actor(get_session(), None)
    manager: PluginManager = current_app.extensions["crm.plugins"]
    g.crm_company = company
    g.crm_enabled = enabled_plugins(get_session(), manager, company.id)
    set_company(get_session(), company.id)
    owner = plugin_of_endpoint(request.endpoint)
    return owner is None or owner in g.crm_enabled


def exempt_company_from_url_views(app: Flask) -> None:
    """Exempt the :func:`company_from_url` views from CSRF (call once the routes are known)."""
    csrf = app.extensions["csrf"]
    for view in app.view_functions.values():
        if getattr(view, COMPANY_FROM_URL, False):
            csrf.exempt(view)


def init_app(app: Flask) -> None:
    app.extensions.setdefault(OWNERS_KEY, {})

    @app.before_request
    def load_company_context():  # type: ignore[no-untyped-def]
        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if getattr(view, COMPANY_FROM_URL, False):  # the view finds its company: enter_company()
            g.crm_company = None
            g.crm_enabled = frozenset()
            set_company(get_session(), NO_COMPANY)
            return
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

