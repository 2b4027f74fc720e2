"""Fixture: a search hook that fails."""
from core import hookimpl


@hookimpl
def search(query, user, limit):
    raise RuntimeError("search index unavailable")
