"""Fixture: a table with an indexed search column (core.textsearch), its migration, and a list
page searching it (tests/core/test_textsearch.py)."""
from core import Permission, hookimpl


@hookimpl
def register_blueprints(app):
    from fx_textsearch.views import blueprint

    return [blueprint]


@hookimpl
def permissions():
    return [Permission("fx_textsearch.doc.read", "Read documents")]
