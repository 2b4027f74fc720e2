"""Contact pages of the customers plugin: the list, the form, the contact's page, the trash."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import Select, select

from core.access import has_permission, member_choices, require_permission, visible
from core.audit import record_type
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.listing import BooleanFilter, BulkAction, Column, Filter, Listing
from core.models import User
from core.records import detail_context
from core.tenancy import current_company
from core.ui import flash_undo, safe_next
from plugins.customers import DELETE_CONTACTS, READ_CONTACTS, WRITE_CONTACTS
from plugins.customers.accounts_views import (
    ACCOUNT_TYPE,
    InFilter,
    form_initial,
    owner_name,
    tag_choices,
)
from plugins.customers.models import Account, Contact, ContactTag
from plugins.customers.normalize import phone_spelling
from plugins.customers.schemas import ContactSchema
from plugins.customers.services import (
    create_contact,
    delete_contact,
    tag_names,
    update_contact,
)

blueprint = Blueprint("customers_contacts", __name__, url_prefix="/customers/contacts", template_folder="templates")

CONTACT_TYPE = "customers.contact"  # the record type in roles (visibility)
ACCOUNT_CHOICES_LIMIT = 1000  # accounts offered in the contact form's select


def _visible_contacts(statement: Select[Any] | None = None) -> Select[Any]:
    return visible(statement if statement is not None else select(Contact), Contact, CONTACT_TYPE)


def account_choices() -> list[tuple[int, str]]:
    """The accounts the user may see, as ``(id, name)``: where a contact may work."""
    statement = visible(select(Account.id, Account.name), Account, ACCOUNT_TYPE)
    return [(account_id, name) for account_id, name in
            get_session().execute(statement.order_by(Account.name, Account.id).limit(ACCOUNT_CHOICES_LIMIT))]


def _account_name() -> Any:
    return select(Account.name).where(Account.id == Contact.account_id).correlate(Contact).scalar_subquery()


def _yes_no(value: Any) -> str:
    return _("Yes") if value else _("No")


CONTACTS = Listing(
    Contact,
    search_text=Contact.search_text,  # name, emails, phones: indexed (core.textsearch)
    search_variants=phone_spelling,
    columns=[
        Column("name", _l("Name"), sortable=True),
        Column("title", _l("Job title"), sortable=True, optional=True),
        Column("account", lazy_pgettext("customer", "Account"), _account_name(), sortable=True, optional=True),
        Column("email", _l("Email"), sortable=True, optional=True),
        Column("phone", _l("Phone"), optional=True),
        Column("owner", _l("Owner"), owner_name(Contact), sortable=True, optional=True),
        Column("department", _l("Department"), optional=True, default=False),
        Column("consent_email", _l("Email consent"), optional=True, default=False, format=_yes_no),
        Column("consent_phone", _l("Phone consent"), optional=True, default=False, format=_yes_no),
        Column("consent_sms", _l("Text message consent"), optional=True, default=False, format=_yes_no),
        Column("added", _l("Added"), Contact.created_at, sortable=True, optional=True, default=False),
    ],
    filters=[
        Filter("account", lazy_pgettext("customer", "Account"), Contact.account_id, choices=account_choices),
        Filter("owner", _l("Owner"), Contact.owner_id, choices=member_choices),
        InFilter("tag", _l("Tag"), Contact.id, choices=tag_choices,
                 members=lambda tag_id: select(ContactTag.contact_id).where(ContactTag.tag_id == tag_id)),
        BooleanFilter("consent_email", _l("Email consent"), Contact.consent_email),
        BooleanFilter("consent_phone", _l("Phone consent"), Contact.consent_phone),
        BooleanFilter("consent_sms", _l("Text message consent"), Contact.consent_sms),
    ],
    bulk_actions=[
        BulkAction("trash", _l("Move to trash"), "customers_contacts.bulk_delete", permission=DELETE_CONTACTS,
                   confirm=_l("Move the selected contacts to the trash?"), danger=True),
    ],
    default_sort="name",
    extra=[Contact.id, Contact.account_id],
    id="customers-contacts",
    # Tens of thousands of rows: no OFFSET and no full COUNT, a count that stops at 1,000.
    pagination="keyset",
    count_limit=1000,
    export_formats=("csv", "xlsx"),
)


@blueprint.get("/")
@require_permission(READ_CONTACTS)
def index() -> Any:
    """The contacts the user may see: search, filters, sort, columns, export, bulk trash."""
    return CONTACTS.render("customers/contacts/index.html", CONTACTS.page(_visible_contacts()),
                           may_write=has_permission(current_user, WRITE_CONTACTS))


@blueprint.get("/export")
@require_permission(READ_CONTACTS)
def export() -> Any:
    """The contacts of the current search and filters: ``?format=csv`` (default) or ``xlsx``."""
    return CONTACTS.export("contacts", _visible_contacts())


@blueprint.post("/bulk/trash")
@require_permission(DELETE_CONTACTS)
def bulk_delete() -> Any:
    contacts = CONTACTS.selected(_visible_contacts())  # asks first when not confirmed
    session = get_session()
    for contact in contacts:
        delete_contact(session, contact, current_user.id)
    flash(ngettext("%(num)s contact moved to the trash.", "%(num)s contacts moved to the trash.",
                   len(contacts)), "success")
    return redirect(safe_next(request.form.get("next"), url_for("customers_contacts.index")))


def contact_or_404(contact_id: int) -> Contact:
    """The contact if the user may see it (company, trash and visibility), else 404."""
    contact = get_session().scalar(_visible_contacts().where(Contact.id == contact_id))
    if contact is None:
        abort(404)
    return contact


def contact_schema() -> ContactSchema:
    """The contact schema with this request's owner and account choices."""
    return ContactSchema(choices={"owner_id": member_choices(), "account_id": account_choices()})


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(WRITE_CONTACTS)
def new() -> Any:
    """A new contact; ``?account_id=`` chooses the account first (the account page's link)."""
    def save(data: dict[str, Any], _form: Any) -> Any:
        contact = create_contact(get_session(), current_company().id, data, current_user.id)
        flash(_("Contact “%(name)s” added.", name=contact.name), "success")
        return redirect(url_for("customers_contacts.detail", contact_id=contact.id))

    initial = {"owner_id": current_user.id, "account_id": request.args.get("account_id", type=int)}
    return handle_form(contact_schema(), "customers/contacts/form.html", save, initial=initial, contact=None)


@blueprint.get("/<int:contact_id>")
@require_permission(READ_CONTACTS)
def detail(contact_id: int) -> Any:
    """The contact's page: profile, consent, the panels of every plugin, the history."""
    contact = contact_or_404(contact_id)
    session = get_session()
    context = detail_context(record_type(contact), contact)
    account = None
    if contact.account_id is not None:  # shown as a link only when the user may see it
        account = session.scalar(visible(select(Account).where(Account.id == contact.account_id),
                                         Account, ACCOUNT_TYPE))
    owner = session.get(User, contact.owner_id) if contact.owner_id else None
    return render_template("customers/contacts/detail.html", contact=contact, account=account, owner=owner,
                           tags=tag_names(session, contact), **context)


@blueprint.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@require_permission(WRITE_CONTACTS)
def edit(contact_id: int) -> Any:
    contact = contact_or_404(contact_id)
    session = get_session()
    schema = contact_schema()

    def save(data: dict[str, Any], _form: Any) -> Any:
        update_contact(session, contact, data)
        flash(_("Contact saved."), "success")
        return redirect(url_for("customers_contacts.detail", contact_id=contact.id))

    return handle_form(schema, "customers/contacts/form.html", save,
                       initial=form_initial(contact, schema, session), contact=contact)


@blueprint.post("/<int:contact_id>/delete")
@require_permission(DELETE_CONTACTS)
def delete(contact_id: int) -> Any:
    contact = contact_or_404(contact_id)
    page = confirmation_required(_("Move the contact “%(name)s” to the trash?", name=contact.name),
                                 label=_("Move to trash"))
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    delete_contact(get_session(), contact, current_user.id)
    flash_undo(_("Contact “%(name)s” moved to the trash.", name=contact.name),
               url_for("trash.restore_view", name=record_type(Contact), record_id=contact.id))
    return redirect(url_for("customers_contacts.index"))
