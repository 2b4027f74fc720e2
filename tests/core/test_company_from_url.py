"""Public views that take their company from their URL (core.tenancy.company_from_url):
no company from the visitor's session, none before the view enters one, no CSRF token needed,
the plugin gate applied to the company the URL names."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.db import get_session
from core.models import Team
from core.testing import make_company

PLUGIN = "fx_inbox"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


def add_team(app, company, name: str) -> None:
    with app.app_context():
        session = get_session()
        session.add(Team(company_id=company.id, name=name))
        session.commit()


def test_an_anonymous_post_without_a_csrf_token_reaches_the_company_of_the_url(app, company):
    company.enable(PLUGIN)
    add_team(app, company, "Inbound")
    visitor = FlaskClient(app, app.response_class, use_cookies=True)  # no token of ours
    answer = visitor.post(f"/fx-inbox/{company.slug}", data={"message": "hello"})
    assert answer.status_code == 200
    assert answer.get_json() == {"company": company.slug, "teams_before": [], "teams": ["Inbound"]}


def test_the_company_comes_from_the_url_not_from_whoever_is_signed_in(app, client, company, login_as):
    other = make_company(app, "Globex", "globex")
    for each in (company, other):
        each.enable(PLUGIN)
    add_team(app, other, "Globex team")
    login_as(company.admin)
    answer = client.post(f"/fx-inbox/{other.slug}")
    assert answer.get_json()["company"] == "globex" and answer.get_json()["teams"] == ["Globex team"]


def test_a_company_that_has_not_enabled_the_plugin_gets_404(app, company):
    visitor = FlaskClient(app, app.response_class, use_cookies=True)
    assert visitor.post(f"/fx-inbox/{company.slug}").status_code == 404
