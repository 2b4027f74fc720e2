"""Business rules of leads: add, change and move to the trash.

``data`` is what :class:`plugins.sales.lead_schemas.LeadSchema` loaded (the form and the API
validate with it). Every change emits its domain event (``sales.lead.created``, ``.updated``,
``.deleted``, payload ``id`` and ``name``) in the same transaction; the audit trail records
the columns. :mod:`plugins.sales.services` re-exports these functions for other plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.access import visible
from core.events import emit
from core.trash import soft_delete
from plugins.sales.assignment import assign_lead
from plugins.sales.models import Lead
from plugins.sales.scoring import rescore_leads

# What a person or a capture channel may set (the form has no UTM fields; a web form and the
# import bring them); status "converted", score, grade and the conversion columns are the
# system's (conversion and scoring set them).
LEAD_FIELDS = ("name", "title", "organisation", "email", "phone", "region", "industry", "source", "campaign",
               "utm_source", "utm_medium", "utm_campaign", "team_id", "status", "owner_id", "notes")


LEAD_VISIBILITY = "sales.lead"  # the record type in roles (visibility)


def visible_leads(statement: Select[Any] | None = None) -> Select[Any]:
    """``statement`` (default: every lead) limited to the leads the signed-in user may see."""
    return visible(statement if statement is not None else select(Lead), Lead, LEAD_VISIBILITY)


def _assign(lead: Lead, data: Mapping[str, Any]) -> None:
    for name in LEAD_FIELDS:
        if name in data:
            value = data[name]
            setattr(lead, name, value.strip() if isinstance(value, str) else value)


def _event(action: str, lead: Lead, session: Session) -> None:
    emit(f"sales.lead.{action}", {"id": lead.id, "name": lead.name}, session=session)


def create_lead(session: Session, company_id: int, data: Mapping[str, Any], owner_id: int | None,
                *, by_rules: bool = False) -> Lead:
    """Add a lead from loaded ``data``; ``owner_id`` is used when ``data`` names none, unless
    ``by_rules``: then the assignment rules choose (:mod:`plugins.sales.assignment`), and the
    lead stays unowned, for the customer pool, when no rule gives it to anyone."""
    lead = Lead(company_id=company_id, status="new")
    _assign(lead, data)
    if lead.owner_id is None and not by_rules:
        lead.owner_id = owner_id
    session.add(lead)
    session.flush()
    rescore_leads(session, [lead.id])
    _event("created", lead, session)
    if lead.owner_id is None and by_rules:
        assign_lead(session, lead)
    return lead


def update_lead(session: Session, lead: Lead, data: Mapping[str, Any]) -> Lead:
    """Change ``lead`` with the loaded ``data`` (fields left out stay as they are)."""
    _assign(lead, data)
    session.flush()
    rescore_leads(session, [lead.id])
    _event("updated", lead, session)
    return lead


def delete_lead(session: Session, lead: Lead, user_id: int | None) -> Lead:
    """Move ``lead`` to the trash (restorable from there)."""
    soft_delete(lead, user_id)
    session.flush()
    _event("deleted", lead, session)
    return lead
