"""Hook implementations of the notes plugin. Heavy imports stay inside the functions."""

from core import DashboardWidget, MenuItem, Permission, RoleTemplate, hookimpl


@hookimpl
def register_blueprints(app):
    from atrium_notes.views import blueprint

    return [blueprint]


@hookimpl
def menu_items(user):
    return [MenuItem(label="Notes", endpoint="notes.index", icon="sticky", order=80,
                     permission="notes.note.read")]


@hookimpl
def permissions():
    return [
        Permission("notes.note.read", "Read notes"),
        Permission("notes.note.write", "Write notes"),
        Permission("notes.note.delete", "Delete and restore notes"),
    ]


@hookimpl
def default_roles():
    return [
        RoleTemplate(
            key="notes.reader", name="Note reader", description="Reads the company's notes.",
            permissions=("notes.note.read",), visibility={},
        ),
        RoleTemplate(
            key="notes.editor", name="Note editor", description="Writes and deletes notes.",
            permissions=("notes.note.read", "notes.note.write", "notes.note.delete"), visibility={},
        ),
    ]


@hookimpl
def search(query, user, limit):
    from flask import url_for
    from sqlalchemy import or_, select

    from atrium_notes.models import Note
    from core.access import has_permission
    from core.db import get_session
    from core.hooks import SearchResult

    if not has_permission(user, "notes.note.read"):
        return []
    pattern = f"%{query}%"
    notes = get_session().scalars(
        select(Note).where(or_(Note.title.ilike(pattern), Note.body.ilike(pattern)))
        .order_by(Note.created_at.desc()).limit(limit)
    )
    return [SearchResult(kind="Notes", title=note.title, summary=note.body[:80],
                         url=url_for("notes.detail", note_id=note.id),
                         score=2.0 if query.lower() in note.title.lower() else 1.0)
            for note in notes]


@hookimpl
def dashboard_widgets(user):
    return [DashboardWidget(key="notes.latest", title="Latest notes", render=_latest_notes,
                            permission="notes.note.read", order=50)]


def _latest_notes():
    """The body of the "Latest notes" card: the five newest titles, one query."""
    from flask import render_template
    from sqlalchemy import select

    from atrium_notes.models import Note
    from core.db import get_session

    notes = get_session().execute(
        select(Note.id, Note.title).order_by(Note.created_at.desc(), Note.id.desc()).limit(5)
    ).all()
    return render_template("notes/_latest_widget.html", notes=notes)


@hookimpl
def record_actions(record_type, record, user):
    """Buttons on a note's page. Other plugins could add theirs to the same header."""
    from flask import url_for

    from core import RecordAction

    if record_type != "notes_note":
        return []
    return [
        RecordAction("Edit", url_for("notes.edit", note_id=record.id), icon="pencil",
                     permission="notes.note.write", order=10),
        RecordAction("Move to trash", url_for("notes.delete", note_id=record.id), method="post",
                     icon="trash", permission="notes.note.delete", danger=True,
                     confirm="Move this note to the trash?", order=90),
    ]


@hookimpl
def record_panels(record_type, record, user):
    """Cards on a note's page, each loaded from its own route. Any enabled plugin could add one."""
    from flask import url_for

    from core import RecordPanel

    if record_type != "notes_note":
        return []
    return [RecordPanel("notes.stats", "Statistics", url_for("notes.stats_panel", note_id=record.id),
                        permission="notes.note.read", order=10)]


@hookimpl
def demo_data(session, company):
    from atrium_notes.services import add_note

    add_note(session, company.id, {"title": "Welcome to Atrium", "body": "Notes are shared with your whole company."})
    add_note(session, company.id, {"title": "Call Acme back", "body": "They asked for a quote on Friday."})
