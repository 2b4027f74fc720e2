"""The Companies page of the admin console (``/admin/companies``): the companies the
signed-in administrator belongs to, renaming the current one, and creating a new one; and
:func:`create_company`, which ``crm companies create`` shares with it.

A new company gets the roles the installed plugins offer (:func:`core.access.seed_roles`) and,
like ``crm companies create``, no plugin enabled: its administrator enables the apps it needs
on the Apps page. Whoever creates it from this page becomes its administrator; switching to it
is the company switcher's job. Companies have no audit trail of their own: every change is
logged at INFO (logger ``core.admin_companies``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core.access import abort_unless_admin, seed_roles
from core.admin_users import AdminError, log_change
from core.auth import signed_in
from core.db import get_session
from core.forms import Form, render_form
from core.listing import Column, Listing
from core.models import Company, Membership, User
from core.tenancy import current_company

blueprint = Blueprint("core_admin_companies", __name__)
log = logging.getLogger(__name__)

COMPANY_NAME_MAX = 200  # core_company.name
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


# -- the rules (shared with ``crm companies create``) --------------------------------------------


def clean_company_name(name: str) -> str:
    """``name`` stripped if it can name a company; :class:`AdminError` on ``name`` if not."""
    name = (name or "").strip()
    if not name or len(name) > COMPANY_NAME_MAX:
        raise AdminError("name", _("Give the company a name of 1 to %(max)d characters.", max=COMPANY_NAME_MAX))
    return name


def clean_slug(session: Session, slug: str) -> str:
    """``slug`` if it is well formed and free; :class:`AdminError` on ``slug`` if not."""
    slug = (slug or "").strip()
    if not SLUG_PATTERN.match(slug):
        raise AdminError("slug", _(
            "'%(slug)s' must be lower-case letters, digits and dashes (at most 63), starting "
            "with a letter or digit.", slug=slug))
    if session.scalar(select(Company.id).where(Company.slug == slug)) is not None:
        raise AdminError("slug", _("A company '%(slug)s' exists already; choose another short name.", slug=slug))
    return slug


def create_company(session: Session, name: str, slug: str, administrator: User | None = None) -> Company:
    """Validate and add a company with the roles the installed plugins offer (flushed, not
    committed). ``administrator``, if given, becomes its administrator. No plugin is enabled.
    Raises :class:`core.admin_users.AdminError` (field ``name`` or ``slug``)."""
    name = clean_company_name(name)
    slug = clean_slug(session, slug)
    company = Company(name=name, slug=slug)
    session.add(company)
    session.flush()
    if administrator is not None:
        session.add(Membership(user_id=administrator.id, company_id=company.id, is_admin=True))
    seed_roles(session, company)
    session.flush()
    return company


# -- the pages -----------------------------------------------------------------------------------


COMPANIES = Listing(
    select(Company).join(Membership, Membership.company_id == Company.id),
    columns=[
        Column("name", _l("Company"), Company.name, sortable=True),
        Column("slug", _l("Short name"), Company.slug, sortable=True),
        Column("admin", _l("You administer it"), Membership.is_admin, sortable=True),
    ],
    search=[Company.name, Company.slug],
    default_sort="name",
    extra=[Company.id],
    id="companies",
)


def _require_admin() -> Company:
    abort_unless_admin(_("Only an administrator of this company can open the Companies page."))
    company = current_company()
    assert company is not None  # an administrator has a company in context
    return company


NAME_RULE = _l("Give the company a name of 1 to %(max)d characters.", max=COMPANY_NAME_MAX)


def _name_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=COMPANY_NAME_MAX, error=NAME_RULE),
                         error_messages={"required": NAME_RULE}, metadata={"label": _l("Name")})


class RenameSchema(Schema):
    """Renaming the company in context."""

    name = _name_field()


class NewCompanySchema(Schema):
    """A new company (the shape only: a well-formed, free short name is :func:`clean_slug`'s
    rule, which ``crm companies create`` shares)."""

    name = _name_field()
    slug = fields.String(required=True, metadata={
        "label": _l("Short name"),
        "help": _l("Unique; lower-case letters, digits and dashes, such as “north-office”. Used by the crm command line."),
        "attrs": {"maxlength": 63, "pattern": r"[a-z0-9][a-z0-9\-]*", "autocapitalize": "none", "spellcheck": "false"},
    })


def _render_index(form: Form | None = None) -> Any:
    company = current_company()
    assert company is not None
    if form is None:
        form = Form(RenameSchema, {"name": company.name})
    statement = COMPANIES.source.where(Membership.user_id == current_user.id)
    response = COMPANIES.render("admin/companies/index.html", COMPANIES.page(statement), form=form)
    response.status_code = 422 if form.has_errors else 200
    return response


@blueprint.get("/admin/companies")
@signed_in
def index() -> Any:
    _require_admin()
    return _render_index()


@blueprint.post("/admin/companies/current")
@signed_in
def rename() -> Any:
    """Rename the company in context."""
    company = _require_admin()
    form = Form.from_request(RenameSchema)
    data = form.validate()
    if data is None:
        return _render_index(form)
    try:
        name = clean_company_name(data["name"])
    except AdminError as error:
        form.fail(error.message, error.field)
        return _render_index(form)
    if name != company.name:
        log_change(log, "company renamed from %r to %r", company.name, name)
        company.name = name
    flash(_("The company is called %(company)s now.", company=name), "success")
    return redirect(url_for("core_admin_companies.index"))


@blueprint.route("/admin/companies/new", methods=["GET", "POST"])
@signed_in
def new() -> Response | tuple[str, int]:
    _require_admin()
    form = Form.from_request(NewCompanySchema)
    data = form.validate_on_submit()
    if data is not None:
        session = get_session()
        try:
            created = create_company(session, data["name"], data["slug"], session.get(User, current_user.id))
        except AdminError as error:
            form.fail(error.message, error.field)
        else:
            log_change(log, "company %s (id %s) created", created.slug, created.id)
            flash(_("%(company)s is created and you are its administrator. Switch to it below to "
                    "enable its apps and invite people.", company=created.name), "success")
            return redirect(url_for("core_admin_companies.index"))
    return render_form("admin/companies/new.html", form)
