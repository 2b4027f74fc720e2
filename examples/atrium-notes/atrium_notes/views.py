from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from atrium_notes.models import Note
from atrium_notes.schemas import NoteSchema
from atrium_notes.services import NOTES, add_note, delete_note, update_note
from core.access import require_permission
from core.audit import record_type
from core.db import get_session
from core.forms import Form, confirmation_required, handle_form
from core.records import detail_context
from core.tenancy import current_company
from core.ui import flash_undo

blueprint = Blueprint("notes", __name__, url_prefix="/notes", template_folder="templates")


def _note_or_404(note_id):
    note = get_session().get(Note, note_id)  # scoped to the company: another's note is None
    if note is None:
        abort(404)
    return note


@blueprint.get("/")
@require_permission("notes.note.read")
def index():
    return NOTES.render("notes/index.html", NOTES.page(), form=Form(NoteSchema))


@blueprint.get("/export")
@require_permission("notes.note.read")
def export():
    """The notes of the current search and filters: ``?format=csv`` (default) or ``xlsx``."""
    return NOTES.export("notes")


@blueprint.post("/bulk/delete")
@require_permission("notes.note.delete")
def bulk_delete():
    notes = NOTES.selected(action="delete")  # asks with a page first when JavaScript did not
    for note in notes:
        delete_note(get_session(), note.id, current_user.id)
    flash(f"{len(notes)} note(s) moved to the trash.", "success")
    return redirect(url_for("notes.index"))


@blueprint.post("/")
@require_permission("notes.note.write")
def create():
    form = Form.from_request(NoteSchema)
    data = form.validate()
    if data is None:  # shown again with the values kept and the errors inline
        response = NOTES.render("notes/index.html", NOTES.page(), form=form)
        response.status_code = 422
        return response
    add_note(get_session(), current_company().id, data)
    flash("Note added.", "success")
    return redirect(url_for("notes.index"))


@blueprint.get("/<int:note_id>")
@require_permission("notes.note.read")
def detail(note_id):
    note = _note_or_404(note_id)
    # Actions, panels (of this plugin and of any other enabled one) and the audit history.
    return render_template("notes/detail.html", note=note, **detail_context(record_type(note), note))


@blueprint.route("/<int:note_id>/edit", methods=["GET", "POST"])
@require_permission("notes.note.write")
def edit(note_id):
    note = _note_or_404(note_id)

    def save(data, form):
        update_note(get_session(), note.id, data)
        flash("Note saved.", "success")
        return redirect(url_for("notes.detail", note_id=note.id))

    return handle_form(NoteSchema, "notes/edit.html", save, initial=note, note=note)


@blueprint.get("/<int:note_id>/panels/stats")
@require_permission("notes.note.read")
def stats_panel(note_id):
    """The body of the note's "Statistics" panel (an HTML fragment, loaded by the page)."""
    note = _note_or_404(note_id)
    return render_template("notes/_stats_panel.html", note=note, words=len(note.body.split()))


@blueprint.post("/<int:note_id>/delete")
@require_permission("notes.note.delete")
def delete(note_id):
    note = _note_or_404(note_id)
    page = confirmation_required(f"Move the note “{note.title}” to the trash?", label="Move to trash")
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    delete_note(get_session(), note.id, current_user.id)
    flash_undo(f"Note “{note.title}” moved to the trash.",
               url_for("trash.restore_view", name="notes_note", record_id=note.id))
    return redirect(url_for("notes.index"))
