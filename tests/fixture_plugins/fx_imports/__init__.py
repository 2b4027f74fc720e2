"""Fixture: an import target for core.imports (tests/core/test_imports*.py): people with a
name, an email, a region and an age. Its table is created by the tests (no migrations).
A row named "explode" makes ``write`` fail, to test what a failed batch leaves behind."""
from core import Permission, hookimpl

WRITE = "fx_imports.person.write"


@hookimpl
def permissions():
    return [Permission(WRITE, "Import people")]


@hookimpl
def import_targets():
    from fx_imports.imports import PEOPLE

    return [PEOPLE]
