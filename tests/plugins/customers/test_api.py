"""The customers REST API (/api/v1/customers/...): token scopes and permissions, lists with
pagination and filters, validation problems, record visibility, company isolation, the trash,
interactions and tasks, the OpenAPI document, and the query count of a list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.api_tokens import create_token
from core.db import get_session
from core.models import User
from core.testing import counting_queries, make_company
from plugins.customers.followups import ACCOUNT_TYPE, CONTACT_TYPE
from plugins.customers.models import Account, Contact, FollowUpTask, Interaction
from tests.plugins.customers.test_accounts import (
    add_account,
    events_named,
    make_member,
)

API = "/api/v1/customers"
PROBLEM = "application/problem+json"


def token_for(app, company, user=None, scopes: str = "customers:*") -> dict[str, str]:
    """The Authorization header of a new token of ``user`` (default: the administrator)."""
    with app.app_context():
        session = get_session()
        owner = session.get(User, (user or company.admin).id)
        secret = create_token(session, owner, company.id, {"name": "test", "scopes": scopes}).secret
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    for field in fields:
        assert field in body["errors"], body
    return body


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["name"] for item in response.get_json()]


def add_contact(app, company, name: str, owner_id: int | None = None, **values) -> int:
    with app.app_context():
        session = get_session()
        contact = Contact(company_id=company.id, name=name, owner_id=owner_id, **values)
        session.add(contact)
        session.commit()
        return contact.id


@pytest.fixture
def acme(company):
    company.enable("customers")
    return company


@pytest.fixture
def auth(app, acme):
    return token_for(app, acme)


# -- scopes and permissions -----------------------------------------------------------------------


def test_a_read_only_token_lists_but_may_not_create(client, app, acme):
    headers = token_for(app, acme, scopes="customers:read")
    assert client.get(f"{API}/accounts", headers=headers).status_code == 200
    refused = client.post(f"{API}/accounts", json={"name": "Nope"}, headers=headers)
    assert_problem(refused, 403)
    assert refused.get_json()["type"].endswith("insufficient-scope")


def test_a_member_without_the_permission_is_refused_whatever_the_token(client, app, acme):
    nobody = make_member(app, acme, "nobody@acme.test", "Nobody", template=None)
    response = client.get(f"{API}/accounts", headers=token_for(app, acme, nobody, scopes="*"))
    assert assert_problem(response, 403)["type"].endswith("permission-denied")


def test_without_a_token_the_api_answers_401(client, acme):
    assert_problem(client.get(f"{API}/accounts"), 401)


# -- the account list ------------------------------------------------------------------------------


@pytest.fixture
def accounts(app, acme):
    admin_id = acme.admin.id
    return {
        "alpha": add_account(app, acme, "Alpha Ltd", owner_id=admin_id, status="active", industry="Energy",
                             region="North", tier="gold", source="fair", kind="organisation"),
        "beta": add_account(app, acme, "Beta GmbH", owner_id=admin_id, status="prospect", industry="Retail",
                            region="South", tier="silver", source="referral", kind="organisation"),
        "gamma": add_account(app, acme, "Gamma Jones", owner_id=None, status="churned", industry="Retail",
                             region="North", tier="gold", source="web", kind="individual"),
    }


def test_the_account_list_pages_with_the_core_headers(client, auth, accounts):
    first = client.get(f"{API}/accounts?per_page=2", headers=auth)
    assert names(first) == ["Alpha Ltd", "Beta GmbH"]
    paging = json.loads(first.headers["X-Pagination"])
    assert (paging["total"], paging["total_pages"], paging["next_page"]) == (3, 2, 2)
    assert 'rel="next"' in first.headers["Link"]
    assert names(client.get(f"{API}/accounts?per_page=2&page=2", headers=auth)) == ["Gamma Jones"]
    assert_problem(client.get(f"{API}/accounts?per_page=1000", headers=auth), 422, "per_page")


@pytest.mark.parametrize(("query", "expected"), [
    ("name=ALPHA", ["Alpha Ltd"]),
    ("status=prospect", ["Beta GmbH"]),
    ("kind=individual", ["Gamma Jones"]),
    ("industry=Retail", ["Beta GmbH", "Gamma Jones"]),
    ("region=North", ["Alpha Ltd", "Gamma Jones"]),
    ("tier=gold", ["Alpha Ltd", "Gamma Jones"]),
    ("source=referral", ["Beta GmbH"]),
    ("region=North&tier=gold&kind=organisation", ["Alpha Ltd"]),
    ("sort=-name", ["Gamma Jones", "Beta GmbH", "Alpha Ltd"]),
    ("sort=id", ["Alpha Ltd", "Beta GmbH", "Gamma Jones"]),
])
def test_the_account_list_filters_and_sorts(client, auth, accounts, query, expected):
    assert names(client.get(f"{API}/accounts?{query}", headers=auth)) == expected


def test_the_account_list_filters_by_owner_and_by_update_time(client, app, auth, acme, accounts, db_session):
    assert names(client.get(f"{API}/accounts?owner_id={acme.admin.id}", headers=auth)) == ["Alpha Ltd", "Beta GmbH"]
    old = datetime(2020, 1, 1, tzinfo=UTC)
    db_session.get(Account, accounts["alpha"]).updated_at = old
    db_session.get(Account, accounts["beta"]).updated_at = old
    db_session.commit()
    # 2020-06-01 at 02:00 in UTC+02:00 is midnight UTC: the offset is honoured.
    since = "2020-06-01T02:00:00%2B02:00"
    assert names(client.get(f"{API}/accounts?updated_after={since}", headers=auth)) == ["Gamma Jones"]


@pytest.mark.parametrize("query", ["status=sleeping", "owner_id=abc", "colour=red", "sort=owner",
                                   "updated_after=yesterday"])
def test_a_bad_filter_is_a_422_naming_it(client, auth, accounts, query):
    assert_problem(client.get(f"{API}/accounts?{query}", headers=auth), 422, query.split("=")[0])


def test_the_account_list_runs_the_same_few_queries_however_many_accounts(client, app, auth, acme):
    def queries_for_the_list() -> int:
        with counting_queries(app) as statements:
            assert client.get(f"{API}/accounts?per_page=100", headers=auth).status_code == 200
        return len(statements)

    for index in range(2):
        add_account(app, acme, f"Few {index}", owner_id=acme.admin.id)
    queries_for_the_list()  # the first request of a token also records its first use
    few = queries_for_the_list()
    for index in range(25):
        add_account(app, acme, f"Many {index}", owner_id=acme.admin.id)
    assert queries_for_the_list() == few
    assert few <= 12


# -- one account: create, read, change, delete -----------------------------------------------------


def test_creating_an_account_validates_with_the_shared_schema_and_saves_tags_and_an_event(
        client, auth, acme, db_session):
    response = client.post(f"{API}/accounts", headers=auth, json={
        "name": "Globex", "status": "active", "email": "Info@Globex.example", "tags": "vip, partner"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["name"], body["status"], body["owner_id"], body["tags"]) == (
        "Globex", "active", acme.admin.id, "partner, vip")
    assert body["created_at"].endswith("+00:00")
    assert db_session.get(Account, body["id"]).email_normalized == "info@globex.example"
    assert events_named(db_session, "customers.account.") == [
        ("customers.account.created", {"id": body["id"], "name": "Globex"})]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "X", "website": "not a site"}, "website"),
    ({"name": "X", "status": "sleeping"}, "status"),
    ({"name": "X", "owner_id": 999999}, "owner_id"),  # not a member: the choices of the pages' form
    ({"name": "X", "colour": "red"}, "colour"),
])
def test_creating_an_account_with_bad_input_is_a_422_naming_the_field(client, auth, db_session, body, field):
    problem = assert_problem(client.post(f"{API}/accounts", headers=auth, json=body), 422, field)
    assert problem["type"] == "urn:atrium:problem:validation"
    assert db_session.scalar(select(Account)) is None


def test_an_account_is_read_and_patched_field_by_field(client, auth, accounts, db_session):
    url = f"{API}/accounts/{accounts['beta']}"
    assert client.get(url, headers=auth).get_json()["industry"] == "Retail"
    changed = client.patch(url, headers=auth, json={"status": "active", "tags": "key"})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.get_json()["status"], changed.get_json()["industry"], changed.get_json()["tags"]) == (
        "active", "Retail", "key")
    assert_problem(client.patch(url, headers=auth, json={"name": ""}), 422, "name")
    assert_problem(client.patch(url, headers=auth, json={"owner_id": 999999}), 422, "owner_id")
    db_session.expire_all()
    assert db_session.get(Account, accounts["beta"]).name == "Beta GmbH"
    assert [name for name, _ in events_named(db_session, "customers.account.")] == ["customers.account.updated"]


def test_deleting_an_account_moves_it_to_the_trash(client, auth, accounts, db_session):
    url = f"{API}/accounts/{accounts['alpha']}"
    response = client.delete(url, headers=auth)
    assert response.status_code == 204 and response.data == b""
    assert_problem(client.get(url, headers=auth), 404)
    assert "Alpha Ltd" not in names(client.get(f"{API}/accounts", headers=auth))
    trashed = db_session.scalar(select(Account).where(Account.id == accounts["alpha"])
                                .execution_options(include_deleted=True))
    assert trashed is not None and trashed.deleted_at is not None
    assert [name for name, _ in events_named(db_session, "customers.account.")] == ["customers.account.deleted"]


# -- visibility and companies ----------------------------------------------------------------------


def test_a_sales_rep_token_sees_only_the_reps_own_accounts(client, app, acme, accounts):
    rep = make_member(app, acme, "rep@acme.test", "Rep")
    mine = add_account(app, acme, "Rep's Own", owner_id=rep.id)
    headers = token_for(app, acme, rep)
    assert names(client.get(f"{API}/accounts", headers=headers)) == ["Rep's Own"]
    assert client.get(f"{API}/accounts/{mine}", headers=headers).status_code == 200
    other = f"{API}/accounts/{accounts['alpha']}"
    assert_problem(client.get(other, headers=headers), 404)
    assert_problem(client.patch(other, headers=headers, json={"name": "Taken"}), 404)
    # A contact may not be put at an account the rep cannot see.
    refused = client.post(f"{API}/contacts", headers=headers, json={"name": "C", "account_id": accounts["alpha"]})
    assert_problem(refused, 422, "account_id")


def test_another_companys_records_answer_404(client, app, acme, auth):
    globex = make_company(app, "Globex", "globex")
    globex.enable("customers")
    theirs = add_account(app, globex, "Their account")
    their_contact = add_contact(app, globex, "Their contact")
    assert_problem(client.get(f"{API}/accounts/{theirs}", headers=auth), 404)
    assert_problem(client.delete(f"{API}/accounts/{theirs}", headers=auth), 404)
    assert_problem(client.get(f"{API}/contacts/{their_contact}", headers=auth), 404)
    assert names(client.get(f"{API}/accounts", headers=auth)) == []
    refused = client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(theirs), "kind": "call"})
    assert_problem(refused, 422, "subject_id")


# -- contacts --------------------------------------------------------------------------------------


def test_contacts_are_created_listed_filtered_changed_and_trashed(client, app, auth, acme, accounts, db_session):
    created = client.post(f"{API}/contacts", headers=auth, json={
        "name": "Ann Lee", "email": "Ann@Alpha.Example", "account_id": accounts["alpha"], "consent_email": True})
    assert created.status_code == 201, created.get_data(as_text=True)
    ann = created.get_json()
    assert ann["consent_changed_at"] is not None
    add_contact(app, acme, "Bob Ray", owner_id=None, account_id=accounts["beta"])
    assert names(client.get(f"{API}/contacts", headers=auth)) == ["Ann Lee", "Bob Ray"]
    for query, expected in [("name=ann", ["Ann Lee"]), (f"account_id={accounts['beta']}", ["Bob Ray"]),
                            ("email=ANN@alpha.example", ["Ann Lee"]), ("consent_email=true", ["Ann Lee"]),
                            ("consent_email=false", ["Bob Ray"]), (f"owner_id={acme.admin.id}", ["Ann Lee"])]:
        assert names(client.get(f"{API}/contacts?{query}", headers=auth)) == expected, query
    assert_problem(client.post(f"{API}/contacts", headers=auth, json={"name": "X", "birthday": "soon"}),
                   422, "birthday")
    url = f"{API}/contacts/{ann['id']}"
    assert client.patch(url, headers=auth, json={"title": "CTO"}).get_json()["title"] == "CTO"
    assert client.delete(url, headers=auth).status_code == 204
    assert_problem(client.get(url, headers=auth), 404)
    assert [name for name, _ in events_named(db_session, "customers.contact.")] == [
        "customers.contact.created", "customers.contact.updated", "customers.contact.deleted"]


# -- interactions and tasks ------------------------------------------------------------------------


def test_interactions_are_logged_through_the_service_and_listed_with_filters(client, app, auth, acme, accounts,
                                                                             db_session):
    alpha = accounts["alpha"]
    contact = add_contact(app, acme, "Ann", owner_id=acme.admin.id, account_id=alpha)
    call = client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "kind": "call", "summary": "Intro",
        "occurred_at": "2026-01-10T09:00:00+00:00"})
    assert call.status_code == 201, call.get_data(as_text=True)
    assert (call.get_json()["account_id"], call.get_json()["owner_id"]) == (alpha, acme.admin.id)
    client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": CONTACT_TYPE, "subject_id": str(contact), "kind": "email",
        "occurred_at": "2026-02-10T09:00:00+00:00"})
    assert_problem(client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "kind": "note"}), 422, "summary")
    assert_problem(client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "kind": "fax"}), 422, "kind")

    def kinds(query: str) -> list[str]:
        response = client.get(f"{API}/interactions?{query}", headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["kind"] for item in response.get_json()]

    assert kinds("") == ["email", "call"]  # newest first
    assert kinds(f"account_id={alpha}") == ["email", "call"]  # the contact is at the account
    assert kinds(f"subject_type={CONTACT_TYPE}&subject_id={contact}") == ["email"]
    assert kinds("kind=call") == ["call"]
    assert kinds("occurred_after=2026-02-01T00:00:00Z") == ["email"]
    assert kinds("occurred_before=2026-02-01T00:00:00Z") == ["call"]
    db_session.expire_all()
    assert db_session.get(Account, alpha).last_follow_up_at is not None
    assert [name for name, _ in events_named(db_session, "customers.interaction.")] == [
        "customers.interaction.logged", "customers.interaction.logged"]


def test_a_rep_does_not_list_interactions_about_accounts_they_cannot_see(client, app, acme, accounts, auth):
    client.post(f"{API}/interactions", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(accounts["alpha"]), "kind": "call"})
    rep = make_member(app, acme, "rep@acme.test", "Rep")
    assert client.get(f"{API}/interactions", headers=token_for(app, acme, rep)).get_json() == []


def test_tasks_are_added_listed_by_filter_and_completed(client, app, auth, acme, accounts, db_session):
    alpha = accounts["alpha"]
    other = make_member(app, acme, "rep@acme.test", "Rep")
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    first = client.post(f"{API}/tasks", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "title": "Call back", "due_at": soon})
    assert first.status_code == 201, first.get_data(as_text=True)
    assert (first.get_json()["assignee_id"], first.get_json()["done"]) == (acme.admin.id, False)
    second = client.post(f"{API}/tasks", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "title": "Send offer", "due_at": later,
        "assignee_id": other.id}).get_json()
    assert_problem(client.post(f"{API}/tasks", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "title": "X", "due_at": soon,
        "assignee_id": 999999}), 422, "assignee_id")
    assert_problem(client.post(f"{API}/tasks", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(alpha), "title": "X"}), 422, "due_at")

    def titles(query: str) -> list[str]:
        response = client.get(f"{API}/tasks?{query}", headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["title"] for item in response.get_json()]

    assert titles("") == ["Call back", "Send offer"]
    assert titles(f"assignee_id={other.id}") == ["Send offer"]
    assert titles(f"due_before={(datetime.now(UTC) + timedelta(days=7)).isoformat().replace('+', '%2B')}") == [
        "Call back"]
    done = client.post(f"{API}/tasks/{first.get_json()['id']}/complete", headers=auth)
    assert done.status_code == 200 and done.get_json()["done"] is True
    assert titles("open=true") == ["Send offer"]
    assert titles("open=false") == ["Call back"]
    db_session.expire_all()
    assert db_session.get(FollowUpTask, second["id"]).done_at is None
    assert [name for name, _ in events_named(db_session, "customers.task.")] == [
        "customers.task.created", "customers.task.created", "customers.task.completed"]


def test_a_task_about_an_account_the_rep_cannot_see_is_404_to_complete(client, app, acme, accounts, auth,
                                                                        db_session):
    task = client.post(f"{API}/tasks", headers=auth, json={
        "subject_type": ACCOUNT_TYPE, "subject_id": str(accounts["alpha"]), "title": "Hidden",
        "due_at": "2030-01-01T00:00:00Z"}).get_json()
    rep = make_member(app, acme, "rep@acme.test", "Rep")
    headers = token_for(app, acme, rep)
    assert client.get(f"{API}/tasks", headers=headers).get_json() == []
    assert_problem(client.post(f"{API}/tasks/{task['id']}/complete", headers=headers), 404)
    assert db_session.get(FollowUpTask, task["id"]).done_at is None
    assert db_session.scalar(select(Interaction)) is None


# -- the OpenAPI document --------------------------------------------------------------------------


def test_the_openapi_document_lists_the_customers_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths[f"{API}/accounts"])
    assert {"get", "patch", "delete"} <= set(paths[f"{API}/accounts/{{account_id}}"])
    assert {"get", "post"} <= set(paths[f"{API}/contacts"])
    assert {"get", "patch", "delete"} <= set(paths[f"{API}/contacts/{{contact_id}}"])
    assert {"get", "post"} <= set(paths[f"{API}/interactions"])
    assert {"get", "post"} <= set(paths[f"{API}/tasks"])
    assert "post" in paths[f"{API}/tasks/{{task_id}}/complete"]
    parameters = {p["name"] for p in paths[f"{API}/accounts"]["get"]["parameters"]}
    assert {"name", "status", "kind", "industry", "region", "tier", "source", "owner_id", "updated_after",
            "sort", "page", "per_page"} <= parameters


def test_an_accounts_email_is_cleared_by_sending_an_empty_one(client, auth):
    created = client.post(f"{API}/accounts", json={"name": "Clearable", "email": " a@b.test "}, headers=auth)
    assert created.status_code == 201 and created.get_json()["email"] == "a@b.test"
    cleared = client.patch(f"{API}/accounts/{created.get_json()['id']}", json={"email": ""}, headers=auth)
    assert cleared.status_code == 200 and cleared.get_json()["email"] == ""
