"""Sign-in with Flask-Login, and default deny: every route needs a signed-in user
unless its view is marked :func:`public`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from flask_login import LoginManager, current_user
from sqlalchemy import func, select

from core.db import get_session
from core.models import User

F = TypeVar("F", bound=Callable[..., object])


def public(view: F) -> F:
    """Mark a view as reachable without signing in (sign-in page, health check)."""
    view._crm_public = True  # type: ignore[attr-defined]
    return view


def is_public(endpoint: str | None) -> bool:
    if endpoint is None:  # no route matched: let Flask answer 404
        return True
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "_crm_public", False))


def find_user_by_email(email: str) -> User | None:
    return get_session().scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def init_app(app: Flask) -> LoginManager:
    manager = LoginManager(app)
    manager.login_view = "core.login"
    manager.login_message = "Please sign in to see that page."
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = get_session().get(User, int(user_id))
        return user if user is not None and user.active else None

    @app.before_request
    def require_sign_in():  # type: ignore[no-untyped-def]
        if not is_public(request.endpoint) and not current_user.is_authenticated:
            return manager.unauthorized()
        return None

    return manager
