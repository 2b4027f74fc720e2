"""Business rules of the notes plugin: the one module other plugins may import."""

from sqlalchemy.orm import Session

from atrium_notes.models import Note
from atrium_notes.schemas import NoteSchema
from core.listing import BulkAction, Column, DateRangeFilter, Listing
from core.trash import soft_delete

# The notes list: search in title and text, a date filter, the text column can be hidden,
# sort by title or date (newest first by default), bulk move to the trash, CSV and XLSX export.
NOTES = Listing(
    Note,
    columns=[
        Column("title", "Title", sortable=True),
        Column("body", "Text", optional=True),
        Column("added", "Added", Note.created_at, sortable=True),
    ],
    search=[Note.title, Note.body],
    filters=[DateRangeFilter("added", "Added", Note.created_at)],
    bulk_actions=[
        BulkAction("delete", "Move to trash", "notes.bulk_delete", permission="notes.note.delete",
                   confirm="Move the selected notes to the trash?", danger=True),
    ],
    default_sort="-added",
    page_size=20,
    extra=[Note.id],
    id="notes",
    export_formats=("csv", "xlsx"),
)

def add_note(session: Session, company_id: int, data: dict) -> Note:
    """Validate ``data`` (raises marshmallow.ValidationError) and add a note."""
    values = NoteSchema().load(data)
    note = Note(company_id=company_id, title=values["title"].strip(), body=values["body"])
    session.add(note)
    return note


def update_note(session: Session, note_id: int, data: dict) -> Note | None:
    """Validate ``data`` (raises marshmallow.ValidationError) and change the note; None when
    there is no such note (in this company). The change is audited."""
    note = session.get(Note, note_id)
    if note is None:
        return None
    values = NoteSchema().load(data)
    note.title, note.body = values["title"].strip(), values["body"]
    return note


def delete_note(session: Session, note_id: int, user_id: int | None) -> Note | None:
    """Move a note to the trash; None when there is no such note (in this company)."""
    note = session.get(Note, note_id)
    if note is not None:
        soft_delete(note, user_id)
    return note
