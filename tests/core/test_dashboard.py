"""The home dashboard: widgets from the enabled plugins' ``dashboard_widgets`` hook, each
card's body loaded on its own from ``/dashboard/widgets/<key>``."""

from __future__ import annotations

import logging
import re

import pytest

from core.db import get_session
from core.models import Membership, Team, User
from core.scoping import company_scope
from core.testing import TEST_PASSWORD, counting_queries

PLUGINS = ["fx_widgets_a", "fx_widgets_b", "fx_widgets_broken"]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def member(app, company):
    """A member of the company with no role, hence no permission."""
    with app.app_context():
        session = get_session()
        user = User(email="member@acme.test", name="Member")
        user.set_password(TEST_PASSWORD)
        user.memberships.append(Membership(company_id=company.id))
        session.add(user)
        session.commit()
        return user


def card_titles(page: str) -> list[str]:
    return re.findall(r'<li class="card widget[^"]*" data-widget="[^"]+">\s*<h2>([^<]+)</h2>', page)


def test_widgets_are_sorted_by_order_then_title_and_bad_ones_left_out(client, company, login_as, caplog):
    company.enable(*PLUGINS)
    login_as(company.admin)
    with caplog.at_level(logging.WARNING):
        page = client.get("/")
    assert page.status_code == 200
    assert card_titles(page.text) == [
        "Secret figures", "Alpha figures", "Zeta figures", "Team count", "Broken chart", "Wide chart",
    ]
    assert "Sneaky widget" not in page.text  # its key does not start with its plugin's name
    assert "'other.sneaky' of plugin 'fx_widgets_a' left out" in caplog.text
    assert "dashboard_widgets hook of plugin 'fx_widgets_broken' failed" in caplog.text


def test_the_home_page_loads_each_body_with_htmx_and_keeps_the_apps_section(client, company, login_as):
    company.enable("fx_widgets_a")
    login_as(company.admin)
    page = client.get("/").text
    card = re.search(r'<li class="card widget widget-small" data-widget="fx_widgets_a.alpha">.*?</li>', page, re.DOTALL)
    assert card is not None
    assert 'hx-get="/dashboard/widgets/fx_widgets_a.alpha"' in card.group()
    assert 'hx-trigger="load"' in card.group()
    assert "Loading…" in card.group()  # the placeholder until the body arrives
    assert '<noscript><p><a href="/dashboard/widgets/fx_widgets_a.alpha">' in card.group()  # without JavaScript
    assert "Alpha body" not in page  # bodies are not rendered with the page
    assert 'data-widget="fx_widgets_a.wide"' in page and "widget-wide" in page
    assert "Apps enabled for Acme:" in page and "Widgets A" in page


def test_no_widget_no_dashboard_section(client, company, login_as):
    login_as(company.admin)
    page = client.get("/").text
    assert 'class="dashboard"' not in page and "No apps are enabled yet" in page


def test_a_widget_needing_a_permission_is_hidden_and_refused_without_it(app, client, company, member, login_as):
    company.enable("fx_widgets_a")
    login_as(member)
    page = client.get("/").text
    assert "Alpha figures" in page and "Secret figures" not in page
    assert client.get("/dashboard/widgets/fx_widgets_a.secret", headers=HTMX).status_code == 404
    login_as(company.admin)
    assert "Secret body" in client.get("/dashboard/widgets/fx_widgets_a.secret", headers=HTMX).text


def test_the_widgets_of_a_disabled_plugin_are_hidden_and_refused(client, company, login_as):
    company.enable("fx_widgets_a")
    login_as(company.admin)
    assert "Team count" not in client.get("/").text
    assert client.get("/dashboard/widgets/fx_widgets_b.teams", headers=HTMX).status_code == 404
    company.enable("fx_widgets_b")
    company.disable("fx_widgets_a")
    page = client.get("/").text
    assert "Team count" in page and "Alpha figures" not in page
    assert client.get("/dashboard/widgets/fx_widgets_a.alpha", headers=HTMX).status_code == 404


def test_an_unknown_or_badly_named_widget_is_not_found(client, company, login_as):
    company.enable(*PLUGINS)
    login_as(company.admin)
    assert client.get("/dashboard/widgets/fx_widgets_a.nothing", headers=HTMX).status_code == 404
    assert client.get("/dashboard/widgets/other.sneaky", headers=HTMX).status_code == 404


@pytest.mark.parametrize(("key", "body"), [
    ("fx_widgets_a.alpha", "<p>Alpha body</p>"),
    ("fx_widgets_a.zeta", "<p>Zeta body</p>"),
    ("fx_widgets_a.secret", "<p>Secret body</p>"),
    ("fx_widgets_a.wide", "<p>Wide chart body</p>"),  # render returned a response
    ("fx_widgets_b.teams", "<p>0 teams</p>"),
])
def test_each_widget_endpoint_renders_that_widget_alone(client, company, login_as, key, body):
    company.enable(*PLUGINS)
    login_as(company.admin)
    response = client.get(f"/dashboard/widgets/{key}", headers=HTMX)
    assert response.status_code == 200
    assert response.text == body


def test_without_htmx_the_widget_comes_in_a_page_of_its_own(client, company, login_as):
    company.enable("fx_widgets_a")
    login_as(company.admin)
    page = client.get("/dashboard/widgets/fx_widgets_a.alpha")
    assert page.status_code == 200
    assert "<html" in page.text and "Alpha figures" in page.text and "<p>Alpha body</p>" in page.text


def test_a_failing_widget_shows_a_short_message_and_is_logged(client, company, login_as, caplog):
    company.enable(*PLUGINS)
    login_as(company.admin)
    with caplog.at_level(logging.ERROR):
        response = client.get("/dashboard/widgets/fx_widgets_b.broken", headers=HTMX)
    assert response.status_code == 500
    assert "could not load" in response.text and "<html" not in response.text
    assert "chart service unavailable" not in response.text
    assert "dashboard widget 'fx_widgets_b.broken' failed to render" in caplog.text
    assert "chart service unavailable" in caplog.text  # the traceback
    assert client.get("/").status_code == 200  # the page itself is unaffected
    assert client.get("/dashboard/widgets/fx_widgets_a.alpha", headers=HTMX).status_code == 200


def test_the_widget_endpoint_needs_a_signed_in_user(client, company):
    company.enable("fx_widgets_a")
    response = client.get("/dashboard/widgets/fx_widgets_a.alpha")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_home_page_does_not_run_the_widgets_queries(app, client, company, login_as):
    company.enable(*PLUGINS)
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            session.add(Team(name="North"))
            session.commit()
    login_as(company.admin)
    client.get("/")  # warm caches that are not per request
    with counting_queries(app) as home:
        assert client.get("/").status_code == 200
    assert not [s for s in home if "core_team" in s]
    with counting_queries(app) as widget:
        assert client.get("/dashboard/widgets/fx_widgets_b.teams", headers=HTMX).text == "<p>1 teams</p>"
    assert len([s for s in widget if "core_team" in s]) == 1
