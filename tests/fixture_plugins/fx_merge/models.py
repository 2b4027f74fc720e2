from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.audit import Audited
from core.db import Base, CompanyMixin, SoftDeleteMixin, TimestampMixin


class Part(CompanyMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    __tablename__ = "fx_merge_part"
    __audit_exclude__ = frozenset({"name_upper"})
    __merge_exclude__ = frozenset({"use_count"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    colour: Mapped[str] = mapped_column(String(20), default="")
    name_upper: Mapped[str] = mapped_column(String(100), default="")
    use_count: Mapped[int] = mapped_column(default=0)


class PartNote(CompanyMixin, Base):
    """Refers to a part twice: by foreign key and by generic reference."""

    __tablename__ = "fx_merge_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("fx_merge_part.id"))
    subject_type: Mapped[str] = mapped_column(String(120))
    subject_id: Mapped[str] = mapped_column(String(64))
