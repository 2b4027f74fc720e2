"""Fixture: a model with every core mixin, and pages written WITHOUT company filters, so
tests prove that the automatic scoping, not the plugin, keeps companies apart.
Its table is created by the tests (no migrations)."""
from core import Permission, hookimpl


@hookimpl
def register_blueprints(app):
    from fx_gadgets.views import blueprint

    return [blueprint]


@hookimpl
def permissions():
    return [Permission("fx_gadgets.gadget.read", "Read gadgets"),
            Permission("fx_gadgets.gadget.delete", "Delete gadgets")]


@hookimpl
def demo_data(session, company):
    from fx_gadgets.models import Gadget

    session.add_all([Gadget(company_id=company.id, name=f"Demo gadget {n} of {company.name}") for n in (1, 2)])
