"""Fixture: a record page (a gadget of fx_gadgets) composed with core.records and the detail
macros, a form made from a schema, and a confirmed POST. Needs fx_gadgets loaded."""
from core import Permission, hookimpl
from core.hooks import RecordAction


@hookimpl
def register_blueprints(app):
    from fx_records.views import blueprint

    return [blueprint]


@hookimpl
def permissions():
    return [Permission("fx_records.thing.write", "Write things")]


@hookimpl
def record_actions(record_type, record):
    from flask import url_for

    if record_type != "fx_gadgets_gadget":
        return []
    return [RecordAction("Edit", url_for("fx_records.form"), icon="pencil", order=10)]
