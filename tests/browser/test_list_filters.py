"""List filters in a real browser: inline on a desktop, folded into "Filters" on a phone, where
the summary counts the filters in use as they change (htmx), and search as you type still works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.db import get_session
from core.scoping import company_scope
from core.testing import TEST_PASSWORD
from plugins.customers.models import Account
from tests.browser.support import PHONE


@pytest.fixture
def crm_plugins():
    return ["customers"]


@pytest.fixture
def acme(app, company):
    company.enable("customers")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            session.add_all([Account(name="Globex", status="active", owner_id=company.admin.id),
                             Account(name="Initech", status="prospect", owner_id=company.admin.id)])
            session.commit()
    return company


def sign_in(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def test_filters_are_inline_on_a_desktop(page, live_server, acme):
    sign_in(page, live_server)
    page.goto(f"{live_server}/customers/accounts/")
    expect(page.get_by_label("Status", exact=True)).to_be_visible()
    expect(page.locator(".list-filters-fold > summary")).to_be_hidden()


def test_filters_fold_on_a_phone_and_count_what_is_in_use(browser, live_server, acme):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server}/customers/accounts/")
        page.wait_for_load_state("load")
        status = page.get_by_label("Status", exact=True)
        expect(status).to_be_hidden()
        summary = page.locator(".list-filters-fold > summary")
        expect(summary).to_have_text("Filters")
        summary.click()
        expect(status).to_be_visible()
        status.select_option("active")  # htmx refreshes the results and the count
        expect(page.locator(".list-results")).not_to_contain_text("Initech")
        expect(summary).to_contain_text("1 in use")
        page.get_by_role("searchbox", name="Search by name, email or phone").fill("Glob")  # search as you type, with the filter kept
        expect(page.locator(".list-results")).to_contain_text("Globex")
        expect(page).to_have_url(re.compile(r"q=Glob.*status=active|status=active.*q=Glob"))
    finally:
        context.close()
