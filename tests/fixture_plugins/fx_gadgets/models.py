from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.audit import Audited
from core.db import Base, CompanyMixin, OwnerMixin, SoftDeleteMixin, TimestampMixin


class Gadget(CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    __tablename__ = "fx_gadgets_gadget"
    __record_label__ = "Gadgets"
    __permission_prefix__ = "fx_gadgets.gadget"
    __audit_exclude__ = frozenset({"secret"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret: Mapped[str] = mapped_column(String(100), default="")
