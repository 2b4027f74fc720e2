"""Fixture: a hook implementation asking for an argument the spec lacks."""
from core import hookimpl


@hookimpl
def menu_items(user, colour):
    return []
