"""Per-company enablement: routes, menu and hooks of a plugin exist only where it is enabled.

Uses tests/fixture_plugins/fx_base (a page at /fx-base/, menu item "Base page") and
fx_child (depends on fx_base; a page at /fx-child/, menu item "Child page").
"""

from __future__ import annotations

import pytest

from core.db import get_session
from core.enablement import disable, enable, enabled_plugins
from core.errors import PluginStateError
from core.models import Company
from core.testing import make_company

PLUGINS = ["fx_base", "fx_child"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": list(PLUGINS)}


@pytest.fixture
def crm_plugins():
    return list(PLUGINS)


@pytest.fixture
def manager(app):
    return app.extensions["crm.plugins"]


def enabled_for(app, company) -> frozenset[str]:
    with app.app_context():
        return enabled_plugins(get_session(), app.extensions["crm.plugins"], company.id)


def labels(batches) -> list[str]:
    return sorted(item.label for batch in batches for item in (batch or ()))


def test_plugin_route_answers_404_until_enabled_for_the_company(client, company, login_as):
    login_as(company.admin)
    assert client.get("/fx-base/").status_code == 404

    company.enable("fx_base")

    response = client.get("/fx-base/")
    assert response.status_code == 200
    assert response.text == "fx_base page"


def test_plugin_route_answers_404_again_once_disabled(client, company, login_as):
    login_as(company.admin)
    company.enable("fx_base")
    assert client.get("/fx-base/").status_code == 200

    company.disable("fx_base")

    assert client.get("/fx-base/").status_code == 404


def test_menu_item_appears_on_home_page_only_when_plugin_is_enabled(client, company, login_as):
    login_as(company.admin)
    before = client.get("/")
    assert before.status_code == 200
    assert "Base page" not in before.text

    company.enable("fx_base")

    after = client.get("/")
    assert after.status_code == 200
    assert "Base page" in after.text
    assert 'href="/fx-base/"' in after.text
    assert "Child page" not in after.text


def test_enabling_a_plugin_also_enables_its_dependencies(app, company):
    with app.app_context():
        session = get_session()
        newly = enable(session, app.extensions["crm.plugins"], session.get(Company, company.id), "fx_child")
        session.commit()

    assert newly == ["fx_base", "fx_child"]
    assert enabled_for(app, company) == {"fx_base", "fx_child"}


def test_enabling_returns_only_the_plugins_newly_enabled(app, company):
    company.enable("fx_base")

    with app.app_context():
        session = get_session()
        acme = session.get(Company, company.id)
        manager = app.extensions["crm.plugins"]
        assert enable(session, manager, acme, "fx_child") == ["fx_child"]
        assert enable(session, manager, acme, "fx_child") == []


def test_dependency_enabled_with_a_plugin_serves_its_routes(client, company, login_as):
    login_as(company.admin)

    company.enable("fx_child")

    assert client.get("/fx-child/").status_code == 200
    assert client.get("/fx-base/").status_code == 200


def test_disabling_a_plugin_an_enabled_plugin_needs_is_refused_naming_it(client, company, login_as):
    company.enable("fx_child")

    with pytest.raises(PluginStateError) as caught:
        company.disable("fx_base")

    assert "'fx_child'" in str(caught.value)
    assert "cannot disable 'fx_base'" in str(caught.value)
    assert enabled_for(client.application, company) == {"fx_base", "fx_child"}
    login_as(company.admin)
    assert client.get("/fx-base/").status_code == 200


def test_disabling_the_dependent_first_then_the_dependency_works(client, company, login_as):
    company.enable("fx_child")

    company.disable("fx_child", "fx_base")

    assert enabled_for(client.application, company) == frozenset()
    login_as(company.admin)
    assert client.get("/fx-child/").status_code == 404
    assert client.get("/fx-base/").status_code == 404


def test_disabling_a_plugin_that_is_not_enabled_changes_nothing(app, company):
    with app.app_context():
        session = get_session()
        changed = disable(session, app.extensions["crm.plugins"], session.get(Company, company.id), "fx_base")

    assert changed is False
    assert enabled_for(app, company) == frozenset()


def test_plugin_enabled_for_one_company_answers_404_for_another(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    company.enable("fx_base")

    login_as(beta.admin)

    assert client.get("/fx-base/").status_code == 404
    assert "Base page" not in client.get("/").text
    assert enabled_for(app, beta) == frozenset()


def test_plugin_enabled_for_one_company_works_for_that_company_only(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    beta.enable("fx_base")

    login_as(company.admin)
    assert client.get("/fx-base/").status_code == 404
    login_as(beta.admin)
    assert client.get("/fx-base/").status_code == 200


def test_enabling_an_unknown_plugin_is_refused_naming_it(company):
    with pytest.raises(PluginStateError, match="no plugin named 'fx_nope' is installed"):
        company.enable("fx_nope")


def test_disabling_an_unknown_plugin_is_refused_naming_it(company):
    with pytest.raises(PluginStateError, match="no plugin named 'fx_nope' is installed"):
        company.disable("fx_nope")


def test_hooks_are_called_only_for_enabled_plugins(manager):
    assert labels(manager.hooks(frozenset()).menu_items(user=None)) == []
    assert labels(manager.hooks(frozenset({"fx_base"})).menu_items(user=None)) == ["Base page"]
    assert labels(manager.hooks(frozenset({"fx_child"})).menu_items(user=None)) == ["Child page"]
    assert labels(manager.hooks(frozenset(PLUGINS)).menu_items(user=None)) == [
        "Base page",
        "Child page",
    ]
    assert labels(manager.hooks(None).menu_items(user=None)) == ["Base page", "Child page"]
