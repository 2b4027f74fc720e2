"""Fixture: another plugin's contributions to a record page (a lazily loaded panel and an
action) and a menu item, for the browser tests that disable it on the Apps page."""
from core import MenuItem, RecordAction, RecordPanel, hookimpl


@hookimpl
def register_blueprints(app):
    from flask import Blueprint

    from core.auth import signed_in

    blueprint = Blueprint("fx_note_panel", __name__, url_prefix="/fx-note-panel")

    @blueprint.get("/")
    @signed_in
    def index():
        return "<p>Note panel home</p>"

    @blueprint.get("/related/<record_type>/<record_id>")
    @signed_in
    def related(record_type, record_id):
        return f"<p>Related to {record_type} {record_id}</p>"

    return [blueprint]


@hookimpl
def menu_items(user):
    return [MenuItem(label="Panel home", endpoint="fx_note_panel.index", icon="link-45deg", order=90)]


@hookimpl
def record_actions(record_type, record, user):
    return [RecordAction("Share", "/fx-note-panel/", icon="share", order=50)]


@hookimpl
def record_panels(record_type, record, user):
    from flask import url_for

    return [RecordPanel("fx_note_panel.related", "Related",
                        url_for("fx_note_panel.related", record_type=record_type, record_id=record.id))]
