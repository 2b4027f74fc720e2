"""Bad input gets a clear 4xx naming the problem, never a 500, on pages and on the API."""

from __future__ import annotations

import pytest

from core.auth import public


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": ["fx_api_teams"]}


@pytest.fixture
def crm_plugins():
    return ["fx_api_teams"]


@pytest.fixture
def app(app):
    @public
    def echo():
        from flask import request

        return {"q": request.args.get("q", "")}

    app.add_url_rule("/_test/echo", view_func=echo)
    return app


@pytest.mark.parametrize("url", ["/_test/echo?q=a%00b", "/login?next=%00"])
def test_a_nul_character_in_the_query_is_refused_with_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.text


def test_a_nul_character_in_a_form_is_refused_before_any_database_work(client, company):
    response = client.post("/login", data={"email": "admin@acme.test\x00", "password": "x"})
    assert response.status_code == 400
    assert "NUL character" in response.text


def test_a_nul_character_in_json_is_refused_with_a_problem_document_on_the_api(app, client, company, db_session):
    from core.api_tokens import create_token
    from core.models import User

    admin = db_session.get(User, company.admin.id)
    created = create_token(db_session, admin, company.id, {"name": "probe", "scopes": "*"})
    db_session.commit()
    response = client.post("/api/v1/anything", data='{"name": "a\\u0000b"}',
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {created.secret}"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "NUL character" in response.json["detail"]


def test_a_page_number_too_large_for_the_database_is_a_400(client, company, login_as):
    login_as(company.admin)
    response = client.get(f"/trash/core.setting/?page={10**20}")
    assert response.status_code in (400, 404)  # 404: no such trash for this user; never 500
    assert client.get("/healthz").status_code == 200


def test_an_error_page_still_renders_after_a_failed_commit(app, client, company, login_as):
    from core.db import get_session
    from core.models import Company

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/_test/duplicate")
    def duplicate():
        get_session().add(Company(name="Again", slug="acme"))  # the slug is taken: commit fails
        return "ok"

    login_as(company.admin)
    response = client.post("/_test/duplicate")
    assert response.status_code == 500
    assert "Error 500" in response.text  # the app's own error page, signed-in shell included


@pytest.mark.parametrize("query", [f"page={10**20}", f"id=1,{10**20}", "name=%00"])
def test_api_arguments_out_of_range_get_a_problem_not_a_500(app, client, company, db_session, query):
    from core.api_tokens import create_token
    from core.models import User

    company.enable("fx_api_teams")
    admin = db_session.get(User, company.admin.id)
    created = create_token(db_session, admin, company.id, {"name": "probe", "scopes": "*"})
    db_session.commit()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get(f"/api/v1/fx_api_teams/teams?{query}",
                          headers={"Authorization": f"Bearer {created.secret}"})
    assert 400 <= response.status_code < 500, response.text
    assert response.mimetype == "application/problem+json"
