"""Lead pages: the list (search, filters, columns, export, bulk trash), the form, the lead's
page with the panels of every plugin (the customers plugin's follow-up history and tasks),
and moving to the trash with undo.

Who sees which lead is the record visibility of ``sales.lead`` (own, team or all, from the
roles); the rules of a change live in :mod:`plugins.sales.leads`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from core.access import (
    ALL,
    has_permission,
    member_choices,
    require_permission,
    visibility_level,
    visible,
)
from core.audit import record_type
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.listing import BulkAction, Column, Filter, Listing, distinct_values
from core.models import User
from core.records import detail_context
from core.tenancy import current_company
from core.ui import flash_undo, safe_next
from plugins.customers.services import phone_spelling
from plugins.sales import ASSIGN_LEADS, DELETE_LEADS, READ_LEADS, WRITE_LEADS
from plugins.sales.assignment import assign_unowned, has_active_rules, reassign_leads
from plugins.sales.lead_schemas import STATUS_LABELS, lead_schema
from plugins.sales.leads import (
    LEAD_VISIBILITY,
    create_lead,
    delete_lead,
    update_lead,
    visible_leads,
)
from plugins.sales.models import Lead

blueprint = Blueprint("sales_leads", __name__, url_prefix="/sales/leads", template_folder="templates")

def _distinct(column: Any) -> Callable[[], list[tuple[str, str]]]:
    """Choices: the distinct non-empty values of ``column`` among the leads the user sees
    (from the ``(company_id, column)`` index, one probe per value, for who sees them all)."""
    def choices() -> list[tuple[str, str]]:
        company = current_company()
        if company is None:
            return []
        if visibility_level(current_user, LEAD_VISIBILITY, company.id) == ALL:
            table = Lead.__table__.c
            values = distinct_values(table[column.key], table.company_id == company.id,
                                     table.deleted_at.is_(None), table[column.key] > "")
        else:
            values = get_session().scalars(
                visible_leads(select(column).where(column != "").distinct().order_by(column)))
        return [(value, value) for value in values]
    return choices


def _owner_name() -> Any:
    """The owner's name as a column expression (a correlated subquery: no extra query)."""
    return select(User.name).where(User.id == Lead.owner_id).correlate(Lead).scalar_subquery()


def _grade_choices() -> list[tuple[str, str]]:
    """The company's grades (lead scoring), best first."""
    from plugins.sales.scoring import grade_bands

    return [(grade, grade) for grade, _minimum in grade_bands(get_session())]


def _status_label(value: Any) -> str:
    return str(STATUS_LABELS.get(value, value or ""))


LEADS = Listing(
    Lead,
    search_text=Lead.search_text,  # name, organisation, email, phone: indexed (core.textsearch)
    search_variants=phone_spelling,
    columns=[
        Column("name", _l("Name"), sortable=True),
        Column("organisation", _l("Organisation"), sortable=True, optional=True),
        Column("status", _l("Status"), sortable=True, format=_status_label),
        Column("title", _l("Job title"), optional=True, default=False),
        Column("email", _l("Email"), optional=True),
        Column("phone", _l("Phone"), optional=True, default=False),
        Column("source", _l("Source"), sortable=True, optional=True),
        Column("campaign", _l("Campaign"), optional=True, default=False),
        Column("region", _l("Region"), sortable=True, optional=True, default=False),
        Column("industry", _l("Industry"), sortable=True, optional=True, default=False),
        Column("owner", _l("Owner"), _owner_name(), sortable=True, optional=True),
        Column("score", _l("Score"), sortable=True, optional=True, default=False),
        Column("grade", _l("Grade"), sortable=True, optional=True, default=False),
        Column("next_follow_up", _l("Next follow-up"), Lead.next_follow_up_at, sortable=True, optional=True,
               default=False),
        Column("added", _l("Added"), Lead.created_at, sortable=True, optional=True),
    ],
    filters=[
        Filter("status", _l("Status"), Lead.status, choices=list(STATUS_LABELS.items())),
        Filter("source", _l("Source"), Lead.source, choices=_distinct(Lead.source)),
        Filter("region", _l("Region"), Lead.region, choices=_distinct(Lead.region)),
        Filter("industry", _l("Industry"), Lead.industry, choices=_distinct(Lead.industry)),
        Filter("owner", _l("Owner"), Lead.owner_id, choices=member_choices),
        Filter("grade", _l("Grade"), Lead.grade, choices=_grade_choices),
    ],
    bulk_actions=[
        BulkAction("trash", _l("Move to trash"), "sales_leads.bulk_delete", permission=DELETE_LEADS,
                   confirm=_l("Move the selected leads to the trash?"), danger=True),
        BulkAction("assign", _l("Assign to…"), "sales_leads.bulk_assign", permission=ASSIGN_LEADS),
        BulkAction("apply_rules", _l("Apply assignment rules"), "sales_leads.bulk_apply_rules", permission=ASSIGN_LEADS,
                   confirm=_l("Give the selected leads that have no owner to whom the assignment rules say?")),
    ],
    default_sort="-added",
    extra=[Lead.id],
    id="sales-leads",
    # Hundreds of thousands of rows: no OFFSET and no full COUNT, a count that stops at 1,000.
    pagination="keyset",
    count_limit=1000,
    export_formats=("csv", "xlsx"),
)


@blueprint.get("/")
@require_permission(READ_LEADS)
def index() -> Any:
    """The leads the user may see: search, filters, sort, columns, export, bulk trash."""
    return LEADS.render("sales/leads/index.html", LEADS.page(visible_leads()),
                        may_write=has_permission(current_user, WRITE_LEADS))


@blueprint.get("/export")
@require_permission(READ_LEADS)
def export() -> Any:
    """The leads of the current search and filters: ``?format=csv`` (default) or ``xlsx``."""
    return LEADS.export("leads", visible_leads())


@blueprint.post("/bulk/trash")
@require_permission(DELETE_LEADS)
def bulk_delete() -> Any:
    leads = LEADS.selected(visible_leads())  # asks first when not confirmed
    session = get_session()
    for lead in leads:
        delete_lead(session, lead, current_user.id)
    flash(ngettext("%(num)s lead moved to the trash.", "%(num)s leads moved to the trash.", len(leads)), "success")
    return redirect(safe_next(request.form.get("next"), url_for("sales_leads.index")))


@blueprint.post("/bulk/assign")
@require_permission(ASSIGN_LEADS)
def bulk_assign() -> Any:
    """"Assign to…": the selected leads (those the manager sees) go to one member. Posted
    from the list without ``owner_id``, it first asks whom to, keeping the selection."""
    leads = LEADS.selected(visible_leads())
    owners = dict(member_choices())
    back = safe_next(request.form.get("next"), url_for("sales_leads.index"))
    raw = request.form.get("owner_id", "").strip()
    if not raw.isdigit() or int(raw) not in owners:
        error = _("Choose a member of the company.") if raw else None
        return render_template("sales/assignment/reassign.html", leads=leads, owners=owners, back=back,
                               error=error), 422 if error else 200
    reassign_leads(get_session(), leads, int(raw))
    flash(ngettext("%(num)s lead given to %(name)s.", "%(num)s leads given to %(name)s.", len(leads),
                   name=owners[int(raw)]), "success")
    return redirect(back)


@blueprint.post("/bulk/apply-rules")
@require_permission(ASSIGN_LEADS)
def bulk_apply_rules() -> Any:
    """The assignment rules, run on the selected leads that have no owner."""
    leads = LEADS.selected(visible_leads())
    outcome = assign_unowned(get_session(), [lead.id for lead in leads])
    given = sum(1 for owner_id in outcome.values() if owner_id is not None)
    owned, unowned = len(leads) - len(outcome), len(outcome) - given
    parts = [ngettext("The rules gave %(num)s lead an owner.", "The rules gave %(num)s leads an owner.", given)]
    if unowned:
        parts.append(ngettext("%(num)s stays unowned.", "%(num)s stay unowned.", unowned))
    if owned:
        parts.append(ngettext("%(num)s had an owner already.", "%(num)s had an owner already.", owned))
    flash(" ".join(parts), "success")
    return redirect(safe_next(request.form.get("next"), url_for("sales_leads.index")))


# -- one lead --------------------------------------------------------------------------------------


def lead_or_404(lead_id: int) -> Lead:
    """The lead if the user may see it (company, trash and visibility), else 404."""
    lead = get_session().scalar(visible_leads().where(Lead.id == lead_id))
    if lead is None:
        abort(404)
    return lead


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(WRITE_LEADS)
def new() -> Any:
    # With active assignment rules the owner select's empty choice is "Assign automatically".
    auto_assign = has_active_rules(get_session())

    def save(data: dict[str, Any], _form: Any) -> Any:
        lead = create_lead(get_session(), current_company().id, data, current_user.id, by_rules=auto_assign)
        flash(_("Lead “%(name)s” added.", name=lead.name), "success")
        return redirect(url_for("sales_leads.detail", lead_id=lead.id))

    return handle_form(lead_schema(auto_assign=auto_assign), "sales/leads/form.html", save,
                       initial={"owner_id": current_user.id, "status": "new"}, lead=None)


@blueprint.get("/<int:lead_id>")
@require_permission(READ_LEADS)
def detail(lead_id: int) -> Any:
    """The lead's page: details, the panels of every plugin (follow-ups), the history."""
    lead = lead_or_404(lead_id)
    session = get_session()
    owner = session.get(User, lead.owner_id) if lead.owner_id else None
    from plugins.sales.conversion_views import (
        conversion_summary,  # the conversion's own module
    )

    return render_template("sales/leads/detail.html", lead=lead, owner=owner, statuses=STATUS_LABELS,
                           conversion=conversion_summary(session, lead),
                           may_write=has_permission(current_user, WRITE_LEADS),
                           may_delete=has_permission(current_user, DELETE_LEADS),
                           **detail_context(record_type(lead), lead))


@blueprint.route("/<int:lead_id>/edit", methods=["GET", "POST"])
@require_permission(WRITE_LEADS)
def edit(lead_id: int) -> Any:
    lead = lead_or_404(lead_id)
    schema = lead_schema(current_status=lead.status)

    def save(data: dict[str, Any], _form: Any) -> Any:
        update_lead(get_session(), lead, data)
        flash(_("Lead saved."), "success")
        return redirect(url_for("sales_leads.detail", lead_id=lead.id))

    initial = {name: getattr(lead, name) for name in schema.load_fields}
    return handle_form(schema, "sales/leads/form.html", save, initial=initial, lead=lead)


@blueprint.post("/<int:lead_id>/delete")
@require_permission(DELETE_LEADS)
def delete(lead_id: int) -> Any:
    lead = lead_or_404(lead_id)
    page = confirmation_required(_("Move the lead “%(name)s” to the trash?", name=lead.name),
                                 label=_("Move to trash"))
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    delete_lead(get_session(), lead, current_user.id)
    flash_undo(_("Lead “%(name)s” moved to the trash.", name=lead.name),
               url_for("trash.restore_view", name=record_type(Lead), record_id=lead.id))
    return redirect(url_for("sales_leads.index"))


# -- global search (the ``search`` hook) ------------------------------------------------------------


def search_leads(query: str, user: Any, limit: int) -> list[Any]:
    """Leads ``user`` may see whose name, organisation, email or phone has every word of
    ``query``, through the text index the lead list uses (a phone also as its digits)."""
    from core import SearchResult
    from core.textsearch import text_matches

    if not has_permission(user, READ_LEADS):
        return []
    statement = visible(select(Lead.id, Lead.name, Lead.organisation, Lead.status), Lead, LEAD_VISIBILITY, user)
    matches = text_matches(Lead.search_text, query.split(), *([variant] for variant in phone_spelling(query)))
    rows = get_session().execute(statement.where(matches).order_by(Lead.name).limit(limit))
    return [SearchResult(kind=str(_l("Leads")), title=row.name,
                         summary=" · ".join(part for part in (row.organisation, _status_label(row.status)) if part),
                         url=url_for("sales_leads.detail", lead_id=row.id),
                         score=2.0 if query.lower() in row.name.lower() else 1.0)
            for row in rows]
