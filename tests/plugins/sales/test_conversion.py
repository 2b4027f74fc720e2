"""Converting a lead: the matches offered (contacts by email or phone however written, accounts
by organisation name whatever the legal form), what a conversion creates and copies, using an
existing account without a duplicate, the lead's history on the account's and the contact's
pages, refusing a second conversion, the event, permissions, the API, the account's "Leads"
panel and the lead page's conversion line, with bounded queries."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from core.models import Event, Role, RolePermission
from core.testing import counting_queries
from plugins.customers.models import Account, Contact, FollowUpTask, Interaction
from plugins.sales.models import Lead, Opportunity, OpportunityContact
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.customers.test_api import assert_problem, token_for
from tests.plugins.customers.test_contacts import add_contact
from tests.plugins.sales.helpers import default_ids, in_company
from tests.plugins.sales.test_leads import add_lead

FOLLOW_UPS = "/customers/follow-ups"


def convert_url(lead_id: int) -> str:
    return f"/sales/leads/{lead_id}/convert"


def panel_url(page: str, key: str) -> str:
    found = re.search(rf'data-panel="{re.escape(key)}".*?hx-get="([^"]+)"', page, re.DOTALL)
    assert found is not None, f"no panel {key}"
    return found.group(1).replace("&amp;", "&")


def conversion_events(db_session) -> list[dict]:
    return list(db_session.scalars(select(Event.payload).where(Event.name == "sales.lead.converted")))


@pytest.fixture
def lead_id(app, company, admin):
    return add_lead(app, company, "Li Wei", owner_id=admin.id, organisation="Panda Foods", title="Buyer",
                    email="li.wei@panda.example", phone="+86 138 0013 8000", region="East", industry="Food",
                    source="fair", notes="Met at the spring fair")


# -- matches --------------------------------------------------------------------------------------


def test_the_page_offers_contacts_with_the_leads_email_or_phone_however_written(client, app, company, admin,
                                                                                lead_id):
    by_email = add_contact(app, company, "Wei Li (email)", email="LI.WEI@Panda.Example ")
    by_phone = add_contact(app, company, "Wei Li (phone)", phone="0086-138-0013-8000")
    add_contact(app, company, "Someone else", email="other@panda.example", phone="+86 139 0000 0000")
    page = client.get(convert_url(lead_id))
    assert page.status_code == 200
    offered = re.findall(r'name="contact" id="contact-(\d+)"', page.text)
    assert sorted(int(value) for value in offered) == sorted([by_email, by_phone])
    assert "same email" in page.text and "same phone" in page.text
    assert re.search(r'name="contact" id="contact-new" value="new"\s*>', page.text)  # not chosen: a match is


def test_the_page_offers_accounts_of_the_same_name_whatever_the_legal_form_and_case(client, app, company, admin):
    lead = add_lead(app, company, "Ann", owner_id=admin.id, organisation="PANDA FOODS Limited")
    same = add_account(app, company, "Panda Foods Co., Ltd.")
    add_account(app, company, "Panda Foodstuffs")
    page = client.get(convert_url(lead)).text
    assert re.findall(r'name="account" id="account-(\d+)"', page) == [str(same)]
    assert "Use existing account Panda Foods Co., Ltd." in page and "Same organisation name" in page
    assert f'id="account-{same}" value="{same}"\n           checked' in page  # chosen first
    assert "Create new account PANDA FOODS Limited" in page
    assert 'value="PANDA FOODS Limited deal"' in page  # the opportunity's name


def test_the_account_of_a_matching_contact_is_offered_and_chosen_first(client, app, company, admin, lead_id):
    account = add_account(app, company, "Bamboo Trading")
    add_contact(app, company, "Li W.", email="li.wei@panda.example", account_id=account)
    page = client.get(convert_url(lead_id)).text
    assert "Use existing account Bamboo Trading" in page and "Account of a matching contact" in page
    assert re.search(rf'id="account-{account}" value="{account}"\s*checked', page)


# -- converting -----------------------------------------------------------------------------------


def test_converting_creates_the_account_contact_and_opportunity_with_the_owner_and_the_leads_values(
        client, app, company, admin, lead_id, db_session):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    in_company(app, company, lambda session: setattr(session.get(Lead, lead_id), "owner_id", rep.id))
    _pipeline, stages = default_ids(app, company)
    stage = next(iter(stages.values()))
    answer = client.post(convert_url(lead_id), data={
        "account": "new", "contact": "new", "with_opportunity": "1", "name": "Panda Foods deal",
        "stage_id": str(stage), "amount": "12500", "currency": "eur", "expected_close_date": "2030-06-30"})
    assert answer.status_code == 302, answer.text
    opportunity = db_session.scalar(select(Opportunity))
    assert answer.headers["Location"] == f"/sales/opportunities/{opportunity.id}"
    account, contact = db_session.scalar(select(Account)), db_session.scalar(select(Contact))
    assert (account.name, account.kind, account.region, account.industry, account.source, account.owner_id) == (
        "Panda Foods", "organisation", "East", "Food", "fair", rep.id)
    assert account.notes == "Met at the spring fair"
    assert (contact.name, contact.title, contact.email, contact.phone, contact.account_id, contact.owner_id) == (
        "Li Wei", "Buyer", "li.wei@panda.example", "+86 138 0013 8000", account.id, rep.id)
    assert (opportunity.name, opportunity.account_id, opportunity.stage_id, opportunity.amount,
            opportunity.currency, opportunity.owner_id, opportunity.source) == (
        "Panda Foods deal", account.id, stage, Decimal("12500.00"), "EUR", rep.id, "fair")
    assert db_session.scalar(select(OpportunityContact.contact_id)) == contact.id
    lead = db_session.get(Lead, lead_id)
    assert (lead.status, lead.converted_account_id, lead.converted_contact_id, lead.converted_opportunity_id) == (
        "converted", account.id, contact.id, opportunity.id)
    assert lead.converted_at is not None
    # The flash message links everything.
    page = client.get(answer.headers["Location"]).text
    assert f'href="/customers/accounts/{account.id}">Panda Foods</a>' in page
    assert f'href="/customers/contacts/{contact.id}">Li Wei</a>' in page
    assert f'href="/sales/leads/{lead_id}">Li Wei</a>' in page


def test_a_lead_without_organisation_becomes_an_individual_account_and_the_page_goes_to_it(
        client, app, company, admin, db_session):
    lead = add_lead(app, company, "Solo Buyer", owner_id=admin.id, email="solo@example.com", phone="555 0100")
    answer = client.post(convert_url(lead), data={"account": "new", "contact": "new"})
    account = db_session.scalar(select(Account))
    assert answer.headers["Location"] == f"/customers/accounts/{account.id}"
    assert (account.name, account.kind, account.email, account.phone) == ("Solo Buyer", "individual",
                                                                          "solo@example.com", "555 0100")
    assert db_session.scalar(select(Opportunity)) is None


def test_choosing_an_existing_account_and_contact_creates_no_duplicate(client, app, company, admin, lead_id,
                                                                        db_session):
    account = add_account(app, company, "Panda Foods Ltd")
    contact = add_contact(app, company, "Li Wei", email="li.wei@panda.example")  # no account yet
    answer = client.post(convert_url(lead_id), data={"account": str(account), "contact": str(contact)})
    assert answer.headers["Location"] == f"/customers/accounts/{account}"
    assert db_session.scalar(select(func.count()).select_from(Account)) == 1
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1
    assert db_session.get(Contact, contact).account_id == account  # joined the chosen account
    lead = db_session.get(Lead, lead_id)
    assert (lead.converted_account_id, lead.converted_contact_id) == (account, contact)


def test_a_new_contact_at_an_existing_account(client, app, company, admin, lead_id, db_session):
    account = add_account(app, company, "Panda Foods")
    client.post(convert_url(lead_id), data={"account": str(account), "contact": "new"})
    contact = db_session.scalar(select(Contact))
    assert (contact.name, contact.account_id) == ("Li Wei", account)
    assert db_session.scalar(select(func.count()).select_from(Account)) == 1


def test_the_leads_history_shows_on_the_account_and_the_contact_after_conversion(client, app, company, admin,
                                                                                 lead_id, db_session):
    assert client.post(f"{FOLLOW_UPS}/log/sales_lead/{lead_id}",
                       data={"kind": "call", "summary": "Discussed the bamboo order"}).status_code in (200, 302)
    assert client.post(f"{FOLLOW_UPS}/tasks/sales_lead/{lead_id}",
                       data={"title": "Send the catalogue", "due_at": "2030-05-01T09:00"}).status_code in (200, 302)
    client.post(convert_url(lead_id), data={"account": "new", "contact": "new"})
    account, contact = db_session.scalar(select(Account)), db_session.scalar(select(Contact))
    interaction, task = db_session.scalar(select(Interaction)), db_session.scalar(select(FollowUpTask))
    assert (interaction.subject_type, interaction.subject_id) == ("sales_lead", str(lead_id))  # still the lead's
    assert (interaction.account_id, interaction.contact_id, task.account_id) == (account.id, contact.id, account.id)
    assert account.last_follow_up_at is not None and account.next_follow_up_at.year == 2030
    account_page = client.get(f"/customers/accounts/{account.id}").text
    assert "Discussed the bamboo order" in client.get(panel_url(account_page, "customers.timeline")).text
    assert "Send the catalogue" in client.get(panel_url(account_page, "customers.tasks")).text
    contact_page = client.get(f"/customers/contacts/{contact.id}").text
    assert "Discussed the bamboo order" in client.get(panel_url(contact_page, "customers.timeline")).text
    lead_page = client.get(f"/sales/leads/{lead_id}").text
    assert "Discussed the bamboo order" in client.get(panel_url(lead_page, "customers.timeline")).text


def test_a_converted_lead_is_not_converted_again(client, app, company, admin, lead_id, db_session):
    client.post(convert_url(lead_id), data={"account": "new", "contact": "new"})
    again = client.post(convert_url(lead_id), data={"account": "new", "contact": "new"})
    assert again.headers["Location"] == f"/sales/leads/{lead_id}"
    assert "This lead was converted already." in client.get(again.headers["Location"]).text
    assert db_session.scalar(select(func.count()).select_from(Account)) == 1
    assert len(conversion_events(db_session)) == 1


def test_a_trashed_lead_cannot_be_converted(app, company, admin, lead_id):
    from core.db import utcnow
    from plugins.sales.conversion import ConversionError, convert_lead

    def work(session):
        lead = session.get(Lead, lead_id)
        lead.deleted_at = utcnow()
        with pytest.raises(ConversionError, match="trash"):
            convert_lead(session, lead, user_id=admin.id)
    in_company(app, company, work)


def test_converting_emits_the_event_with_the_ids(client, admin, lead_id, db_session):
    client.post(convert_url(lead_id), data={"account": "new", "contact": "new"})
    lead = db_session.get(Lead, lead_id)
    assert conversion_events(db_session) == [{"id": lead_id, "name": "Li Wei", "account_id": lead.converted_account_id,
                                              "contact_id": lead.converted_contact_id, "opportunity_id": None}]
    names = set(db_session.scalars(select(Event.name)))
    assert {"customers.account.created", "customers.contact.created"} <= names


def test_missing_choices_and_bad_opportunity_values_are_shown_inline_and_nothing_is_created(
        client, admin, lead_id, db_session):
    answer = client.post(convert_url(lead_id), data={"contact": "new", "with_opportunity": "1", "name": "Kept deal",
                                                     "amount": "-5", "currency": "EURO"})
    assert answer.status_code == 422
    assert 'id="account-error"' in answer.text
    assert 'id="opportunity-amount-error"' in answer.text and 'id="opportunity-currency-error"' in answer.text
    assert 'value="Kept deal"' in answer.text and 'name="with_opportunity" id="with-opportunity" value="1"\n' \
        '                     checked' in answer.text
    assert db_session.scalar(select(Account)) is None and db_session.get(Lead, lead_id).status == "new"


# -- permissions ----------------------------------------------------------------------------------


def _without(app, company, template: str, code: str) -> None:
    def work(session):
        role = session.scalar(select(Role.id).where(Role.company_id == company.id, Role.template == template))
        session.execute(delete(RolePermission).where(RolePermission.role_id == role, RolePermission.code == code))
    in_company(app, company, work)


def test_without_the_permission_to_add_accounts_creating_one_is_refused_with_403(client, app, company, admin,
                                                                                 login_as, db_session):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    _without(app, company, "customers.sales_rep", "customers.account.write")
    lead = add_lead(app, company, "Rep Lead", owner_id=rep.id, organisation="Nowhere Inc")
    login_as(rep)
    page = client.get(convert_url(lead))
    assert page.status_code == 403 and "Add and change accounts" in page.text
    refused = client.post(convert_url(lead), data={"account": "new", "contact": "new"})
    assert refused.status_code == 403 and "You may not add accounts" in refused.text
    assert db_session.scalar(select(Account)) is None
    # An existing account is fine: the page offers it, and "new" is disabled.
    account = add_account(app, company, "Nowhere", owner_id=rep.id)
    page = client.get(convert_url(lead)).text
    assert re.search(r'id="account-new" value="new"\s*disabled', page)
    assert client.post(convert_url(lead), data={"account": str(account), "contact": "new"}).status_code == 302


def test_a_rep_may_not_convert_someone_elses_lead_nor_without_write_permission(client, app, company, admin,
                                                                              login_as):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    viewer = make_member(app, company, "none@acme.test", "No Role", template=None)
    lead = add_lead(app, company, "Admin's lead", owner_id=admin.id)
    login_as(rep)
    assert client.get(convert_url(lead)).status_code == 404
    login_as(viewer)
    assert client.get(convert_url(lead)).status_code == 403


def test_the_lead_page_offers_convert_then_says_what_it_became(client, admin, lead_id):
    page = client.get(f"/sales/leads/{lead_id}").text
    assert f'href="/sales/leads/{lead_id}/convert"' in page
    client.post(convert_url(lead_id), data={"account": "new", "contact": "new"})
    page = client.get(f"/sales/leads/{lead_id}").text
    assert f'href="/sales/leads/{lead_id}/convert"' not in page
    assert "Converted on" in page and ">Panda Foods</a> / <a" in page and ">Li Wei</a>" in page


# -- the account's "Leads" panel ------------------------------------------------------------------


def test_the_account_page_lists_the_leads_converted_to_it_in_few_queries(client, app, company, admin, lead_id):
    account = add_account(app, company, "Panda Foods")
    page = client.get(f"/customers/accounts/{account}").text
    url = panel_url(page, "sales.converted_leads")
    assert "No lead was converted to this account." in client.get(url).text
    client.post(convert_url(lead_id), data={"account": str(account), "contact": "new"})
    assert f'href="/sales/leads/{lead_id}">Li Wei</a>' in client.get(url).text

    def more(session):
        for index in range(15):
            session.add(Lead(company_id=company.id, name=f"Old lead {index}", status="converted",
                             converted_account_id=account, converted_at=session.get(Lead, lead_id).converted_at))
    client.get(url)
    with counting_queries(app) as few:
        client.get(url)
    in_company(app, company, more)
    with counting_queries(app) as many:
        answer = client.get(url)
    assert len(many) == len(few) and "Only the first 10 are shown." in answer.text


def test_the_convert_page_runs_the_same_number_of_queries_whatever_the_matches(client, app, company, admin,
                                                                               lead_id):
    def add_matches(count):
        for index in range(count):
            add_account(app, company, f"Panda Foods {'Ltd' if index % 2 else 'Inc'}")
            elsewhere = add_account(app, company, f"Elsewhere {index}")
            add_contact(app, company, f"Li {index}", email="li.wei@panda.example", account_id=elsewhere)
    add_matches(1)
    client.get(convert_url(lead_id))
    with counting_queries(app) as few:
        client.get(convert_url(lead_id))
    add_matches(8)
    with counting_queries(app) as many:
        assert client.get(convert_url(lead_id)).status_code == 200
    assert len(many) == len(few)


# -- API ------------------------------------------------------------------------------------------


@pytest.fixture
def auth(app, company):
    company.enable("sales")
    return token_for(app, company, scopes="sales:*")


def api(lead: int) -> str:
    return f"/api/v1/sales/leads/{lead}/convert"


def test_the_api_converts_with_new_records_and_an_opportunity(client, app, company, auth, db_session):
    lead = add_lead(app, company, "Api Lead", owner_id=company.admin.id, organisation="Api Org")
    answer = client.post(api(lead), headers=auth, json={"opportunity": {"name": "Api deal", "amount": "100"}})
    assert answer.status_code == 200, answer.text
    body = answer.get_json()
    opportunity = db_session.get(Opportunity, body["opportunity_id"])
    assert (body["created_account"], body["created_contact"], opportunity.account_id) == (
        True, True, body["account_id"])
    assert db_session.get(Account, body["account_id"]).name == "Api Org"
    assert db_session.get(Lead, lead).converted_opportunity_id == opportunity.id


def test_the_api_uses_an_existing_account_or_none(client, app, company, auth, db_session):
    account = add_account(app, company, "Existing")
    first = add_lead(app, company, "First", owner_id=company.admin.id)
    second = add_lead(app, company, "Second", owner_id=company.admin.id)
    body = client.post(api(first), headers=auth, json={"account_id": account}).get_json()
    assert (body["account_id"], body["created_account"], body["opportunity_id"]) == (account, False, None)
    body = client.post(api(second), headers=auth, json={"create_account": False}).get_json()
    assert body["account_id"] is None and db_session.get(Contact, body["contact_id"]).account_id is None
    assert db_session.scalar(select(func.count()).select_from(Account)) == 1


def test_the_api_answers_409_for_a_converted_lead(client, app, company, auth):
    lead = add_lead(app, company, "Twice", owner_id=company.admin.id)
    assert client.post(api(lead), headers=auth, json={}).status_code == 200
    again = client.post(api(lead), headers=auth, json={})
    assert again.status_code == 409 and "converted already" in again.get_json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"account_id": 999999}, "account_id"),
    ({"contact_id": 999999}, "contact_id"),
    ({"opportunity": {"name": "X", "stage_id": 999999}}, "opportunity.stage_id"),
    ({"opportunity": {"amount": "1"}}, "opportunity"),
    ({"opportunity": {"name": "X", "currency": "EURO"}}, "opportunity"),
    ({"create_account": "maybe"}, "create_account"),
])
def test_the_api_refuses_bad_fields_with_422_naming_them(client, app, company, auth, db_session, body, field):
    lead = add_lead(app, company, "Bad", owner_id=company.admin.id)
    problem = assert_problem(client.post(api(lead), headers=auth, json=body), 422)
    assert any(key.startswith(field) for key in problem["errors"]), problem
    assert db_session.scalar(select(Account)) is None and db_session.get(Lead, lead).status == "new"


def test_the_api_with_an_existing_contact_and_no_new_account_uses_the_contacts_account(client, app, company, auth,
                                                                                        db_session):
    account = add_account(app, company, "Contact's account")
    contact = add_contact(app, company, "Known", account_id=account)
    lead = add_lead(app, company, "Known again", owner_id=company.admin.id, organisation="Other name")
    body = client.post(api(lead), headers=auth, json={"contact_id": contact, "create_account": False}).get_json()
    assert (body["account_id"], body["contact_id"], body["created_account"], body["created_contact"]) == (
        account, contact, False, False)
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1
