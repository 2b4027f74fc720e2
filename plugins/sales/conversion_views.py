"""The "Convert" page of a lead, its button on the lead's page, what a converted lead's page
says about its conversion, and the "Leads" panel of an account's page (the leads converted to
it), through the record hooks.

Rules live in :mod:`plugins.sales.conversion`. Converting needs ``sales.lead.write`` and a
lead the user may see; creating an account, a contact or an opportunity also needs the
permission to add them (``customers.account.write``, ``customers.contact.write``,
``sales.opportunity.write``): without it the page offers existing customers only, and a
request to create one anyway is refused with a 403 that says which permission is missing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import has_permission, require_permission, visible
from core.audit import record_type
from core.db import get_session
from core.forms import Form, form_data, render_form
from core.hooks import RecordAction, RecordPanel
from core.tenancy import current_company
from plugins.customers.services import account_names, matching_contacts
from plugins.sales import (
    READ_LEADS,
    READ_OPPORTUNITIES,
    WRITE_LEADS,
    WRITE_OPPORTUNITIES,
)
from plugins.sales.conversion import (
    ConversionError,
    Matches,
    conversion_matches,
    convert_lead,
    converted_leads,
)
from plugins.sales.leads import visible_leads
from plugins.sales.leads_views import lead_or_404
from plugins.sales.models import Lead, Opportunity
from plugins.sales.opportunity_schemas import OpportunitySchema
from plugins.sales.services import default_pipeline, stages_of

blueprint = Blueprint("sales_conversion", __name__, url_prefix="/sales/leads", template_folder="templates")

# The customers plugin's permissions (named, not imported: sales builds on its services only).
WRITE_ACCOUNTS, WRITE_CONTACTS = "customers.account.write", "customers.contact.write"
LEAD_PAGE = record_type(Lead)
ACCOUNT_PAGE = "customers_account"
PANEL_LIMIT = 10  # leads listed on an account's page
OPPORTUNITY_FORM_FIELDS = ("name", "stage_id", "amount", "currency", "expected_close_date")
NEW = "new"


def opportunity_form_schema(stage_choices: list[tuple[int, str]]) -> OpportunitySchema:
    """The opportunity part of the page: the opportunity's own schema, its stage one of the
    default pipeline's open stages."""
    return OpportunitySchema(only=OPPORTUNITY_FORM_FIELDS, choices={"stage_id": stage_choices})


def _open_stages(session: Session) -> tuple[int, list[tuple[int, str]]]:
    pipeline = default_pipeline(session, current_company().id)
    stages = stages_of(session, [pipeline.id])[pipeline.id]
    return pipeline.id, [(stage.id, stage.name) for stage in stages if stage.kind == "open"]


def _choice(value: str | None) -> int | str | None:
    """A radio's value: an existing record's id, ``"new"``, or ``None`` when missing or bad."""
    value = (value or "").strip()
    if value == NEW:
        return NEW
    return int(value) if value.isdigit() else None


def _missing_permissions(account: Any, contact: Any, with_opportunity: bool) -> list[str]:
    """What the user may not do of what they asked for: the explanation of the 403."""
    missing = []
    if account == NEW and not has_permission(current_user, WRITE_ACCOUNTS):
        missing.append(_("You may not add accounts (permission “Add and change accounts”): choose an existing "
                         "account or ask an administrator."))
    if contact == NEW and not has_permission(current_user, WRITE_CONTACTS):
        missing.append(_("You may not add contacts (permission “Add and change contacts”): choose an existing "
                         "contact or ask an administrator."))
    if with_opportunity and not has_permission(current_user, WRITE_OPPORTUNITIES):
        missing.append(_("You may not add opportunities (permission “Add and change opportunities”)."))
    return missing


def _defaults(lead: Lead, matches: Matches) -> dict[str, Any]:
    """What the page chooses first: a matching customer when there is one, else new ones."""
    account = matches.suggested_account_id
    contact = matches.suggested_contact_id
    if account is None and not has_permission(current_user, WRITE_ACCOUNTS) and matches.accounts:
        account = matches.accounts[0]["id"]
    return {"account": account if account is not None else NEW, "contact": contact if contact is not None else NEW}


@blueprint.route("/<int:lead_id>/convert", methods=["GET", "POST"])
@require_permission(WRITE_LEADS)
def convert(lead_id: int) -> Any:
    """Convert the lead: choose or create the account and the contact, optionally an
    opportunity; then go to the opportunity, else the account (else the contact)."""
    lead = lead_or_404(lead_id)
    session = get_session()
    if lead.converted_at is not None or lead.status == "converted":
        flash(_("This lead was converted already."), "info")
        return redirect(url_for("sales_leads.detail", lead_id=lead.id))
    matches = conversion_matches(session, lead)
    pipeline_id, stages = _open_stages(session)
    schema = opportunity_form_schema(stages)
    submitted = form_data() if request.method == "POST" else None
    chosen = _defaults(lead, matches)
    errors: dict[str, str] = {}
    with_opportunity = False
    if submitted is None:
        may_create = has_permission(current_user, WRITE_ACCOUNTS) and has_permission(current_user, WRITE_CONTACTS)
        if not may_create and not (matches.accounts or matches.contacts):
            abort(403, description=_("Converting this lead creates an account and a contact, and you may not add "
                                     "them (permissions “Add and change accounts” and “Add and change "
                                     "contacts”). Ask an administrator."))
        form = Form(schema, {"name": _("%(organisation)s deal", organisation=lead.organisation or lead.name),
                             "stage_id": stages[0][0] if stages else None}, id_prefix="opportunity-")
    else:
        chosen = {"account": _choice(submitted.get("account")), "contact": _choice(submitted.get("contact"))}
        with_opportunity = submitted.get("with_opportunity") in ("1", "on", "y", "yes", "true")
        form = Form(schema, None, {name: submitted.get(name, "") for name in OPPORTUNITY_FORM_FIELDS},
                    id_prefix="opportunity-")
        for name in ("account", "contact"):
            if chosen[name] is None:
                errors[name] = _("Choose an existing record or to create a new one.")
        opportunity = form.validate() if with_opportunity else None
        if not errors and not (with_opportunity and opportunity is None):
            missing = _missing_permissions(chosen["account"], chosen["contact"], with_opportunity)
            if missing:
                abort(403, description=" ".join(missing))
            try:
                result = convert_lead(
                    session, lead,
                    account_id=None if chosen["account"] == NEW else chosen["account"],
                    contact_id=None if chosen["contact"] == NEW else chosen["contact"],
                    opportunity={**opportunity, "pipeline_id": pipeline_id} if opportunity is not None else None,
                    user_id=current_user.id)
            except ConversionError as error:
                if error.field and error.field.startswith("opportunity."):
                    form.fail(error.message, error.field.removeprefix("opportunity."))
                else:
                    errors[error.field or "_form"] = error.message
            else:
                flash(_conversion_message(lead, result.account_id, result.contact_id, result.opportunity_id),
                      "success")
                return redirect(_landing(result.account_id, result.contact_id, result.opportunity_id, lead))
    page, status = render_form(
        "sales/leads/convert.html", form, lead=lead, matches=matches, chosen=chosen, errors=errors,
        with_opportunity=with_opportunity, NEW=NEW,
        may_add_accounts=has_permission(current_user, WRITE_ACCOUNTS),
        may_add_contacts=has_permission(current_user, WRITE_CONTACTS),
        may_add_opportunities=has_permission(current_user, WRITE_OPPORTUNITIES))
    return page, 422 if errors or form.has_errors else status


def _landing(account_id: int | None, contact_id: int | None, opportunity_id: int | None, lead: Lead) -> str:
    if opportunity_id is not None:
        return url_for("sales_opportunities.detail", opportunity_id=opportunity_id)
    if account_id is not None:
        return url_for("customers_accounts.detail", account_id=account_id)
    if contact_id is not None:
        return url_for("customers_contacts.detail", contact_id=contact_id)
    return url_for("sales_leads.detail", lead_id=lead.id)


def _link(url: str, text: str) -> Markup:
    return Markup('<a class="alert-link" href="{}">{}</a>').format(url, text)


def _conversion_message(lead: Lead, account_id: int | None, contact_id: int | None,
                        opportunity_id: int | None) -> Markup:
    """The flash message after converting: links to the lead and to what it became."""
    session = get_session()
    parts = []
    if account_id is not None:
        name = account_names(session, [account_id]).get(account_id, f"#{account_id}")
        parts.append(_link(url_for("customers_accounts.detail", account_id=account_id), name))
    if contact_id is not None:
        found = matching_contacts(session, ids=[contact_id], limit=1)
        parts.append(_link(url_for("customers_contacts.detail", contact_id=contact_id),
                           found[0]["name"] if found else f"#{contact_id}"))
    if opportunity_id is not None:
        opportunity = session.get(Opportunity, opportunity_id)
        parts.append(_link(url_for("sales_opportunities.detail", opportunity_id=opportunity_id), opportunity.name))
    # The translated sentence is escaped, then the links (Markup) go in: names stay escaped.
    return Markup(escape(_("Lead %(lead)s converted to %(records)s."))) % {
        "lead": _link(url_for("sales_leads.detail", lead_id=lead.id), lead.name),
        "records": Markup(" / ").join(parts)}


# -- on the lead's page ----------------------------------------------------------------------------


def conversion_summary(session: Session, lead: Lead) -> dict[str, Any] | None:
    """What a converted lead's page says: when, and the account, contact and opportunity it
    became, each as ``(url, name)`` when the user may still see it, else ``None``. At most
    three queries, none for a lead not converted."""
    if lead.converted_at is None:
        return None
    summary: dict[str, Any] = {"at": lead.converted_at, "account": None, "contact": None, "opportunity": None}
    if lead.converted_account_id is not None:
        name = account_names(session, [lead.converted_account_id]).get(lead.converted_account_id)
        if name is not None:
            summary["account"] = (url_for("customers_accounts.detail", account_id=lead.converted_account_id), name)
    if lead.converted_contact_id is not None:
        found = matching_contacts(session, ids=[lead.converted_contact_id], limit=1)
        if found:
            summary["contact"] = (url_for("customers_contacts.detail", contact_id=found[0]["id"]), found[0]["name"])
    if lead.converted_opportunity_id is not None and has_permission(current_user, READ_OPPORTUNITIES):
        name = session.scalar(visible(select(Opportunity.name), Opportunity, "sales.opportunity")
                              .where(Opportunity.id == lead.converted_opportunity_id))
        if name is not None:
            summary["opportunity"] = (url_for("sales_opportunities.detail",
                                              opportunity_id=lead.converted_opportunity_id), name)
    return summary


# -- on an account's page --------------------------------------------------------------------------


@blueprint.get("/panel/account/<int:account_id>")
@require_permission(READ_LEADS)
def account_panel(account_id: int) -> Any:
    """The "Leads" card of an account's page: the leads converted to it (an htmx fragment)."""
    session = get_session()
    if not account_names(session, [account_id]):
        abort(404)
    statement = visible_leads(select(Lead.id, Lead.name, Lead.organisation, Lead.source, Lead.converted_at))
    rows, more = converted_leads(session, account_id, statement, PANEL_LIMIT)
    return render_template("sales/leads/_account_panel.html", rows=rows, more=more)


def panels(record_type_name: str, record: Any, user: Any) -> list[RecordPanel]:
    """The "Leads" card on an account's page."""
    if record_type_name != ACCOUNT_PAGE or getattr(record, "id", None) is None:
        return []
    return [RecordPanel(key="sales.converted_leads", title=_l("Leads"), order=32, permission=READ_LEADS,
                        url=url_for("sales_conversion.account_panel", account_id=record.id))]


def actions(record_type_name: str, record: Any, user: Any) -> list[RecordAction]:
    """"Convert" on the page of a lead not converted yet."""
    if record_type_name != LEAD_PAGE or getattr(record, "converted_at", True) is not None \
            or getattr(record, "status", None) == "converted":
        return []
    return [RecordAction(_("Convert"), url_for("sales_conversion.convert", lead_id=record.id),
                         icon="arrow-right-circle", permission=WRITE_LEADS, order=5)]

