"""The Apps page of the admin console (``/admin/apps``, company administrators only): every
installed plugin, what it needs and what needs it, and whether the company has it enabled.

Enabling and disabling follow the rules of :mod:`core.enablement`: enabling also enables the
dependencies (the card says which beforehand), disabling is refused while an enabled plugin
depends on it and keeps the plugin's data. ``core_plugin_state`` has no audit trail, so each
change is logged at INFO (logger ``core.apps_views``) with the user and the company.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from core.access import abort_unless_admin
from core.auth import signed_in
from core.db import get_session
from core.enablement import disable, enable, enabled_plugins
from core.errors import PluginStateError
from core.i18n import translate
from core.plugin_manager import PluginManager
from core.tenancy import current_company, enabled_for_request

blueprint = Blueprint("core_apps", __name__)
log = logging.getLogger(__name__)

CATEGORY_LABELS = {
    "customers": _l("Customers"),
    "sales": _l("Sales"),
    "service": _l("Service"),
    "marketing": _l("Marketing"),
    "integrations": _l("Integrations"),
    "productivity": _l("Productivity"),
    "tools": _l("Tools"),
    "other": _l("Other"),
}


@dataclass
class AppCard:
    name: str
    title: str
    version: str
    category: str
    summary: str
    enabled: bool
    needs: list[str]  # titles of every plugin it depends on
    needed_by: list[str]  # titles of every plugin that depends on it
    enables_too: list[str]  # titles of the dependencies that enabling it would enable as well
    blocking: list[str]  # titles of the enabled plugins that depend on it
    error: str | None = None

    @property
    def id(self) -> str:
        return f"app-{self.name}"


def _manager() -> PluginManager:
    return current_app.extensions["crm.plugins"]


def _require_company_admin() -> None:
    abort_unless_admin(_("Only an administrator of this company can enable or disable apps."))


def _title(name: str) -> str:
    return translate(_manager()[name].manifest.title)


def _titles(names: list[str]) -> list[str]:
    return [_title(name) for name in names]


def _cards(enabled: frozenset[str]) -> list[AppCard]:
    """A card per installed plugin, by title (no query: the enabled set is the request's)."""
    manager = _manager()
    cards = []
    for info in manager:
        manifest = info.manifest
        needs = manager.dependencies(info.name)
        needed_by = manager.dependents(info.name)
        cards.append(AppCard(
            name=info.name,
            title=_title(info.name),
            version=str(manifest.version),
            category=str(CATEGORY_LABELS.get(manifest.category, manifest.category)),
            summary=translate(manifest.summary),
            enabled=info.name in enabled,
            needs=_titles(needs),
            needed_by=_titles(needed_by),
            enables_too=_titles([n for n in needs if n not in enabled]),
            blocking=_titles([n for n in needed_by if n in enabled]),
        ))
    return sorted(cards, key=lambda card: card.title.lower())


def _render(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    cards = _cards(enabled_for_request())
    for card in cards:
        card.error = (errors or {}).get(card.name)
    return render_template("admin/apps.html", cards=cards), status


def _known_or_404(name: str) -> None:
    if name not in _manager():
        abort(404)


def _back(name: str) -> Response:
    return redirect(url_for("core_apps.index") + f"#app-{name}")


def _list(titles: list[str]) -> str:
    return ", ".join(titles)


@blueprint.get("/admin/apps")
@signed_in
def index() -> tuple[str, int]:
    _require_company_admin()
    return _render()


@blueprint.post("/admin/apps/<name>/enable")
@signed_in
def enable_app(name: str) -> Response:
    _require_company_admin()
    _known_or_404(name)
    company = current_company()
    newly = enable(get_session(), _manager(), company, name)
    title = _title(name)
    if not newly:
        flash(_("%(app)s was already enabled.", app=title), "info")
        return _back(name)
    log.info("plugins %s enabled for company %s (id %s) by user %s (id %s)",
             ", ".join(newly), company.slug, company.id, current_user.email, current_user.id)
    others = [n for n in newly if n != name]
    if others:
        flash(_("%(app)s is enabled, and with it %(others)s, which it needs.",
                app=title, others=_list(_titles(others))), "success")
    else:
        flash(_("%(app)s is enabled.", app=title), "success")
    return _back(name)


@blueprint.post("/admin/apps/<name>/disable")
@signed_in
def disable_app(name: str) -> Response | tuple[str, int]:
    _require_company_admin()
    _known_or_404(name)
    company = current_company()
    title = _title(name)
    blocking = [d for d in _manager().dependents(name) if d in enabled_for_request()]
    if blocking:
        return _render({name: _refusal(title, blocking)}, 409)
    if request.form.get("confirm") != "yes":
        return _render({name: _(
            "Tick the box to confirm that %(app)s should be disabled.", app=title)}, 422)
    try:
        changed = disable(get_session(), _manager(), company, name)
    except PluginStateError:  # enabled meanwhile by someone else: say who needs it now
        enabled = enabled_plugins(get_session(), _manager(), company.id)
        blocking = [d for d in _manager().dependents(name) if d in enabled]
        return _render({name: _refusal(title, blocking)}, 409)
    if not changed:
        flash(_("%(app)s was not enabled.", app=title), "info")
        return _back(name)
    log.info("plugin %s disabled for company %s (id %s) by user %s (id %s)",
             name, company.slug, company.id, current_user.email, current_user.id)
    flash(_("%(app)s is disabled. Its data is kept: enable it again to get it back.", app=title),
          "success")
    return _back(name)


def _refusal(title: str, blocking: list[str]) -> str:
    return ngettext("%(app)s cannot be disabled: %(dependents)s needs it and is enabled. "
                    "Disable %(dependents)s first.",
                    "%(app)s cannot be disabled: %(dependents)s need it and are enabled. "
                    "Disable them first.",
                    len(blocking), app=title, dependents=_list(_titles(blocking)))
