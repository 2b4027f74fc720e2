from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.audit import Audited
from core.db import Base, CompanyMixin, SoftDeleteMixin, TimestampMixin


class Note(CompanyMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """A note shared by the whole company; changes are audited, deletes go to the trash."""

    __tablename__ = "notes_note"  # tables carry the plugin name as prefix
    __record_label__ = "Notes"
    __permission_prefix__ = "notes.note"  # restoring from the trash needs notes.note.delete

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
