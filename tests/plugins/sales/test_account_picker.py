"""The opportunity form's account: a select while the user sees few accounts, a picker that
searches as you type beyond; without JavaScript the picker's text is resolved by exact name."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.testing import counting_queries
from plugins.sales.models import Opportunity
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.customers.test_api import assert_problem, token_for
from tests.plugins.sales.helpers import default_ids, in_company


@pytest.fixture
def many(app, company, admin, monkeypatch):
    """More accounts than the form lists in a select (the limit lowered to 2 for the test)."""
    monkeypatch.setattr("plugins.sales.opportunities_views.ACCOUNT_SELECT_LIMIT", 2)
    default_ids(app, company)
    return {name: add_account(app, company, name, admin.id)
            for name in ("Globex", "Globex Asia", "Initech", "Umbrella")}


def deal_accounts(app, company) -> list[int | None]:
    return in_company(app, company, lambda session: list(session.scalars(select(Opportunity.account_id))))


def test_few_accounts_get_a_plain_select(client, app, company, admin):
    add_account(app, company, "Globex", admin.id)
    form = client.get("/sales/opportunities/new").text
    assert re.search(r'<select class="form-select" id="field-account_id" name="account_id"', form)
    assert 'role="combobox"' not in form


def test_many_accounts_get_an_accessible_picker(client, app, company, many):
    form = client.get(f"/sales/opportunities/new?account_id={many['Initech']}").text
    assert '<select class="form-select" id="field-account_id"' not in form
    assert re.search(rf'<input type="hidden" id="field-account_id" name="account_id" value="{many["Initech"]}"', form)
    text = re.search(r'<input type="text"[^>]*id="field-account_id-text"[^>]*>', form, re.DOTALL).group(0)
    assert 'role="combobox"' in text and 'aria-controls="field-account_id-listbox"' in text
    assert 'value="Initech"' in text and 'hx-get="/sales/opportunities/account-options"' in text
    assert 'role="listbox"' in form and '<label class="form-label" for="field-account_id-text">' in form


def test_the_picker_endpoint_answers_matching_accounts_in_bounded_queries(client, app, company, admin, many):
    with counting_queries(app) as few:
        answer = client.get("/sales/opportunities/account-options?account_name=glob&listbox=x-list")
    assert answer.status_code == 200
    options = re.findall(r'role="option" id="x-list-(\d+)" data-value="\d+" aria-selected="false">([^<]+)<',
                         answer.text)
    assert [name for _id, name in options] == ["Globex", "Globex Asia"]
    for number in range(30):
        add_account(app, company, f"Globex branch {number}", admin.id)
    with counting_queries(app) as more:
        answer = client.get("/sales/opportunities/account-options?account_name=glob")
    assert answer.text.count('role="option"') == 20  # PICKER_MATCHES
    assert len(more) == len(few) <= 12
    nothing = client.get("/sales/opportunities/account-options?account_name=zzz").text
    assert 'aria-disabled="true"' in nothing and "zzz" in nothing
    assert client.get("/sales/opportunities/account-options?account_name=").text.strip() == ""


def test_the_picker_offers_only_the_accounts_the_user_may_see(client, app, company, many, login_as):
    rep = make_member(app, company, "rep@example.com", "Rep")
    add_account(app, company, "Globex rep branch", rep.id)
    login_as(rep)
    answer = client.get("/sales/opportunities/account-options?account_name=globex").text
    assert "Globex rep branch" in answer and ">Globex<" not in answer
    outsider = make_member(app, company, "none@example.com", "None", template=None)
    login_as(outsider)
    assert client.get("/sales/opportunities/account-options?account_name=globex").status_code == 403


def test_the_chosen_id_is_kept_when_the_text_is_its_name(client, app, company, many):
    saved = client.post("/sales/opportunities/new", data={
        "name": "Deal", "account_id": many["Globex Asia"], "account_name": "Globex Asia"})
    assert saved.status_code == 302, saved.text
    assert deal_accounts(app, company) == [many["Globex Asia"]]


def test_without_javascript_the_typed_name_chooses_the_account(client, app, company, many):
    saved = client.post("/sales/opportunities/new", data={
        "name": "Deal", "account_id": many["Globex"], "account_name": " umbrella "})
    assert saved.status_code == 302, saved.text
    assert deal_accounts(app, company) == [many["Umbrella"]]


@pytest.mark.parametrize(("typed", "message"), [
    ("Globe", "No account you can see is named “Globe”"),
    ("Nowhere Inc", "No account you can see is named “Nowhere Inc”"),
])
def test_a_name_matching_no_account_exactly_is_refused_inline_keeping_the_text(client, app, company, many, typed,
                                                                                 message):
    answer = client.post("/sales/opportunities/new", data={"name": "Deal", "account_name": typed})
    assert answer.status_code == 422
    error = re.search(r'<div class="invalid-feedback" id="field-account_id-error">([^<]*)</div>', answer.text)
    assert error is not None and message in error.group(1).replace("&#34;", '"')
    assert f'value="{typed}"' in answer.text and deal_accounts(app, company) == []


def test_two_accounts_with_the_typed_name_ask_to_choose(client, app, company, admin, many):
    add_account(app, company, "Initech", admin.id)
    answer = client.post("/sales/opportunities/new", data={"name": "Deal", "account_name": "Initech"})
    assert answer.status_code == 422 and "Several accounts are named" in answer.text


def test_an_empty_text_means_no_account(client, app, company, many):
    saved = client.post("/sales/opportunities/new", data={"name": "Deal", "account_id": many["Globex"],
                                                          "account_name": ""})
    assert saved.status_code == 302 and deal_accounts(app, company) == [None]


def test_beyond_the_select_any_visible_account_is_accepted_and_others_refused(client, app, company, many):
    auth = token_for(app, company, scopes="sales:*")
    body = {"name": "Deal", "account_id": many["Umbrella"]}  # not among the first 2 by name
    assert client.post("/api/v1/sales/opportunities", json=body, headers=auth).status_code == 201
    assert_problem(client.post("/api/v1/sales/opportunities", json={"name": "Deal", "account_id": 999999},
                               headers=auth), 422, "account_id")
