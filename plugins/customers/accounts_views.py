"""Account pages of the customers plugin: the list, the form, the 360° page, the trash.

Also the pieces the contact pages share (the list with normalised search, the tag filter,
the owner choices) and :func:`actions`, the header buttons of account and contact pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.access import ALL, has_permission, member_choices, require_permission, visibility_level, visible
from core.audit import record_type
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.hooks import RecordAction
from core.listing import BulkAction, Column, Filter, Listing, distinct_values
from core.models import User
from core.records import detail_context
from core.tenancy import current_company
from core.ui import flash_undo, safe_next
from plugins.customers import (
    DELETE_ACCOUNTS,
    DELETE_CONTACTS,
    MERGE_ACCOUNTS,
    MERGE_CONTACTS,
    READ_ACCOUNTS,
    WRITE_ACCOUNTS,
    WRITE_CONTACTS,
)
from plugins.customers.models import Account, AccountTag, Contact, Tag
from plugins.customers.normalize import phone_spelling
from plugins.customers.schemas import KIND_LABELS, STATUS_LABELS, AccountSchema
from plugins.customers.services import (
    create_account,
    delete_account,
    tag_names,
    update_account,
)

blueprint = Blueprint("customers_accounts", __name__, url_prefix="/customers/accounts", template_folder="templates")

ACCOUNT_TYPE = "customers.account"  # the record type in roles (visibility)
CONTACTS_ON_PAGE = 100  # contacts shown on an account's page


# -- shared list pieces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InFilter(Filter):
    """A choice filter on a related table: ``?key=value`` keeps the rows whose ``expression``
    is among ``members(value)`` (a select of ids), e.g. the accounts carrying a tag."""

    members: Callable[[Any], Any] | None = None

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        raw = (args.get(self.key) or "").strip()[:200]
        if not raw:
            return {}, {}, []
        for value, _label in options:
            if str(value) == raw and self.members is not None:
                return {self.key: raw}, {}, [self.expression.in_(self.members(value))]
        return {}, {self.key: raw}, []


def tag_choices() -> list[tuple[int, str]]:
    """The company's tags as ``(tag_id, name)``."""
    return [(tag_id, name) for tag_id, name in get_session().execute(select(Tag.id, Tag.name).order_by(Tag.name))]


def owner_name(model: type) -> Any:
    """The owner's name as a column expression (a correlated subquery: no extra query)."""
    return select(User.name).where(User.id == model.owner_id).correlate(model).scalar_subquery()


def labelled(pairs: dict[str, Any]) -> Callable[[Any], str]:
    """A column format showing the translated label of a stored value."""
    return lambda value: str(pairs.get(value, value or ""))


def actions(record_type_name: str, record: Any, user: Any) -> list[RecordAction]:
    """The header buttons of account and contact pages (for a ``record_actions`` hook)."""
    if record_type_name == record_type(Account):
        return [
            RecordAction(_("Edit"), url_for("customers_accounts.edit", account_id=record.id), icon="pencil",
                         permission=WRITE_ACCOUNTS, order=10),
            RecordAction(_("Add contact"), url_for("customers_contacts.new", account_id=record.id),
                         icon="person-plus", permission=WRITE_CONTACTS, order=20),
            RecordAction(_("Merge with…"), url_for("customers_duplicates.merge_account_with", record_id=record.id),
                         icon="intersect", permission=MERGE_ACCOUNTS, order=80),
            RecordAction(_("Move to trash"), url_for("customers_accounts.delete", account_id=record.id),
                         method="post", icon="trash", permission=DELETE_ACCOUNTS, danger=True, order=90,
                         confirm=_("Move the account “%(name)s” to the trash?", name=record.name)),
        ]
    if record_type_name == record_type(Contact):
        return [
            RecordAction(_("Edit"), url_for("customers_contacts.edit", contact_id=record.id), icon="pencil",
                         permission=WRITE_CONTACTS, order=10),
            RecordAction(_("Merge with…"), url_for("customers_duplicates.merge_contact_with", record_id=record.id),
                         icon="intersect", permission=MERGE_CONTACTS, order=80),
            RecordAction(_("Move to trash"), url_for("customers_contacts.delete", contact_id=record.id),
                         method="post", icon="trash", permission=DELETE_CONTACTS, danger=True, order=90,
                         confirm=_("Move the contact “%(name)s” to the trash?", name=record.name)),
        ]
    return []


# -- the account list ------------------------------------------------------------------------------


def _visible_accounts(statement: Select[Any] | None = None) -> Select[Any]:
    return visible(statement if statement is not None else select(Account), Account, ACCOUNT_TYPE)


def _distinct(column: Any) -> Callable[[], list[tuple[str, str]]]:
    """Choices: the distinct non-empty values of ``column`` among the accounts the user sees.

    Who sees every account gets them from the ``(company_id, column)`` index, one probe per
    value; who sees fewer, from their own accounts (a DISTINCT over those)."""
    def choices() -> list[tuple[str, str]]:
        company = current_company()
        if company is None:
            return []
        if visibility_level(current_user, ACCOUNT_TYPE, company.id) == ALL:
            table = Account.__table__.c
            values = distinct_values(table[column.key], table.company_id == company.id,
                                     table.deleted_at.is_(None), table[column.key] > "")
        else:
            values = get_session().scalars(
                _visible_accounts(select(column).where(column != "").distinct().order_by(column)))
        return [(value, value) for value in values]
    return choices


ACCOUNTS = Listing(
    Account,
    search_text=Account.search_text,  # name, emails, phones: indexed (core.textsearch)
    search_variants=phone_spelling,
    columns=[
        Column("name", _l("Name"), sortable=True),
        Column("status", _l("Status"), sortable=True, format=labelled(STATUS_LABELS)),
        Column("kind", _l("Kind"), optional=True, default=False, format=labelled(KIND_LABELS)),
        Column("industry", _l("Industry"), sortable=True, optional=True),
        Column("region", _l("Region"), sortable=True, optional=True),
        Column("tier", _l("Tier"), sortable=True, optional=True),
        Column("source", _l("Source"), sortable=True, optional=True, default=False),
        Column("email", _l("Email"), optional=True, default=False),
        Column("phone", _l("Phone"), optional=True, default=False),
        Column("owner", _l("Owner"), owner_name(Account), sortable=True, optional=True),
        Column("last_follow_up", _l("Last follow-up"), Account.last_follow_up_at, sortable=True, optional=True),
        Column("next_follow_up", _l("Next follow-up"), Account.next_follow_up_at, sortable=True, optional=True),
        Column("added", _l("Added"), Account.created_at, sortable=True, optional=True, default=False),
    ],
    filters=[
        Filter("status", _l("Status"), Account.status, choices=list(STATUS_LABELS.items())),
        Filter("kind", _l("Kind"), Account.kind, choices=list(KIND_LABELS.items())),
        Filter("industry", _l("Industry"), Account.industry, choices=_distinct(Account.industry)),
        Filter("region", _l("Region"), Account.region, choices=_distinct(Account.region)),
        Filter("tier", _l("Tier"), Account.tier, choices=_distinct(Account.tier)),
        Filter("source", _l("Source"), Account.source, choices=_distinct(Account.source)),
        Filter("owner", _l("Owner"), Account.owner_id, choices=member_choices),
        InFilter("tag", _l("Tag"), Account.id, choices=tag_choices,
                 members=lambda tag_id: select(AccountTag.account_id).where(AccountTag.tag_id == tag_id)),
    ],
    bulk_actions=[
        BulkAction("trash", _l("Move to trash"), "customers_accounts.bulk_delete", permission=DELETE_ACCOUNTS,
                   confirm=_l("Move the selected accounts to the trash?"), danger=True),
    ],
    default_sort="name",
    extra=[Account.id],
    id="customers-accounts",
    # Tens of thousands of rows: no OFFSET and no full COUNT, a count that stops at 1,000.
    pagination="keyset",
    count_limit=1000,
    export_formats=("csv", "xlsx"),
)


@blueprint.get("/")
@require_permission(READ_ACCOUNTS)
def index() -> Any:
    """The accounts the user may see: search, filters, sort, columns, export, bulk trash."""
    return ACCOUNTS.render("customers/accounts/index.html", ACCOUNTS.page(_visible_accounts()),
                           may_write=has_permission(current_user, WRITE_ACCOUNTS))


@blueprint.get("/export")
@require_permission(READ_ACCOUNTS)
def export() -> Any:
    """The accounts of the current search and filters: ``?format=csv`` (default) or ``xlsx``."""
    return ACCOUNTS.export("accounts", _visible_accounts())


@blueprint.post("/bulk/trash")
@require_permission(DELETE_ACCOUNTS)
def bulk_delete() -> Any:
    accounts = ACCOUNTS.selected(_visible_accounts())  # asks first when not confirmed
    session = get_session()
    for account in accounts:
        delete_account(session, account, current_user.id)
    flash(ngettext("%(num)s account moved to the trash.", "%(num)s accounts moved to the trash.",
                   len(accounts)), "success")
    return redirect(safe_next(request.form.get("next"), url_for("customers_accounts.index")))


# -- one account -----------------------------------------------------------------------------------


def account_or_404(account_id: int) -> Account:
    """The account if the user may see it (company, trash and visibility), else 404."""
    account = get_session().scalar(_visible_accounts().where(Account.id == account_id))
    if account is None:
        abort(404)
    return account


def account_schema() -> AccountSchema:
    """The account schema with this request's owner choices."""
    return AccountSchema(choices={"owner_id": member_choices()})


def form_initial(record: Any, schema: Any, session: Session) -> dict[str, Any]:
    """What an edit form shows first: the record's values and its tags as text."""
    values = {name: getattr(record, name) for name in schema.load_fields if hasattr(record, name)}
    values["tags"] = ", ".join(tag_names(session, record))
    return values


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(WRITE_ACCOUNTS)
def new() -> Any:
    def save(data: dict[str, Any], _form: Any) -> Any:
        session = get_session()
        account = create_account(session, current_company().id, data, current_user.id)
        flash(_("Account “%(name)s” added.", name=account.name), "success")
        return redirect(url_for("customers_accounts.detail", account_id=account.id))

    return handle_form(account_schema(), "customers/accounts/form.html", save,
                       initial={"owner_id": current_user.id}, account=None)


@blueprint.get("/<int:account_id>")
@require_permission(READ_ACCOUNTS)
def detail(account_id: int) -> Any:
    """The 360° page: profile, contacts, the panels of every plugin, the history."""
    account = account_or_404(account_id)
    session = get_session()
    context = detail_context(record_type(account), account)
    contacts = list(session.scalars(
        visible(select(Contact).where(Contact.account_id == account.id), Contact, "customers.contact")
        .order_by(Contact.name, Contact.id).limit(CONTACTS_ON_PAGE)))
    owner = session.get(User, account.owner_id) if account.owner_id else None
    return render_template("customers/accounts/detail.html", account=account, contacts=contacts, owner=owner,
                           tags=tag_names(session, account), kinds=KIND_LABELS, statuses=STATUS_LABELS,
                           may_add_contact=has_permission(current_user, WRITE_CONTACTS), **context)


@blueprint.route("/<int:account_id>/edit", methods=["GET", "POST"])
@require_permission(WRITE_ACCOUNTS)
def edit(account_id: int) -> Any:
    account = account_or_404(account_id)
    session = get_session()
    schema = account_schema()

    def save(data: dict[str, Any], _form: Any) -> Any:
        update_account(session, account, data)
        flash(_("Account saved."), "success")
        return redirect(url_for("customers_accounts.detail", account_id=account.id))

    return handle_form(schema, "customers/accounts/form.html", save,
                       initial=form_initial(account, schema, session), account=account)


@blueprint.post("/<int:account_id>/delete")
@require_permission(DELETE_ACCOUNTS)
def delete(account_id: int) -> Any:
    account = account_or_404(account_id)
    page = confirmation_required(_("Move the account “%(name)s” to the trash?", name=account.name),
                                 label=_("Move to trash"))
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    session = get_session()
    delete_account(session, account, current_user.id)
    flash_undo(_("Account “%(name)s” moved to the trash.", name=account.name),
               url_for("trash.restore_view", name=record_type(Account), record_id=account.id))
    return redirect(url_for("customers_accounts.index"))
