"""Hook markers and the value types that hooks return.

Plugins import from here (or from ``core`` directly)::

    from core import hookimpl, MenuItem

    @hookimpl
    def menu_items(user):
        return [MenuItem(label="Notes", endpoint="notes.index", icon="note", order=50)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy

PROJECT_NAME = "atrium"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class MenuItem:
    """An entry of the side menu. ``endpoint`` is a Flask endpoint name.

    Items are sorted by ``order`` (then label), never by plugin call order. ``parent`` is
    the label of the group the item belongs to; ``permission`` names the permission code
    needed to see the item (checked once roles exist; until then every signed-in user
    sees every item of the enabled plugins).
    """

    label: str
    endpoint: str
    icon: str = ""
    order: int = 100
    permission: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Permission:
    """A permission code a plugin declares, e.g. ``notes.note.write``.

    The code starts with the declaring plugin's name and a dot.
    """

    code: str
    label: str


SETTING_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class Setting:
    """A per-company setting a plugin declares.

    ``key`` starts with the plugin name and a dot (``notes.page_size``); ``type`` is one of
    ``str``, ``int``, ``float``, ``bool``; ``default`` must be of that type.
    """

    key: str
    type: str
    default: Any
    label: str
    help: str = ""
