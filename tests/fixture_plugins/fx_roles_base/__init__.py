"""Fixture: two role templates that fx_roles_ext extends."""
from core import Permission, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("fx_roles_base.thing.read", "Read things")]


@hookimpl
def default_roles():
    return [
        RoleTemplate("fx_roles_base.rep", "Rep", "Works their own things.",
                     ("fx_roles_base.thing.read",), {"fx_roles_base.thing": "own"}),
        RoleTemplate("fx_roles_base.manager", "Manager", "Leads a team.",
                     ("fx_roles_base.thing.read",), {"fx_roles_base.thing": "team"}),
    ]
