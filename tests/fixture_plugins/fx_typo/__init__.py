"""Fixture: misspells the menu_items hook."""
from core import hookimpl


@hookimpl
def menu_item(user):
    return []
