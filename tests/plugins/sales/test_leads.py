"""Lead pages: the form and its validation, the list (search, filters, export, bulk trash,
query count), visibility (a rep sees their own), the lead's page with the follow-up panels,
trash with undo, domain events and global search."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.models import Event
from core.testing import counting_queries, make_company
from plugins.sales.models import Lead
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.sales.helpers import in_company


def add_lead(app, company, name: str, owner_id: int | None = None, **values) -> int:
    def work(session):
        lead = Lead(company_id=company.id, name=name, owner_id=owner_id, **values)
        session.add(lead)
        session.flush()
        return lead.id
    return in_company(app, company, work)


def names_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/sales/leads/\d+">([^<]+)</a>', html)


def lead_events(db_session) -> list[tuple[str, dict]]:
    return [(name, payload) for name, payload in db_session.execute(
        select(Event.name, Event.payload).where(Event.name.like("sales.lead.%")).order_by(Event.id))]


# -- the form ----------------------------------------------------------------------------------------


def test_a_new_lead_is_saved_with_its_normalised_contact_details_and_shown_on_its_page(client, admin, db_session):
    answer = client.post("/sales/leads/new", data={
        "name": "Li Wei", "organisation": "Panda Foods", "title": "Buyer", "email": " Li.Wei@Panda.example ",
        "phone": "+86 138-0013-8000", "source": "fair", "campaign": "Spring fair", "status": "contacted",
        "owner_id": str(admin.id)})
    assert answer.status_code == 302
    lead = db_session.scalar(select(Lead))
    assert answer.headers["Location"] == f"/sales/leads/{lead.id}"
    assert (lead.name, lead.status, lead.owner_id, lead.email) == ("Li Wei", "contacted", admin.id,
                                                                   "Li.Wei@Panda.example")
    assert (lead.email_normalized, lead.phone_normalized) == ("li.wei@panda.example", "+8613800138000")
    page = client.get(f"/sales/leads/{lead.id}").text
    assert '<h1 class="mb-0">Li Wei</h1>' in page and "Contacted · Panda Foods" in page
    assert "Spring fair" in page and "created this" in page  # details and history


def test_the_lead_page_shows_the_customers_follow_up_panels(client, app, company, admin):
    lead_id = add_lead(app, company, "Panelled", owner_id=admin.id)
    page = client.get(f"/sales/leads/{lead_id}").text
    assert 'data-panel="customers.timeline"' in page and 'data-panel="customers.tasks"' in page
    url = re.search(r'data-panel="customers.timeline".*?hx-get="([^"]+)"', page, re.DOTALL).group(1)
    assert client.get(url.replace("&amp;", "&")).status_code == 200


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "Enter the person&#39;s name."),
    ("email", "not-an-email", "Not a valid email address."),
    ("status", "converted", "Choose one of the options."),
    ("owner_id", "999999", "Choose an owner among the company"),
])
def test_a_lead_with_a_bad_value_is_refused_on_that_field_and_what_was_typed_is_kept(
        client, admin, db_session, field, value, message):
    data = {"name": "Kept Name", "organisation": "Kept Org", "status": "new", field: value}
    answer = client.post("/sales/leads/new", data=data)
    assert answer.status_code == 422
    error = re.search(rf'<div class="invalid-feedback" id="field-{field}-error">([^<]*)</div>', answer.text)
    assert error is not None and message in error.group(1)
    assert 'value="Kept Org"' in answer.text
    assert db_session.scalar(select(Lead)) is None


def test_editing_a_lead_changes_it_and_a_converted_lead_stays_converted(client, app, company, admin, db_session):
    lead_id = add_lead(app, company, "Old Name", owner_id=admin.id)
    form = client.get(f"/sales/leads/{lead_id}/edit").text
    assert 'value="Old Name"' in form and 'value="converted"' not in form
    saved = client.post(f"/sales/leads/{lead_id}/edit", data={"name": "New Name", "status": "qualified"})
    assert saved.headers["Location"] == f"/sales/leads/{lead_id}"
    db_session.expire_all()
    assert (db_session.get(Lead, lead_id).name, db_session.get(Lead, lead_id).status) == ("New Name", "qualified")
    converted = add_lead(app, company, "Done Deal", owner_id=admin.id, status="converted")
    assert client.post(f"/sales/leads/{converted}/edit", data={"name": "Done", "status": "new"}).status_code == 422
    assert client.post(f"/sales/leads/{converted}/edit",
                       data={"name": "Done", "status": "converted"}).status_code == 302


def test_creating_changing_and_trashing_a_lead_emits_its_events(client, admin, db_session):
    client.post("/sales/leads/new", data={"name": "Evented", "status": "new"})
    lead_id = db_session.scalar(select(Lead.id))
    client.post(f"/sales/leads/{lead_id}/edit", data={"name": "Evented 2", "status": "contacted"})
    client.post(f"/sales/leads/{lead_id}/delete", data={"_confirmed": "yes"})
    assert lead_events(db_session) == [
        ("sales.lead.created", {"id": lead_id, "name": "Evented"}),
        ("sales.lead.updated", {"id": lead_id, "name": "Evented 2"}),
        ("sales.lead.deleted", {"id": lead_id, "name": "Evented 2"}),
    ]


# -- the list ----------------------------------------------------------------------------------------


@pytest.fixture
def three_leads(app, company, admin):
    return {
        "ann": add_lead(app, company, "Ann Lee", owner_id=admin.id, organisation="Alpha Ltd",
                        phone="+86 138 0013 8000", email="ann@alpha.example", status="new", source="fair",
                        region="North", industry="Energy"),
        "bob": add_lead(app, company, "Bob Stone", owner_id=admin.id, organisation="Beta GmbH",
                        email="Bob@Beta.example", status="qualified", source="web", region="South",
                        industry="Retail"),
        "cy": add_lead(app, company, "Cy Young", owner_id=None, status="new", source="web", region="North",
                       industry="Retail"),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ("ann", ["Ann Lee"]),
    ("beta", ["Bob Stone"]),                  # the organisation
    ("138-0013-8000", ["Ann Lee"]),           # typed with dashes, stored with spaces
    ("bob@BETA.example", ["Bob Stone"]),
    ("nobody", []),
])
def test_the_lead_list_searches_by_name_organisation_phone_and_email(client, three_leads, query, expected):
    assert names_listed(client.get("/sales/leads/", query_string={"q": query}).text) == expected


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "new"}, ["Ann Lee", "Cy Young"]),
    ({"source": "web"}, ["Bob Stone", "Cy Young"]),
    ({"region": "North", "industry": "Retail"}, ["Cy Young"]),
])
def test_the_lead_list_filters(client, three_leads, params, expected):
    found = names_listed(client.get("/sales/leads/", query_string={**params, "sort": "name"}).text)
    assert found == expected


def test_the_lead_list_filters_by_owner(client, three_leads, admin):
    found = names_listed(client.get("/sales/leads/", query_string={"owner": admin.id, "sort": "name"}).text)
    assert found == ["Ann Lee", "Bob Stone"]


def test_the_lead_list_exports_csv_of_the_current_filters(client, three_leads):
    answer = client.get("/sales/leads/export", query_string={"status": "qualified", "format": "csv"})
    assert answer.status_code == 200 and "Bob Stone" in answer.text and "Ann Lee" not in answer.text


def test_the_empty_lead_list_invites_to_add_one(client, admin):
    page = client.get("/sales/leads/").text
    assert "No leads yet" in page and 'href="/sales/leads/new"' in page


def test_bulk_trash_asks_first_then_moves_the_selected_leads_to_the_trash(client, three_leads, db_session):
    ids = [str(three_leads["ann"]), str(three_leads["bob"])]
    asked = client.post("/sales/leads/bulk/trash", data={"ids": ids, "action": "trash"})
    assert asked.status_code == 200 and "Move the selected leads to the trash?" in asked.text
    done = client.post("/sales/leads/bulk/trash",
                       data={"ids": ids, "action": "trash", "_confirmed": "yes", "next": "/sales/leads/"})
    assert done.headers["Location"] == "/sales/leads/"
    assert names_listed(client.get("/sales/leads/").text) == ["Cy Young"]
    assert [name for name, _payload in lead_events(db_session)] == ["sales.lead.deleted"] * 2


def test_the_lead_list_runs_the_same_number_of_queries_for_3_and_30_leads(client, app, company, admin):
    for number in range(3):
        add_lead(app, company, f"Few {number}", owner_id=admin.id, source=f"S{number}")
    with counting_queries(app) as few:
        assert client.get("/sales/leads/").status_code == 200
    for number in range(27):
        add_lead(app, company, f"Many {number}", owner_id=admin.id, source=f"S{number}")
    with counting_queries(app) as many:
        page = client.get("/sales/leads/").text
    assert len(names_listed(page)) == 25
    assert len(many) == len(few)


# -- visibility, trash, search -----------------------------------------------------------------------


def test_a_sales_rep_sees_and_finds_only_their_own_leads(client, app, company, admin, login_as):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    mine = add_lead(app, company, "Rita's lead", owner_id=rep.id)
    theirs = add_lead(app, company, "Someone else's lead", owner_id=admin.id)
    login_as(rep)
    assert names_listed(client.get("/sales/leads/").text) == ["Rita's lead".replace("'", "&#39;")]
    assert client.get(f"/sales/leads/{mine}").status_code == 200
    assert client.get(f"/sales/leads/{theirs}").status_code == 404
    assert client.post(f"/sales/leads/{mine}/delete", data={"_confirmed": "yes"}).status_code == 403
    search = client.get("/search", query_string={"q": "lead"}).text
    assert "Rita" in search and "Someone else" not in search


def test_a_user_without_the_sales_role_may_not_open_leads(client, app, company, admin, login_as):
    nobody = make_member(app, company, "none@acme.test", "No Role", template=None)
    login_as(nobody)
    assert client.get("/sales/leads/").status_code == 403


def test_another_companys_lead_is_404(client, app, admin):
    other = make_company(app, "Other", "other")
    assert client.get(f"/sales/leads/{add_lead(app, other, 'Foreign')}").status_code == 404


def test_trashing_a_lead_asks_first_then_undo_restores_it(client, app, company, admin):
    lead_id = add_lead(app, company, "Regrettable", owner_id=admin.id)
    asked = client.post(f"/sales/leads/{lead_id}/delete")
    assert asked.status_code == 200 and "Move the lead “Regrettable” to the trash?" in asked.text
    page = client.post(f"/sales/leads/{lead_id}/delete", data={"_confirmed": "yes"}, follow_redirects=True).text
    assert "moved to the trash" in page and "Undo" in page and names_listed(page) == []
    assert client.get(f"/sales/leads/{lead_id}").status_code == 404
    undo_url = f"/trash/sales_lead/{lead_id}/restore"
    assert f'action="{undo_url}"' in page
    client.post(undo_url, data={"next": "/sales/leads/"})
    assert client.get(f"/sales/leads/{lead_id}").status_code == 200


def test_global_search_finds_leads_by_phone_and_links_to_them(client, three_leads):
    page = client.get("/search", query_string={"q": "13800138000"}).text
    assert "Ann Lee" in page and f'/sales/leads/{three_leads["ann"]}' in page


def test_the_menu_offers_leads(client, admin):
    assert 'href="/sales/leads/"' in client.get("/sales/leads/").text
