"""Fixture: one valid and several invalid permission and setting declarations."""
from core import Permission, Setting, hookimpl


@hookimpl
def permissions():
    return [
        Permission("fx_decls.read", "Read"),
        Permission("fx_decls.read", "Read again"),
        Permission("other.write", "Write"),
    ]


@hookimpl
def settings():
    return [
        Setting("fx_decls.page_size", "int", 20, "Page size"),
        Setting("fx_decls.title", "int", "twenty", "Wrong default type"),
        Setting("fx_decls.tags", "list", [], "Unknown type"),
        Setting("fx_decls.limit", "int", True, "Bool for an int"),
    ]
