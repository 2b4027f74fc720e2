"""Pages: the company's settings (``/settings``, administrators only) and the signed-in
user's language (``POST /account/language``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user
from werkzeug.wrappers import Response

from core.access import abort_unless_admin
from core.auth import signed_in
from core.db import get_session
from core.hooks import Setting
from core.i18n import SUPPORTED_LOCALES
from core.i18n import translate as _translated
from core.plugin_manager import PluginManager
from core.settings import (
    InvalidSettingValue,
    declaration,
    get_settings,
    parse_text,
    plugin_of,
    reset_setting,
    save_settings,
    settings_of,
    stored_values,
)
from core.tenancy import current_company, enabled_for_request
from core.ui import safe_next

blueprint = Blueprint("core_settings", __name__)


# -- who may -------------------------------------------------------------------------------------


def _require_company_admin() -> None:
    abort_unless_admin(_("Only an administrator of this company can change its settings."))



# -- the settings page ---------------------------------------------------------------------------


@dataclass
class Field:
    setting: Setting
    value: Any  # the current (or, after a refused save, the submitted) value
    text: str  # the same, as the input shows it
    stored: bool  # the company chose a value (else: the default)
    error: str | None = None

    @property
    def id(self) -> str:
        return "setting-" + self.setting.key.replace(".", "-")

    @property
    def label(self) -> str:
        return _translated(self.setting.label)

    @property
    def help(self) -> str:
        return _translated(self.setting.help)

    @property
    def default_text(self) -> str:
        return _shown(self.setting.default)


@dataclass
class Group:
    plugin: str
    title: str
    fields: list[Field] = field(default_factory=list)

    @property
    def errors(self) -> bool:
        return any(f.error for f in self.fields)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return _("on") if value else _("off")
    return str(value)


def _input_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _plugins_with_settings() -> list[tuple[str, str]]:
    """(name, title) of the enabled plugins that declare settings, by title."""
    manager: PluginManager = current_app.extensions["crm.plugins"]
    enabled = enabled_for_request()
    with_settings = {plugin_of(key) for key in current_app.extensions["crm.declarations"].settings}
    found = [(info.name, str(info.manifest.title)) for info in manager
             if info.name in enabled and info.name in with_settings]
    return sorted(found, key=lambda pair: pair[1].lower())


def _groups(only: str | None = None) -> list[Group]:
    """The settings of each enabled plugin, with current values (two queries in all)."""
    company_id = current_company().id
    stored = stored_values(company_id)
    values = get_settings(company_id=company_id)
    groups = []
    for name, title in _plugins_with_settings():
        if only is not None and name != only:
            continue
        group = Group(name, title)
        for setting in settings_of(name):
            value = values[setting.key]
            group.fields.append(Field(setting, value, _input_text(value), stored=setting.key in stored))
        groups.append(group)
    return groups


def _enabled_group_or_404(plugin: str) -> None:
    if plugin not in dict(_plugins_with_settings()):
        abort(404)  # disabled for this company, unknown, or without settings: not there


def _render(groups: list[Group], status: int = 200) -> tuple[str, int]:
    return render_template("settings/index.html", groups=groups), status


@blueprint.get("/settings")
@signed_in
def index() -> tuple[str, int]:
    _require_company_admin()
    return _render(_groups())


@blueprint.get("/settings/<plugin>")
@signed_in
def plugin_settings(plugin: str) -> tuple[str, int]:
    _require_company_admin()
    _enabled_group_or_404(plugin)
    return _render(_groups(only=plugin))


@blueprint.post("/settings/<plugin>")
@signed_in
def save(plugin: str) -> Response | tuple[str, int]:
    """Check every field of the plugin's form; store them all, or none and say why."""
    _require_company_admin()
    _enabled_group_or_404(plugin)
    company = current_company()
    groups = _groups()
    group = next(g for g in groups if g.plugin == plugin)
    values: dict[str, Any] = {}
    for entry in group.fields:
        key = entry.setting.key
        if entry.setting.type == "bool":
            text = "true" if key in request.form else "false"
        elif key in request.form:
            text = request.form[key]
        else:
            continue  # not in the form: left as it is
        entry.text = text
        try:
            values[key] = entry.value = parse_text(entry.setting, text)
        except InvalidSettingValue as error:
            entry.error = error.reason
    if group.errors:
        return _render(groups, 422)
    changed = save_settings(values, company.id, current_user)
    if changed:
        flash(_("Settings of %(app)s saved.", app=group.title), "success")
    else:
        flash(_("Nothing changed in the settings of %(app)s.", app=group.title), "info")
    return redirect(url_for("core_settings.index") + f"#settings-{plugin}")


@blueprint.post("/settings/<plugin>/reset")
@signed_in
def reset(plugin: str) -> Response:
    """Forget the company's value of one setting, so the default applies again."""
    _require_company_admin()
    _enabled_group_or_404(plugin)
    key = request.form.get("key", "")
    if plugin_of(key) != plugin or key not in {s.key for s in settings_of(plugin)}:
        abort(400, description=_("Choose a setting of this app to reset."))
    setting = declaration(key)
    if reset_setting(key, current_company().id):
        flash(_("%(setting)s is back to its default, %(value)s.",
                setting=_translated(setting.label), value=_shown(setting.default)), "success")
    return redirect(url_for("core_settings.index") + f"#settings-{plugin}")


# -- the user's language -------------------------------------------------------------------------


@blueprint.post("/account/language")
@signed_in
def language() -> Response:
    """Save the signed-in user's language; empty means "follow the browser"."""
    choice = request.form.get("locale", "")
    if choice and choice not in SUPPORTED_LOCALES:
        abort(400, description=_("Choose a language from the list."))
    user = current_user._get_current_object()
    user.locale = choice or None
    get_session().flush()
    refresh()  # the confirmation below in the new language
    flash(_("Language changed."), "success")
    return redirect(safe_next(request.form.get("next"), url_for("core.home")))
