"""The core's own pages: sign-in, sign-out, home (the dashboard's cards), health check."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from core.auth import find_user_by_email, public, record_sign_in_attempt, sign_in_refusal, signed_in
from core.dashboard import visible_widgets
from core.db import get_session
from core.models import User
from core.plugin_manager import PluginManager
from core.tenancy import enabled_for_request
from core.ui import safe_next

blueprint = Blueprint("core", __name__)


@blueprint.get("/")
@signed_in
def home() -> str:
    manager: PluginManager = current_app.extensions["crm.plugins"]
    enabled = enabled_for_request()
    apps = [info for info in manager if info.name in enabled]
    # Only the cards: each widget's body is rendered by its own request (core.dashboard).
    return render_template("home.html", apps=apps, widgets=visible_widgets())


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    error = None
    email = request.form.get("email", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        if email and password and (refusal := sign_in_refusal(email)) is not None:
            return render_template("login.html", error=refusal, email=email), 429  # no password check
        user = find_user_by_email(email) if email else None
        if not email or not password:
            error = _("Enter your email address and your password.")
        elif user is None or not user.active or not user.check_password(password):
            if user is None or not user.active:
                User.spend_password_check(password)  # the same delay whether the account exists or not
            record_sign_in_attempt(email, succeeded=False)
            error = _("That email address and password do not match an active account.")
        else:
            record_sign_in_attempt(email, succeeded=True)
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(safe_next(request.args.get("next"), url_for("core.home")))
        return render_template("login.html", error=error, email=email), 400
    return render_template("login.html", error=None, email=email)


@blueprint.post("/logout")
@signed_in
def logout() -> Response:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("core.login"))


@blueprint.post("/company")
@signed_in
def switch_company() -> Response:
    """Make another of the user's companies the one in context."""
    try:
        company_id = int(request.form.get("company_id", ""))
    except ValueError:
        abort(400, description=_("Choose a company from the list."))
    membership = next((m for m in current_user.memberships if m.company_id == company_id), None)
    if membership is None:
        abort(404)
    session["company_id"] = company_id
    flash(_("You are now working in %(company)s.", company=membership.company.name), "info")
    return redirect(url_for("core.home"))


@blueprint.get("/healthz")
@public
def health() -> tuple[dict[str, str], int]:
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}, 200
