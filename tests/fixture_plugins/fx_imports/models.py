from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CompanyMixin, TimestampMixin


class Person(CompanyMixin, TimestampMixin, Base):
    __tablename__ = "fx_imports_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), default="", index=True)
    region: Mapped[str] = mapped_column(String(60), default="")
    age: Mapped[int | None] = mapped_column(Integer, nullable=True)
