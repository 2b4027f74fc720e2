from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from atrium_notes.services import PAGE_SIZE, add_note, delete_note, list_notes
from core.db import get_session
from core.forms import form_data
from core.tenancy import current_company
from core.ui import flash_undo

blueprint = Blueprint("notes", __name__, url_prefix="/notes", template_folder="templates")


def _render(page: int, errors=None, values=None, status=200):
    notes, total = list_notes(get_session(), current_company().id, page)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "notes/index.html", notes=notes, total=total, page=page, pages=pages,
        errors=errors or {}, values=values or {},
    ), status


@blueprint.get("/")
def index():
    page = request.args.get("page", 1, type=int)
    return _render(max(page, 1))


@blueprint.post("/")
def create():
    try:
        add_note(get_session(), current_company().id, form_data())
    except ValidationError as error:
        return _render(1, errors=error.messages, values=request.form, status=422)
    flash("Note added.", "success")
    return redirect(url_for("notes.index"))


@blueprint.post("/<int:note_id>/delete")
def delete(note_id):
    note = delete_note(get_session(), note_id, current_user.id)
    if note is None:
        abort(404)
    flash_undo(f"Note “{note.title}” moved to the trash.",
               url_for("trash.restore_view", name="notes_note", record_id=note.id))
    return redirect(url_for("notes.index"))
