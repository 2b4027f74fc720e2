"""Record pages: a header with actions, lazily loaded panels and the audit history.

Any plugin may add buttons (``record_actions``) and cards (``record_panels``) to any
plugin's record page; the plugin that owns the page composes them with
:func:`detail_context` and the macros of ``templates/macros/detail.html``::

    return render_template("notes/detail.html", note=note, **detail_context("notes.note", note))

Only the plugins enabled for the company in context are asked; one whose hook raises is
logged and left out, so one plugin cannot break another's page. Items the user lacks the
permission for are dropped; the rest are sorted by ``order``. See docs/plugins/ui.md.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from core.access import has_permission
from core.audit import Audited, history
from core.db import get_session
from core.hooks import RECORD_ACTION_METHODS, RecordAction, RecordPanel
from core.tenancy import call_each_enabled

HISTORY_LIMIT = 100


def _user() -> Any:
    return current_user if current_user.is_authenticated else None


def _allowed(user: Any, permission: str | None) -> bool:
    return permission is None or has_permission(user, permission)


def record_actions(record_type: str, record: object, user: Any = None) -> list[RecordAction]:
    """The buttons the enabled plugins offer for ``record`` that ``user`` may see, sorted.

    ``user`` defaults to the signed-in user. An item that is not a :class:`RecordAction`, or
    whose method is neither ``get`` nor ``post``, is logged and left out.
    """
    user = user if user is not None else _user()
    actions: list[RecordAction] = []
    for plugin, offered in call_each_enabled("record_actions", record_type=record_type, record=record, user=user):
        for action in offered:
            if not isinstance(action, RecordAction) or action.method not in RECORD_ACTION_METHODS:
                current_app.logger.warning("plugin %r offered %r, not a RecordAction with method get or post",
                                           plugin, action)
            elif _allowed(user, action.permission):
                actions.append(action)
    return sorted(actions, key=lambda a: (a.order, str(a.label).lower()))


def record_panels(record_type: str, record: object, user: Any = None) -> list[RecordPanel]:
    """The cards the enabled plugins offer for ``record`` that ``user`` may see, sorted.

    A panel whose key does not start with its plugin's name and a dot, or whose key another
    panel took first, is logged and left out (keys name the cards in the page).
    """
    user = user if user is not None else _user()
    panels: dict[str, RecordPanel] = {}
    for plugin, offered in call_each_enabled("record_panels", record_type=record_type, record=record, user=user):
        for panel in offered:
            if not isinstance(panel, RecordPanel):
                current_app.logger.warning("plugin %r offered %r, not a RecordPanel", plugin, panel)
            elif not panel.key.startswith(f"{plugin}."):
                current_app.logger.warning("record panel %r of plugin %r left out: the key must start with %r",
                                           panel.key, plugin, f"{plugin}.")
            elif panel.key in panels:
                current_app.logger.warning("record panel key %r is used twice", panel.key)
            elif _allowed(user, panel.permission):
                panels[panel.key] = panel
    return sorted(panels.values(), key=lambda p: (p.order, str(p.title).lower()))


def detail_context(record_type: str, record: object, *, history_limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """What a record page needs besides the record: ``actions``, ``panels`` and ``history``.

    ``history`` is :func:`core.audit.history` (newest first, with the acting user's name) for
    audited records, else an empty list. Pass the result to the template as keyword
    arguments and render it with ``detail.header``, ``detail.panels`` and ``detail.history``.
    """
    entries = history(get_session(), record, limit=history_limit) if isinstance(record, Audited) else []
    return {
        "record_type": record_type,
        "actions": record_actions(record_type, record),
        "panels": record_panels(record_type, record),
        "history": entries,
    }
