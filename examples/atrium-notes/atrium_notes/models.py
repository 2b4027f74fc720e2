from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CompanyMixin, TimestampMixin


class Note(CompanyMixin, TimestampMixin, Base):
    __tablename__ = "notes_note"  # tables carry the plugin name as prefix

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
