"""The contacts of a deal: chosen on the form among the account's contacts (reloaded when
the account changes), shown on the deal's page, ``contact_ids`` in the API, and following
the survivor when customers merges contacts or accounts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.scoping import company_scope
from core.testing import counting_queries
from plugins.sales.models import Opportunity, OpportunityContact
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.customers.test_api import add_contact, assert_problem, token_for
from tests.plugins.sales.helpers import default_ids, in_company

API = "/api/v1/sales"


@pytest.fixture
def people(app, company, admin):
    """Two accounts: Globex with Ann and Bob, Initech with Cy."""
    default_ids(app, company)
    globex, initech = add_account(app, company, "Globex", admin.id), add_account(app, company, "Initech", admin.id)
    return {"globex": globex, "initech": initech,
            "ann": add_contact(app, company, "Ann Archer", admin.id, account_id=globex),
            "bob": add_contact(app, company, "Bob Baker", admin.id, account_id=globex),
            "cy": add_contact(app, company, "Cy Cole", admin.id, account_id=initech)}


def links(app, company, deal_id: int) -> set[int]:
    return set(in_company(app, company, lambda session: session.scalars(
        select(OpportunityContact.contact_id).where(OpportunityContact.opportunity_id == deal_id)).all()))


def only_deal(app, company) -> int:
    return in_company(app, company, lambda session: session.scalar(select(Opportunity.id)))


def test_the_form_links_the_chosen_contacts_and_the_page_shows_them_linked(client, app, company, people):
    form = client.get(f"/sales/opportunities/new?account_id={people['globex']}").text
    assert "Ann Archer" in form and "Bob Baker" in form and "Cy Cole" not in form
    saved = client.post("/sales/opportunities/new", data={
        "name": "Fleet", "account_id": people["globex"], "contact_ids": [people["ann"], people["bob"]]})
    assert saved.status_code == 302, saved.text
    deal_id = only_deal(app, company)
    assert links(app, company, deal_id) == {people["ann"], people["bob"]}
    page = client.get(f"/sales/opportunities/{deal_id}").text
    assert f'href="/customers/contacts/{people["ann"]}">Ann Archer</a>' in page
    edit = client.get(f"/sales/opportunities/{deal_id}/edit").text
    assert re.search(rf'<option value="{people["ann"]}" selected>Ann Archer', edit)
    client.post(f"/sales/opportunities/{deal_id}/edit", data={"name": "Fleet", "account_id": people["globex"],
                                                              "contact_ids": [people["bob"]]})
    assert links(app, company, deal_id) == {people["bob"]}


def test_a_contact_of_another_account_is_refused_inline_by_name_keeping_the_choice(client, app, company, people):
    answer = client.post("/sales/opportunities/new", data={
        "name": "Fleet", "account_id": people["globex"], "contact_ids": [people["ann"], people["cy"]]})
    assert answer.status_code == 422
    error = re.search(r'<div class="invalid-feedback" id="field-contact_ids-error">([^<]*)</div>', answer.text)
    assert error is not None and "Cy Cole" in error.group(1) and "Ann" not in error.group(1)
    assert re.search(rf'<option value="{people["cy"]}" selected>Cy Cole', answer.text)  # still there to unselect
    assert only_deal(app, company) is None


def test_contacts_without_an_account_are_refused(client, app, company, people):
    answer = client.post("/sales/opportunities/new", data={"name": "Fleet", "contact_ids": [people["ann"]]})
    assert answer.status_code == 422 and "Choose the account first" in answer.text


def test_changing_the_account_reloads_the_contact_options(client, app, company, people):
    url = f"/sales/opportunities/contact-options?account_id={people['initech']}&contact_ids={people['cy']}"
    with counting_queries(app) as queries:
        answer = client.get(url, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert f'<option value="{people["cy"]}" selected>Cy Cole</option>' in answer.text
    assert "Ann" not in answer.text and len(queries) <= 12
    assert client.get("/sales/opportunities/contact-options?account_id=999999").text.strip() == ""
    form = client.get("/sales/opportunities/new").text
    assert 'hx-get="/sales/opportunities/contact-options"' in form and 'hx-include="#field-contact_ids"' in form


def test_a_rep_sees_only_the_contacts_they_may_see(client, app, company, people, login_as):
    rep = make_member(app, company, "rep@example.com", "Rep")
    own = add_account(app, company, "Rep account", rep.id)
    add_contact(app, company, "Mine Person", rep.id, account_id=own)
    hidden = add_contact(app, company, "Hidden Person", company.admin.id, account_id=own)
    login_as(rep)
    answer = client.get(f"/sales/opportunities/contact-options?account_id={own}").text
    assert "Mine Person" in answer and "Hidden Person" not in answer
    refused = client.post("/sales/opportunities/new", data={"name": "R", "account_id": own, "contact_ids": [hidden]})
    assert refused.status_code == 422 and f"#{hidden}" in refused.text  # not named: the rep may not see it
    outsider = make_member(app, company, "none@example.com", "None", template=None)
    login_as(outsider)
    assert client.get(f"/sales/opportunities/contact-options?account_id={own}").status_code == 403


def test_the_api_sets_reads_and_checks_contact_ids(client, app, company, people):
    auth = token_for(app, company, scopes="sales:*")
    created = client.post(f"{API}/opportunities", json={"name": "Deal", "account_id": people["globex"],
                                                         "contact_ids": [people["ann"], people["ann"]]}, headers=auth)
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["contact_ids"] == [people["ann"]]
    wrong = client.patch(f"{API}/opportunities/{body['id']}", json={"contact_ids": [people["cy"]]}, headers=auth)
    assert "Cy Cole" in assert_problem(wrong, 422, "contact_ids")["errors"]["contact_ids"][0]
    assert_problem(client.patch(f"{API}/opportunities/{body['id']}", json={"contact_ids": ["x"]}, headers=auth),
                   422, "contact_ids.0")
    moved = client.patch(f"{API}/opportunities/{body['id']}", json={"account_id": people["initech"]}, headers=auth)
    assert moved.get_json()["contact_ids"] == []  # the old account's contacts leave with it
    both = client.patch(f"{API}/opportunities/{body['id']}", json={"contact_ids": [people["cy"]]}, headers=auth)
    assert client.get(f"{API}/opportunities/{body['id']}", headers=auth).get_json()["contact_ids"] == [people["cy"]]
    assert both.status_code == 200


def merge(app, company, model, survivor_id: int, merged_ids: list[int]) -> None:
    from core.db import get_session
    from plugins.customers.services import merge_customers

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            survivor = session.get(model, survivor_id)
            merged = [session.get(model, record_id) for record_id in merged_ids]
            merge_customers(session, survivor, merged, {}, company.admin.id)
            session.commit()


def test_merging_contacts_links_the_survivor_once_per_deal(client, app, company, people):
    from plugins.customers.models import Contact

    auth = token_for(app, company, scopes="sales:*")
    both = client.post(f"{API}/opportunities", json={"name": "Both", "account_id": people["globex"],
                                                      "contact_ids": [people["ann"], people["bob"]]}, headers=auth)
    bob_only = client.post(f"{API}/opportunities", json={"name": "Bob", "account_id": people["globex"],
                                                          "contact_ids": [people["bob"]]}, headers=auth)
    merge(app, company, Contact, people["ann"], [people["bob"]])
    assert people["ann"] in links(app, company, both.get_json()["id"])
    assert people["ann"] in links(app, company, bob_only.get_json()["id"])
    page = client.get(f"/sales/opportunities/{both.get_json()['id']}").text
    assert page.count("Ann Archer") >= 1 and "Bob Baker" not in page  # the merged one is in the trash


def test_merging_accounts_moves_their_deals_to_the_survivor(client, app, company, people):
    from plugins.customers.models import Account

    auth = token_for(app, company, scopes="sales:*")
    deal = client.post(f"{API}/opportunities", json={"name": "Cy deal", "account_id": people["initech"]},
                       headers=auth).get_json()
    merge(app, company, Account, people["globex"], [people["initech"]])
    assert client.get(f"{API}/opportunities/{deal['id']}", headers=auth).get_json()["account_id"] == people["globex"]
