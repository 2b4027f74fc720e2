"""People's own account pages: change a password, reset a forgotten one, invitations.

Pages (blueprint ``core_accounts``):

* ``/account/password``: the signed-in user changes their password (current one required);
* ``/password/reset``: ask for a reset link by email; the answer is the same whether or not
  the address has an account;
* ``/password/reset/<token>``: choose a new password (the link works once, for an hour);
* ``/invitations``: invite people by email and see pending invitations (permission
  ``core.users.invite``, which administrators hold);
* ``/invite/<token>``: the invited person chooses their name and password (once, 7 days).

Tokens are random (32 bytes), sent only by mail, and stored as their SHA-256 hash in
``core_user_token``. An invited person who has no account yet gets an inactive one, with a
membership of the company, that becomes active when they accept.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as http_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core.access import INVITE_PERMISSION, has_permission, is_admin, permissions_of, require_permission
from core.auth import (
    INVITED_PASSWORD_HASH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, find_user_by_email,
    is_pending_invitee, public, record_sign_in_attempt, sign_in_refusal, signed_in,
)
from core.db import get_session, utcnow
from core.forms import field_errors, form_data
from core.mail import MailError, external_url, send_mail
from core.models import Company, Membership, Role, RolePermission, User, UserToken
from core.tenancy import current_company

blueprint = Blueprint("core_accounts", __name__)
logger = logging.getLogger("atrium.accounts")

RESET = "reset"
INVITE = "invite"
RESET_LIFETIME = timedelta(hours=1)
INVITE_LIFETIME = timedelta(days=7)
# At most one reset mail per account in this time, so the form cannot flood an inbox.
RESET_MAIL_INTERVAL = timedelta(minutes=5)
PENDING_LIST_LIMIT = 100


# -- tokens --------------------------------------------------------------------------------------


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user_id: int, purpose: str, lifetime: timedelta,
                company_id: int | None = None) -> str:
    """A new token for ``user_id``; only its hash is stored. Returns the token to mail."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserToken(user_id=user_id, purpose=purpose, token_hash=hash_token(raw),
                          company_id=company_id, created_at=now, expires_at=now + lifetime))
    session.flush()
    return raw


def valid_token(session: Session, raw: str, purpose: str) -> UserToken | None:
    """The unused, unexpired token of ``purpose`` whose hash matches ``raw``."""
    if not raw or len(raw) > 200:
        return None
    return session.scalar(select(UserToken).where(
        UserToken.token_hash == hash_token(raw), UserToken.purpose == purpose,
        UserToken.used_at.is_(None), UserToken.expires_at > utcnow(),
    ))


def use_token(session: Session, token: UserToken) -> bool:
    """Mark ``token`` used; False if another request used it first (single use)."""
    result = session.execute(
        update(UserToken).where(UserToken.id == token.id, UserToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)
    )
    session.refresh(token)
    return result.rowcount == 1


def retire_tokens(session: Session, user_id: int, purpose: str, company_id: int | None = None) -> None:
    """Mark every unused token of ``user_id`` for ``purpose`` (and ``company_id``) used."""
    condition = [UserToken.user_id == user_id, UserToken.purpose == purpose, UserToken.used_at.is_(None)]
    if company_id is not None:
        condition.append(UserToken.company_id == company_id)
    session.execute(update(UserToken).where(*condition).values(used_at=utcnow())
                    .execution_options(synchronize_session=False))


# -- validation ----------------------------------------------------------------------------------


def _password_field() -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=MIN_PASSWORD_LENGTH,
                            error=_l("Choose a password of at least {min} characters.")),
            validate.Length(max=MAX_PASSWORD_LENGTH,
                            error=_l("Choose a password of at most {max} characters.")),
        ],
        error_messages={"required": _l("Choose a password.")},
    )


class NewPasswordSchema(Schema):
    password = _password_field()
    confirm = fields.String(load_default="")

    @validates_schema
    def passwords_match(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("password") != data.get("confirm"):
            raise ValidationError(_l("The two passwords are not the same; type the new one twice."), "confirm")


class ChangePasswordSchema(NewPasswordSchema):
    current = fields.String(
        required=True, validate=validate.Length(min=1, error=_l("Enter your current password.")),
        error_messages={"required": _l("Enter your current password.")},
    )


class AcceptInvitationSchema(NewPasswordSchema):
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, error=_l("Enter your name.")),
                  validate.Length(max=200, error=_l("Use at most {max} characters."))],
        error_messages={"required": _l("Enter your name.")},
    )

    @pre_load
    def strip_name(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if isinstance(data.get("name"), str):
            data = {**data, "name": data["name"].strip()}
        return data


def _email_field() -> fields.String:
    return fields.String(
        required=True,
        validate=[validate.Email(error=_l("Enter an email address such as name@example.com.")),
                  validate.Length(max=254, error=_l("Use at most {max} characters."))],
        error_messages={"required": _l("Enter an email address.")},
    )


class _StripEmail:
    @pre_load
    def strip_email(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return data


class ResetRequestSchema(_StripEmail, Schema):
    email = _email_field()


class InviteSchema(_StripEmail, Schema):
    email = _email_field()
    role = fields.String(load_default="")
    admin = fields.Boolean(load_default=False)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.after_request
def _keep_tokens_private(response: Response) -> Response:
    """Pages whose address holds a token: never sent on as a referrer, never cached."""
    if request.view_args and "token" in request.view_args:
        response.headers["Referrer-Policy"] = "no-referrer"
        _no_store(response)
    return response


@blueprint.app_template_global("has_permission")
def _has_permission_global(user: Any, code: str) -> bool:
    return has_permission(user, code)


blueprint.add_app_template_global(MIN_PASSWORD_LENGTH, "min_password_length")
blueprint.add_app_template_global(INVITE_PERMISSION, "INVITE_PERMISSION")


# -- changing one's password ---------------------------------------------------------------------


@blueprint.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("account/password.html", errors={})
    refusal = sign_in_refusal(current_user.email)
    if refusal is not None:
        return render_template("account/password.html", errors={"current": refusal}), 429
    try:
        data = ChangePasswordSchema().load(form_data())
    except ValidationError as error:
        return render_template("account/password.html", errors=field_errors(error, ChangePasswordSchema)), 422
    if not current_user.check_password(data["current"]):
        record_sign_in_attempt(current_user.email, succeeded=False)
        return render_template("account/password.html",
                               errors={"current": _("That is not your current password.")}), 422
    session = get_session()
    user = session.get(User, current_user.id)
    user.set_password(data["password"])
    retire_tokens(session, user.id, RESET)  # a reset link sent earlier no longer works
    # The new password ends every other session (User.get_id); this one carries on.
    login_user(user, remember=current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies)
    flash(_("Your password has been changed."), "success")
    return redirect(url_for("core.home"))


# -- resetting a forgotten password --------------------------------------------------------------


def request_password_reset(session: Session, email: str) -> None:
    """Mail a reset link to ``email`` if it belongs to an active account (else do nothing)."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    recent = session.scalar(select(UserToken.id).where(
        UserToken.user_id == user.id, UserToken.purpose == RESET,
        UserToken.created_at > utcnow() - RESET_MAIL_INTERVAL).limit(1))
    if recent is not None:
        return
    raw = issue_token(session, user.id, RESET, RESET_LIFETIME)
    link = external_url("core_accounts.reset_password", token=raw)
    try:
        send_mail(user.email, _("Reset your Atrium CRM password"), _(
            "Someone, probably you, asked to reset the password of the Atrium CRM account "
            "%(email)s.\n\nTo choose a new password, open this link within an hour. It works "
            "once:\n%(link)s\n\nIf you did not ask for this, ignore this message; your "
            "password stays as it is.\n", email=user.email, link=link))
    except MailError:
        # Logged by core.mail. The page says the same as always: it must not tell who exists.
        pass


@blueprint.route("/password/reset", methods=["GET", "POST"])
@public
def reset_request() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("account/reset_request.html", errors={}, values={})
    try:
        data = ResetRequestSchema().load(form_data())
    except ValidationError as error:
        return render_template("account/reset_request.html", errors=field_errors(error, ResetRequestSchema),
                               values=request.form), 422
    request_password_reset(get_session(), data["email"])
    return render_template("account/reset_sent.html", email=data["email"])


def _invalid_link(kind: str) -> tuple[str, int]:
    return render_template("account/invalid_link.html", kind=kind), 404


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> str | Response | tuple[str, int]:
    session = get_session()
    found = valid_token(session, token, RESET)
    user = session.get(User, found.user_id) if found is not None else None
    if found is None or user is None or not user.active:
        return _invalid_link(RESET)
    if request.method == "GET":
        return render_template("account/reset_password.html", errors={}, email=user.email)
    try:
        data = NewPasswordSchema().load(form_data())
    except ValidationError as error:
        return render_template("account/reset_password.html", errors=field_errors(error, NewPasswordSchema),
                               email=user.email), 422
    if not use_token(session, found):
        return _invalid_link(RESET)
    user.set_password(data["password"])
    retire_tokens(session, user.id, RESET)
    record_sign_in_attempt(user.email, succeeded=True)  # earlier failures stop counting
    login_user(user)
    flash(_("Your new password is set, and you are signed in."), "success")
    return redirect(url_for("core.home"))


# -- invitations ---------------------------------------------------------------------------------


class InvitationError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _company_roles(session: Session, company_id: int) -> list[Role]:
    return list(session.scalars(select(Role).where(Role.company_id == company_id)
                                .order_by(func.lower(Role.name))))


def _chosen_role(session: Session, company: Company, inviter: User, value: str) -> Role | None:
    if not value:
        return None
    role = session.get(Role, int(value)) if value.isascii() and value.isdigit() and len(value) <= 9 else None
    if role is None or role.company_id != company.id:
        raise InvitationError("role", _("Choose one of the roles of %(company)s.", company=company.name))
    if not is_admin(inviter, company.id):
        codes = set(session.scalars(select(RolePermission.code).where(RolePermission.role_id == role.id)))
        missing = codes - permissions_of(inviter, company.id)
        if missing:
            raise InvitationError("role", _(
                "Only an administrator can give the role %(role)s: it has permissions you do not have.",
                role=role.name))
    return role


def invite(session: Session, company: Company, inviter: User, email: str,
           role: Role | None, admin: bool) -> str:
    """Invite ``email`` to ``company``; mail them; return what happened for the flash message.

    A new address gets an inactive account and a link to accept; a pending invitee gets a
    fresh link (earlier ones stop working); an active user is added to the company at once.
    Raises :class:`InvitationError` (a field and a message) or :class:`core.mail.MailError`.
    """
    email = email.strip().lower()
    user = find_user_by_email(email)
    membership = session.get(Membership, (user.id, company.id)) if user is not None else None
    if user is not None and not user.active and not is_pending_invitee(user):
        raise InvitationError("email", _("The account %(email)s is deactivated; it cannot be invited.",
                                         email=user.email))
    if membership is not None and user is not None and user.active:
        raise InvitationError("email", _("%(email)s is already a member of %(company)s.",
                                         email=user.email, company=company.name))
    if user is None:
        user = User(email=email, name="", password_hash=INVITED_PASSWORD_HASH, active=False)
        session.add(user)
        session.flush()
    if membership is None:
        membership = Membership(user_id=user.id, company_id=company.id)
        session.add(membership)
    membership.role_id = role.id if role is not None else None
    membership.is_admin = admin
    session.flush()

    values = {"inviter": inviter.name or inviter.email, "company": company.name}
    if user.active:
        send_mail(user.email, _("You now have access to %(company)s on Atrium CRM", **values), _(
            "%(inviter)s added you to %(company)s on Atrium CRM. Sign in as usual to work "
            "there:\n%(link)s\n", link=external_url("core.login"), **values))
        return _("%(email)s already had an account and now belongs to %(company)s.",
                 email=user.email, company=company.name)
    retire_tokens(session, user.id, INVITE, company.id)
    raw = issue_token(session, user.id, INVITE, INVITE_LIFETIME, company.id)
    send_mail(user.email, _("%(inviter)s invites you to %(company)s on Atrium CRM", **values), _(
        "%(inviter)s invites you to work in %(company)s on Atrium CRM.\n\nTo accept, open this "
        "link and choose your name and a password. It works once, for 7 days:\n%(link)s\n\n"
        "If you did not expect this, ignore this message.\n",
        link=external_url("core_accounts.accept_invitation", token=raw), **values))
    return _("Invitation sent to %(email)s.", email=user.email)


def pending_invitations(session: Session, company_id: int) -> list[dict[str, Any]]:
    """The company's unused invitations, newest first, with whether each has expired."""
    rows = session.execute(
        select(UserToken.id, UserToken.created_at, UserToken.expires_at, User.email,
               Membership.is_admin, Role.name)
        .join(User, User.id == UserToken.user_id)
        .outerjoin(Membership, and_(Membership.user_id == UserToken.user_id,
                                    Membership.company_id == UserToken.company_id))
        .outerjoin(Role, Role.id == Membership.role_id)
        .where(UserToken.purpose == INVITE, UserToken.company_id == company_id,
               UserToken.used_at.is_(None))
        .order_by(UserToken.created_at.desc(), UserToken.id.desc())
        .limit(PENDING_LIST_LIMIT)
    ).all()
    now = utcnow()
    return [
        {"id": token_id, "email": email, "created_at": created, "expires_at": expires,
         "expired": _aware(expires) <= now, "admin": bool(admin), "role": role_name}
        for token_id, created, expires, email, admin, role_name in rows
    ]


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _render_invitations(company: Company, errors: dict[str, str] | None = None,
                        values: Any = None, status: int = 200) -> tuple[str, int]:
    session = get_session()
    return render_template(
        "account/invitations.html",
        pending=pending_invitations(session, company.id),
        roles=_company_roles(session, company.id),
        can_make_admins=is_admin(current_user, company.id),
        limit=PENDING_LIST_LIMIT,
        errors=errors or {},
        values=values or {},
    ), status


@blueprint.route("/invitations", methods=["GET", "POST"])
@require_permission(INVITE_PERMISSION)
def invitations() -> Response | tuple[str, int]:
    company = current_company()
    if company is None:  # require_permission already refused; for type checkers
        abort(403)
    if request.method == "GET":
        return _render_invitations(company)
    try:
        data = InviteSchema().load(form_data())
    except ValidationError as error:
        return _render_invitations(company, field_errors(error, InviteSchema), request.form, 422)
    session = get_session()
    inviter = session.get(User, current_user.id)
    try:
        if data["admin"] and not is_admin(inviter, company.id):
            raise InvitationError("admin", _("Only an administrator can invite administrators."))
        role = _chosen_role(session, company, inviter, data["role"])
        message = invite(session, company, inviter, data["email"], role, data["admin"])
    except InvitationError as error:
        return _render_invitations(company, {error.field: error.message}, request.form, 422)
    except MailError:
        return _render_invitations(company, {"_form": _(
            "The invitation could not be sent: the mail server did not accept it. Nothing was "
            "changed; try again later.")}, request.form, 503)
    flash(message, "success")
    return redirect(url_for("core_accounts.invitations"))


@blueprint.post("/invitations/<int(max=2147483647):token_id>/withdraw")
@require_permission(INVITE_PERMISSION)
def withdraw_invitation(token_id: int) -> Response:
    """Cancel a pending invitation: the link stops working and the membership goes."""
    session = get_session()
    company = current_company()
    token = session.get(UserToken, token_id)
    if (token is None or company is None or token.company_id != company.id
            or token.purpose != INVITE or token.used_at is not None):
        abort(404)
    user = session.get(User, token.user_id)
    retire_tokens(session, user.id, INVITE, company.id)
    if is_pending_invitee(user):
        membership = session.get(Membership, (user.id, company.id))
        if membership is not None:
            session.delete(membership)
            session.flush()
        others = session.scalar(select(func.count()).select_from(Membership)
                                .where(Membership.user_id == user.id))
        if not others:
            session.delete(user)  # nobody else invited them: the account never existed
    flash(_("The invitation to %(email)s is withdrawn. Invite them again to undo this.",
            email=user.email), "info")
    return redirect(url_for("core_accounts.invitations"))


@blueprint.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str) -> str | Response | tuple[str, int]:
    session = get_session()
    found = valid_token(session, token, INVITE)
    if found is None:
        return _invalid_link(INVITE)
    user = session.get(User, found.user_id)
    company = session.get(Company, found.company_id) if found.company_id else None
    if user is None or company is None or session.get(Membership, (user.id, company.id)) is None:
        return _invalid_link(INVITE)
    if user.active:  # accepted through another company's invitation meanwhile
        use_token(session, found)
        flash(_("You have an account already: sign in to work in %(company)s.", company=company.name), "info")
        return redirect(url_for("core.login"))
    context = {"email": user.email, "company": company}
    if request.method == "GET":
        return render_template("account/accept.html", errors={}, values={"name": user.name}, **context)
    try:
        data = AcceptInvitationSchema().load(form_data())
    except ValidationError as error:
        return render_template("account/accept.html", errors=field_errors(error, AcceptInvitationSchema),
                               values={"name": request.form.get("name", "")}, **context), 422
    if not use_token(session, found):
        return _invalid_link(INVITE)
    user.name = data["name"]
    user.set_password(data["password"])
    user.active = True
    retire_tokens(session, user.id, INVITE)  # the account exists now: every invitation is answered
    login_user(user)
    http_session["company_id"] = company.id
    flash(_("Welcome to %(company)s, %(name)s.", company=company.name, name=user.name), "success")
    return redirect(url_for("core.home"))
