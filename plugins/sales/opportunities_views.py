"""Opportunity pages: the list, the form, the detail page with its stage history and the
"Move to stage" control, the trash; and the "Opportunities" panel and "New opportunity"
button on an account's page (:func:`panels`, :func:`actions`, through the record hooks).

Rules live in :mod:`plugins.sales.opportunities`, validation in
:mod:`plugins.sales.opportunity_schemas`; who sees what in :func:`core.access.visible`.
Accounts are reached through :mod:`plugins.customers.services` only.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.access import has_permission, member_choices, require_permission, visible
from core.audit import record_type
from core.db import get_session
from core.forms import Form, confirmation_required, field_errors, form_data, render_form
from core.hooks import RecordAction, RecordPanel
from core.listing import Column, Filter, Listing
from core.models import User
from core.records import detail_context
from core.tenancy import current_company
from core.ui import flash_undo
from plugins.customers.services import account_names, contact_names, search_accounts
from plugins.sales import DELETE_OPPORTUNITIES, READ_OPPORTUNITIES, WRITE_OPPORTUNITIES
from plugins.sales.board import SHARED_FILTERS
from plugins.sales.models import LostReason, Opportunity, Pipeline, Stage
from plugins.sales.opportunities import (
    OpportunityError,
    change_stage,
    contact_ids_of,
    create_opportunity,
    delete_opportunity,
    stage_history,
    update_opportunity,
)
from plugins.sales.opportunity_schemas import OpportunitySchema, StageMoveSchema
from plugins.sales.scope import OPPORTUNITY_TYPE

blueprint = Blueprint("sales_opportunities", __name__, url_prefix="/sales/opportunities", template_folder="templates")

# Record types of pages (core.audit.record_type: the table name), for the record hooks.
ACCOUNT_PAGE = "customers_account"
OPPORTUNITY_PAGE = record_type(Opportunity)
PANEL_LIMIT = 10  # opportunities listed on an account's page
ACCOUNT_SELECT_LIMIT = 500  # up to this many accounts the form offers a select; beyond, the picker
PICKER_MATCHES = 20


# -- choices ---------------------------------------------------------------------------------------


def pipeline_choices() -> list[tuple[int, str]]:
    return [(pipeline_id, name) for pipeline_id, name in get_session().execute(
        select(Pipeline.id, Pipeline.name).order_by(Pipeline.position, Pipeline.name, Pipeline.id))]


def _stages() -> list[tuple[int, str, str, bool]]:
    """Every stage as ``(id, "Pipeline · Stage", pipeline name, is_lost)``, in order."""
    rows = get_session().execute(
        select(Stage.id, Stage.name, Pipeline.name, Stage.is_lost).join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .order_by(Pipeline.position, Pipeline.name, Pipeline.id, Stage.position, Stage.id))
    return [(stage_id, f"{pipeline} · {name}", pipeline, is_lost) for stage_id, name, pipeline, is_lost in rows]


def stage_choices() -> list[tuple[int, str]]:
    return [(stage_id, label) for stage_id, label, _pipeline, _lost in _stages()]


def reason_choices(active_only: bool = True) -> list[tuple[int, str]]:
    statement = select(LostReason.id, LostReason.name).order_by(LostReason.position, LostReason.name)
    if active_only:
        statement = statement.where(LostReason.active.is_(True))
    return [(reason_id, name) for reason_id, name in get_session().execute(statement)]


def lost_stage_ids() -> set[int]:
    return set(get_session().scalars(select(Stage.id).where(Stage.is_lost.is_(True))))


def move_schema() -> StageMoveSchema:
    """The "Move to stage" schema with this request's lost stages and active reasons."""
    return StageMoveSchema(lost_stage_ids=lost_stage_ids(), reason_ids=[rid for rid, _name in reason_choices()])


def opportunity_schema(account_id: int | None = None) -> OpportunitySchema:
    """The schema with this request's choices: visible accounts (and ``account_id``, the
    deal's own, if visible), pipelines, stages, active lost reasons, members."""
    session = get_session()
    accounts = account_names(session, limit=ACCOUNT_SELECT_LIMIT + 1)
    choices: dict[str, Any] = {"pipeline_id": pipeline_choices(), "stage_id": stage_choices(),
                               "lost_reason_id": reason_choices(), "owner_id": member_choices()}
    picker = len(accounts) > ACCOUNT_SELECT_LIMIT  # too many for a select: checked one by one
    if not picker:
        if account_id is not None and account_id not in accounts:
            accounts.update(account_names(session, [account_id]))
        choices["account_id"] = sorted(accounts.items(), key=lambda pair: (pair[1].lower(), pair[0]))
    return OpportunitySchema(choices=choices, lost_stage_ids=lost_stage_ids(), account_id=account_id,
                             contact_names=_request_contact_names,
                             account_names=_request_account_names if picker else None)


# The schema's lookups, with this request's session (plain functions: forms deep-copy schemas).
def _request_contact_names(*args: Any, **kwargs: Any) -> dict[int, str]:
    return contact_names(get_session(), *args, **kwargs)


def _request_account_names(*args: Any, **kwargs: Any) -> dict[int, str]:
    return account_names(get_session(), *args, **kwargs)


# -- the list --------------------------------------------------------------------------------------


def _visible(statement: Select[Any] | None = None) -> Select[Any]:
    return visible(statement if statement is not None else select(Opportunity), Opportunity, OPPORTUNITY_TYPE)


def _stage_name() -> Any:
    return select(Stage.name).where(Stage.id == Opportunity.stage_id).correlate(Opportunity).scalar_subquery()


def _owner_name() -> Any:
    return select(User.name).where(User.id == Opportunity.owner_id).correlate(Opportunity).scalar_subquery()


OPPORTUNITIES = Listing(
    Opportunity,
    search_text=Opportunity.name,  # indexed (core.textsearch)
    columns=[
        Column("name", _l("Name"), sortable=True),
        Column("account", lazy_pgettext("customer", "Account"), Opportunity.account_id),
        Column("stage", _l("Stage"), _stage_name()),
        Column("amount", _l("Amount"), sortable=True),
        Column("currency", _l("Currency"), optional=True),
        Column("probability", _l("Probability (%)"), sortable=True, optional=True),
        Column("close", _l("Expected close"), Opportunity.expected_close_date, sortable=True, optional=True),
        Column("owner", _l("Owner"), _owner_name(), sortable=True, optional=True),
        Column("source", _l("Source"), optional=True, default=False),
        Column("added", _l("Added"), Opportunity.created_at, sortable=True, optional=True, default=False),
    ],
    filters=[
        Filter("pipeline", _l("Pipeline"), Opportunity.pipeline_id, choices=pipeline_choices),
        Filter("stage", _l("Stage"), Opportunity.stage_id, choices=stage_choices),
        *SHARED_FILTERS,  # owner, team, close period, amount: the board's filters too
    ],
    default_sort="close",
    extra=[Opportunity.id, Opportunity.account_id],
    id="sales-opportunities",
    pagination="keyset",
    count_limit=1000,
)


@blueprint.get("/")
@require_permission(READ_OPPORTUNITIES)
def index() -> Any:
    """The opportunities the user may see: search, filters (pipeline, stage, owner, close
    period), sort (amount, close date...), keyset pages."""
    page = OPPORTUNITIES.page(_visible())
    accounts = account_names(get_session(), {row.account_id for row in page.rows if row.account_id})
    return OPPORTUNITIES.render("sales/opportunities/index.html", page, accounts=accounts,
                                may_write=has_permission(current_user, WRITE_OPPORTUNITIES))


# -- one opportunity -------------------------------------------------------------------------------


def opportunity_or_404(opportunity_id: int) -> Opportunity:
    """The opportunity if the user may see it (company, trash and visibility), else 404."""
    opportunity = get_session().scalar(_visible().where(Opportunity.id == opportunity_id))
    if opportunity is None:
        abort(404)
    return opportunity


def _initial(opportunity: Opportunity, schema: OpportunitySchema) -> dict[str, Any]:
    values = {name: getattr(opportunity, name) for name in schema.load_fields if hasattr(opportunity, name)}
    # Empty means "follow the stage": shown only when the rep typed their own.
    values["probability"] = opportunity.probability if opportunity.probability_set_by_rep else None
    return values


def _fail_on(form: Form, error: OpportunityError) -> None:
    form.fail(error.message, error.field)


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(WRITE_OPPORTUNITIES)
def new() -> Any:
    """A new opportunity; ``?account_id=`` chooses the account first (the account page's button)."""
    def save(data: dict[str, Any], form: Form) -> Any:
        try:
            opportunity = create_opportunity(get_session(), current_company().id, data, current_user.id)
        except OpportunityError as error:
            return _fail_on(form, error)
        flash(_("Opportunity “%(name)s” added.", name=opportunity.name), "success")
        return redirect(url_for("sales_opportunities.detail", opportunity_id=opportunity.id))

    account_id = request.args.get("account_id", type=int)
    initial = {"owner_id": current_user.id, "account_id": account_id}
    return _form_page(opportunity_schema(), save, initial, None)


def detail_page(opportunity: Opportunity, move_errors: dict[str, str] | None = None, status: int = 200) -> Any:
    """The deal's page; with ``move_errors``, a refused stage move shown by its form (the board's
    no-JavaScript move lands here too)."""
    session = get_session()
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == opportunity.pipeline_id)
                                  .order_by(Stage.position, Stage.id)))
    stage = next((s for s in stages if s.id == opportunity.stage_id), None)
    history = stage_history(session, opportunity)
    people = dict(session.execute(select(User.id, User.name).where(
        User.id.in_({opportunity.owner_id, *(row["by_id"] for row in history)} - {None}))).all())
    account = account_names(session, [opportunity.account_id]) if opportunity.account_id else {}
    linked = contact_ids_of(session, opportunity)
    contacts = contact_names(session, ids=linked, limit=len(linked)) if linked else {}
    return render_template(
        "sales/opportunities/detail.html", opportunity=opportunity, stages=stages, stage=stage,
        stage_history=history, people=people, account_name=account.get(opportunity.account_id),
        contacts=contacts,  # those the user may see, not in the trash
        pipeline=session.get(Pipeline, opportunity.pipeline_id),
        lost_reason=session.get(LostReason, opportunity.lost_reason_id) if opportunity.lost_reason_id else None,
        reasons=reason_choices(), move_errors=move_errors or {},
        may_write=has_permission(current_user, WRITE_OPPORTUNITIES),
        **detail_context(record_type(opportunity), opportunity)), status


@blueprint.get("/<int:opportunity_id>")
@require_permission(READ_OPPORTUNITIES)
def detail(opportunity_id: int) -> Any:
    """The deal: its values, the stage history with time spent, "Move to stage", the panels
    of other plugins and the audit history."""
    return detail_page(opportunity_or_404(opportunity_id))


@blueprint.post("/<int:opportunity_id>/stage")
@require_permission(WRITE_OPPORTUNITIES)
def move(opportunity_id: int) -> Any:
    """Move to a stage of the deal's pipeline (a lost stage asks for a lost reason)."""
    opportunity = opportunity_or_404(opportunity_id)
    try:
        data = move_schema().load({key: value for key, value in form_data().items() if value != ""})
        change_stage(get_session(), opportunity, data["stage_id"], current_user.id, data.get("lost_reason_id"))
    except ValidationError as error:
        return detail_page(opportunity, field_errors(error, StageMoveSchema()), 422)
    except OpportunityError as error:
        return detail_page(opportunity, {error.field: error.message}, 422)
    flash(_("Opportunity moved to the stage “%(stage)s”.",
            stage=get_session().get(Stage, opportunity.stage_id).name), "success")
    return redirect(url_for("sales_opportunities.detail", opportunity_id=opportunity.id))


@blueprint.route("/<int:opportunity_id>/edit", methods=["GET", "POST"])
@require_permission(WRITE_OPPORTUNITIES)
def edit(opportunity_id: int) -> Any:
    opportunity = opportunity_or_404(opportunity_id)
    schema = opportunity_schema(opportunity.account_id)

    def save(data: dict[str, Any], form: Form) -> Any:
        try:
            update_opportunity(get_session(), opportunity, data, current_user.id)
        except OpportunityError as error:
            return _fail_on(form, error)
        flash(_("Opportunity saved."), "success")
        return redirect(url_for("sales_opportunities.detail", opportunity_id=opportunity.id))

    return _form_page(schema, save, _initial(opportunity, schema), opportunity)


@blueprint.post("/<int:opportunity_id>/delete")
@require_permission(DELETE_OPPORTUNITIES)
def delete(opportunity_id: int) -> Any:
    opportunity = opportunity_or_404(opportunity_id)
    page = confirmation_required(_("Move the opportunity “%(name)s” to the trash?", name=opportunity.name),
                                 label=_("Move to trash"))
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    delete_opportunity(get_session(), opportunity, current_user.id)
    flash_undo(_("Opportunity “%(name)s” moved to the trash.", name=opportunity.name),
               url_for("trash.restore_view", name=record_type(Opportunity), record_id=opportunity.id))
    return redirect(url_for("sales_opportunities.index"))


# -- on an account's page --------------------------------------------------------------------------


def account_opportunities(session: Session, account_id: int, limit: int = PANEL_LIMIT) -> tuple[list[Any], bool]:
    """The first ``limit`` opportunities of an account the user may see (open ones first,
    soonest close first) and whether there are more: one query."""
    rows = session.execute(
        _visible(select(Opportunity.id, Opportunity.name, Opportunity.amount, Opportunity.currency,
                        Opportunity.expected_close_date, Opportunity.closed_at, _stage_name().label("stage")))
        .where(Opportunity.account_id == account_id)
        .order_by(Opportunity.closed_at.is_not(None), Opportunity.expected_close_date, Opportunity.id)
        .limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


@blueprint.get("/panel/account/<int:account_id>")
@require_permission(READ_OPPORTUNITIES)
def account_panel(account_id: int) -> Any:
    """The "Opportunities" card of an account's page (an htmx fragment)."""
    session = get_session()
    if not account_names(session, [account_id]):
        abort(404)
    rows, more = account_opportunities(session, account_id)
    return render_template("sales/opportunities/_account_panel.html", rows=rows, more=more, account_id=account_id,
                           may_write=has_permission(current_user, WRITE_OPPORTUNITIES))


def panels(record_type_name: str, record: Any, user: Any) -> list[RecordPanel]:
    """The "Opportunities" card on an account's page."""
    if record_type_name != ACCOUNT_PAGE or getattr(record, "id", None) is None:
        return []
    return [RecordPanel(key="sales.opportunities", title=_l("Opportunities"), order=30,
                        permission=READ_OPPORTUNITIES,
                        url=url_for("sales_opportunities.account_panel", account_id=record.id))]


def actions(record_type_name: str, record: Any, user: Any) -> list[RecordAction]:
    """"New opportunity" on an account's page; Edit and Move to trash on a deal's page."""
    if record_type_name == ACCOUNT_PAGE and getattr(record, "id", None) is not None:
        return [RecordAction(_("New opportunity"), url_for("sales_opportunities.new", account_id=record.id),
                             icon="briefcase", permission=WRITE_OPPORTUNITIES, order=30)]
    if record_type_name == OPPORTUNITY_PAGE:
        return [
            RecordAction(_("Edit"), url_for("sales_opportunities.edit", opportunity_id=record.id), icon="pencil",
                         permission=WRITE_OPPORTUNITIES, order=10),
            RecordAction(_("Move to trash"), url_for("sales_opportunities.delete", opportunity_id=record.id),
                         method="post", icon="trash", permission=DELETE_OPPORTUNITIES, danger=True, order=90,
                         confirm=_("Move the opportunity “%(name)s” to the trash?", name=record.name)),
        ]
    return []


# -- the global search -----------------------------------------------------------------------------


def search_opportunities(query: str, user: Any, limit: int) -> list[Any]:
    """Deals ``user`` may see whose name contains every word of ``query``, each with its stage
    and amount, found through the name's text index (:mod:`core.textsearch`)."""
    from core import SearchResult
    from core.i18n import format_money
    from core.textsearch import text_matches

    if not has_permission(user, READ_OPPORTUNITIES):
        return []
    words = [word for word in query.lower().split() if word]
    statement = visible(select(Opportunity.id, Opportunity.name, Opportunity.amount, Opportunity.currency,
                               _stage_name().label("stage")), Opportunity, OPPORTUNITY_TYPE, user)
    if words:
        statement = statement.where(text_matches(Opportunity.name, words))
    rows = get_session().execute(statement.order_by(Opportunity.closed_at.is_not(None), Opportunity.name,
                                                    Opportunity.id).limit(limit))
    return [SearchResult(kind=str(_l("Opportunities")), title=row.name,
                         summary=" · ".join(part for part in (row.stage, format_money(row.amount, row.currency))
                                            if part),
                         url=url_for("sales_opportunities.detail", opportunity_id=row.id),
                         score=2.0 if query.lower() in row.name.lower() else 1.0)
            for row in rows]


# -- the form's contacts and account picker --------------------------------------------------------


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.strip().isdigit()]


def _typed_account(data: dict[str, Any]) -> str | None:
    """Without JavaScript the picker is a text field: the account is the one named exactly so
    (case aside). Sets ``data["account_id"]`` and returns an error, or ``None`` when fine."""
    typed = data.pop("account_name", None)
    if typed is None:
        return None  # the select: nothing typed
    typed = typed.strip()
    session = get_session()
    chosen = _ids([data.get("account_id") or ""])
    if not typed:
        data["account_id"] = ""
        return None
    if chosen and account_names(session, chosen).get(chosen[0], "").casefold() == typed.casefold():
        return None  # what the picker chose, or left as it was
    named = [account_id for account_id, name in search_accounts(session, typed, limit=PICKER_MATCHES).items()
             if name.casefold() == typed.casefold()]
    data["account_id"] = str(named[0]) if len(named) == 1 else ""
    if not named:
        return _("No account you can see is named “%(name)s”: choose one from the list.", name=typed)
    if len(named) > 1:
        return _("Several accounts are named “%(name)s”: choose one from the list.", name=typed)
    return None


def _form_page(schema: OpportunitySchema, save: Any, initial: dict[str, Any], opportunity: Opportunity | None) -> Any:
    """core.forms.handle_form, plus what one value per field cannot carry: the contacts (a
    multi-select) and the account typed in the picker without JavaScript."""
    data, account_error = None, None
    if request.method == "POST":
        data = {**form_data(), "contact_ids": request.form.getlist("contact_ids")}
        account_error = _typed_account(data)
    form = Form(schema, initial, data)
    loaded = form.validate_on_submit()
    if account_error:
        form.fail(account_error, "account_id")
    elif loaded is not None:
        result = save(loaded, form)
        if result is not None:
            return result
    return render_form("sales/opportunities/form.html", form, opportunity=opportunity,
                       **_contact_context(form, opportunity))


def _contact_context(form: Form, opportunity: Opportunity | None) -> dict[str, Any]:
    """The contacts select's options (the chosen account's, and any chosen that are not, so
    the error about them can be corrected), which are selected, and the picker's text."""
    session = get_session()
    account = _ids([form["account_id"].value])
    if request.method == "POST":
        selected = _ids(request.form.getlist("contact_ids"))
    else:
        selected = contact_ids_of(session, opportunity) if opportunity is not None else []
    choices = contact_names(session, account[0]) if account else {}
    others = [contact_id for contact_id in selected if contact_id not in choices]
    if others:
        choices.update(contact_names(session, ids=others, limit=len(others)))
    typed = request.form.get("account_name") if request.method == "POST" else None
    name = typed if typed is not None else (account_names(session, account).get(account[0], "") if account else "")
    return {"contact_choices": list(choices.items()), "selected_contacts": set(selected),
            "account_picker": form.schema.account_picker, "account_text": name}


@blueprint.get("/contact-options")
@require_permission(WRITE_OPPORTUNITIES)
def contact_options() -> Any:
    """The contacts select's options for ``account_id`` (htmx, when the form's account
    changes); ``contact_ids`` still chosen and of that account stay selected."""
    session = get_session()
    account = _ids([request.args.get("account_id", "")])
    choices = contact_names(session, account[0]) if account and account_names(session, account) else {}
    return render_template("sales/opportunities/_contact_options.html", contact_choices=list(choices.items()),
                           selected_contacts=set(_ids(request.args.getlist("contact_ids"))))


@blueprint.get("/account-options")
@require_permission(WRITE_OPPORTUNITIES)
def account_options() -> Any:
    """The picker's matches for what was typed (``account_name``): at most
    :data:`PICKER_MATCHES` accounts the user may see, by name; one query."""
    typed = request.args.get("account_name", "").strip()[:200]
    matches = search_accounts(get_session(), typed, limit=PICKER_MATCHES) if typed else {}
    return render_template("sales/opportunities/_account_options.html", matches=list(matches.items()),
                           listbox=re.sub(r"[^\w-]", "", request.args.get("listbox", ""))[:80] or "field-account_id-listbox",
                           typed=typed)
