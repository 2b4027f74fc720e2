"""The People page of the admin console (``/admin/users``, company administrators only).

Lists the company's members and its pending invitations (inviting is the invitations page
of :mod:`core.accounts`), and on a person's page changes their role and administrator flag,
sends them a password reset link, removes them from the company, or deactivates their
account.

**Removing and deactivating.** ``User.active`` is global: it blocks signing in to every
company. So there are two actions:

* *Remove from this company* deletes the membership (and the person's places in this
  company's teams and their API tokens for it); their account and their other companies stay;
* *Deactivate account* blocks signing in everywhere. It is offered only when the
  administrator administers every company the person belongs to (an administrator of one
  company must not lock someone out of another); otherwise remove them from the company.

The last active administrator of a company can never be demoted, removed or deactivated.
Memberships and accounts have no audit trail of their own: every change is logged at INFO
(logger ``core.admin_users``) with who made it, in which company.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core.access import abort_unless_admin
from core.accounts import INVITE, pending_invitations, request_password_reset, retire_tokens
from core.auth import INVITED_PASSWORD_HASH, is_pending_invitee, signed_in
from core.db import get_session, utcnow
from core.forms import Form
from core.listing import Column, Listing
from core.models import ApiToken, Company, Membership, Role, Team, TeamMember, User
from core.tenancy import current_company

blueprint = Blueprint("core_admin_users", __name__)
log = logging.getLogger(__name__)


# -- helpers shared by the admin console pages ---------------------------------------------------


class AdminError(Exception):
    """Bad input to an admin action: the form field at fault and a message naming the problem."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status

    @property
    def errors(self) -> dict[str, str]:
        return {self.field: self.message}


def log_change(logger: logging.Logger, message: str, *args: Any) -> None:
    """Log an admin change at INFO, followed by the company and the user who made it."""
    company = current_company()
    logger.info(message + " in company %s (id %s) by user %s (id %s)", *args,
                company.slug if company else "-", company.id if company else "-",
                current_user.email, current_user.id)


def member_or_none(session: Session, company: Company, user_id: int) -> User | None:
    """The user ``user_id`` if they are a member of ``company`` (one query)."""
    return session.scalar(select(User).join(Membership, Membership.user_id == User.id)
                          .where(User.id == user_id, Membership.company_id == company.id))


def company_members(session: Session, company: Company) -> list[User]:
    """Every member of ``company`` who has an account (not pending invitees), by name."""
    return list(session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company.id, User.password_hash != INVITED_PASSWORD_HASH)
        .order_by(func.lower(User.name), User.email)))


def active_admin_ids(session: Session, company_id: int) -> set[int]:
    """The ids of ``company_id``'s administrators whose accounts are active."""
    return set(session.scalars(
        select(Membership.user_id).join(User, User.id == Membership.user_id)
        .where(Membership.company_id == company_id, Membership.is_admin.is_(True),
               User.active.is_(True))))


def is_last_admin(session: Session, company_id: int, user_id: int) -> bool:
    """Whether ``user_id`` is the only active administrator of ``company_id``."""
    return active_admin_ids(session, company_id) == {user_id}


# -- the list ------------------------------------------------------------------------------------


def _yes_no(value: Any) -> str:
    return _("Yes") if value else _("No")


PEOPLE = Listing(
    select(User).join(Membership, Membership.user_id == User.id)
    .outerjoin(Role, Role.id == Membership.role_id),
    columns=[
        Column("name", _l("Name"), User.name, sortable=True),
        Column("email", _l("Email address"), User.email, sortable=True),
        Column("role", _l("Role"), Role.name, sortable=True),
        Column("admin", _l("Administrator"), Membership.is_admin, sortable=True, format=_yes_no),
        Column("active", _l("Active"), User.active, sortable=True, format=_yes_no),
        Column("changed", _l("Last change"), User.updated_at, sortable=True),
    ],
    search=[User.name, User.email, Role.name],
    default_sort="name",
    extra=[User.id],
    id="people",
)


def _require_admin() -> Company:
    abort_unless_admin(_("Only an administrator of this company can manage its people."))
    company = current_company()
    assert company is not None  # an administrator has a company in context
    return company


@blueprint.get("/admin/users")
@signed_in
def index() -> Any:
    company = _require_admin()
    statement = PEOPLE.source.where(Membership.company_id == company.id,
                                    User.password_hash != INVITED_PASSWORD_HASH)
    return PEOPLE.render("admin/users/index.html", PEOPLE.page(statement),
                         pending=pending_invitations(get_session(), company.id))


# -- a person ------------------------------------------------------------------------------------


def _person_or_404(company: Company, user_id: int) -> tuple[User, Membership]:
    session = get_session()
    membership = session.get(Membership, (user_id, company.id))
    if membership is None:
        abort(404)
    user = membership.user
    if is_pending_invitee(user):  # not a person yet: the invitation is on the People list
        abort(404)
    return user, membership


def _other_company_ids(session: Session, user_id: int, company_id: int) -> list[int]:
    return list(session.scalars(select(Membership.company_id).where(
        Membership.user_id == user_id, Membership.company_id != company_id)))


def _deactivation_refusal(session: Session, user: User, company: Company) -> str | None:
    """Why the signed-in administrator may not (de)activate ``user``'s account, or None."""
    if user.id == current_user.id:
        return _("You cannot deactivate your own account. Ask another administrator.")
    others = _other_company_ids(session, user.id, company.id)
    administered = set(session.scalars(select(Membership.company_id).where(
        Membership.user_id == current_user.id, Membership.is_admin.is_(True))))
    if any(company_id not in administered for company_id in others):
        return _("%(name)s also works in companies you do not administer, and an account is "
                 "deactivated everywhere at once. Remove them from %(company)s instead.",
                 name=user.name or user.email, company=company.name)
    return None


def _last_admin_anywhere(session: Session, user: User) -> Company | None:
    """A company whose only active administrator is ``user``, if any."""
    for membership in session.scalars(select(Membership).where(
            Membership.user_id == user.id, Membership.is_admin.is_(True))):
        if is_last_admin(session, membership.company_id, user.id):
            return membership.company
    return None


class AccessSchema(Schema):
    """A person's access in the company: role and administrator flag. The shape only: a role
    of this company and the last administrator are the view's rules."""

    role = fields.String(load_default=None, metadata={
        "label": _l("Role"), "widget": "select", "blank": _l("No role"),
        "help": _l("Without a role, a person sees only their own records and holds no permissions."),
    })
    admin = fields.Boolean(load_default=False, metadata={
        "label": _l("Administrator"),
        "help": _l("An administrator holds every permission, sees every record and uses this console, "
                   "whatever the role."),
    })


def _access_form(company: Company, membership: Membership, last_admin: bool) -> Form:
    """The access form, with the company's roles as choices and its name in the labels."""
    form = Form.from_request(AccessSchema, {"role": membership.role_id, "admin": membership.is_admin})
    roles = get_session().scalars(select(Role).order_by(func.lower(Role.name))).all()
    form["role"].choices = [(str(role.id), role.name) for role in roles]
    admin = form["admin"]
    admin.label = _("Administrator of %(company)s", company=company.name)
    if last_admin:
        admin.help = " ".join((admin.help, _(
            "This is the last administrator: make someone else one before taking this away.")))
    return form


def _render_person(company: Company, user: User, membership: Membership,
                   errors: dict[str, str] | None = None, status: int = 200,
                   form: Form | None = None) -> tuple[str, int]:
    """The person's page: ``form`` is the access form (as saved when ``None``); ``errors``
    those of the password, remove and account forms."""
    session = get_session()
    teams = session.scalars(
        select(Team).where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
        .order_by(func.lower(Team.name))).all()
    last_admin = membership.is_admin and is_last_admin(session, company.id, user.id)
    if form is None:
        form = _access_form(company, membership, last_admin)
    return render_template(
        "admin/users/detail.html", person=user, membership=membership, form=form, teams=teams,
        other_companies=len(_other_company_ids(session, user.id, company.id)),
        last_admin=last_admin,
        deactivation_refusal=_deactivation_refusal(session, user, company),
        is_self=user.id == current_user.id,
        errors=errors or {},
    ), status


def _back(user: User) -> Response:
    return redirect(url_for("core_admin_users.detail", user_id=user.id))


@blueprint.get("/admin/users/<int(max=2147483647):user_id>")
@signed_in
def detail(user_id: int) -> tuple[str, int]:
    company = _require_admin()
    return _render_person(company, *_person_or_404(company, user_id))


def company_role(session: Session, value: str | None, field: str, refusal: str) -> Role | None:
    """The role of the company in scope whose id is ``value`` (a form's text), None when
    ``value`` is empty; :class:`AdminError` with ``refusal`` on ``field`` for anything else,
    including another company's role (the scoped session does not find it)."""
    value = (value or "").strip()
    if not value:
        return None
    role = session.get(Role, int(value)) if value.isdigit() and len(value) <= 9 else None
    if role is None:
        raise AdminError(field, refusal)
    return role


def _company_role(session: Session, company: Company, value: str | None) -> Role | None:
    return company_role(session, value, "role", _("Choose one of the roles of %(company)s.", company=company.name))


@blueprint.post("/admin/users/<int(max=2147483647):user_id>/access")
@signed_in
def update_access(user_id: int) -> Response | tuple[str, int]:
    """Change the person's role and administrator flag."""
    company = _require_admin()
    user, membership = _person_or_404(company, user_id)
    session = get_session()
    form = _access_form(company, membership, membership.is_admin and is_last_admin(session, company.id, user.id))
    data = form.validate()
    if data is None:
        return _render_person(company, user, membership, status=422, form=form)
    admin = data["admin"]
    try:
        role = _company_role(session, company, data["role"])
    except AdminError as error:
        form.fail(error.message, error.field)
        return _render_person(company, user, membership, status=error.status, form=form)
    if membership.is_admin and not admin and is_last_admin(session, company.id, user.id):
        form.fail(_("%(name)s is the last administrator of %(company)s and stays one. Make someone "
                    "else an administrator first.", name=user.name or user.email, company=company.name), "admin")
        return _render_person(company, user, membership, status=409, form=form)
    before = (membership.role_id, membership.is_admin)
    membership.role_id, membership.is_admin = (role.id if role else None), admin
    if before != (membership.role_id, membership.is_admin):
        log_change(log, "user %s (id %s) changed: role id %s -> %s, administrator %s -> %s",
                   user.email, user.id, before[0], membership.role_id, before[1], admin)
    flash(_("%(name)s's access is saved.", name=user.name or user.email), "success")
    if user.id == current_user.id and not admin:  # no longer allowed in the admin console
        return redirect(url_for("core.home"))
    return _back(user)


def _confirmed(company: Company, user: User, membership: Membership, key: str,
               message: str) -> tuple[str, int] | None:
    """The page again with ``message`` (under ``key``) unless the confirmation box is ticked."""
    if request.form.get("confirm") == "yes":
        return None
    return _render_person(company, user, membership, {key: message}, 422)


@blueprint.post("/admin/users/<int(max=2147483647):user_id>/remove")
@signed_in
def remove(user_id: int) -> Response | tuple[str, int]:
    """Remove the person from this company: membership, teams and API tokens of the company."""
    company = _require_admin()
    user, membership = _person_or_404(company, user_id)
    session = get_session()
    name = user.name or user.email
    if membership.is_admin and is_last_admin(session, company.id, user.id):
        return _render_person(company, user, membership, {"remove": _(
            "%(name)s is the last administrator of %(company)s and cannot be removed. Make "
            "someone else an administrator first.", name=name, company=company.name)}, 409)
    refusal = _confirmed(company, user, membership, "remove", _(
        "Tick the box to confirm that %(name)s should be removed from %(company)s.",
        name=name, company=company.name))
    if refusal is not None:
        return refusal
    teams = select(Team.id).where(Team.company_id == company.id)
    session.execute(delete(TeamMember).where(TeamMember.user_id == user.id, TeamMember.team_id.in_(teams))
                    .execution_options(synchronize_session=False))
    session.execute(update(Team).where(Team.company_id == company.id, Team.manager_id == user.id)
                    .values(manager_id=None).execution_options(synchronize_session=False))
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.company_id == company.id,
                                           ApiToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    retire_tokens(session, user.id, INVITE, company.id)
    session.delete(membership)
    session.flush()
    log_change(log, "user %s (id %s) removed from the company", user.email, user.id)
    flash(_("%(name)s is removed from %(company)s. Their records stay; invite them again to "
            "undo this.", name=name, company=company.name), "success")
    if user.id == current_user.id:
        return redirect(url_for("core.home"))
    return redirect(url_for("core_admin_users.index"))


@blueprint.post("/admin/users/<int(max=2147483647):user_id>/deactivate")
@signed_in
def deactivate(user_id: int) -> Response | tuple[str, int]:
    """Block the person's account from signing in anywhere."""
    company = _require_admin()
    user, membership = _person_or_404(company, user_id)
    session = get_session()
    name = user.name or user.email
    refusal = _deactivation_refusal(session, user, company)
    if refusal is None:
        sole = _last_admin_anywhere(session, user)
        if sole is not None:
            refusal = _("%(name)s is the last administrator of %(company)s and cannot be "
                        "deactivated. Make someone else an administrator first.",
                        name=name, company=sole.name)
    if refusal is not None:
        return _render_person(company, user, membership, {"active": refusal}, 409)
    if not user.active:
        flash(_("%(name)s's account was deactivated already.", name=name), "info")
        return _back(user)
    unconfirmed = _confirmed(company, user, membership, "active", _(
        "Tick the box to confirm that %(name)s's account should be deactivated.", name=name))
    if unconfirmed is not None:
        return unconfirmed
    user.active = False
    log_change(log, "user %s (id %s) deactivated", user.email, user.id)
    flash(_("%(name)s's account is deactivated: they cannot sign in any more. Reactivate it "
            "to undo this.", name=name), "success")
    return _back(user)


@blueprint.post("/admin/users/<int(max=2147483647):user_id>/reactivate")
@signed_in
def reactivate(user_id: int) -> Response | tuple[str, int]:
    company = _require_admin()
    user, membership = _person_or_404(company, user_id)
    session = get_session()
    refusal = _deactivation_refusal(session, user, company)
    if refusal is not None:
        return _render_person(company, user, membership, {"active": refusal}, 409)
    if not user.active:
        user.active = True
        log_change(log, "user %s (id %s) reactivated", user.email, user.id)
    flash(_("%(name)s's account is active: they can sign in again.", name=user.name or user.email), "success")
    return _back(user)


@blueprint.post("/admin/users/<int(max=2147483647):user_id>/password-reset")
@signed_in
def send_password_reset(user_id: int) -> Response | tuple[str, int]:
    """Mail the person a link to choose a new password (as the forgotten-password page does)."""
    company = _require_admin()
    user, membership = _person_or_404(company, user_id)
    if not user.active:
        return _render_person(company, user, membership, {"reset": _(
            "%(name)s's account is deactivated: reactivate it before sending a password reset link.",
            name=user.name or user.email)}, 409)
    request_password_reset(get_session(), user.email)
    log_change(log, "password reset link requested for user %s (id %s)", user.email, user.id)
    flash(_("A password reset link is on its way to %(email)s, unless one was sent in the last "
            "5 minutes. It works once, for an hour.", email=user.email), "success")
    return _back(user)

