"""API tokens: creation, verification, revocation, and what their scopes allow.

A token is a random secret shown to its owner once, at creation. The database keeps only its
SHA-256 (``core_api_token.token_hash``) and its first :data:`PREFIX_LENGTH` characters
(``prefix``), so people can tell their tokens apart in lists. A token belongs to one user in
one company; a request that presents it acts as that user in that company, within the
token's scopes, for as long as the token is neither expired nor revoked and the user is
still an active member of the company.

**Scopes** are space-separated words: ``notes:read notes:write``, ``notes:*`` (everything of
the notes plugin) or ``*`` (everything the user may do). The API names the scope each
operation needs (see ``core.api.require_scope``); by default an operation of plugin ``P``
needs ``P:read`` for GET and HEAD and ``P:write`` for every other method.

The UI (``/account/tokens``), the CLI (``crm tokens``) and the API authentication all use
these functions; services add and flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import ApiToken, Membership, User

PREFIX_LENGTH = 8
MAX_EXPIRES_DAYS = 3650
ALL_SCOPES = "*"
# "*", "plugin:*" or "plugin:action" (lower case; dots, dashes and underscores allowed).
SCOPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*:(\*|[a-z][a-z0-9_.-]*))$")
# How often last_used_at is written: once a minute is enough to tell idle tokens apart.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    """The SHA-256 of ``secret``, hex-encoded: what the database stores."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time Atrium stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# -- scopes --------------------------------------------------------------------------------------


def parse_scopes(text: str | Iterable[str]) -> list[str]:
    """The scopes in ``text`` (space- or comma-separated), deduplicated, in order.

    Raises ``ValueError`` naming every malformed scope, or when there is none.
    """
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    bad = [word for word in words if not SCOPE_PATTERN.match(word)]
    if bad:
        raise ValueError(
            "not a scope: " + ", ".join(bad)
            + " (use plugin:action such as notes:read, plugin:* or *)"
        )
    if not words:
        raise ValueError("give at least one scope, such as notes:read, or * for everything")
    return list(dict.fromkeys(words))


def scope_allows(granted: str | Iterable[str], required: str) -> bool:
    """Whether the scopes ``granted`` cover ``required`` (``*`` and ``plugin:*`` are wildcards)."""
    words = set(granted.split() if isinstance(granted, str) else granted)
    if ALL_SCOPES in words or required in words:
        return True
    namespace = required.split(":", 1)[0]
    return f"{namespace}:*" in words


# -- the input schema (UI form and CLI alike) -------------------------------------------------


class TokenRequestSchema(Schema):
    """What a person gives to create a token."""

    name = fields.String(
        required=True,
        validate=validate.Length(max=120, error="Use at most 120 characters."),
        error_messages={"required": "Give the token a name."},
    )
    scopes = fields.String(
        required=True,
        validate=validate.Length(max=2000),
        error_messages={"required": "Give at least one scope."},
    )
    expires_days = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_EXPIRES_DAYS,
                                error=f"Choose from 1 to {MAX_EXPIRES_DAYS} days, or leave it empty."),
    )

    @validates("name")
    def _check_name(self, value: str, **_kwargs: object) -> None:
        if not value.strip():
            raise ValidationError("Give the token a name.")

    @validates("scopes")
    def _check_scopes(self, value: str, **_kwargs: object) -> None:
        try:
            parse_scopes(value)
        except ValueError as error:
            raise ValidationError(str(error).capitalize() + ".") from None


# -- creating, listing, revoking ------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedToken:
    """A new token and its secret. The secret exists only here: show it once."""

    token: ApiToken
    secret: str


class TokenError(Exception):
    """A token that cannot authenticate a request; ``reason`` says why, for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def create_token(
    session: Session,
    user: User,
    company_id: int,
    data: dict[str, object],
    now: datetime | None = None,
) -> CreatedToken:
    """Validate ``data`` (name, scopes, expires_days) and add a token for ``user`` in ``company_id``.

    Raises ``marshmallow.ValidationError`` for bad input, and when the user is not a member
    of the company. Adds and flushes; the caller commits.
    """
    values = TokenRequestSchema().load(data)
    if session.get(Membership, (user.id, company_id)) is None:
        raise ValidationError({"user": ["This user is not a member of the company."]})
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        company_id=company_id,
        name=values["name"].strip(),
        prefix=secret[:PREFIX_LENGTH],
        token_hash=hash_token(secret),
        scopes=" ".join(parse_scopes(values["scopes"])),
        created_at=now,
        expires_at=now + timedelta(days=values["expires_days"]) if values["expires_days"] else None,
    )
    session.add(token)
    session.flush()
    return CreatedToken(token, secret)


def tokens_of(session: Session, user_id: int, company_id: int) -> list[ApiToken]:
    """A user's tokens in one company, newest first (revoked and expired ones included)."""
    return list(session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.company_id == company_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def revoke_token(session: Session, token: ApiToken, now: datetime | None = None) -> bool:
    """Revoke ``token``; False when it was revoked already. Adds; the caller commits."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or utcnow()
    session.flush()
    return True


def status_of(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if token.revoked_at is not None:
        return "revoked"
    expires_at = aware(token.expires_at)
    if expires_at is not None and expires_at <= (now or utcnow()):
        return "expired"
    return "active"


# -- verification ------------------------------------------------------------------------------


def verify_token(session: Session, secret: str, now: datetime | None = None) -> tuple[ApiToken, User]:
    """The token whose secret is ``secret`` and its user, if they may authenticate a request.

    Raises :class:`TokenError` when the token is unknown, revoked or expired, or when its
    user is inactive or no longer a member of the token's company. Records when the token
    was last used (at most once a minute) in the caller's transaction.
    """
    now = now or utcnow()
    if not secret or len(secret) > 512:
        raise TokenError("The token is not valid.")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None:
        raise TokenError("The token is not valid.")
    status = status_of(token, now)
    if status == "revoked":
        raise TokenError("The token has been revoked.")
    if status == "expired":
        raise TokenError("The token has expired.")
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        raise TokenError("The token's user is not active.")
    if session.get(Membership, (user.id, token.company_id)) is None:
        raise TokenError("The token's user is no longer a member of its company.")
    last_used = aware(token.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_PRECISION:
        token.last_used_at = now
    return token, user
