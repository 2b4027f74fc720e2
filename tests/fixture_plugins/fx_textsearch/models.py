from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CompanyMixin


class Doc(CompanyMixin, Base):
    __tablename__ = "fx_textsearch_doc"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="plain", index=True)
    # What the search finds, lower-cased (the tests write it; a real plugin derives it).
    search_text: Mapped[str] = mapped_column(Text, default="")
