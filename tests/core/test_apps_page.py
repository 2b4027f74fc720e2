"""The Apps page of the admin console (``/admin/apps``): every installed plugin as a card,
enabling with its dependencies, disabling with a confirmation, refused while a dependent is
enabled.

Uses tests/fixture_plugins/fx_base (a page at /fx-base/, menu item "Base page") and
fx_child (depends on fx_base; a page at /fx-child/, menu item "Child page").
"""

from __future__ import annotations

import logging
import re

import pytest

from core.db import get_session
from core.enablement import enabled_plugins
from core.models import Membership, User

PLUGINS = ["fx_base", "fx_child"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": list(PLUGINS)}


@pytest.fixture
def crm_plugins():
    return list(PLUGINS)


def enabled_for(app, company) -> frozenset[str]:
    with app.app_context():
        return enabled_plugins(get_session(), app.extensions["crm.plugins"], company.id)


def card(html: str, name: str) -> str:
    """The HTML of one app's card."""
    match = re.search(rf'<li class="card app-card" id="app-{name}".*?</li>', html, re.DOTALL)
    assert match, f"no card for {name}"
    return match.group(0)


def add_member(app, company, email: str = "member@acme.test") -> User:
    with app.app_context():
        session = get_session()
        user = User(email=email, name="Member")
        user.set_password("long enough")
        user.memberships.append(Membership(company_id=company.id, is_admin=False))
        session.add(user)
        session.commit()
        return user


def test_lists_every_installed_plugin_with_its_relations_and_state(client, company, login_as):
    company.enable("fx_base")
    login_as(company.admin)

    response = client.get("/admin/apps")

    assert response.status_code == 200
    base, child = card(response.text, "fx_base"), card(response.text, "fx_child")
    assert "Fixture Base" in base and "Version 1.0.0 · Other" in base
    assert "Fixture plugin for the core tests." in base
    assert "Needs: no other app" in base and "Needed by: Fixture Child" in base
    assert "Enabled for Acme" in base
    assert "Needs: Fixture Base" in child and "Needed by: no other app" in child
    assert "Not enabled" in child
    # fx_base is enabled already: enabling fx_child enables nothing else, so no note says so.
    assert "also enables" not in child
    assert 'name="csrf_token"' in child


def test_enable_card_explains_which_dependencies_come_along(client, company, login_as):
    login_as(company.admin)

    child = card(client.get("/admin/apps").text, "fx_child")

    assert "Enabling it also enables Fixture Base, which it needs." in child


def test_enabling_a_plugin_enables_its_dependencies_and_says_so(app, client, company, login_as, caplog):
    login_as(company.admin)

    with caplog.at_level(logging.INFO, logger="core.apps_views"):
        response = client.post("/admin/apps/fx_child/enable", follow_redirects=True)

    assert response.status_code == 200
    assert "Fixture Child is enabled, and with it Fixture Base, which it needs." in response.text
    assert enabled_for(app, company) == {"fx_base", "fx_child"}
    assert "Enabled for Acme" in card(response.text, "fx_child")
    logged = [r.getMessage() for r in caplog.records if r.name == "core.apps_views"]
    assert logged and "fx_base, fx_child" in logged[0] and "acme" in logged[0]
    assert "admin@acme.test" in logged[0] and logged[0].startswith("plugins")


def test_enable_needs_a_csrf_token(app, client, company, login_as):
    login_as(company.admin)

    response = client.post("/admin/apps/fx_base/enable", data={"csrf_token": "forged"})

    assert response.status_code == 400
    assert enabled_for(app, company) == frozenset()


def test_disabling_is_refused_while_an_enabled_plugin_needs_it(app, client, company, login_as):
    company.enable("fx_child")
    login_as(company.admin)

    page = card(client.get("/admin/apps").text, "fx_base")
    assert "It cannot be disabled while Fixture Child, which needs it, is enabled." in page
    assert re.search(r'<button type="button"[^>]*disabled', page)

    response = client.post("/admin/apps/fx_base/disable", data={"confirm": "yes"})

    assert response.status_code == 409
    assert ("Fixture Base cannot be disabled: Fixture Child needs it and is enabled. "
            "Disable Fixture Child first.") in card(response.text, "fx_base")
    assert enabled_for(app, company) == {"fx_base", "fx_child"}


def test_disabling_needs_the_confirmation(app, client, company, login_as):
    company.enable("fx_base")
    login_as(company.admin)

    response = client.post("/admin/apps/fx_base/disable")

    assert response.status_code == 422
    assert "Tick the box to confirm" in card(response.text, "fx_base")
    assert enabled_for(app, company) == {"fx_base"}


def test_disabling_with_confirmation_keeps_the_data_and_hides_pages_and_menu(app, client, company, login_as, caplog):
    company.enable("fx_child")
    login_as(company.admin)
    assert client.get("/fx-child/").status_code == 200
    assert "Child page" in client.get("/").text
    form = card(client.get("/admin/apps").text, "fx_child")
    assert "Its data is kept" in form and 'name="confirm"' in form

    with caplog.at_level(logging.INFO, logger="core.apps_views"):
        response = client.post("/admin/apps/fx_child/disable", data={"confirm": "yes"},
                               follow_redirects=True)

    assert response.status_code == 200
    assert "Fixture Child is disabled. Its data is kept" in response.text
    assert enabled_for(app, company) == {"fx_base"}
    assert client.get("/fx-child/").status_code == 404
    home = client.get("/").text
    assert "Child page" not in home and "Base page" in home
    logged = [r.getMessage() for r in caplog.records if r.name == "core.apps_views"]
    assert logged == [(f"plugin fx_child disabled for company acme (id {company.id}) "
                       f"by user admin@acme.test (id {company.admin.id})")]


def test_members_who_are_not_administrators_get_403(app, client, company, login_as):
    company.enable("fx_base")
    login_as(add_member(app, company))

    assert client.get("/admin/apps").status_code == 403
    assert client.post("/admin/apps/fx_child/enable").status_code == 403
    assert client.post("/admin/apps/fx_base/disable", data={"confirm": "yes"}).status_code == 403
    assert enabled_for(app, company) == {"fx_base"}
    assert 'href="/admin/apps"' not in client.get("/").text


def test_the_user_menu_links_to_the_apps_page_for_administrators(client, company, login_as):
    login_as(company.admin)

    assert 'href="/admin/apps"' in client.get("/").text


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/apps")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("action", ["enable", "disable"])
def test_an_unknown_plugin_answers_404(app, client, company, login_as, action):
    login_as(company.admin)

    response = client.post(f"/admin/apps/no_such_app/{action}", data={"confirm": "yes"})

    assert response.status_code == 404
    assert enabled_for(app, company) == frozenset()
