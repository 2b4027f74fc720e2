"""Fixture: list pages made with every core.listing feature (tests/core/test_listing_*.py).
Its table is created by the tests (no migrations)."""
from core import Permission, hookimpl


@hookimpl
def register_blueprints(app):
    from fx_listing.views import blueprint

    return [blueprint]


@hookimpl
def permissions():
    return [Permission("fx_listing.item.read", "Read items"),
            Permission("fx_listing.item.delete", "Delete items")]
