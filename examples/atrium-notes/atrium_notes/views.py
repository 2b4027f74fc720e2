from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from atrium_notes.models import Note
from atrium_notes.services import NOTES, add_note, delete_note
from core.access import require_permission
from core.audit import history
from core.db import get_session
from core.forms import form_data
from core.tenancy import current_company
from core.ui import flash_undo

blueprint = Blueprint("notes", __name__, url_prefix="/notes", template_folder="templates")


def _render(errors=None, values=None, status=200):
    response = NOTES.render("notes/index.html", NOTES.page(), errors=errors or {}, values=values or {})
    response.status_code = status
    return response


@blueprint.get("/")
@require_permission("notes.note.read")
def index():
    return _render()


@blueprint.get("/export.csv")
@require_permission("notes.note.read")
def export():
    return NOTES.export_csv("notes.csv")


@blueprint.post("/")
@require_permission("notes.note.write")
def create():
    try:
        add_note(get_session(), current_company().id, form_data())
    except ValidationError as error:
        return _render(errors=error.messages, values=request.form, status=422)
    flash("Note added.", "success")
    return redirect(url_for("notes.index"))


@blueprint.get("/<int:note_id>")
@require_permission("notes.note.read")
def detail(note_id):
    note = get_session().get(Note, note_id)  # scoped to the company: another's note is None
    if note is None:
        abort(404)
    return render_template("notes/detail.html", note=note, entries=history(get_session(), note))


@blueprint.post("/<int:note_id>/delete")
@require_permission("notes.note.delete")
def delete(note_id):
    note = delete_note(get_session(), note_id, current_user.id)
    if note is None:
        abort(404)
    flash_undo(f"Note “{note.title}” moved to the trash.",
               url_for("trash.restore_view", name="notes_note", record_id=note.id))
    return redirect(url_for("notes.index"))
