"""Several phones and emails per account and contact: the form, the page, the API, the
derived contact-point index and search text, whatever writes the row."""

from __future__ import annotations

from sqlalchemy import insert, select

from core.db import get_session
from plugins.customers.models import Account, Contact, ContactPoint
from plugins.customers.services import (
    contact_point_rows,
    derived_columns,
    find_by_contact_point,
)
from tests.plugins.customers.test_accounts import add_account, admin  # noqa: F401  (fixture)
from tests.plugins.customers.test_api import API, acme, auth, token_for  # noqa: F401  (fixtures)


def points_of(session, **owner) -> list[tuple[str, str, str, int]]:
    column = ContactPoint.account_id if "account_id" in owner else ContactPoint.contact_id
    return [tuple(row) for row in session.execute(
        select(ContactPoint.kind, ContactPoint.value, ContactPoint.normalized, ContactPoint.position)
        .where(column == next(iter(owner.values()))).order_by(ContactPoint.kind, ContactPoint.position))]


def test_an_account_form_saves_other_phones_and_emails_and_the_page_lists_them_all(client, admin, db_session):
    response = client.post("/customers/accounts/new", data={
        "name": "Many Ways", "kind": "organisation", "status": "prospect", "phone": "+86 138-0013-8000",
        "email": "info@many.example", "other_phones": "010 6552 9988\n+86 139 0000 1111",
        "other_emails": "sales@many.example; Info@Many.example"})
    assert response.status_code == 302, response.get_data(as_text=True)
    account = db_session.scalar(select(Account).where(Account.name == "Many Ways"))
    assert account.other_phones == "010 6552 9988\n+86 139 0000 1111"
    # The same address in another case is one address: it is not indexed twice.
    assert points_of(db_session, account_id=account.id) == [
        ("email", "info@many.example", "info@many.example", 0),
        ("email", "sales@many.example", "sales@many.example", 1),
        ("phone", "+86 138-0013-8000", "+8613800138000", 0),
        ("phone", "010 6552 9988", "01065529988", 1),
        ("phone", "+86 139 0000 1111", "+8613900001111", 2),
    ]
    assert "01065529988" in account.search_text and "sales@many.example" in account.search_text
    page = client.get(f"/customers/accounts/{account.id}").get_data(as_text=True)
    assert 'href="tel:+8613900001111"' in page and 'href="mailto:sales@many.example"' in page


def test_editing_the_other_emails_replaces_the_indexed_ones(client, admin, app, company, db_session):
    account_id = add_account(app, company, "Changer", other_emails="old@x.example")
    response = client.post(f"/customers/accounts/{account_id}/edit", data={
        "name": "Changer", "kind": "organisation", "status": "prospect", "other_emails": "new@x.example"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db_session.expire_all()
    assert [row[1] for row in points_of(db_session, account_id=account_id)] == ["new@x.example"]
    assert "old@x.example" not in db_session.get(Account, account_id).search_text


def test_a_wrong_other_email_is_refused_naming_it_and_nothing_is_saved(client, admin, db_session):
    response = client.post("/customers/accounts/new", data={
        "name": "Bad Mail", "kind": "organisation", "status": "prospect",
        "other_emails": "good@x.example\nnot-an-address"})
    assert response.status_code == 422
    assert "“not-an-address” is not an email address." in response.get_data(as_text=True)
    assert db_session.scalar(select(Account)) is None


def test_a_contact_has_several_phones_too(client, admin, db_session):
    response = client.post("/customers/contacts/new", data={
        "name": "Wang Fang", "phone": "138 0013 8000", "other_phones": "139-0000-1111, 12"})
    assert response.status_code == 422  # "12" is too short to be a number
    assert "“12” is not a phone number." in response.get_data(as_text=True)
    response = client.post("/customers/contacts/new", data={
        "name": "Wang Fang", "phone": "138 0013 8000", "other_phones": "139-0000-1111"})
    assert response.status_code == 302, response.get_data(as_text=True)
    contact = db_session.scalar(select(Contact))
    assert [row[2] for row in points_of(db_session, contact_id=contact.id)] == ["13800138000", "13900001111"]


def test_the_api_takes_and_gives_the_other_values_as_lists(client, auth, db_session):
    response = client.post(f"{API}/accounts", headers=auth, json={
        "name": "Listy", "other_phones": ["138 0013 8000", "139 0000 1111"], "other_emails": ["a@l.example"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["other_phones"] == ["138 0013 8000", "139 0000 1111"]
    assert body["other_emails"] == ["a@l.example"]
    refused = client.post(f"{API}/accounts", headers=auth, json={"name": "X", "other_emails": ["a@l.example", 3]})
    assert refused.status_code == 422
    assert "other_emails" in refused.get_json()["errors"]


def test_records_are_found_by_any_of_their_numbers_but_not_from_the_trash(app, company, db_session):
    kept = add_account(app, company, "Kept", phone="138 0013 8000", other_phones="+86 10 6552 9988")
    trashed = add_account(app, company, "Trashed", other_phones="+86 (10) 6552-9988")
    with app.app_context():
        session = get_session()
        assert find_by_contact_point(session, Account, "phone", ["+861065529988", "999"]) == {
            "+861065529988": [kept, trashed]}
        from core.trash import soft_delete

        soft_delete(session.get(Account, trashed), None)
        session.flush()
        assert find_by_contact_point(session, Account, "phone", ["+861065529988"]) == {"+861065529988": [kept]}


def test_rows_written_with_core_inserts_get_the_same_derived_values(app, company, db_session):
    values = {"name": "Bulk Co", "phone": "138-0013-8000", "email": "A@Bulk.example",
              "other_emails": "b@bulk.example"}
    with app.app_context():
        session = get_session()
        account_id = session.execute(insert(Account).values(
            company_id=company.id, kind="organisation", status="prospect", **values, **derived_columns(values))
            .returning(Account.id)).scalar_one()
        session.execute(insert(ContactPoint), contact_point_rows(company.id, "account_id", account_id, values))
        session.commit()
        bulk = session.get(Account, account_id)
        assert (bulk.email_normalized, bulk.phone_normalized) == ("a@bulk.example", "13800138000")
    orm_id = add_account(app, company, **values)
    orm = db_session.get(Account, orm_id)
    bulk = db_session.get(Account, account_id)
    assert (orm.search_text, orm.name_key) == (bulk.search_text, bulk.name_key)
    assert points_of(db_session, account_id=orm_id) == points_of(db_session, account_id=account_id)


def test_the_list_and_the_global_search_find_an_account_by_its_second_phone_or_email(client, admin, app, company):
    account_id = add_account(app, company, "Second Line", other_phones="+86 10 6552 9988",
                             other_emails="orders@second.example")
    add_account(app, company, "Someone Else", phone="+86 139 0000 1111")
    for query in ("6552-9988", "ORDERS@second"):
        listed = client.get("/customers/accounts/", query_string={"q": query}).get_data(as_text=True)
        assert "Second Line" in listed and "Someone Else" not in listed, query
        found = client.get("/search", query_string={"q": query}).get_data(as_text=True)
        assert f'href="/customers/accounts/{account_id}"' in found, query


def test_the_api_lists_filter_by_any_phone_or_email_however_written(client, app, company, auth):
    add_account(app, company, "Two Lines", phone="+86 138 0013 8000", other_emails="Orders@Two.example")
    add_account(app, company, "Other", phone="+86 139 0000 1111")
    for query in ("email=orders@TWO.example", "phone=0086 138-0013-8000", "email=orders@two.example&phone=%2B8613800138000"):
        response = client.get(f"{API}/accounts?{query}", headers=auth)
        assert [item["name"] for item in response.get_json()] == ["Two Lines"], query
    assert client.get(f"{API}/accounts?phone=000", headers=auth).get_json() == []
