"""Sign-in with Flask-Login, default deny, and sign-in throttling.

**Default deny.** Every view says who may reach it, with one of three markers:

* :func:`public`: anyone, signed in or not (sign-in page, password reset, health check);
* :func:`signed_in`: any signed-in user (home page, their own password);
* :func:`core.access.require_permission`: a signed-in user holding a permission code.

A request for any view that is not public needs a signed-in user; anonymous visitors are
sent to the sign-in page. ``tests/core/test_default_deny.py`` walks the URL map and fails
for a view with none of the three markers (:func:`core.access.route_access_problems`).

**Throttling.** Failed sign-ins are kept in ``core_login_attempt`` for
``CRM_LOGIN_THROTTLE_MINUTES``. When an email address has had
``CRM_LOGIN_MAX_FAILURES_PER_ACCOUNT`` failures in that window (since its last successful
sign-in), or a network address ``CRM_LOGIN_MAX_FAILURES_PER_ADDRESS`` failures, sign-in
is refused with 429 before any password is checked, until the oldest counted failure
leaves the window.
"""

from __future__ import annotations

import hmac

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_babel import ngettext
from flask_login import LoginManager, current_user
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from core.db import get_database, get_session, utcnow
from core.models import LoginAttempt, User

F = TypeVar("F", bound=Callable[..., object])

PUBLIC = "_crm_public"
SIGNED_IN = "_crm_signed_in"
PERMISSION = "_crm_permission"

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing is deliberately slow; do not hash megabytes
# The password hash of an invited person who has not accepted yet: matches no password.
INVITED_PASSWORD_HASH = "!invited"


# -- default deny: the markers -------------------------------------------------------------------


def public(view: F) -> F:
    """Mark a view as reachable without signing in (sign-in page, health check)."""
    setattr(view, PUBLIC, True)
    return view


def signed_in(view: F) -> F:
    """Mark a view as open to every signed-in user, whatever their role (home, own account)."""
    setattr(view, SIGNED_IN, True)
    return view


def view_marker(view: object, attribute: str) -> Any:
    """A marker set on ``view`` or, for class-based views, on its ``view_class`` or on every
    one of its HTTP method handlers (flask-smorest's MethodView style); then the first
    method's marker is returned."""
    value = getattr(view, attribute, None)
    view_class = getattr(view, "view_class", None)
    if value is None and view_class is not None:
        value = getattr(view_class, attribute, None)
        if value is None:
            handlers = [getattr(view_class, method.lower(), None) for method in sorted(view_class.methods or ())]
            markers = [getattr(handler, attribute, None) for handler in handlers if handler is not None]
            if markers and all(marker is not None for marker in markers):
                value = markers[0]
    return value


def is_public(endpoint: str | None) -> bool:
    if endpoint is None:  # no route matched: let Flask answer 404
        return True
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(view_marker(view, PUBLIC))


def find_user_by_email(email: str) -> User | None:
    return get_session().scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def is_pending_invitee(user: User) -> bool:
    """Invited but not yet accepted: no password of their own, not active."""
    return not user.active and user.password_hash == INVITED_PASSWORD_HASH


# -- throttling ----------------------------------------------------------------------------------


def client_address() -> str:
    """The client's network address (behind proxies, set ``CRM_PROXY_COUNT``)."""
    return (request.remote_addr or "unknown")[:64]


def _email_key(email: str) -> str:
    return email.strip().lower()[:254]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time Atrium stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["CRM_LOGIN_THROTTLE_MINUTES"])


def _refused_until(session: Session, who: ColumnElement[bool], since: datetime, limit: int) -> datetime | None:
    """When the ``limit``-th most recent failure since ``since`` leaves the window, if there is one."""
    if limit <= 0:
        return None
    at = session.scalar(
        select(LoginAttempt.at)
        .where(who, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
        .order_by(LoginAttempt.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return None if at is None else _aware(at) + _window()


def sign_in_refused_for(email: str, address: str, now: datetime | None = None) -> timedelta | None:
    """How much longer sign-in stays refused for ``email`` or ``address``; None if allowed."""
    session = get_session()
    config = current_app.config
    now = now or utcnow()
    since = now - _window()
    key = _email_key(email)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at))
        .where(LoginAttempt.email == key, LoginAttempt.succeeded.is_(True), LoginAttempt.at >= since)
    )
    account_since = max(since, _aware(last_success)) if last_success is not None else since
    ends = [
        _refused_until(session, LoginAttempt.email == key, account_since,
                       config["CRM_LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
        _refused_until(session, LoginAttempt.address == address, since,
                       config["CRM_LOGIN_MAX_FAILURES_PER_ADDRESS"]),
    ]
    latest = max((end for end in ends if end is not None), default=None)
    if latest is None or latest <= now:
        return None
    return latest - now


def sign_in_refusal(email: str) -> str | None:
    """The message refusing this request's sign-in for ``email``, or None when it may try."""
    wait = sign_in_refused_for(email, client_address())
    if wait is None:
        return None
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts; try again in %(num)d minute.",
        "Too many failed sign-in attempts; try again in %(num)d minutes.",
        minutes,
    )


def record_sign_in_attempt(email: str, succeeded: bool) -> None:
    """Keep this request's attempt, and forget attempts older than the window.

    A success joins the request's transaction (committed with the response). A failure is
    written in a transaction of its own, because a failed sign-in answers 400, which rolls
    the request's transaction back, and the failure must still count. (The request must not
    have written anything yet: on SQLite the two transactions would wait for each other.)
    """
    now = utcnow()
    attempt = LoginAttempt(email=_email_key(email), address=client_address(), succeeded=succeeded, at=now)
    if succeeded:
        session = get_session()
        session.add(attempt)
        prune_login_attempts(session, now)
        return
    with get_database().sessionmaker() as session, session.begin():
        session.add(attempt)
        prune_login_attempts(session, now)


def prune_login_attempts(session: Session, now: datetime | None = None) -> None:
    """Delete the attempts that no longer count (older than the throttling window)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < (now or utcnow()) - _window()))


# -- set-up --------------------------------------------------------------------------------------

# Flask-Login's user of the request, and core.access's permission and visibility caches.
REQUEST_CACHES = ("_login_user", "_crm_permissions", "_crm_visibility")


def init_app(app: Flask) -> LoginManager:
    manager = LoginManager(app)
    manager.login_view = "core.login"
    manager.login_message = "Please sign in to see that page."  # core.i18n translates it
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(session_id: str) -> User | None:
        """The user of a session, if it is still valid: ``User.get_id()`` ties it to the
        password, so a session from before a password change no longer loads."""
        user_id, _, fingerprint = session_id.partition(":")
        if not user_id.isascii() or not user_id.isdigit():
            return None
        user = get_session().get(User, int(user_id))
        if user is None or not user.active:
            return None
        return user if hmac.compare_digest(fingerprint, user.password_fingerprint()) else None

    @app.before_request
    def require_sign_in():  # type: ignore[no-untyped-def]
        # Who is signed in, and what they may do, are decided afresh for every request, even
        # when requests share an application context (and its ``g``): tests, nested contexts.
        for key in REQUEST_CACHES:
            g.pop(key, None)
        if not is_public(request.endpoint) and not current_user.is_authenticated:
            return manager.unauthorized()
        return None

    return manager
