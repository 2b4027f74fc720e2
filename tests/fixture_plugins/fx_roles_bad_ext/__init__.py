"""Fixture: role extensions that are wrong in every way the core checks."""
from core import Permission, RoleExtension, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("fx_roles_bad_ext.read", "Read")]


@hookimpl
def default_roles():
    return [
        RoleTemplate("fx_roles_bad_ext.own", "Bad own"),
        RoleExtension("fx_nowhere.rep", ("fx_roles_bad_ext.read",)),
        RoleExtension("fx_roles_ext.closer", ("fx_roles_bad_ext.read",)),
        RoleExtension("fx_roles_bad_ext.own", ("fx_roles_bad_ext.read",)),
        RoleExtension("fx_roles_base.rep", ("fx_roles_bad_ext.nope",), {"fx_roles_bad_ext.thing": "everyone"}),
        RoleExtension("fx_roles_base.manager", (), {"fx_roles_base.thing": "all"}),
        RoleExtension("fx_roles_base.rep", "fx_roles_bad_ext.read"),
    ]
