"""Global search: results from every enabled plugin, grouped by kind, within the company."""

from __future__ import annotations

import logging

import pytest

from core.db import get_session
from core.models import Team
from core.scoping import company_scope
from core.testing import make_company

PLUGINS = ["fx_search_teams", "fx_search_broken"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


def add_teams(app, company, *names):
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            session.add_all([Team(name=name) for name in names])
            session.commit()


def test_results_are_grouped_by_kind_best_first(app, client, company, login_as):
    company.enable("fx_search_teams")
    add_teams(app, company, "Northern sales", "Key accounts north")
    login_as(company.admin)
    page = client.get("/search?q=north").text
    assert "<h2>Teams</h2>" in page
    assert page.index("Northern sales") < page.index("Key accounts north")  # starts with: scores higher


def test_another_companys_records_are_never_found(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    for fixture in (company, beta):
        fixture.enable("fx_search_teams")
    add_teams(app, beta, "Beta secret team")
    login_as(company.admin)
    assert "Beta secret team" not in client.get("/search?q=secret").text


def test_a_plugin_disabled_for_the_company_is_not_asked(app, client, company, login_as):
    add_teams(app, company, "Northern sales")
    login_as(company.admin)
    page = client.get("/search?q=north").text
    assert "Northern sales" not in page and "Nothing matches" in page


def test_a_failing_plugin_is_left_out_and_the_others_still_answer(app, client, company, login_as, caplog):
    company.enable(*PLUGINS)
    add_teams(app, company, "Northern sales")
    login_as(company.admin)
    with caplog.at_level(logging.ERROR):
        page = client.get("/search?q=north")
    assert page.status_code == 200 and "Northern sales" in page.text
    assert "search hook of plugin 'fx_search_broken' failed" in caplog.text


def test_a_query_too_short_asks_for_more_and_asks_no_plugin(app, client, company, login_as):
    company.enable("fx_search_broken")
    login_as(company.admin)
    page = client.get("/search?q=n").text
    assert "Type at least 2 characters." in page


def test_search_as_you_type_gets_only_the_results_region(app, client, company, login_as):
    company.enable("fx_search_teams")
    add_teams(app, company, "Northern sales")
    login_as(company.admin)
    fragment = client.get("/search?q=north", headers={"HX-Request": "true"}).text
    assert "<div id=\"search-results\"" in fragment
    assert "<html" not in fragment and "Northern sales" in fragment


def test_the_search_box_is_in_the_top_bar_of_every_page(client, company, login_as):
    login_as(company.admin)
    assert 'id="topbar-search"' in client.get("/").text
    assert 'id="topbar-search"' not in client.get("/search").text  # the page has its own box
