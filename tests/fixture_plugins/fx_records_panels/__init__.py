"""Fixture: actions and panels for any plugin's record page: tied orders, a permission, a
panel whose URL fails, and a panel key without the plugin's prefix."""
from core import Permission, hookimpl
from core.hooks import RecordAction, RecordPanel


@hookimpl
def register_blueprints(app):
    from flask import Blueprint

    from core.auth import signed_in

    blueprint = Blueprint("fx_records_panels", __name__, url_prefix="/fx-panels")

    @blueprint.get("/summary/<record_type>")
    @signed_in
    def summary(record_type):
        return f"<p>Summary of a {record_type}</p>"

    @blueprint.get("/broken")
    @signed_in
    def broken():
        return "<p>The data source is down</p>", 500

    return [blueprint]


@hookimpl
def permissions():
    return [Permission("fx_records_panels.secret.read", "See secret panels")]


@hookimpl
def record_actions(record_type, record, user):
    return [
        RecordAction("Archive", f"/fx-records/gadgets/{record.id}/archive", method="post", icon="archive",
                     danger=True, confirm="Archive this gadget?", order=50),
        RecordAction("Report", "/fx-panels/report", order=20),
        RecordAction("Audit secrets", "/fx-panels/secret", permission="fx_records_panels.secret.read", order=5),
        RecordAction("Teleport", "/fx-panels/teleport", method="put"),
    ]


@hookimpl
def record_panels(record_type, record, user):
    from flask import url_for

    return [
        RecordPanel("fx_records_panels.zeta", "Zeta", url_for("fx_records_panels.summary", record_type=record_type), order=10),
        RecordPanel("fx_records_panels.alpha", "Alpha", url_for("fx_records_panels.summary", record_type=record_type), order=10),
        RecordPanel("fx_records_panels.broken", "Broken", url_for("fx_records_panels.broken"), order=30),
        RecordPanel("fx_records_panels.secret", "Secret", "/fx-panels/secret", order=1,
                    permission="fx_records_panels.secret.read"),
        RecordPanel("other.sneaky", "Sneaky", "/fx-panels/sneaky"),
    ]
