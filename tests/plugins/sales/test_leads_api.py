"""The leads API (/api/v1/sales/leads): add (201, 422 with the form's rules), read, change,
trash (404 afterwards), filters, visibility (a rep's token sees their own), company
isolation, events and the query count of a list."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.testing import counting_queries, make_company
from plugins.sales.models import Lead
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.customers.test_api import assert_problem, names, token_for
from tests.plugins.sales.test_leads import add_lead, lead_events

API = "/api/v1/sales/leads"


@pytest.fixture
def auth(app, company):
    company.enable("sales")
    return token_for(app, company, scopes="sales:*")


def test_posting_a_lead_answers_201_with_it_owned_by_the_token_user(client, auth, company, db_session):
    answer = client.post(API, headers=auth, json={"name": "Li Wei", "email": "LI@Panda.example",
                                                  "organisation": "Panda Foods", "source": "web"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["name"], body["status"], body["owner_id"]) == ("Li Wei", "new", company.admin.id)
    assert body["created_at"].endswith("+00:00")
    assert db_session.get(Lead, body["id"]).email_normalized == "li@panda.example"
    assert lead_events(db_session) == [("sales.lead.created", {"id": body["id"], "name": "Li Wei"})]


@pytest.mark.parametrize(("body", "field"), [
    ({"organisation": "No name"}, "name"),
    ({"name": "X", "email": "nope"}, "email"),
    ({"name": "X", "status": "converted"}, "status"),
    ({"name": "X", "owner_id": 999999}, "owner_id"),
])
def test_a_bad_lead_is_refused_with_422_naming_the_field(client, auth, db_session, body, field):
    assert_problem(client.post(API, headers=auth, json=body), 422, field)
    assert db_session.scalar(select(Lead)) is None


def test_a_lead_is_read_changed_and_trashed(client, app, company, auth, db_session):
    lead_id = add_lead(app, company, "Changeable", owner_id=company.admin.id)
    assert client.get(f"{API}/{lead_id}", headers=auth).get_json()["name"] == "Changeable"
    changed = client.patch(f"{API}/{lead_id}", headers=auth, json={"status": "qualified"})
    assert changed.status_code == 200 and changed.get_json()["status"] == "qualified"
    assert changed.get_json()["name"] == "Changeable"  # left out: kept
    assert client.delete(f"{API}/{lead_id}", headers=auth).status_code == 204
    assert_problem(client.get(f"{API}/{lead_id}", headers=auth), 404)
    assert [name for name, _payload in lead_events(db_session)] == ["sales.lead.updated", "sales.lead.deleted"]


def test_a_converted_lead_cannot_be_moved_back_by_hand(client, app, company, auth):
    lead_id = add_lead(app, company, "Converted", status="converted")
    assert_problem(client.patch(f"{API}/{lead_id}", headers=auth, json={"status": "new"}), 422, "status")
    assert client.patch(f"{API}/{lead_id}", headers=auth, json={"notes": "kept"}).status_code == 200


@pytest.mark.parametrize(("query", "expected"), [
    ({"status": "qualified"}, ["Bob"]),
    ({"source": "web"}, ["Cy", "Bob"]),
    ({"email": " ANN@alpha.example "}, ["Ann"]),
    ({"updated_after": "2000-01-01T00:00:00+08:00"}, ["Cy", "Bob", "Ann"]),
    ({"updated_after": "2999-01-01T00:00:00Z"}, []),
])
def test_the_lead_list_filters(client, app, company, auth, query, expected):
    add_lead(app, company, "Ann", email="ann@alpha.example", source="fair")
    add_lead(app, company, "Bob", status="qualified", source="web")
    add_lead(app, company, "Cy", source="web")
    assert names(client.get(API, headers=auth, query_string=query)) == expected


def test_the_lead_list_filters_by_owner_and_refuses_unknown_filters(client, app, company, auth):
    add_lead(app, company, "Owned", owner_id=company.admin.id)
    add_lead(app, company, "Unowned")
    assert names(client.get(API, headers=auth, query_string={"owner_id": company.admin.id})) == ["Owned"]
    assert_problem(client.get(API, headers=auth, query_string={"colour": "red"}), 422)


def test_a_reps_token_sees_only_their_own_leads(client, app, company, auth):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    add_lead(app, company, "Rita's", owner_id=rep.id)
    others = add_lead(app, company, "Admin's", owner_id=company.admin.id)
    rep_auth = token_for(app, company, rep, scopes="sales:*")
    assert names(client.get(API, headers=rep_auth)) == ["Rita's"]
    assert_problem(client.get(f"{API}/{others}", headers=rep_auth), 404)
    assert client.delete(f"{API}/{others}", headers=rep_auth).status_code in (403, 404)


def test_another_companys_lead_is_404(client, app, auth):
    other = make_company(app, "Other", "other")
    assert_problem(client.get(f"{API}/{add_lead(app, other, 'Foreign')}", headers=auth), 404)


def test_the_lead_list_runs_the_same_number_of_queries_for_2_and_20_leads(client, app, company, auth):
    for number in range(2):
        add_lead(app, company, f"Few {number}")
    client.get(API, headers=auth)  # the first request of a token also records its first use
    with counting_queries(app) as few:
        assert client.get(API, headers=auth).status_code == 200
    for number in range(18):
        add_lead(app, company, f"Many {number}")
    with counting_queries(app) as many:
        assert len(names(client.get(API, headers=auth))) == 20
    assert len(many) == len(few)
