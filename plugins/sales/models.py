"""The sales plugin's tables: leads, pipelines with their stages, lost reasons, opportunities
and their stage history.

Leads and opportunities are owned (record visibility own/team/all), audited and go to the
trash when deleted. They point at the customers plugin's accounts and contacts by id (foreign
keys at the database level only: this module never imports the customers models). A lead's
``email_normalized``/``phone_normalized`` and ``search_text`` are derived from what people
typed whenever the ORM writes it, with the customers plugin's normalisation, so a lead and a
customer compare equal when they share a phone or an address.

Every index that serves a list or the board starts with ``company_id``: every query of a
company-scoped model carries it (core.scoping).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, event
from sqlalchemy import inspect as inspect_state
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, validates

from core.db import Audited, Base, CompanyMixin, OwnerMixin, SoftDeleteMixin, TimestampMixin
from plugins.customers.services import normalize_email, normalize_phone, search_text

LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified", "converted")
STAGE_KINDS = ("open", "won", "lost")


class Lead(CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """Someone who might buy: a person, usually at an organisation, not yet a customer."""

    __tablename__ = "sales_lead"
    __record_label__ = "Leads"
    __permission_prefix__ = "sales.lead"
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized", "search_text",
                                   "last_follow_up_at", "next_follow_up_at"})
    # The lead list: newest first, or filtered by status, source, region or industry; the
    # follow-up views and the recycling job: by follow-up date.
    __table_args__ = (
        Index("ix_sales_lead_company_created", "company_id", "created_at"),
        *(Index(f"ix_sales_lead_company_{name}", "company_id", name)
          for name in ("status", "source", "region", "industry", "next_follow_up_at", "last_follow_up_at")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(120), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    email_normalized: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    phone_normalized: Mapped[str] = mapped_column(String(40), default="", index=True)
    region: Mapped[str] = mapped_column(String(80), default="")
    industry: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[str] = mapped_column(String(60), default="")
    campaign: Mapped[str] = mapped_column(String(200), default="")  # free text until marketing exists
    utm_source: Mapped[str] = mapped_column(String(120), default="")
    utm_medium: Mapped[str] = mapped_column(String(120), default="")
    utm_campaign: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    score: Mapped[int] = mapped_column(Integer, default=0)
    grade: Mapped[str] = mapped_column(String(8), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    converted_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="SET NULL"), index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @validates("email")
    def _normalize_email(self, _key: str, value: str) -> str:
        self.email_normalized = normalize_email(value)
        return (value or "").strip()

    @validates("phone")
    def _normalize_phone(self, _key: str, value: str) -> str:
        self.phone_normalized = normalize_phone(value)
        return (value or "").strip()


def lead_search_text(record: Any) -> str:
    """``search_text`` of a lead (an object or a mapping of its columns): the person's and the
    organisation's names, the email, the phone as typed and as digits, lower-cased."""
    get = record.get if isinstance(record, dict) else lambda name, default="": getattr(record, name, default)
    names = " ".join(part for part in (get("name", "") or "", get("organisation", "") or "") if part)
    phone, email = get("phone", "") or "", get("email", "") or ""
    return search_text(names, [phone] if phone else [], [email] if email else [])


_SEARCHED = ("name", "organisation", "phone", "email")


def _lead_before_insert(_mapper: Mapper[Any], _connection: Connection, target: Lead) -> None:
    target.search_text = lead_search_text(target)


def _lead_before_update(_mapper: Mapper[Any], _connection: Connection, target: Lead) -> None:
    state = inspect_state(target)
    if any(state.attrs[name].history.has_changes() for name in _SEARCHED):
        target.search_text = lead_search_text(target)


event.listen(Lead, "before_insert", _lead_before_insert)
event.listen(Lead, "before_update", _lead_before_update)


# -- pipelines -------------------------------------------------------------------------------------


class Pipeline(CompanyMixin, Audited, TimestampMixin, Base):
    """A sales process: ordered stages an opportunity moves through. One per company is the
    default (new opportunities go there unless told otherwise)."""

    __tablename__ = "sales_pipeline"
    __record_label__ = "Pipelines"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        Index("ix_sales_pipeline_company_position", "company_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Stage(CompanyMixin, Audited, TimestampMixin, Base):
    """One step of a pipeline. A won or a lost stage closes the opportunity that reaches it;
    ``probability`` (0–100) is what an opportunity entering it gets, unless its rep set one."""

    __tablename__ = "sales_stage"
    __record_label__ = "Pipeline stages"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "name"),
        Index("ix_sales_stage_pipeline_position", "pipeline_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("sales_pipeline.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def kind(self) -> str:
        """``open``, ``won`` or ``lost``."""
        return "won" if self.is_won else "lost" if self.is_lost else "open"


class LostReason(CompanyMixin, Audited, TimestampMixin, Base):
    """Why deals are lost: an admin-defined list. Deactivated reasons stay on the opportunities
    that name them but are no longer offered."""

    __tablename__ = "sales_lost_reason"
    __record_label__ = "Lost reasons"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        Index("ix_sales_lost_reason_company_position", "company_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# -- opportunities ---------------------------------------------------------------------------------


class Opportunity(CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """A deal in progress with an account, moving through the stages of one pipeline."""

    __tablename__ = "sales_opportunity"
    __record_label__ = "Opportunities"
    __permission_prefix__ = "sales.opportunity"
    __audit_exclude__ = frozenset({"stage_entered_at"})
    __table_args__ = (
        # The board: one pipeline's cards per stage, soonest close first.
        Index("ix_sales_opportunity_board", "company_id", "pipeline_id", "stage_id", "expected_close_date"),
        # The list and the funnel's periods.
        Index("ix_sales_opportunity_company_close", "company_id", "expected_close_date"),
        Index("ix_sales_opportunity_company_closed", "company_id", "closed_at"),
        Index("ix_sales_opportunity_company_created", "company_id", "created_at"),
        Index("ix_sales_opportunity_company_source", "company_id", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("sales_pipeline.id"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stage.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="")  # ISO 4217, e.g. "EUR", "CNY"
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    # The rep typed the probability: a stage change keeps it instead of the stage's default.
    probability_set_by_rep: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(60), default="")
    lost_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_lost_reason.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    stage_entered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OpportunityContact(Base):
    """The contacts (of the customers plugin) involved in an opportunity."""

    __tablename__ = "sales_opportunity_contact"

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="CASCADE"), primary_key=True, index=True)


class StageChange(CompanyMixin, Base):
    """One move of an opportunity from a stage to another: the stage history. An
    opportunity's first row has no ``from_stage_id`` (it entered its first stage);
    ``seconds_in_from_stage`` is how long it stayed in the stage it left, kept so that the
    funnel sums time per stage without pairing rows."""

    __tablename__ = "sales_stage_change"
    __table_args__ = (
        Index("ix_sales_stage_change_opportunity", "opportunity_id", "changed_at"),
        Index("ix_sales_stage_change_company_changed", "company_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("sales_opportunity.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("sales_stage.id", ondelete="SET NULL"), index=True)
    to_stage_id: Mapped[int | None] = mapped_column(ForeignKey("sales_stage.id", ondelete="SET NULL"), index=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    seconds_in_from_stage: Mapped[int | None] = mapped_column(Integer)
