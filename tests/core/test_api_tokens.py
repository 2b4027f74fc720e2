"""API tokens: only their hash is kept, scopes are checked, and people create and revoke them
on /account/tokens and with `crm tokens`."""

from __future__ import annotations

import hashlib
import re

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from core.api_tokens import PREFIX_LENGTH, create_token, parse_scopes, scope_allows
from core.cli import cli
from core.db import get_session
from core.models import ApiToken, User
from core.testing import make_company
from tests.core.test_api import PLUGIN, TEAMS, add_member, assert_problem, bearer, make_token

TOKEN_IN_PAGE = re.compile(r'id="new-token" value="([^"]+)"')


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


# -- the service -----------------------------------------------------------------------------------


def test_only_the_hash_and_the_prefix_of_a_token_are_stored(app, company, db_session):
    secret = make_token(app, company, scopes="notes:read notes:read fx_api_teams:*")

    token = db_session.scalar(select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:PREFIX_LENGTH] and len(secret) >= 40
    assert token.scopes == "notes:read fx_api_teams:*"  # deduplicated
    stored = " ".join(str(value) for value in vars(token).values())
    assert secret not in stored


def test_two_tokens_never_share_a_secret(app, company):
    assert make_token(app, company) != make_token(app, company)


@pytest.mark.parametrize("scopes", ["", "   ", "Notes:read", "notes", "notes:read; drop", "**", "a:b c"])
def test_malformed_scopes_are_refused(scopes):
    with pytest.raises(ValueError):
        parse_scopes(scopes)


@pytest.mark.parametrize(
    ("granted", "required", "allowed"),
    [("*", "notes:write", True), ("notes:*", "notes:write", True), ("notes:read", "notes:read", True),
     ("notes:read", "notes:write", False), ("notes:*", "sales:read", False), ("notesx:*", "notes:read", False)],
)
def test_a_scope_covers_itself_its_plugin_wildcard_and_star(granted, required, allowed):
    assert scope_allows(granted, required) is allowed


def test_a_token_is_only_for_a_member_of_the_company(app, company):
    other = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        with pytest.raises(ValidationError) as caught:
            create_token(session, session.get(User, other.admin.id), company.id, {"name": "x", "scopes": "*"})
    assert "user" in caught.value.messages


# -- the page /account/tokens ----------------------------------------------------------------------


def test_the_token_page_needs_sign_in(client):
    response = client.get("/account/tokens")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_token_created_on_the_page_is_shown_once_and_works(client, app, company, login_as):
    company.enable(PLUGIN)
    login_as(company.admin)

    response = client.post("/account/tokens", data={"name": "Nightly export", "scopes": "fx_api_teams:read",
                                                    "expires_days": "30"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = TOKEN_IN_PAGE.search(response.get_data(as_text=True)).group(1)
    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Nightly export" in listing and secret[:PREFIX_LENGTH] in listing
    assert secret not in listing
    assert "fx_api_teams:read" in listing


@pytest.mark.parametrize(
    ("data", "field"),
    [({"name": "", "scopes": "*"}, "name"), ({"name": "   ", "scopes": "*"}, "name"),
     ({"name": "x", "scopes": "everything"}, "scopes"),
     ({"name": "x", "scopes": "*", "expires_days": "0"}, "expires_days"),
     ({"name": "x", "scopes": "*", "expires_days": "soon"}, "expires_days")],
)
def test_the_page_refuses_bad_input_next_to_the_field_and_creates_nothing(client, company, login_as, db_session,
                                                                         data, field):
    login_as(company.admin)

    response = client.post("/account/tokens", data=data)

    assert response.status_code == 422
    assert f'id="token-{field}-error"' in response.get_data(as_text=True)
    assert db_session.scalar(select(ApiToken.id)) is None


def test_revoking_on_the_page_stops_the_token(client, app, company, login_as, db_session):
    company.enable(PLUGIN)
    secret = make_token(app, company)
    token_id = db_session.scalar(select(ApiToken.id))
    login_as(company.admin)

    response = client.post(f"/account/tokens/{token_id}/revoke")

    assert response.status_code == 302
    assert_problem(client.get(TEAMS, headers=bearer(secret)), 401)
    assert "Revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_nobody_lists_or_revokes_someone_elses_token(client, app, company, login_as, db_session):
    company.enable(PLUGIN)
    secret = make_token(app, company)  # the administrator's
    token_id = db_session.scalar(select(ApiToken.id))
    member = add_member(app, company, "member@acme.test")
    login_as(member)

    assert secret[:PREFIX_LENGTH] not in client.get("/account/tokens").get_data(as_text=True)
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    db_session.expire_all()
    assert db_session.scalar(select(ApiToken.revoked_at)) is None


def test_the_page_lists_the_tokens_of_the_company_in_context_only(client, app, company, login_as):
    beta = make_company(app, "Beta", "beta")
    user = add_member(app, company, "both@example.test")
    add_member(app, beta, "both@example.test")
    make_token(app, company, user=user, name="For Acme")
    make_token(app, beta, user=user, name="For Beta")
    login_as(user)  # the first company by name: Acme

    page = client.get("/account/tokens").get_data(as_text=True)

    assert "For Acme" in page and "For Beta" not in page


def test_the_page_shows_how_to_send_a_token(client, company, login_as):
    login_as(company.admin)

    assert "Authorization: Bearer &lt;token&gt;" in client.get("/account/tokens").get_data(as_text=True)


def test_the_account_menu_links_to_the_token_page(client, company, login_as):
    login_as(company.admin)

    assert 'href="/account/tokens"' in client.get("/").get_data(as_text=True)


# -- crm tokens ------------------------------------------------------------------------------------


def invoke(runner, *args):
    return runner.invoke(cli, list(args))


def test_crm_tokens_create_prints_a_working_token_once(app, runner, client, company):
    company.enable(PLUGIN)

    result = invoke(runner, "tokens", "create", "--email", "ADMIN@acme.test", "--company", "acme",
                    "--name", "CI", "--scopes", "fx_api_teams:read", "--expires-days", "7")

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200
    listing = invoke(runner, "tokens", "list", "--company", "acme")
    assert listing.exit_code == 0
    assert secret[:PREFIX_LENGTH] in listing.output and secret not in listing.output
    assert "active" in listing.output and "CI" in listing.output


def test_crm_tokens_revoke_stops_the_token(app, runner, client, company, db_session):
    company.enable(PLUGIN)
    secret = make_token(app, company)
    token_id = db_session.scalar(select(ApiToken.id))

    result = invoke(runner, "tokens", "revoke", str(token_id))

    assert result.exit_code == 0, result.output
    assert_problem(client.get(TEAMS, headers=bearer(secret)), 401)
    assert "revoked already" in invoke(runner, "tokens", "revoke", str(token_id)).output
    assert "revoked" in invoke(runner, "tokens", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--email", "nobody@acme.test", "--scopes", "*"], "no user with email"),
     (["--email", "admin@acme.test", "--scopes", "all of it"], "--scopes"),
     (["--email", "admin@acme.test", "--scopes", "*", "--expires-days", "0"], "--expires-days"),
     (["--email", "admin@beta.test", "--scopes", "*"], "not a member")],
)
def test_crm_tokens_create_refuses_bad_input_naming_the_option(app, runner, company, db_session, args, message):
    make_company(app, "Beta", "beta")

    result = invoke(runner, "tokens", "create", "--company", "acme", "--name", "x", *args)

    assert result.exit_code == 2
    assert message in result.output
    assert db_session.scalar(select(ApiToken.id)) is None


def test_crm_tokens_revoke_of_an_unknown_id_fails(app, runner):
    result = invoke(runner, "tokens", "revoke", "424242")

    assert result.exit_code == 2
    assert "no token with id 424242" in result.output
