"""Business rules of opportunities: create, change, move to the trash, move through the stages.

The pages (:mod:`plugins.sales.opportunities_views`) and the API
(:mod:`plugins.sales.opportunities_api`) both call these; ``data`` is what
:class:`plugins.sales.opportunity_schemas.OpportunitySchema` loaded. The rules:

* a stage belongs to the opportunity's pipeline (:class:`OpportunityError` otherwise); moving
  to another pipeline without a stage puts the deal in that pipeline's first open stage;
* every stage change writes a :class:`StageChange` (with the seconds spent in the stage left)
  and restarts ``stage_entered_at``; a new opportunity gets its first row too;
* the probability follows the stage's default unless the rep typed their own
  (``probability_set_by_rep``): a stage change never overwrites it; ``probability: None``
  means "follow the stage" again;
* a won or lost stage sets ``closed_at``, leaving it clears it; a lost stage needs a lost
  reason (checked by the schema, the one place of that rule);
* ``contact_ids`` are contacts of the deal's account (checked by the schema); changing the
  account without them drops the links to the old account's contacts;
* events ``sales.opportunity.created|updated|deleted|stage_changed|won|lost`` (payload ``id``,
  ``name``, ``amount`` as text, ``pipeline_id``, ``stage_id``, and ``from_stage_id`` for a
  stage change) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.events import emit
from core.trash import soft_delete
from plugins.sales.models import (
    Opportunity,
    OpportunityContact,
    Pipeline,
    Stage,
    StageChange,
)

DEFAULT_CURRENCY = "USD"
FIELDS = ("name", "account_id", "amount", "currency", "expected_close_date", "source", "lost_reason_id", "note",
          "owner_id")


class OpportunityError(Exception):
    """A change that breaks a rule of opportunities; ``field`` names the field at fault."""

    def __init__(self, message: str, field: str = "stage_id") -> None:
        self.message, self.field = message, field
        super().__init__(message)


def _payload(opportunity: Opportunity, **extra: Any) -> dict[str, Any]:
    return {"id": opportunity.id, "name": opportunity.name, "amount": f"{Decimal(opportunity.amount or 0):.2f}",
            "pipeline_id": opportunity.pipeline_id, "stage_id": opportunity.stage_id, **extra}


def _event(action: str, opportunity: Opportunity, session: Session, **extra: Any) -> None:
    emit(f"sales.opportunity.{action}", _payload(opportunity, **extra), session=session)


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back (stored in UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def first_open_stage(session: Session, pipeline_id: int) -> Stage:
    """The first open stage of a pipeline (where a deal enters it)."""
    stage = session.scalar(select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.is_won.is_(False),
                                               Stage.is_lost.is_(False))
                           .order_by(Stage.position, Stage.id).limit(1))
    if stage is None:
        raise OpportunityError(_("This pipeline has no open stage."), "pipeline_id")
    return stage


def _stage(session: Session, pipeline_id: int, stage_id: int | None) -> Stage:
    """The stage ``stage_id`` of ``pipeline_id``, or its first open stage; refused when the
    stage is of another pipeline."""
    if stage_id is None:
        return first_open_stage(session, pipeline_id)
    stage = session.get(Stage, stage_id)
    if stage is None or stage.pipeline_id != pipeline_id:
        raise OpportunityError(_("This stage is not a stage of the opportunity's pipeline."))
    return stage


def _set_probability(opportunity: Opportunity, probability: int | None, stage: Stage) -> None:
    """A number is the rep's own (kept through stage changes); ``None`` follows the stage."""
    opportunity.probability_set_by_rep = probability is not None
    opportunity.probability = probability if probability is not None else stage.probability


def _reach(session: Session, opportunity: Opportunity, stage: Stage) -> None:
    """Keep ``furthest_stage_id`` (the funnel's reach): an open ``stage`` becomes it when the
    deal had none, had one of another pipeline, or had one of a lower position; a won or lost
    stage leaves it."""
    if stage.is_won or stage.is_lost:
        return
    furthest = session.get(Stage, opportunity.furthest_stage_id) if opportunity.furthest_stage_id else None
    if furthest is None or furthest.pipeline_id != stage.pipeline_id or \
            (furthest.position, furthest.id) < (stage.position, stage.id):
        opportunity.furthest_stage_id = stage.id


def _enter(session: Session, opportunity: Opportunity, stage: Stage, user_id: int | None) -> None:
    """Put ``opportunity`` in ``stage``: the history row, the clock, probability and closing."""
    now = utcnow()
    previous = opportunity.stage_id if opportunity.id is not None and opportunity.stage_entered_at else None
    seconds = None
    if previous is not None and opportunity.stage_entered_at is not None:
        seconds = max(0, int((_aware(now) - _aware(opportunity.stage_entered_at)).total_seconds()))
    _reach(session, opportunity, stage)
    opportunity.stage_id = stage.id
    opportunity.pipeline_id = stage.pipeline_id
    opportunity.stage_entered_at = now
    if not opportunity.probability_set_by_rep:
        opportunity.probability = stage.probability
    closing = stage.is_won or stage.is_lost
    if closing and opportunity.closed_at is None:
        opportunity.closed_at = now
    elif not closing:
        opportunity.closed_at = None
    if not stage.is_lost:
        opportunity.lost_reason_id = None
    session.flush()
    session.add(StageChange(company_id=opportunity.company_id, opportunity_id=opportunity.id,
                            from_stage_id=previous, to_stage_id=stage.id, changed_at=now,
                            changed_by_id=user_id, seconds_in_from_stage=seconds))
    session.flush()


def _announce_stage(session: Session, opportunity: Opportunity, stage: Stage, from_stage_id: int | None) -> None:
    _event("stage_changed", opportunity, session, from_stage_id=from_stage_id)
    if stage.is_won:
        _event("won", opportunity, session)
    elif stage.is_lost:
        _event("lost", opportunity, session, lost_reason_id=opportunity.lost_reason_id)


def _assign(opportunity: Opportunity, data: Mapping[str, Any]) -> None:
    for name in FIELDS:
        if name in data:
            value = data[name]
            setattr(opportunity, name, value.strip() if isinstance(value, str) else value)
    if not opportunity.currency:
        opportunity.currency = DEFAULT_CURRENCY


def contact_ids_of(session: Session, opportunity: Opportunity) -> list[int]:
    """The ids of the contacts linked to ``opportunity`` (whether the user sees them or not)."""
    return list(session.scalars(select(OpportunityContact.contact_id)
                                .where(OpportunityContact.opportunity_id == opportunity.id)
                                .order_by(OpportunityContact.contact_id)))


def set_contacts(session: Session, opportunity: Opportunity, contact_ids: Any | None) -> None:
    """Link exactly ``contact_ids`` among the contacts the user may see (the schema checked
    that they belong to the deal's account); links to contacts the user cannot see stay.
    ``None``: keep the links, except those to contacts not of the deal's (new) account."""
    from sqlalchemy import delete

    from plugins.customers.services import contact_names

    linked = set(contact_ids_of(session, opportunity))
    seen = set(contact_names(session, ids=linked, limit=len(linked))) if linked else set()
    if contact_ids is None:
        of_account = set(contact_names(session, opportunity.account_id, ids=linked, limit=len(linked))) \
            if linked and opportunity.account_id else set()
        wanted = (linked - seen) | (seen & of_account)
    else:
        wanted = (linked - seen) | {int(contact_id) for contact_id in contact_ids}
    if gone := linked - wanted:
        session.execute(delete(OpportunityContact).where(OpportunityContact.opportunity_id == opportunity.id,
                                                         OpportunityContact.contact_id.in_(gone)))
    session.add_all([OpportunityContact(opportunity_id=opportunity.id, contact_id=contact_id)
                     for contact_id in sorted(wanted - linked)])
    session.flush()


def create_opportunity(session: Session, company_id: int, data: Mapping[str, Any], user_id: int | None) -> Opportunity:
    """Add an opportunity; without ``pipeline_id`` it goes to the default pipeline, without
    ``stage_id`` to the pipeline's first open stage; ``owner_id`` defaults to ``user_id``."""
    from plugins.sales.services import default_pipeline

    pipeline_id = data.get("pipeline_id") or default_pipeline(session, company_id).id
    if session.get(Pipeline, pipeline_id) is None:
        raise OpportunityError(_("There is no such pipeline."), "pipeline_id")
    stage = _stage(session, pipeline_id, data.get("stage_id"))
    opportunity = Opportunity(company_id=company_id, pipeline_id=pipeline_id, stage_id=stage.id)
    _assign(opportunity, data)
    if opportunity.owner_id is None:
        opportunity.owner_id = user_id
    _set_probability(opportunity, data.get("probability"), stage)
    session.add(opportunity)
    session.flush()
    if data.get("contact_ids"):
        set_contacts(session, opportunity, data["contact_ids"])
    _enter(session, opportunity, stage, user_id)
    _event("created", opportunity, session)
    if stage.is_won or stage.is_lost:
        _announce_stage(session, opportunity, stage, None)
    return opportunity


def change_stage(session: Session, opportunity: Opportunity, stage: Stage | int, user_id: int | None,
                 lost_reason_id: int | None = None) -> bool:
    """Move ``opportunity`` to ``stage`` (of its pipeline); return whether it moved.

    Emits ``stage_changed``, and ``won`` or ``lost`` on reaching such a stage."""
    if not isinstance(stage, Stage):
        stage = _stage(session, opportunity.pipeline_id, stage)
    elif stage.pipeline_id != opportunity.pipeline_id:
        raise OpportunityError(_("This stage is not a stage of the opportunity's pipeline."))
    if lost_reason_id is not None:
        opportunity.lost_reason_id = lost_reason_id
    if stage.id == opportunity.stage_id:
        return False
    from_stage_id = opportunity.stage_id
    _enter(session, opportunity, stage, user_id)
    _announce_stage(session, opportunity, stage, from_stage_id)
    return True


def update_opportunity(session: Session, opportunity: Opportunity, data: Mapping[str, Any],
                       user_id: int | None) -> Opportunity:
    """Change ``opportunity`` with the loaded ``data`` (fields left out stay as they are).

    A new ``pipeline_id`` without ``stage_id`` moves the deal to that pipeline's first open
    stage; a new stage is a stage change (history, events)."""
    pipeline_id = data.get("pipeline_id") or opportunity.pipeline_id
    if pipeline_id != opportunity.pipeline_id and session.get(Pipeline, pipeline_id) is None:
        raise OpportunityError(_("There is no such pipeline."), "pipeline_id")
    stage_id = data.get("stage_id")
    if pipeline_id != opportunity.pipeline_id or stage_id is not None:
        stage = _stage(session, pipeline_id, stage_id)
    else:
        stage = session.get(Stage, opportunity.stage_id)
    account_before = opportunity.account_id
    _assign(opportunity, data)
    if "contact_ids" in data or opportunity.account_id != account_before:
        set_contacts(session, opportunity, data.get("contact_ids"))
    if "probability" in data:
        _set_probability(opportunity, data["probability"], stage)
    moved = stage.id != opportunity.stage_id
    if moved:
        from_stage_id = opportunity.stage_id
        opportunity.pipeline_id = pipeline_id
        _enter(session, opportunity, stage, user_id)
    session.flush()
    _event("updated", opportunity, session)
    if moved:
        _announce_stage(session, opportunity, stage, from_stage_id)
    return opportunity


def delete_opportunity(session: Session, opportunity: Opportunity, user_id: int | None) -> Opportunity:
    """Move ``opportunity`` to the trash (restorable from there)."""
    soft_delete(opportunity, user_id)
    session.flush()
    _event("deleted", opportunity, session)
    return opportunity


def stage_history(session: Session, opportunity: Opportunity) -> list[dict[str, Any]]:
    """The stages the deal went through, oldest first: ``stage`` (name), ``entered`` (when),
    ``seconds`` (time spent there; for the current stage, until now), ``by_id``."""
    rows = session.execute(
        select(StageChange.to_stage_id, StageChange.changed_at, StageChange.changed_by_id, Stage.name)
        .outerjoin(Stage, Stage.id == StageChange.to_stage_id)
        .where(StageChange.opportunity_id == opportunity.id)
        .order_by(StageChange.changed_at, StageChange.id)).all()
    now = _aware(utcnow())
    history = []
    for index, (stage_id, entered, by_id, name) in enumerate(rows):
        left = _aware(rows[index + 1][1]) if index + 1 < len(rows) else now
        history.append({"stage_id": stage_id, "stage": name or "—", "entered": entered, "by_id": by_id,
                        "seconds": max(0, int((left - _aware(entered)).total_seconds())),
                        "current": index + 1 == len(rows)})
    return history
