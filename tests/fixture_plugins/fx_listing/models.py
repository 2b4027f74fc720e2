from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CompanyMixin, SoftDeleteMixin, TimestampMixin


class Item(CompanyMixin, SoftDeleteMixin, TimestampMixin, Base):
    __tablename__ = "fx_listing_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="plain")
    active: Mapped[bool] = mapped_column(default=True)
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    archived: Mapped[bool] = mapped_column(default=False)
