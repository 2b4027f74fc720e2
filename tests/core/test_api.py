"""The REST API base: OpenAPI document, token authentication, company isolation, pagination,
filtering, and one error shape (application/problem+json) for everything under /api/.

Uses tests/fixture_plugins/fx_api_teams: an ApiBlueprint over the core's teams table
(``/api/v1/fx_api_teams/teams``...), with no models of its own.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from core import StartupError, create_app
from core.api_tokens import create_token
from core.db import get_session, utcnow
from core.models import ApiToken, Membership, Team, User
from core.testing import TEST_PASSWORD, base_test_config, make_company

PLUGIN = "fx_api_teams"
TEAMS = f"/api/v1/{PLUGIN}/teams"
PROBLEM = "application/problem+json"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


# -- helpers (test_api_tokens.py and test_api_rate_limit.py use them too) --------------------------


def make_token(app, company, scopes="*", user=None, **values) -> str:
    """A new token's secret for ``user`` (default: the company's administrator)."""
    with app.app_context():
        session = get_session()
        owner = session.get(User, (user or company.admin).id)
        created = create_token(session, owner, company.id, {"name": "test", "scopes": scopes, **values})
        session.commit()
        return created.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def add_teams(app, company, *names: str) -> list[int]:
    with app.app_context():
        session = get_session()
        teams = [Team(company_id=company.id, name=name) for name in names]
        session.add_all(teams)
        session.commit()
        return [team.id for team in teams]


def add_member(app, company, email: str, admin: bool = False) -> User:
    with app.app_context():
        session = get_session()
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=email.split("@")[0])
            user.set_password(TEST_PASSWORD)
            session.add(user)
        user.memberships.append(Membership(company_id=company.id, is_admin=admin))
        session.commit()
        return user


def assert_problem(response, status: int, *fields: str) -> dict:
    """The response is a problem document with ``status`` naming each of ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"] and body["type"] and body["detail"]
    for field in fields:
        assert field in body["errors"], body
        assert all(isinstance(message, str) for message in body["errors"][field])
    return body


@pytest.fixture
def acme(app, company):
    company.enable(PLUGIN)
    return company


@pytest.fixture
def token(app, acme):
    return make_token(app, acme)


# -- the OpenAPI document ----------------------------------------------------------------------


def test_openapi_document_is_public_and_lists_the_plugin_operations(client, app):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.0.3"
    assert document["info"]["title"] == "Atrium CRM"
    assert document["info"]["version"] == "v1"
    paths = document["paths"]
    assert {"get", "post"} <= set(paths[TEAMS])
    assert f"{TEAMS}/feed" in paths and f"{TEAMS}/{{team_id}}" in paths
    parameters = {p["name"] for p in paths[TEAMS]["get"]["parameters"]}
    assert {"name", "manager_id", "page", "per_page"} <= parameters
    assert {"cursor", "limit"} <= {p["name"] for p in paths[f"{TEAMS}/feed"]["get"]["parameters"]}
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    unauthorized = document["components"]["responses"]["UNAUTHORIZED"]
    assert PROBLEM in unauthorized["content"]


def test_openapi_document_documents_pagination_headers_and_required_access(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    listing = paths[TEAMS]["get"]
    assert {"X-Pagination", "Link"} <= set(listing["responses"]["200"]["headers"])
    assert listing["x-required-permission"] == "fx_api_teams.team.read"
    assert paths[f"{TEAMS}/export"]["get"]["x-required-scope"] == "fx_api_teams:export"
    assert "401" in listing["responses"] and "429" in listing["responses"]


# -- authentication ----------------------------------------------------------------------------


def test_a_token_lists_its_company_teams(client, app, acme, token):
    add_teams(app, acme, "Sales", "Support")

    response = client.get(TEAMS, headers=bearer(token))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert [team["name"] for team in response.get_json()] == ["Sales", "Support"]


def test_a_token_of_company_a_never_sees_company_b_rows(client, app, acme, token):
    beta = make_company(app, "Beta", "beta")
    beta.enable(PLUGIN)
    add_teams(app, acme, "Acme team")
    (beta_team,) = add_teams(app, beta, "Beta team")
    beta_token = make_token(app, beta)

    assert [t["name"] for t in client.get(TEAMS, headers=bearer(token)).get_json()] == ["Acme team"]
    assert [t["name"] for t in client.get(TEAMS, headers=bearer(beta_token)).get_json()] == ["Beta team"]
    assert_problem(client.get(f"{TEAMS}/{beta_team}", headers=bearer(token)), 404)
    assert client.get(f"{TEAMS}/{beta_team}", headers=bearer(beta_token)).status_code == 200
    pages = json.loads(client.get(TEAMS, headers=bearer(token)).headers["X-Pagination"])
    assert pages["total"] == 1
    feed = client.get(f"{TEAMS}/feed", headers=bearer(token)).get_json()
    assert [t["name"] for t in feed] == ["Acme team"]


def test_a_token_works_in_its_own_company_not_the_users_first_one(client, app, acme):
    # The user's first company by name is Acme; the token is for Zeta, where the plugin is on.
    zeta = make_company(app, "Zeta", "zeta")
    zeta.enable(PLUGIN)
    acme.disable(PLUGIN)
    user = add_member(app, acme, "both@example.test", admin=True)
    add_member(app, zeta, "both@example.test", admin=True)
    add_teams(app, zeta, "Zeta team")
    secret = make_token(app, zeta, user=user)

    response = client.get(TEAMS, headers=bearer(secret))

    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()] == ["Zeta team"]


def test_a_token_request_ignores_and_never_sets_the_browser_session(client, app, acme, token, login_as):
    beta = make_company(app, "Beta", "beta")
    beta.enable(PLUGIN)
    add_teams(app, beta, "Beta team")
    add_teams(app, acme, "Acme team")
    login_as(beta.admin)  # the browser is signed in as someone else

    response = client.get(TEAMS, headers=bearer(token))

    assert [t["name"] for t in response.get_json()] == ["Acme team"]
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    # The browser's own session is untouched.
    assert [t["name"] for t in client.get(TEAMS).get_json()] == ["Beta team"]


def test_without_a_token_or_session_the_api_answers_401_not_a_redirect(client, acme):
    response = client.get(TEAMS)

    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"])
def test_a_malformed_authorization_header_answers_401_invalid_request(client, acme, header):
    response = client.get(TEAMS, headers={"Authorization": header})

    assert_problem(response, 401)
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def _expire(app, secret):
    with app.app_context():
        session = get_session()
        for token in session.scalars(select(ApiToken)):
            token.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()


def _revoke(app, secret):
    with app.app_context():
        session = get_session()
        for token in session.scalars(select(ApiToken)):
            token.revoked_at = utcnow()
        session.commit()


def _deactivate(app, secret):
    with app.app_context():
        session = get_session()
        for user in session.scalars(select(User)):
            user.active = False
        session.commit()


def _leave_company(app, secret):
    with app.app_context():
        session = get_session()
        session.execute(delete(Membership))
        session.commit()


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda app, secret: None, None),
        (_expire, "expired"),
        (_revoke, "revoked"),
        (_deactivate, "not active"),
        (_leave_company, "no longer a member"),
    ],
)
def test_an_unknown_expired_revoked_or_orphaned_token_answers_401(client, app, acme, token, spoil, reason):
    secret = token if reason else token[:-4] + "XXXX"  # the first case: a token nobody issued
    spoil(app, secret)

    response = client.get(TEAMS, headers=bearer(secret))

    body = assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert (reason or "not valid") in body["detail"]


def test_a_token_records_when_it_was_last_used(client, app, acme, token, db_session):
    assert db_session.scalar(select(ApiToken.last_used_at)) is None

    client.get(TEAMS, headers=bearer(token))

    db_session.expire_all()
    assert db_session.scalar(select(ApiToken.last_used_at)) is not None


# -- scopes and permissions ------------------------------------------------------------------------


def test_a_read_scope_reads_but_cannot_write(client, app, acme):
    secret = make_token(app, acme, scopes="fx_api_teams:read")

    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200
    response = client.post(TEAMS, json={"name": "New"}, headers=bearer(secret))

    body = assert_problem(response, 403)
    assert "fx_api_teams:write" in body["detail"]
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="fx_api_teams:write"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("scopes", "status"),
    [("fx_api_teams:read", 403), ("fx_api_teams:export", 200), ("fx_api_teams:*", 200), ("*", 200)],
)
def test_an_operation_with_its_own_scope_demands_exactly_that(client, app, acme, scopes, status):
    secret = make_token(app, acme, scopes=scopes)

    assert client.get(f"{TEAMS}/export", headers=bearer(secret)).status_code == status


def test_a_scope_of_another_plugin_opens_nothing_here(client, app, acme):
    secret = make_token(app, acme, scopes="notes:read notes:write")

    assert_problem(client.get(TEAMS, headers=bearer(secret)), 403)


def test_a_token_cannot_do_more_than_its_user_may(client, app, acme):
    member = add_member(app, acme, "member@acme.test")  # no role: no permission
    secret = make_token(app, acme, scopes="*", user=member)

    body = assert_problem(client.get(TEAMS, headers=bearer(secret)), 403)
    assert "fx_api_teams.team.read" in body["detail"]
    assert_problem(client.post(TEAMS, json={"name": "X"}, headers=bearer(secret)), 403)


# -- pagination --------------------------------------------------------------------------------


def test_page_pagination_sets_x_pagination_and_link_headers(client, app, acme, token):
    add_teams(app, acme, *(f"Team {n:02}" for n in range(25)))

    response = client.get(f"{TEAMS}?per_page=10&page=2", headers=bearer(token))

    assert [t["name"] for t in response.get_json()] == [f"Team {n:02}" for n in range(10, 20)]
    meta = json.loads(response.headers["X-Pagination"])
    assert meta == {"total": 25, "total_pages": 3, "page": 2, "per_page": 10, "first_page": 1,
                    "last_page": 3, "previous_page": 1, "next_page": 3}
    assert response.headers["X-Total-Count"] == "25"
    links = response.headers["Link"]
    for rel, page in (("first", 1), ("prev", 1), ("next", 3), ("last", 3)):
        assert f'page={page}>; rel="{rel}"' in links
    last = client.get(f"{TEAMS}?per_page=10&page=3", headers=bearer(token))
    assert len(last.get_json()) == 5
    assert 'rel="next"' not in last.headers["Link"]


def test_page_pagination_keeps_the_filters_in_its_links(client, app, acme, token):
    add_teams(app, acme, "Red 1", "Red 2", "Red 3", "Blue")

    response = client.get(f"{TEAMS}?name=red&per_page=2", headers=bearer(token))

    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert "name=red" in response.headers["Link"].split(",")[1]


@pytest.mark.parametrize(
    ("query", "field"),
    [("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"),
     ("page=two", "page"), ("cursor=abc", "cursor")],
)
def test_bad_pagination_arguments_are_refused_naming_them(client, acme, token, query, field):
    assert_problem(client.get(f"{TEAMS}?{query}", headers=bearer(token)), 422, field)


def test_keyset_pagination_walks_every_row_once_in_order(client, app, acme, token):
    names = ["Delta", "Alpha", "Echo", "Bravo", "Charlie"]
    add_teams(app, acme, *names)
    seen, url, pages = [], f"{TEAMS}/feed", 0

    while url:
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200
        page = [t["name"] for t in response.get_json()]
        assert len(page) <= 2
        seen += page
        pages += 1
        meta = json.loads(response.headers["X-Pagination"])
        link = response.headers.get("Link")
        url = link[1:link.index(">")] if link else None
        assert (meta["next_cursor"] is None) == (url is None)

    assert seen == sorted(names)
    assert pages == 3


@pytest.mark.parametrize("cursor", ["not-base64!", "WzFd", "eyJhIjoxfQ", "WyJBbHBoYSIsIngiXQ"])
def test_an_invalid_keyset_cursor_is_refused_naming_it(client, acme, token, cursor):
    assert_problem(client.get(f"{TEAMS}/feed?cursor={cursor}", headers=bearer(token)), 422, "cursor")


def test_keyset_lists_refuse_page_arguments(client, acme, token):
    assert_problem(client.get(f"{TEAMS}/feed?page=2", headers=bearer(token)), 422, "page")


# -- filtering ---------------------------------------------------------------------------------


def test_filters_declared_in_the_schema_narrow_the_list(client, app, acme, token):
    sales, support, _ = add_teams(app, acme, "Sales North", "Support", "Sales South")
    with app.app_context():
        session = get_session()
        session.get(Team, support).manager_id = acme.admin.id
        session.commit()

    def names(query):
        return [t["name"] for t in client.get(f"{TEAMS}?{query}", headers=bearer(token)).get_json()]

    assert names("name=SALES") == ["Sales North", "Sales South"]
    assert names(f"manager_id={acme.admin.id}") == ["Support"]
    assert names(f"id={sales},{support}") == ["Sales North", "Support"]
    assert names("name=north&per_page=1") == ["Sales North"]
    assert names("name=%25") == []  # % is a character here, not a wildcard
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert names(f"created_after={future.replace('+', '%2B')}") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("colour=red", "colour"), ("manager_id=abc", "manager_id"), ("id=1,x", "id.1"),
     ("created_after=yesterday", "created_after")],
)
def test_unknown_or_mistyped_filters_are_refused_naming_the_field(client, acme, token, query, field):
    body = assert_problem(client.get(f"{TEAMS}?{query}", headers=bearer(token)), 422, field)
    assert field in body["detail"]


# -- input errors --------------------------------------------------------------------------------


def test_a_valid_body_creates_and_answers_201(client, app, acme, token, db_session):
    response = client.post(TEAMS, json={"name": "Field sales"}, headers=bearer(token))

    assert response.status_code == 201
    assert response.get_json()["name"] == "Field sales"
    assert db_session.scalar(select(Team.company_id).where(Team.name == "Field sales")) == acme.id


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "Ok", "colour": "red"}, "colour"),
     ({"name": 42}, "name"),
     ({}, "name"),
     ({"name": ""}, "name"),
     ({"name": "Ok", "manager_id": "boss"}, "manager_id"),
     ({"name": "Ok", "manager_id": 999999}, "manager_id"),
     ([{"name": "Ok"}], "body")],
)
def test_invalid_bodies_answer_422_naming_the_field_and_keep_nothing(client, acme, token, db_session, body, field):
    response = client.post(TEAMS, json=body, headers=bearer(token))

    assert_problem(response, 422, field)
    assert db_session.scalar(select(Team.id)) is None


def test_malformed_json_answers_400(client, acme, token):
    response = client.post(TEAMS, data='{"name": "x"', content_type="application/json", headers=bearer(token))

    body = assert_problem(response, 400, "body")
    assert "JSON" in body["detail"]


def test_a_body_that_is_not_json_answers_415(client, acme, token):
    response = client.post(TEAMS, data="name=x", content_type="application/x-www-form-urlencoded",
                           headers=bearer(token))

    assert_problem(response, 415)


def test_an_oversize_body_answers_413(client, app, acme, token):
    limit = app.config["CRM_API_MAX_CONTENT_LENGTH"]
    assert limit == 1024 * 1024
    payload = json.dumps({"name": "x" * (limit + 10)})

    response = client.post(TEAMS, data=payload, content_type="application/json", headers=bearer(token))

    body = assert_problem(response, 413)
    assert str(limit) in body["detail"]


def test_a_conflict_raised_by_the_view_keeps_its_status_and_field(client, app, acme, token):
    add_teams(app, acme, "Taken")

    assert_problem(client.post(TEAMS, json={"name": "Taken"}, headers=bearer(token)), 409, "name")


# -- routing errors and failures -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nowhere", f"/api/v1/{PLUGIN}/nowhere", "/api/v2/", "/api"])
def test_an_unknown_api_route_answers_404_problem(client, acme, token, path):
    assert_problem(client.get(path, headers=bearer(token)), 404)
    assert_problem(client.get(path), 404)


def test_a_wrong_method_answers_405_problem_with_allow(client, acme, token):
    response = client.delete(TEAMS, headers=bearer(token))

    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_an_unexpected_error_answers_500_problem_without_internals(client, app, acme, token):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.get(f"/api/v1/{PLUGIN}/boom", headers=bearer(token))

    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text and "Traceback" not in text
    assert body["detail"].startswith("The server could not complete the request")


def test_pages_outside_the_api_keep_their_html_errors(client, company, login_as):
    login_as(company.admin)

    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


# -- enablement ----------------------------------------------------------------------------------


def test_the_plugin_api_answers_404_where_the_plugin_is_disabled(client, app, company):
    secret = make_token(app, company)

    assert_problem(client.get(TEAMS, headers=bearer(secret)), 404)
    company.enable(PLUGIN)
    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200
    company.disable(PLUGIN)
    assert_problem(client.get(TEAMS, headers=bearer(secret)), 404)
    assert TEAMS in client.get("/api/v1/openapi.json").get_json()["paths"]


# -- browser sessions ----------------------------------------------------------------------------


def test_a_browser_session_reads_the_api(client, app, acme, login_as):
    add_teams(app, acme, "Sales")
    login_as(acme.admin)

    response = client.get(TEAMS)

    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()] == ["Sales"]


def test_a_browser_session_writes_only_with_the_csrf_header(client, acme, login_as, db_session):
    login_as(acme.admin)

    refused = client.post(TEAMS, json={"name": "Forged"})
    assert_problem(refused, 400)
    assert "X-CSRFToken" in refused.get_json()["detail"]
    accepted = client.post(TEAMS, json={"name": "Mine"}, headers={"X-CSRFToken": client.csrf_token()})
    assert accepted.status_code == 201
    assert db_session.scalars(select(Team.name)).all() == ["Mine"]


def test_a_token_request_needs_no_csrf_token(client, acme, token):
    assert client.post(TEAMS, json={"name": "Scripted"}, headers=bearer(token)).status_code == 201


# -- start-up --------------------------------------------------------------------------------------


def test_an_api_blueprint_that_leaves_its_plugin_space_stops_start_up(tmp_path, fixture_plugins_path):
    config = base_test_config(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}", ["fx_api_bad_prefix"])
    config.update(CRM_PLUGIN_MODULES=["fx_api_bad_prefix"], CRM_CHECK_SCHEMA=False)

    with pytest.raises(StartupError) as caught:
        create_app(config)

    assert "url_prefix '/api/v1/customers'" in str(caught.value)

