"""Composition of what plugins contribute to the shell (the side menu, for now)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from core.access import has_permission, is_admin
from core.hooks import MenuItem
from core.tenancy import hooks


UNDO_CATEGORY_PREFIX = "undo:"


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``.

    Refuses anything a browser could read as another host: ``//host``, a backslash, a
    scheme, and control characters (browsers drop tabs and newlines, so ``/\t/host``
    would become ``//host``).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def flash_undo(message: str, undo_url: str) -> None:
    """Flash ``message`` with an Undo button that POSTs to ``undo_url`` (e.g. a restore).

    The shell renders it as a form, so undoing is one click and CSRF-protected.
    """
    flash(message, UNDO_CATEGORY_PREFIX + undo_url)


@dataclass
class MenuEntry:
    item: MenuItem
    url: str
    active: bool
    children: list[MenuEntry] = field(default_factory=list)


def compose_menu() -> list[MenuEntry]:
    """The side menu for the current user and company, sorted by ``order`` then label.

    Items whose ``parent`` names another item's label are nested under it; an item
    whose endpoint does not exist is left out and logged, so one plugin's mistake does
    not break every page.
    """
    user = current_user if current_user.is_authenticated else None
    items = [
        item
        for batch in hooks().menu_items(user=user)
        for item in (batch or ())
        if item.permission is None or has_permission(user, item.permission)
    ]
    items.sort(key=lambda item: (item.order, item.label.lower()))
    entries: dict[str, MenuEntry] = {}
    top: list[MenuEntry] = []
    for item in items:
        try:
            url = url_for(item.endpoint)
        except BuildError:
            current_app.logger.warning("menu item %r points to unknown endpoint %r", item.label, item.endpoint)
            continue
        entry = MenuEntry(item, url, active=_is_active(item.endpoint))
        entries.setdefault(item.label, entry)
    for entry in entries.values():
        parent = entries.get(entry.item.parent) if entry.item.parent else None
        (parent.children if parent is not None and parent is not entry else top).append(entry)
    for entry in top:
        entry.active = entry.active or any(child.active for child in entry.children)
    return top


def _is_active(endpoint: str) -> bool:
    current = request.endpoint or ""
    return current == endpoint or current.split(".")[0] == endpoint.split(".")[0] != "core"


def init_app(app: Flask) -> None:
    @app.context_processor
    def menu_context():  # type: ignore[no-untyped-def]
        return {"compose_menu": compose_menu,
                "is_company_admin": lambda: is_admin(current_user)}
