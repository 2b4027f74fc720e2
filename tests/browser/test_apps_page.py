"""An administrator disables and enables an app on the Apps page: desktop and phone-sized."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import ARTIFACTS, PHONE
from tests.browser.test_sign_in_flow import sign_in

PLUGINS = ["fx_base", "fx_child"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": list(PLUGINS)}


@pytest.fixture
def crm_plugins():
    return list(PLUGINS)


def open_apps_page(page):
    page.get_by_role("button", name="Acme Admin").click()  # opens the user menu
    page.get_by_role("link", name="Apps").click()
    expect(page.get_by_role("heading", name="Apps", exact=True)).to_be_visible()


def test_admin_disables_an_app_and_enables_it_again(page, live_server, company):
    company.enable("fx_child")
    sign_in(page, live_server)
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("link", name="Child page")).to_be_visible()

    open_apps_page(page)
    child = page.locator("#app-fx_child")
    expect(child).to_contain_text("Needs: Fixture Base")
    expect(page.locator("#app-fx_base")).to_contain_text(
        "It cannot be disabled while Fixture Child, which needs it, is enabled.")
    child.get_by_label("Yes, disable Fixture Child").check()
    child.get_by_role("button", name="Disable").click()

    expect(page.get_by_role("status")).to_contain_text("Fixture Child is disabled. Its data is kept")
    expect(menu.get_by_role("link", name="Child page")).to_have_count(0)
    expect(menu.get_by_role("link", name="Base page")).to_be_visible()

    page.locator("#app-fx_child").get_by_role("button", name="Enable Fixture Child").click()

    expect(page.get_by_role("status")).to_contain_text("Fixture Child is enabled.")
    expect(menu.get_by_role("link", name="Child page")).to_be_visible()


def test_apps_page_fits_a_phone_sized_screen(browser, live_server, company):
    company.enable("fx_base")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server)
    open_apps_page(page)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")  # the layout no longer changes
    # Both boxes in one script: two separate reads could straddle a reflow.
    base, child = page.evaluate("""['app-fx_base', 'app-fx_child'].map(id => {
        const box = document.getElementById(id).getBoundingClientRect(); return {y: box.y, height: box.height}; })""")
    assert child["y"] >= base["y"] + base["height"], "the cards must stack on a phone"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page must not scroll sideways on a phone"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "apps-phone.png"), full_page=True)
    context.close()
