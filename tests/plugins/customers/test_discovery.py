"""Normalised emails and phones, demo data, global search results and dashboard widgets."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.db import get_session
from core.scoping import company_scope
from plugins.customers.demo import ACCOUNTS, add_demo_customers
from plugins.customers.models import Account, Contact, Interaction
from plugins.customers.normalize import normalize_email, normalize_phone

HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize(("typed", "stored"), [
    ("+86 138-0013-8000", "+8613800138000"),
    ("0086 (138) 0013 8000", "+8613800138000"),
    ("138 0013 8000", "13800138000"),
    ("", ""),
    ("no digits", ""),
])
def test_phone_numbers_compare_whatever_people_typed_around_the_digits(typed, stored):
    assert normalize_phone(typed) == stored


def test_email_addresses_compare_without_case_or_spaces():
    assert normalize_email("  Ann@Example.COM ") == "ann@example.com"


def test_a_saved_account_keeps_its_normalised_email_and_phone(app, company, db_session):
    with company_scope(db_session, company.id):
        account = Account(company_id=company.id, name="Acme", email=" Sales@Acme.TEST ", phone="+1 (555) 010-2000")
        db_session.add(account)
        db_session.commit()
        assert (account.email, account.email_normalized) == ("Sales@Acme.TEST", "sales@acme.test")
        assert account.phone_normalized == "+15550102000"


@pytest.fixture
def demo(app, company, db_session):
    company.enable("customers")
    with app.app_context():
        session = get_session()
        from core.models import Company

        add_demo_customers(session, session.get(Company, company.id))
        session.commit()
    return company


def test_demo_data_has_hundreds_of_customers_with_contacts_history_and_chinese_names(app, demo, db_session):
    with company_scope(db_session, demo.id):
        assert db_session.scalar(select(func.count()).select_from(Account)) == ACCOUNTS
        assert db_session.scalar(select(func.count()).select_from(Contact)) >= ACCOUNTS
        assert db_session.scalar(select(func.count()).select_from(Interaction)) > ACCOUNTS
        names = db_session.scalars(select(Account.name)).all()
    assert any(re.search(r"[\u4e00-\u9fff]", name) for name in names)
    assert any(name.isascii() for name in names)


def test_search_finds_an_account_by_a_phone_number_typed_differently(app, client, demo, login_as, db_session):
    with company_scope(db_session, demo.id):
        account = db_session.scalars(select(Account).order_by(Account.id)).first()
    digits = account.phone_normalized.lstrip("+")
    typed = f"{digits[:3]}-{digits[3:7]} {digits[7:]}"
    login_as(demo.admin)
    page = client.get("/search", query_string={"q": typed}).text
    assert f'href="/customers/accounts/{account.id}"' in page


def test_search_finds_contacts_by_name(app, client, demo, login_as, db_session):
    with company_scope(db_session, demo.id):
        contact = db_session.scalars(select(Contact).order_by(Contact.id)).first()
    login_as(demo.admin)
    page = client.get("/search", query_string={"q": contact.name}).text
    assert f'href="/customers/contacts/{contact.id}"' in page


def test_the_dashboard_counts_new_accounts_and_lists_follow_ups_due(app, client, demo, login_as):
    login_as(demo.admin)
    home = client.get("/").text
    assert 'data-widget="customers.new_accounts"' in home and 'data-widget="customers.follow_ups_due"' in home
    count = client.get("/dashboard/widgets/customers.new_accounts", headers=HTMX).text
    assert f">{ACCOUNTS}<" in count
    due = client.get("/dashboard/widgets/customers.follow_ups_due", headers=HTMX)
    assert due.status_code == 200 and "All my follow-ups" in due.text
