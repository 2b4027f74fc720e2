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

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import inspect as inspect_state
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, validates

from core.db import (
    Audited,
    Base,
    CompanyMixin,
    OwnerMixin,
    SoftDeleteMixin,
    TimestampMixin,
)
from plugins.customers.services import normalize_email, normalize_phone, search_text

LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified", "converted")
STAGE_KINDS = ("open", "won", "lost")


class Lead(CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """Someone who might buy: a person, usually at an organisation, not yet a customer."""

    __tablename__ = "sales_lead"
    __record_label__ = "Leads"
    __permission_prefix__ = "sales.lead"
    __detail_endpoint__ = ("sales_leads.detail", "lead_id")  # follow-up tasks link here
    __audit_exclude__ = frozenset({"email_normalized", "phone_normalized", "search_text",
                                   "last_follow_up_at", "next_follow_up_at"})
    # The lead list: newest first, or filtered by status, source, region or industry; the
    # follow-up views and the recycling job: by follow-up date.
    __table_args__ = (
        Index("ix_sales_lead_company_created", "company_id", "created_at"),
        # What a rep holds (plugins.sales.holdings: the pool's holding cap, assignment caps).
        Index("ix_sales_lead_company_owner_status", "company_id", "owner_id", "status"),
        *(Index(f"ix_sales_lead_company_{name}", "company_id", name)
          for name in ("status", "source", "region", "industry", "next_follow_up_at", "last_follow_up_at",
                       "score", "grade")),
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
    # Why the score is what it is: [{"rule_id", "label", "points", "times"}] (plugins.sales.scoring).
    score_details: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    converted_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="SET NULL"), index=True)
    converted_opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="SET NULL"), index=True)
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


CREATED_COVERING = ("company_id", "created_at", "pipeline_id", "deleted_at", "owner_id", "team_id", "source",
                    "furthest_stage_id", "stage_id")
CLOSED_COVERING = ("company_id", "closed_at", "pipeline_id", "deleted_at", "stage_id", "owner_id", "team_id", "source",
                   "created_at", "amount")


class Opportunity(CompanyMixin, OwnerMixin, SoftDeleteMixin, Audited, TimestampMixin, Base):
    """A deal in progress with an account, moving through the stages of one pipeline."""

    __tablename__ = "sales_opportunity"
    __record_label__ = "Opportunities"
    __permission_prefix__ = "sales.opportunity"
    __detail_endpoint__ = ("sales_opportunities.detail", "opportunity_id")  # follow-up tasks link here
    __audit_exclude__ = frozenset({"stage_entered_at", "last_follow_up_at", "next_follow_up_at", "furthest_stage_id"})
    __table_args__ = (
        # The board: one pipeline's cards per stage, soonest close first (open deals: closed_at
        # NULL) or last closed first; the trailing columns make it cover the columns' sums
        # and the visibility and amount filters (plugins.sales.board).
        Index("ix_sales_opportunity_board", "company_id", "pipeline_id", "stage_id", "closed_at",
              "expected_close_date", "id", "deleted_at", "owner_id", "amount", "probability"),
        # Overdue follow-ups.
        Index("ix_sales_opportunity_company_next_follow_up_at", "company_id", "next_follow_up_at"),
        # The list and the funnel's periods. The funnel reads the days at the edges of its
        # periods (plugins.sales.funnel) from the created/closed indexes alone: they cover
        # every column it filters, groups or sums.
        Index("ix_sales_opportunity_company_close", "company_id", "expected_close_date"),
        Index("ix_sales_opportunity_company_closed", *CLOSED_COVERING),
        Index("ix_sales_opportunity_company_created", *CREATED_COVERING),
        Index("ix_sales_opportunity_company_source", "company_id", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_account.id", ondelete="SET NULL"), index=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("sales_pipeline.id"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stage.id"), index=True)
    # The open stage of highest position the deal has been in, in its current pipeline (the
    # funnel's reach; kept by plugins.sales.opportunities._enter). Not audited: it follows stage_id.
    furthest_stage_id: Mapped[int | None] = mapped_column(ForeignKey("sales_stage.id", ondelete="SET NULL"))
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
    # Kept in step by the customers plugin's follow-ups (interactions and tasks about the deal).
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


# -- assignment rules ------------------------------------------------------------------------------


class AssignmentRule(CompanyMixin, Audited, TimestampMixin, Base):
    """Who gets a new lead: the first active rule (by ``position``) whose conditions the lead
    meets gives it to one rep (``user_id``) or in turn to the members of a team (``team_id``),
    skipping reps who already hold ``cap`` open leads and accounts. Each condition is a
    comma-separated list of values compared case-insensitively; empty means any.
    ``last_user_id`` is the round robin's state: who got the previous lead (not audited: it
    moves with every lead, the lead's own history says who got it and why)."""

    __tablename__ = "sales_assignment_rule"
    __record_label__ = "Assignment rules"
    __audit_exclude__ = frozenset({"last_user_id"})
    __table_args__ = (Index("ix_sales_assignment_rule_company_position", "company_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    region: Mapped[str] = mapped_column(String(400), default="")
    industry: Mapped[str] = mapped_column(String(400), default="")
    source: Mapped[str] = mapped_column(String(400), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    cap: Mapped[int | None] = mapped_column(Integer)
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)


# -- lead scoring ----------------------------------------------------------------------------------

# The lead fields a scoring rule may look at, and how it compares them (case does not count).
SCORING_FIELDS = ("source", "region", "industry", "title", "status", "organisation", "email", "phone", "campaign",
                  "utm_source", "utm_medium", "utm_campaign")
SCORING_OPERATORS = ("equals", "not_equals", "contains", "is_set", "is_empty")
SCORING_RULE_KINDS = ("field", "activity")


class ScoringRule(CompanyMixin, Audited, TimestampMixin, Base):
    """Points a lead gets (or loses) when a field has a value, or for its activity.

    A ``field`` rule compares ``field`` with ``value`` by ``operator``. An ``activity`` rule
    counts the interactions of ``interaction_kind`` logged about the lead (only those with an
    outcome when ``with_outcome``: an email answered); it gives ``points`` once, or per
    occurrence up to ``max_count`` times. Only ``active`` rules count.
    """

    __tablename__ = "sales_scoring_rule"
    __record_label__ = "Scoring rules"
    __table_args__ = (Index("ix_sales_scoring_rule_company_position", "company_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(16), default="field")
    field: Mapped[str] = mapped_column(String(40), default="")
    operator: Mapped[str] = mapped_column(String(16), default="")
    value: Mapped[str] = mapped_column(String(200), default="")
    interaction_kind: Mapped[str] = mapped_column(String(16), default="")
    with_outcome: Mapped[bool] = mapped_column(Boolean, default=False)
    per_occurrence: Mapped[bool] = mapped_column(Boolean, default=False)
    max_count: Mapped[int | None] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(120), default="")


class GradeBand(CompanyMixin, Audited, TimestampMixin, Base):
    """A grade (``A``) for the leads whose score reaches ``min_score``; the band without a
    minimum takes every lower score. No bands: the defaults of :mod:`plugins.sales.scoring`."""

    __tablename__ = "sales_grade_band"
    __record_label__ = "Lead grades"
    __table_args__ = (UniqueConstraint("company_id", "grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(String(8))
    min_score: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


# -- web-to-lead forms -----------------------------------------------------------------------------


class WebForm(CompanyMixin, Audited, TimestampMixin, Base):
    """A form on a company's website that posts leads to ``/forms/lead/<key>``. The key (random,
    unguessable) is what tells the company: whoever knows it can post leads, so it can be
    regenerated; an inactive form refuses posts (404)."""

    __tablename__ = "sales_web_form"
    __record_label__ = "Web-to-lead forms"
    __audit_exclude__ = frozenset({"key"})  # a secret: the trail says when it changed, not what it is
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_sales_web_form_company_name", "company_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(60), default="website")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    success_url: Mapped[str] = mapped_column(String(500), default="")


# -- customer pools --------------------------------------------------------------------------------


class Pool(CompanyMixin, Audited, TimestampMixin, Base):
    """A customer pool (公海): where leads and accounts without an owner wait to be claimed, with
    the rules that return held records to it. A record without owner belongs to the first
    active pool, by ``position``, whose team and region match its own (``team_id`` None and
    ``region`` "" match any): membership is computed by query, never stored on the records, so
    that editing a pool's rules or a record's team or region needs no bookkeeping."""

    __tablename__ = "sales_pool"
    __record_label__ = "Customer pools"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        Index("ix_sales_pool_company_position", "company_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id", ondelete="SET NULL"), index=True)
    region: Mapped[str] = mapped_column(String(80), default="")
    for_leads: Mapped[bool] = mapped_column(Boolean, default=True)
    for_accounts: Mapped[bool] = mapped_column(Boolean, default=True)
    follow_up_days: Mapped[int | None] = mapped_column(Integer)  # N: None = no follow-up rule
    close_days: Mapped[int | None] = mapped_column(Integer)  # M: None = no conversion/won rule
    warn_days: Mapped[int] = mapped_column(Integer, default=2)
    protect_days: Mapped[int] = mapped_column(Integer, default=3)
    cooldown_days: Mapped[int] = mapped_column(Integer, default=7)
    daily_claim_limit: Mapped[int] = mapped_column(Integer, default=10)
    holding_cap: Mapped[int] = mapped_column(Integer, default=200)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class PoolClaim(CompanyMixin, Base):
    """Who held a pooled record from when to when: the record's moves in and out of the pool.

    ``record_type`` is :func:`core.audit.record_type` of the record (``sales_lead``,
    ``customers_account``). ``kind`` says how the holding began: ``claimed`` by the rep from
    the pool (counts towards the daily limit), ``assigned`` by a manager, or ``held``: the
    recycling job found the record owned without a claim (created with an owner, or given one
    on its form) and started counting from then. A claim is open while ``released_at`` is
    None; ``release_reason`` is ``recycled`` (by the job; ``recycle_rule`` says which rule:
    ``follow_up:N`` or ``close:M``, with its days then), ``released`` (given back by its owner),
    ``reassigned`` (another owner) or ``ended`` (the record was converted or moved to the trash).
    ``warned_at``: when the owner was told the record will return to the pool."""

    __tablename__ = "sales_pool_claim"
    __table_args__ = (
        # The current claim of a record (open: released_at null) and its history.
        Index("ix_sales_pool_claim_record", "company_id", "record_type", "record_id", "released_at"),
        # A rep's claims of the day (the daily limit).
        Index("ix_sales_pool_claim_user_day", "company_id", "user_id", "kind", "claimed_at"),
        # The cool-down: this rep's last release of this record.
        Index("ix_sales_pool_claim_cooldown", "record_id", "user_id", "released_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(String(16))
    recycle_rule: Mapped[str | None] = mapped_column(String(16))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- funnel tallies --------------------------------------------------------------------------------


class FunnelCreated(Base):
    """How many deals were created per month and key (pipeline, owner, team, source, furthest
    open stage, current stage): the funnel report's cohorts for whole months, kept by
    :mod:`plugins.sales.funnel_tally`. Key columns hold 0 or "" for "none" (no foreign keys on
    them) so that the unique key makes upserts work; deals in the trash are not counted."""

    __tablename__ = "sales_funnel_created"
    __table_args__ = (
        UniqueConstraint("company_id", "pipeline_id", "month", "owner_id", "team_id", "source", "furthest_stage_id",
                         "stage_id", name="uq_sales_funnel_created_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(Integer)
    month: Mapped[date] = mapped_column(Date)  # first day of the UTC month of created_at
    owner_id: Mapped[int] = mapped_column(Integer, default=0)
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(60), default="")
    furthest_stage_id: Mapped[int] = mapped_column(Integer, default=0)
    stage_id: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer, default=0)


class FunnelClosed(Base):
    """How many deals closed per month (of ``closed_at``) and key, with the sum of their
    amounts and of their days from creation to closing; kept like :class:`FunnelCreated`.
    Every deal with a ``closed_at`` counts: the report keeps the rows of won and lost stages."""

    __tablename__ = "sales_funnel_closed"
    __table_args__ = (
        UniqueConstraint("company_id", "pipeline_id", "month", "owner_id", "team_id", "source", "stage_id",
                         name="uq_sales_funnel_closed_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(Integer)
    month: Mapped[date] = mapped_column(Date)
    owner_id: Mapped[int] = mapped_column(Integer, default=0)
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(60), default="")
    stage_id: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal("0"))
    days: Mapped[float] = mapped_column(Float, default=0.0)


class BoardOpen(Base):
    """The open deals per pipeline, stage and owner, with their total and weighted total: the
    board's column headers without reading every open deal (kept with the funnel's tallies by
    :mod:`plugins.sales.funnel_tally`; owner 0 = none; deals in the trash not counted)."""

    __tablename__ = "sales_board_open"
    __table_args__ = (
        UniqueConstraint("company_id", "pipeline_id", "stage_id", "owner_id", name="uq_sales_board_open_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(Integer)
    stage_id: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(Integer, default=0)
    n: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal("0"))
    weighted: Mapped[Decimal] = mapped_column(Numeric(20, 4), default=Decimal("0"))  # amount × probability / 100


# The listeners that keep the tallies (they need the classes above, hence last).
from plugins.sales import funnel_tally as _funnel_tally  # noqa: E402,F401
