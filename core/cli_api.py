"""``crm tokens``: create, list and revoke API tokens.

Registered under ``crm`` by ``core.cli``.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import func, select

from core.cli_support import find_company, print_table, with_app

OPTION_OF_FIELD = {"name": "--name", "scopes": "--scopes", "expires_days": "--expires-days",
                   "user": "--email"}


def _when(moment: datetime | None) -> str:
    from core.api_tokens import aware

    moment = aware(moment)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: create one for a user in a company, list them, revoke one."""


@tokens_group.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--company", "company_slug", metavar="SLUG",
              help="The company the token works in (needed when there are several).")
@click.option("--name", required=True, help="What the token is for, e.g. 'Nightly export'.")
@click.option("--scopes", required=True,
              help="Space-separated scopes, e.g. 'notes:read notes:write', 'notes:*' or '*'.")
@click.option("--expires-days", type=int, default=None, help="Days until it expires (default: never).")
@with_app(check_schema=True)
def tokens_create(email: str, company_slug: str | None, name: str, scopes: str, expires_days: int | None) -> None:
    """Create a token and print it. It is shown only this once: store it safely."""
    from marshmallow import ValidationError

    from core.api_tokens import create_token
    from core.auth import find_user_by_email
    from core.db import get_session

    session = get_session()
    company = find_company(company_slug)
    user = find_user_by_email(email)
    if user is None:
        raise click.BadParameter(f"no user with email {email}", param_hint="--email")
    try:
        created = create_token(session, user, company.id,
                               {"name": name, "scopes": scopes, "expires_days": expires_days})
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"name": error.messages}
        field, problems = next(iter(messages.items()))
        hint = OPTION_OF_FIELD.get(field, f"--{field}")
        raise click.BadParameter(" ".join(map(str, problems)), param_hint=hint) from None
    session.commit()
    token = created.token
    expiry = f"expires {_when(token.expires_at)}" if token.expires_at else "does not expire"
    click.echo(f"Created token {token.id} '{token.name}' for {user.email} in {company.name} "
               f"(scopes: {token.scopes}; {expiry}).")
    click.echo("Store it now, it cannot be shown again:", err=True)
    click.echo(created.secret)


@tokens_group.command("list")
@click.option("--company", "company_slug", metavar="SLUG", help="Only this company's tokens.")
@click.option("--email", help="Only this user's tokens.")
@with_app(check_schema=True)
def tokens_list(company_slug: str | None, email: str | None) -> None:
    """Every token (never the secret): its id, first characters, owner, scopes and status."""
    from core.api_tokens import status_of
    from core.db import get_session
    from core.models import ApiToken, Company, User

    session = get_session()
    query = (select(ApiToken, User.email, Company.slug)
             .join(User, User.id == ApiToken.user_id)
             .join(Company, Company.id == ApiToken.company_id)
             .order_by(Company.slug, func.lower(User.email), ApiToken.id))
    if company_slug is not None:
        query = query.where(ApiToken.company_id == find_company(company_slug).id)
    if email is not None:
        query = query.where(func.lower(User.email) == email.strip().lower())
    rows = [("ID", "PREFIX", "NAME", "USER", "COMPANY", "SCOPES", "EXPIRES", "LAST USED", "STATUS")]
    for token, user_email, slug in session.execute(query):
        rows.append((str(token.id), token.prefix + "…", token.name, user_email, slug, token.scopes,
                     _when(token.expires_at), _when(token.last_used_at), status_of(token)))
    if len(rows) == 1:
        click.echo("No tokens.")
        return
    print_table(rows)


@tokens_group.command("revoke")
@click.argument("token_id", type=int, metavar="ID")
@with_app(check_schema=True)
def tokens_revoke(token_id: int) -> None:
    """Revoke the token ID (see `crm tokens list`): requests that present it are refused."""
    from core.api_tokens import revoke_token
    from core.db import get_session
    from core.models import ApiToken

    session = get_session()
    token = session.get(ApiToken, token_id)
    if token is None:
        raise click.BadParameter(f"no token with id {token_id}", param_hint="ID")
    if not revoke_token(session, token):
        click.echo(f"Token {token_id} '{token.name}' was revoked already.")
        return
    session.commit()
    click.echo(f"Revoked token {token_id} '{token.name}'.")
