"""The admin console's landing page (``/admin``) and the section list its pages share.

Each section is a page of its own module (people, teams, roles, companies, apps, settings,
audit log, jobs); this module only lists them, so adding a section is one line here.
Company administrators only.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from werkzeug.routing import BuildError

from core.access import abort_unless_admin
from core.auth import signed_in

blueprint = Blueprint("core_admin", __name__)


@dataclass(frozen=True)
class AdminSection:
    endpoint: str
    label: LazyString
    icon: str
    summary: LazyString


SECTIONS: tuple[AdminSection, ...] = (
    AdminSection("core_admin_users.index", _l("People"), "people",
                 _l("Invite people, change their role, deactivate or reset their password.")),
    AdminSection("core_admin_teams.index", _l("Teams"), "diagram-3",
                 _l("Group people; a team's manager sees what its members own.")),
    AdminSection("core_admin_roles.index", _l("Roles"), "shield-lock",
                 _l("What each role may do, and how far it sees records.")),
    AdminSection("core_admin_companies.index", _l("Companies"), "buildings",
                 _l("The companies you administer.")),
    AdminSection("core_apps.index", _l("Apps"), "grid-3x3-gap",
                 _l("Turn the installed apps on or off for this company.")),
    AdminSection("core_settings.index", _l("Settings"), "sliders",
                 _l("Options of the core and of each app.")),
    AdminSection("core_admin_audit.index", _l("Audit log"), "journal-text",
                 _l("Who changed what, and when.")),
    AdminSection("core_imports.index", _l("Imports"), "upload",
                 _l("Files imported into the apps: who imported what, with the rows that failed.")),
    AdminSection("core_admin_jobs.index", _l("Jobs"), "cpu",
                 _l("Background work: queued, running and failed jobs, and undelivered events.")),
)


@dataclass(frozen=True)
class SectionLink:
    section: AdminSection
    url: str
    active: bool


def admin_sections() -> list[SectionLink]:
    """The sections whose pages exist in this app, each with its URL."""
    links = []
    current = (request.endpoint or "").split(".")[0]
    for section in SECTIONS:
        try:
            url = url_for(section.endpoint)
        except BuildError:
            continue
        links.append(SectionLink(section, url, current == section.endpoint.split(".")[0]))
    return links


@blueprint.get("/admin")
@signed_in
def index() -> str:
    abort_unless_admin(_("Only company administrators can open the admin console."))
    return render_template("admin/index.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

    @app.context_processor
    def admin_context():  # type: ignore[no-untyped-def]
        return {"admin_sections": admin_sections}
