"""The page ``/account/tokens``: the signed-in user's API tokens for the company in context.

A new token's secret is shown once, in the answer to the form that created it; it is never
stored, flashed or put in a URL.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.api_tokens import MAX_EXPIRES_DAYS, CreatedToken, create_token, revoke_token, status_of, tokens_of
from core.auth import signed_in
from core.db import get_session, utcnow
from core.forms import form_data
from core.models import ApiToken
from core.tenancy import current_company, enabled_for_request

blueprint = Blueprint("core_tokens", __name__)


def _render(errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
            created: CreatedToken | None = None, status: int = 200) -> tuple[str, int]:
    company = current_company()
    tokens = tokens_of(get_session(), current_user.id, company.id) if company else []
    now = utcnow()
    return render_template(
        "account/tokens.html",
        tokens=[(token, status_of(token, now)) for token in tokens],
        errors=errors or {},
        values=values or {"scopes": ""},
        created=created,
        suggested_scopes=[f"{plugin}:{action}" for plugin in sorted(enabled_for_request())
                          for action in ("read", "write")],
        max_expires_days=MAX_EXPIRES_DAYS,
    ), status


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.after_request
def _never_cache(response: Response) -> Response:
    # The answer to a creation holds a secret: no cache may keep this page.
    return _no_store(response)


@blueprint.get("/account/tokens")
@signed_in
def index() -> tuple[str, int]:
    return _render()


@blueprint.post("/account/tokens")
@signed_in
def create() -> tuple[str, int]:
    company = current_company()
    if company is None:
        abort(404)
    data: dict[str, Any] = form_data()
    if not str(data.get("expires_days", "")).strip():
        data["expires_days"] = None
    try:
        created = create_token(get_session(), current_user, company.id, data)
    except ValidationError as error:
        messages = {key: " ".join(value) if isinstance(value, list) else str(value)
                    for key, value in error.messages.items()}  # type: ignore[union-attr]
        return _render(errors=messages, values=request.form, status=422)
    return _render(created=created)


@blueprint.post("/account/tokens/<int:token_id>/revoke")
@signed_in
def revoke(token_id: int) -> Response:
    company = current_company()
    token = get_session().scalar(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == current_user.id,
        ApiToken.company_id == (company.id if company else None)))
    if token is None:
        abort(404)
    if revoke_token(get_session(), token):
        flash(_("The token “%(name)s” is revoked; requests that present it are refused.", name=token.name),
              "success")
    return redirect(url_for("core_tokens.index"))
