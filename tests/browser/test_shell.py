"""The composed web shell in a real browser, with the example notes plugin and a fixture plugin
that adds a panel, an action and a menu item to every record page.

Covers the journeys of the web-shell issue: the composed menu, disabling and re-enabling an
app on the Apps page, a form's validation error, search as you type with the keyboard, the
switch to Chinese, a phone-sized screen, and a chart widget drawn by Chart.js.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.testing import TEST_PASSWORD
from tests.browser.support import ARTIFACTS, PHONE

NOTES_PLUGIN = Path(__file__).parents[2] / "examples" / "atrium-notes"
PLUGINS = ["atrium_notes", "fx_note_panel", "fx_widget_kinds"]


@pytest.fixture
def app_config(fixture_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(str(NOTES_PLUGIN))
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return ["notes", "fx_note_panel", "fx_widget_kinds"]


@pytest.fixture
def acme(company):
    company.enable("notes", "fx_note_panel")
    return company


def sign_in(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Acme Admin")).to_be_visible()
    page.wait_for_load_state("load")  # the deferred scripts (menu drawer, search keys) have run


def add_note(page, title, text=""):
    page.get_by_label("Title").fill(title)
    page.get_by_role("textbox", name="Text").fill(text)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status").filter(has_text="Note added.")).to_be_visible()


def side_menu(page):
    return page.get_by_role("navigation", name="Main menu")


def test_the_menu_is_composed_from_the_enabled_apps_and_marks_the_current_page(page, live_server, acme):
    sign_in(page, live_server)
    menu = side_menu(page)
    expect(menu.get_by_role("link")).to_have_text(["Home", "Notes", "Panel home"])
    expect(menu.get_by_role("link", name="Home", exact=True)).to_have_attribute("aria-current", "page")

    menu.get_by_role("link", name="Notes").click()

    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
    expect(menu.get_by_role("link", name="Notes")).to_have_attribute("aria-current", "page")
    expect(menu.get_by_role("link", name="Home", exact=True)).not_to_have_attribute("aria-current", "page")


def test_a_form_with_a_mistake_shows_the_error_beside_the_field_and_keeps_the_values(page, live_server, acme):
    sign_in(page, live_server)
    side_menu(page).get_by_role("link", name="Notes").click()
    page.get_by_role("textbox", name="Text").fill("Body that must not be lost")
    page.get_by_role("button", name="Add note").click()

    title = page.get_by_label("Title")
    expect(title).to_have_attribute("aria-invalid", "true")
    error_id = title.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{error_id}")).to_have_text("Enter a title.")
    expect(page.get_by_role("textbox", name="Text")).to_have_value("Body that must not be lost")
    expect(page.get_by_role("alert").first).to_be_visible()  # the summary above the form

    title.fill("Fixed title")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("link", name="Fixed title")).to_be_visible()


def test_disabling_an_app_hides_its_menu_panels_and_routes_and_enabling_it_brings_its_data_back(page, live_server, acme):
    sign_in(page, live_server)
    side_menu(page).get_by_role("link", name="Notes").click()
    add_note(page, "Kept while disabled", "Still here afterwards")
    page.get_by_role("link", name="Kept while disabled").click()
    note_url = page.url
    expect(page.locator('[data-panel="fx_note_panel.related"]')).to_contain_text("Related to notes_note")
    expect(page.get_by_role("link", name="Share")).to_be_visible()

    # The panel's app goes: its panel, action and menu item leave the note's page.
    page.get_by_role("button", name="Acme Admin").click()
    page.get_by_role("link", name="Apps").click()
    card = page.locator("#app-fx_note_panel")
    card.get_by_label(re.compile("Yes, disable")).check()
    card.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").first).to_contain_text("Note panel is disabled.")
    page.goto(note_url)
    expect(page.get_by_role("heading", name="Kept while disabled")).to_be_visible()
    expect(page.locator('[data-panel="fx_note_panel.related"]')).to_have_count(0)
    expect(page.get_by_role("link", name="Share")).to_have_count(0)
    expect(side_menu(page).get_by_role("link", name="Panel home")).to_have_count(0)
    assert page.goto(f"{live_server}/fx-note-panel/").status == 404

    # Notes itself goes: its menu item and pages disappear, its search results too.
    page.get_by_role("button", name="Acme Admin").click()
    page.get_by_role("link", name="Apps").click()
    card = page.locator("#app-notes")
    card.get_by_label(re.compile("Yes, disable")).check()
    card.get_by_role("button", name="Disable").click()
    expect(side_menu(page).get_by_role("link", name="Notes")).to_have_count(0)
    assert page.goto(note_url).status == 404

    # Enabled again: the same note is there, untouched.
    page.goto(f"{live_server}/admin/apps")
    page.locator("#app-notes").get_by_role("button", name="Enable Notes").click()
    side_menu(page).get_by_role("link", name="Notes").click()
    page.get_by_role("link", name="Kept while disabled").click()
    expect(page.get_by_text("Still here afterwards")).to_be_visible()


def test_search_as_you_type_shows_results_that_the_arrow_keys_reach(page, live_server, acme):
    sign_in(page, live_server)
    side_menu(page).get_by_role("link", name="Notes").click()
    add_note(page, "Quarterly review", "Numbers for the board")
    add_note(page, "Quarterly plan")

    box = page.get_by_role("searchbox", name="Search everything")
    box.press_sequentially("quarter", delay=30)
    results = page.locator("#topbar-search-results")
    expect(results).to_be_visible()
    expect(results.get_by_role("link")).to_have_count(3)  # two notes and "All results"
    expect(box).to_have_attribute("aria-expanded", "true")

    box.press("ArrowDown")
    expect(results.get_by_role("link").first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(results.get_by_role("link").nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(box).to_be_focused()  # Up from the first result returns to the box
    box.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Quarterly plan")).to_be_visible()


def test_the_language_switch_turns_the_shell_chinese(page, live_server, acme):
    sign_in(page, live_server)
    page.get_by_role("button", name="Acme Admin").click()
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Change language").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(side_menu(page)).to_have_count(0)  # the menu's own name is translated too
    menu = page.get_by_role("navigation", name="主菜单")
    expect(menu.get_by_role("link", name="首页")).to_be_visible()
    expect(page.get_by_role("searchbox", name="搜索全部")).to_be_visible()


def test_on_a_phone_the_menu_is_a_drawer_and_nothing_scrolls_sideways(browser, live_server, acme):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        menu = page.locator("#sidemenu")  # a navigation landmark, a dialog while open on a phone
        expect(menu).not_to_be_in_viewport()  # folded away
        page.get_by_role("button", name="Open the menu").click()
        expect(page.get_by_role("dialog", name="Main menu")).to_be_in_viewport()
        menu.get_by_role("link", name="Notes").click()
        expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
        add_note(page, "A note written on a phone with a rather long title to wrap", "Body " * 30)

        for path in ("/notes/", "/admin", "/admin/users", "/admin/jobs", "/admin/audit", "/"):
            page.goto(f"{live_server}{path}")
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width}px)"
        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(f"{live_server}/notes/")
        page.screenshot(path=str(ARTIFACTS / "notes-phone.png"), full_page=True)
    finally:
        context.close()


def test_a_chart_widget_is_drawn_by_chartjs(page, live_server, acme):
    acme.enable("fx_widget_kinds")
    sign_in(page, live_server)
    canvas = page.locator('[data-widget="fx_widget_kinds.chart"] canvas[data-chart]')
    expect(canvas).to_have_attribute("data-drawn", "")
    assert page.evaluate("Boolean(window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]')))")
