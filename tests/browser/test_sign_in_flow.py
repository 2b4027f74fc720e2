"""A person signs in, sees the home page, and signs out: desktop and phone-sized."""

from __future__ import annotations

from playwright.sync_api import expect

from core.testing import TEST_PASSWORD
from tests.browser.support import ARTIFACTS, PHONE


def sign_in(page, live_server, password=TEST_PASSWORD):
    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=%2F")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_shows_home_and_sign_out_returns_to_the_form(page, live_server, company):
    sign_in(page, live_server)
    expect(page.get_by_role("heading", name="Welcome, Acme Admin")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-desktop.png"))
    page.get_by_role("button", name="Acme Admin").click()  # opens the user menu
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_a_wrong_password_is_explained_next_to_the_form(page, live_server, company):
    sign_in(page, live_server, password="not the password")
    expect(page.get_by_role("alert")).to_have_text(
        "That email address and password do not match an active account.")
    expect(page.get_by_label("Email address")).to_have_value("admin@acme.test")


def test_sign_in_works_on_a_phone_sized_screen(browser, live_server, company):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server)
    expect(page.get_by_role("heading", name="Welcome, Acme Admin")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page must not scroll sideways on a phone"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-phone.png"))
    context.close()
