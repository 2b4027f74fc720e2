"""Contact pages of the customers plugin: form, list (search, filters, export, bulk trash),
visibility, the contact's page with its consent, soft delete with undo, domain events."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from plugins.customers.models import Contact, ContactTag, Tag
from tests.plugins.customers.test_accounts import (
    add_account,
    admin,
    counting_queries,
    events_named,
    make_member,
    names_listed,
)

__all__ = ["admin"]  # the fixture, imported for this module's tests


def add_contact(app, company, name: str, owner_id: int | None = None, **values) -> int:
    from core.db import get_session

    with app.app_context():
        session = get_session()
        contact = Contact(company_id=company.id, name=name, owner_id=owner_id, **values)
        session.add(contact)
        session.commit()
        return contact.id


def contacts_listed(html: str) -> list[str]:
    return names_listed(html, "contacts")


# -- the form ----------------------------------------------------------------------------------------


def test_a_new_contact_is_saved_with_its_account_tags_and_dated_consent(client, app, company, admin, db_session):
    account_id = add_account(app, company, "Hooli", owner_id=admin.id)
    form = client.get(f"/customers/contacts/new?account_id={account_id}").text
    assert f'<option value="{account_id}" selected>Hooli</option>' in form  # prefilled from the account page
    response = client.post("/customers/contacts/new", data={
        "name": "Gavin Belson", "account_id": str(account_id), "title": "CEO", "email": "gavin@hooli.example",
        "phone": "+1 (555) 010-0000", "birthday": "1970-01-31", "consent_email": "y",
        "consent_source": "web form", "tags": "board", "owner_id": str(admin.id),
    })
    assert response.status_code == 302
    contact = db_session.scalar(select(Contact))
    assert response.headers["Location"] == f"/customers/contacts/{contact.id}"
    assert (contact.account_id, contact.consent_email, contact.consent_phone) == (account_id, True, False)
    assert contact.consent_changed_at is not None and contact.birthday.isoformat() == "1970-01-31"
    page = client.get(f"/customers/contacts/{contact.id}").text
    assert f'<a href="/customers/accounts/{account_id}">Hooli</a>' in page
    assert "Email: allowed" in page and "Phone: not allowed" in page and "how: web form" in page
    assert '<span class="badge text-bg-secondary me-1">board</span>' in page
    assert "created this" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "Enter a name."),
    ("email", "nope", "Not a valid email address."),
    ("birthday", "31/01/1970", "Enter a date such as 1990-05-31."),
    ("account_id", "999999", "Choose one of the accounts you can see."),
])
def test_a_contact_with_a_bad_value_is_refused_on_that_field_and_values_kept(client, admin, db_session,
                                                                             field, value, message):
    data = {"name": "Kept Name", "department": "Kept department", field: value}
    response = client.post("/customers/contacts/new", data=data)
    assert response.status_code == 422
    error = re.search(rf'<div class="invalid-feedback" id="field-{field}-error">([^<]*)</div>', response.text)
    assert error is not None and message in error.group(1)
    assert 'value="Kept department"' in response.text
    assert db_session.scalar(select(Contact)) is None


def test_a_contact_may_not_be_put_at_an_account_the_user_cannot_see(client, app, company, login_as, admin,
                                                                    db_session):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    hidden = add_account(app, company, "Not Rita's", owner_id=admin.id)
    login_as(rep)
    response = client.post("/customers/contacts/new", data={"name": "Sneaky", "account_id": str(hidden)})
    assert response.status_code == 422
    assert db_session.scalar(select(Contact)) is None


def test_editing_a_contact_dates_a_consent_change_and_emits_events(client, app, company, admin, db_session):
    contact_id = add_contact(app, company, "Monica", owner_id=admin.id)
    assert 'value="Monica"' in client.get(f"/customers/contacts/{contact_id}/edit").text
    client.post(f"/customers/contacts/{contact_id}/edit", data={"name": "Monica Hall", "consent_sms": "y",
                                                                "consent_source": "call"})
    db_session.expire_all()
    contact = db_session.get(Contact, contact_id)
    assert contact.name == "Monica Hall" and contact.consent_sms and contact.consent_changed_at is not None
    client.post(f"/customers/contacts/{contact_id}/delete", data={"_confirmed": "yes"})
    assert events_named(db_session, "customers.contact.") == [
        ("customers.contact.updated", {"id": contact_id, "name": "Monica Hall"}),
        ("customers.contact.deleted", {"id": contact_id, "name": "Monica Hall"}),
    ]


def test_creating_a_contact_emits_its_event(client, admin, db_session):
    client.post("/customers/contacts/new", data={"name": "Jared"})
    contact_id = db_session.scalar(select(Contact.id))
    assert events_named(db_session, "customers.contact.") == [
        ("customers.contact.created", {"id": contact_id, "name": "Jared"})]


# -- the list ----------------------------------------------------------------------------------------


@pytest.fixture
def contacts(app, company, admin):
    account_id = add_account(app, company, "Pied Piper", owner_id=admin.id)
    ids = {
        "richard": add_contact(app, company, "Richard Hendricks", owner_id=admin.id, account_id=account_id,
                               phone="+1 555 0100 200", email="Richard@PiedPiper.example", consent_email=True),
        "dinesh": add_contact(app, company, "Dinesh Chugtai", owner_id=admin.id, account_id=account_id,
                              consent_phone=True),
        "erlich": add_contact(app, company, "Erlich Bachman", owner_id=None, email="erlich@aviato.example",
                              consent_sms=True),
    }
    ids["account"] = account_id
    return ids


@pytest.mark.parametrize(("query", "expected"), [
    ("dinesh", ["Dinesh Chugtai"]),
    ("555-0100-200", ["Richard Hendricks"]),
    ("richard@piedpiper.example", ["Richard Hendricks"]),
    ("aviato", ["Erlich Bachman"]),
])
def test_the_contact_list_searches_by_name_phone_and_email(client, contacts, query, expected):
    assert contacts_listed(client.get("/customers/contacts/", query_string={"q": query}).text) == expected


def test_the_contact_list_filters_by_account_owner_tag_and_consent(client, app, company, admin, contacts):
    from core.db import get_session

    with app.app_context():
        session = get_session()
        tag = Tag(company_id=company.id, name="hacker")
        session.add(tag)
        session.flush()
        session.add(ContactTag(contact_id=contacts["dinesh"], tag_id=tag.id))
        session.commit()
        tag_id = tag.id
    listed = lambda query: contacts_listed(client.get(f"/customers/contacts/?{query}").text)
    assert listed(f"account={contacts['account']}") == ["Dinesh Chugtai", "Richard Hendricks"]
    assert listed(f"owner={admin.id}") == ["Dinesh Chugtai", "Richard Hendricks"]
    assert listed(f"tag={tag_id}") == ["Dinesh Chugtai"]
    assert listed("consent_email=yes") == ["Richard Hendricks"]
    assert listed("consent_phone=yes") == ["Dinesh Chugtai"]
    assert listed("consent_sms=no") == ["Dinesh Chugtai", "Richard Hendricks"]


def test_the_contact_list_links_the_account(client, contacts):
    page = client.get("/customers/contacts/").text
    assert f'<a href="/customers/accounts/{contacts["account"]}">Pied Piper</a>' in page


def test_the_contact_list_exports_xlsx(client, contacts):
    response = client.get("/customers/contacts/export?format=xlsx&consent_sms=yes")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Name" and [row[0] for row in rows[1:]] == ["Erlich Bachman"]


def test_bulk_trash_moves_the_selected_contacts_to_the_trash_once_confirmed(client, contacts, db_session):
    ids = [str(contacts["richard"]), str(contacts["erlich"])]
    asked = client.post("/customers/contacts/bulk/trash", data={"ids": ids, "action": "trash"})
    assert asked.status_code == 200 and "Move the selected contacts to the trash?" in asked.text
    client.post("/customers/contacts/bulk/trash", data={"ids": ids, "action": "trash", "_confirmed": "yes"})
    assert contacts_listed(client.get("/customers/contacts/").text) == ["Dinesh Chugtai"]


def test_the_contact_list_runs_the_same_number_of_queries_for_3_and_30_contacts(client, app, company, admin):
    account_id = add_account(app, company, "Big", owner_id=admin.id)
    for number in range(3):
        add_contact(app, company, f"Few {number}", owner_id=admin.id, account_id=account_id)
    client.get("/customers/contacts/")
    with counting_queries(app) as few:
        client.get("/customers/contacts/")
    for number in range(27):
        add_contact(app, company, f"Many {number}", owner_id=admin.id, account_id=account_id)
    with counting_queries(app) as many:
        page = client.get("/customers/contacts/").text
    assert len(contacts_listed(page)) == 25
    assert len(many) == len(few)


# -- visibility, trash and undo ----------------------------------------------------------------------


def test_a_sales_rep_sees_only_their_own_contacts(client, app, company, login_as, admin):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    mine = add_contact(app, company, "Rita's contact", owner_id=rep.id)
    theirs = add_contact(app, company, "Not hers", owner_id=admin.id)
    login_as(rep)
    assert contacts_listed(client.get("/customers/contacts/").text) == ["Rita&#39;s contact"]
    assert client.get(f"/customers/contacts/{mine}").status_code == 200
    assert client.get(f"/customers/contacts/{theirs}").status_code == 404


def test_trashing_a_contact_asks_first_then_undo_restores_it(client, app, company, admin):
    contact_id = add_contact(app, company, "Big Head", owner_id=admin.id)
    page = client.get(f"/customers/contacts/{contact_id}").text
    assert f'action="/customers/contacts/{contact_id}/delete"' in page
    asked = client.post(f"/customers/contacts/{contact_id}/delete")
    assert asked.status_code == 200 and "Move the contact “Big Head” to the trash?" in asked.text
    page = client.post(f"/customers/contacts/{contact_id}/delete", data={"_confirmed": "yes"},
                       follow_redirects=True).text
    assert "moved to the trash" in page and contacts_listed(page) == []
    undo_url = f"/trash/customers_contact/{contact_id}/restore"
    assert f'action="{undo_url}"' in page
    client.post(undo_url, data={"next": "/customers/contacts/"})
    assert contacts_listed(client.get("/customers/contacts/").text) == ["Big Head"]
