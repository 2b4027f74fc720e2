"""Converting a lead: the person becomes a contact at an account (new ones, or customers that
exist already), optionally with an opportunity, in one transaction, keeping the lead's history.

:func:`conversion_matches` finds the customers the lead may already be: contacts sharing its
email or phone, accounts whose name is its organisation's (legal forms, case and punctuation
ignored), the accounts of those contacts. :func:`convert_lead` then

* uses the chosen account, or creates one from the lead (its organisation, or the person as an
  individual account when there is none) with its region, industry, source and owner;
* uses the chosen contact, or creates one at that account (name, job title, email, phone, owner);
  an existing contact without an account joins the chosen one;
* optionally creates an opportunity with the account (and the contact involved);
* marks the lead converted (``converted_at``, ``converted_account_id``, ``converted_contact_id``,
  ``converted_opportunity_id``: audited), and attaches its interactions and open tasks to the
  account and contact (:func:`plugins.customers.services.attach_history`), so they show on
  their pages while staying on the lead's;
* emits ``sales.lead.converted`` (``id``, ``name``, ``account_id``, ``contact_id``,
  ``opportunity_id``) besides the customers' and opportunities' own events.

A converted or trashed lead is refused (:class:`ConversionError`). Permissions and whether the
user may see the lead are the caller's to check; the chosen account and contact must be ones
the signed-in user may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import record_type
from core.db import utcnow
from core.events import emit
from plugins.customers.services import (
    account_names,
    accounts_by_name_key,
    attach_history,
    create_account,
    create_contact,
    matching_contacts,
    move_contact_to_account,
)
from plugins.sales.models import Lead, OpportunityContact, Pipeline, Stage
from plugins.sales.opportunities import OpportunityError, create_opportunity

MATCH_LIMIT = 5  # candidates of each kind offered
OPPORTUNITY_FIELDS = ("name", "pipeline_id", "stage_id", "amount", "currency", "expected_close_date")


class ConversionError(Exception):
    """A conversion the rules refuse. ``field`` names the input at fault (``None``: the lead
    itself); ``conflict`` is true when the lead is already converted (HTTP 409)."""

    def __init__(self, message: str, field: str | None = None, *, conflict: bool = False) -> None:
        self.message, self.field, self.conflict = message, field, conflict
        super().__init__(message)


@dataclass
class Matches:
    """Existing customers a lead may be. ``accounts``: ``id``, ``name``, ``reasons`` (``"name"``:
    same organisation name; ``"contact"``: the account of a matching contact). ``contacts``:
    ``id``, ``name``, ``account_id``, ``account_name``, ``email``, ``phone``, ``matched``."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def suggested_account_id(self) -> int | None:
        """The account to offer first: a matching contact's, else the first of the same name."""
        for contact in self.contacts:
            if contact["account_id"] is not None and contact["account_name"] is not None:
                return contact["account_id"]
        return self.accounts[0]["id"] if self.accounts else None

    @property
    def suggested_contact_id(self) -> int | None:
        return self.contacts[0]["id"] if self.contacts else None


@dataclass
class Conversion:
    """What a conversion produced or used."""

    account_id: int | None
    contact_id: int | None
    opportunity_id: int | None
    created_account: bool
    created_contact: bool


def conversion_matches(session: Session, lead: Lead, user: Any = None) -> Matches:
    """The customers ``user`` (default: the signed-in user) may see that ``lead`` may already
    be: at most :data:`MATCH_LIMIT` contacts and accounts. At most five queries."""
    contacts = matching_contacts(session, emails=[lead.email], phones=[lead.phone], limit=MATCH_LIMIT, user=user)
    accounts = {row["id"]: {**row, "reasons": ["name"]}
                for row in (accounts_by_name_key(session, lead.organisation, limit=MATCH_LIMIT, user=user)
                            if lead.organisation else [])}
    wanted = {contact["account_id"] for contact in contacts if contact["account_id"] is not None}
    names = {account_id: row["name"] for account_id, row in accounts.items() if account_id in wanted}
    missing = wanted - set(names)
    if missing:
        names.update(account_names(session, missing))
    for contact in contacts:
        account_id = contact["account_id"]
        contact["account_name"] = names.get(account_id)
        if account_id in names:
            entry = accounts.setdefault(account_id, {"id": account_id, "name": names[account_id], "reasons": []})
            if "contact" not in entry["reasons"]:
                entry["reasons"].append("contact")
    ordered = sorted(accounts.values(), key=lambda row: ("contact" not in row["reasons"], row["name"].lower()))
    return Matches(accounts=ordered[:MATCH_LIMIT], contacts=contacts)


def refuse_unconvertible(lead: Lead) -> None:
    """Raise :class:`ConversionError` when ``lead`` cannot be converted (again)."""
    if lead.status == "converted" or lead.converted_at is not None:
        raise ConversionError(_("This lead was converted already."), conflict=True)
    if lead.deleted_at is not None:
        raise ConversionError(_("This lead is in the trash: restore it before converting it."))


def _check_opportunity(session: Session, data: Mapping[str, Any]) -> None:
    """Refuse a pipeline or stage that does not exist or do not belong together, before
    anything is written (the opportunity rules say it again when creating)."""
    pipeline_id, stage_id = data.get("pipeline_id"), data.get("stage_id")
    if not (data.get("name") or "").strip():
        raise ConversionError(_("Name the opportunity."), "opportunity.name")
    if pipeline_id is not None and session.get(Pipeline, pipeline_id) is None:
        raise ConversionError(_("There is no such pipeline."), "opportunity.pipeline_id")
    if stage_id is not None:
        stage = session.get(Stage, stage_id)
        if stage is None or (pipeline_id is not None and stage.pipeline_id != pipeline_id):
            raise ConversionError(_("This stage is not a stage of the opportunity's pipeline."),
                                  "opportunity.stage_id")
        if stage.kind != "open":  # a new deal is open: won or lost is decided later
            raise ConversionError(_("Choose an open stage."), "opportunity.stage_id")


def _account_data(lead: Lead, owner_id: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": lead.organisation or lead.name,
                            "kind": "organisation" if lead.organisation else "individual",
                            "region": lead.region, "industry": lead.industry, "source": lead.source,
                            "notes": lead.notes, "owner_id": owner_id}
    if not lead.organisation:  # the person is the customer: their phone and email are the account's
        data.update(phone=lead.phone, email=lead.email)
    return data


def _contact_data(lead: Lead, account_id: int | None, owner_id: int | None) -> dict[str, Any]:
    return {"name": lead.name, "title": lead.title, "email": lead.email, "phone": lead.phone,
            "account_id": account_id, "owner_id": owner_id}


def convert_lead(
    session: Session,
    lead: Lead,
    *,
    account_id: int | None = None,
    create_new_account: bool = True,
    contact_id: int | None = None,
    opportunity: Mapping[str, Any] | None = None,
    user_id: int | None,
) -> Conversion:
    """Convert ``lead`` (see the module's documentation).

    ``account_id``: an existing account to use; else a new one is created unless
    ``create_new_account`` is false (then the chosen contact's account, if any). ``contact_id``: an
    existing contact to use; else a new one is created. ``opportunity``: when given, the
    values of a new opportunity (:data:`OPPORTUNITY_FIELDS`; pipeline and stage default to the
    default pipeline's first open stage). New records are owned by the lead's owner, else by
    ``user_id``. Raises :class:`ConversionError`.
    """
    refuse_unconvertible(lead)
    # Two people converting the same lead at once: the second waits here (PostgreSQL locks the
    # row) and then finds it converted.
    now = session.execute(select(Lead.status, Lead.converted_at).where(Lead.id == lead.id).with_for_update()).one()
    if now.status == "converted" or now.converted_at is not None:
        raise ConversionError(_("This lead was converted already."), conflict=True)
    company_id = lead.company_id
    owner_id = lead.owner_id or user_id
    contact = None
    if contact_id is not None:
        found = matching_contacts(session, ids=[contact_id], limit=1)
        if not found:
            raise ConversionError(_("There is no such contact, or you may not see it."), "contact_id")
        contact = found[0]
    if account_id is not None and not account_names(session, [account_id]):
        raise ConversionError(_("There is no such account, or you may not see it."), "account_id")
    if opportunity is not None:
        _check_opportunity(session, opportunity)

    if account_id is None and not create_new_account and contact is not None:
        account_id = contact["account_id"]  # the existing contact's own account, if any
    created_account = account_id is None and create_new_account
    if created_account:
        account_id = create_account(session, company_id, _account_data(lead, owner_id), user_id).id
    if contact is None:
        contact_id = create_contact(session, company_id, _contact_data(lead, account_id, owner_id), user_id).id
    elif contact["account_id"] is None and account_id is not None:
        move_contact_to_account(session, contact_id, account_id)

    opportunity_id = None
    if opportunity is not None:
        values = {name: opportunity[name] for name in OPPORTUNITY_FIELDS if opportunity.get(name) is not None}
        values.update(account_id=account_id, source=lead.source, owner_id=owner_id)
        if values.get("stage_id") is not None and values.get("pipeline_id") is None:
            values["pipeline_id"] = session.get(Stage, values["stage_id"]).pipeline_id  # checked above
        try:
            created = create_opportunity(session, company_id, values, user_id)
        except OpportunityError as error:
            raise ConversionError(error.message, f"opportunity.{error.field}") from None
        session.add(OpportunityContact(opportunity_id=created.id, contact_id=contact_id))
        opportunity_id = created.id

    lead.status = "converted"
    lead.converted_at = utcnow()
    lead.converted_account_id = account_id
    lead.converted_contact_id = contact_id
    lead.converted_opportunity_id = opportunity_id
    session.flush()
    attach_history(session, record_type(Lead), lead.id, account_id, contact_id)
    emit("sales.lead.converted", {"id": lead.id, "name": lead.name, "account_id": account_id,
                                  "contact_id": contact_id, "opportunity_id": opportunity_id}, session=session)
    return Conversion(account_id, contact_id, opportunity_id, created_account, contact is None)


def converted_leads(session: Session, account_id: int, statement: Any, limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` leads converted to ``account_id`` among ``statement`` (a select of
    lead columns the caller limited to what the user sees), newest conversion first, and
    whether there are more: one query."""
    rows = session.execute(statement.where(Lead.converted_account_id == account_id)
                           .order_by(Lead.converted_at.desc(), Lead.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


__all__ = ["ConversionError", "Conversion", "Matches", "conversion_matches", "convert_lead", "converted_leads",
           "refuse_unconvertible"]
