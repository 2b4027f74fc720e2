"""The home dashboard: cards from every enabled plugin's ``dashboard_widgets`` hook.

The home page lists the widgets the user may see, each with a placeholder; every card's body
is a separate request to ``/dashboard/widgets/<key>`` (htmx, on load), so a slow or failing
widget delays or breaks only its own card.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from core.access import has_permission
from core.auth import signed_in
from core.hooks import WIDGET_SIZES, DashboardWidget
from core.tenancy import call_each_enabled

blueprint = Blueprint("core_dashboard", __name__)


def visible_widgets() -> list[DashboardWidget]:
    """The widgets of the enabled plugins that the current user may see, in display order.

    Nothing is rendered here. A widget whose key does not start with its plugin's name and a
    dot, whose size is unknown, or whose key another widget took first is logged and left out.
    """
    user = current_user if current_user.is_authenticated else None
    widgets: dict[str, DashboardWidget] = {}
    for plugin, offered in call_each_enabled("dashboard_widgets", user=user):
        for widget in offered:
            if not isinstance(widget, DashboardWidget):
                current_app.logger.warning("plugin %r offered %r, not a DashboardWidget", plugin, widget)
            elif not widget.key.startswith(f"{plugin}.") or widget.size not in WIDGET_SIZES:
                current_app.logger.warning(
                    "dashboard widget %r of plugin %r left out: the key must start with %r and "
                    "the size be one of %s", widget.key, plugin, f"{plugin}.", ", ".join(WIDGET_SIZES),
                )
            elif widget.key in widgets:
                current_app.logger.warning("dashboard widget key %r is used twice", widget.key)
            elif widget.permission is None or has_permission(user, widget.permission):
                widgets[widget.key] = widget
    return sorted(widgets.values(), key=lambda w: (w.order, w.title.lower()))


def _body(result: Any) -> tuple[Markup, int]:
    """The HTML and status of what ``render()`` returned (a string or a response)."""
    if isinstance(result, Response):
        return Markup(result.get_data(as_text=True)), result.status_code
    return Markup(result if result is not None else ""), 200


@blueprint.get("/dashboard/widgets/<key>")
@signed_in
def widget(key: str) -> tuple[str, int]:
    """One widget's body: alone for htmx, in a page of its own otherwise (no JavaScript)."""
    found = next((w for w in visible_widgets() if w.key == key), None)
    if found is None:
        # Unknown, of a disabled plugin, or not for this user: the same answer for all three.
        abort(404)
    try:
        body, status = _body(found.render())
    except Exception:
        current_app.logger.exception("dashboard widget %r failed to render", key)
        body = Markup(render_template("dashboard/_failed.html", widget=found))
        status = 500
    if getattr(request, "htmx", False):
        return body, status
    return render_template("dashboard/widget.html", widget=found, body=body), status
