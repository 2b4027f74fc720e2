"""The home dashboard in a real browser: every card's body arrives on its own through htmx,
and a widget that fails says so in its own card while the others show."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_flow import sign_in

PLUGINS = ["fx_widgets_a", "fx_widgets_b"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


def test_widget_bodies_load_on_their_own_and_a_failing_one_says_so(page, live_server, company):
    company.enable(*PLUGINS)
    sign_in(page, live_server)
    expect(page.locator('[data-widget="fx_widgets_a.alpha"] .widget-body')).to_have_text("Alpha body")
    expect(page.locator('[data-widget="fx_widgets_a.wide"] .widget-body')).to_have_text("Wide chart body")
    expect(page.locator('[data-widget="fx_widgets_b.teams"] .widget-body')).to_have_text("0 teams")
    expect(page.locator('[data-widget="fx_widgets_b.broken"] .widget-body')).to_contain_text("could not load")
    expect(page.get_by_text("Loading…")).to_have_count(0)
