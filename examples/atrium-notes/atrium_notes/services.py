"""Business rules of the notes plugin: the one module other plugins may import."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium_notes.models import Note
from atrium_notes.schemas import NoteSchema
from core.trash import soft_delete

PAGE_SIZE = 20


def add_note(session: Session, company_id: int, data: dict) -> Note:
    """Validate ``data`` (raises marshmallow.ValidationError) and add a note."""
    values = NoteSchema().load(data)
    note = Note(company_id=company_id, title=values["title"].strip(), body=values["body"])
    session.add(note)
    return note


def list_notes(session: Session, company_id: int, page: int) -> tuple[list[Note], int]:
    """One page of the company's notes, newest first, and the total count."""
    total = session.scalar(select(func.count(Note.id)).where(Note.company_id == company_id)) or 0
    notes = session.scalars(
        select(Note)
        .where(Note.company_id == company_id)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(notes), total


def delete_note(session: Session, note_id: int, user_id: int | None) -> Note | None:
    """Move a note to the trash; None when there is no such note (in this company)."""
    note = session.get(Note, note_id)
    if note is not None:
        soft_delete(note, user_id)
    return note
