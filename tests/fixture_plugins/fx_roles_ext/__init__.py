"""Fixture: adds its permissions and visibility to fx_roles_base's roles, and offers a
template of its own."""
from core import Permission, RoleExtension, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("fx_roles_ext.deal.read", "Read deals"),
            Permission("fx_roles_ext.deal.write", "Write deals")]


@hookimpl
def default_roles():
    return [
        RoleExtension("fx_roles_base.rep", ("fx_roles_ext.deal.read",), {"fx_roles_ext.deal": "own"}),
        RoleExtension("fx_roles_base.manager", ("fx_roles_ext.deal.read", "fx_roles_ext.deal.write"),
                      {"fx_roles_ext.deal": "team"}),
        RoleTemplate("fx_roles_ext.closer", "Closer", "", ("fx_roles_ext.deal.write",)),
    ]
