"""Merging accounts and contacts: the merge screen, the chosen values, what follows the
survivor (contacts, interactions, tasks, tags, phones and emails), the audit trail on both
sides, the event, the trash, permissions and bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.db import get_session
from core.models import AuditEntry
from core.testing import make_company
from plugins.customers.models import Account, AccountTag, Contact, FollowUpTask, Interaction
from tests.plugins.customers.test_accounts import (  # noqa: F401  (admin is a fixture)
    add_account,
    add_tag,
    admin,
    counting_queries,
    events_named,
    make_member,
)
from tests.plugins.customers.test_contacts import add_contact

MERGE_ACCOUNTS = "/customers/duplicates/accounts/merge"
MERGE_CONTACTS = "/customers/duplicates/contacts/merge"
WHEN = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def pair(app, company, admin):
    """Two accounts that are one: the older, more complete, with the better name; the newer
    with another email and a contact, an interaction, a task and a tag."""
    old = add_account(app, company, "Acme Trading Ltd", owner_id=admin.id, region="North", phone="+86 10 1111",
                      status="active", website="acme.example", email="info@acme.example")
    new = add_account(app, company, "ACME trading", owner_id=admin.id, region="North", phone="+86 10 2222",
                      email="hello@acme.example", status="prospect")
    contact = add_contact(app, company, "Wile E.", owner_id=admin.id, account_id=new)
    add_tag(app, company, new, "vip")
    with app.app_context():
        session = get_session()
        session.add_all([
            Interaction(company_id=company.id, kind="call", occurred_at=WHEN, summary="Called", owner_id=admin.id,
                        subject_type="customers_account", subject_id=str(new), account_id=new),
            FollowUpTask(company_id=company.id, title="Send offer", due_at=WHEN, subject_type="customers_account",
                         subject_id=str(new), account_id=new),
        ])
        session.commit()
    return {"old": old, "new": new, "contact": contact}


def merge_form(survivor, ids, **fields):
    return {"ids": [str(i) for i in ids], "survivor": str(survivor), "_confirmed": "yes",
            **{f"field-{name}": str(source) for name, source in fields.items()}}


def test_the_merge_screen_shows_the_records_the_differing_fields_and_what_moves(client, pair):
    page = client.get(MERGE_ACCOUNTS, query_string={"ids": f"{pair['old']},{pair['new']}"})
    assert page.status_code == 200
    text = page.text
    assert "Acme Trading Ltd" in text and "ACME trading" in text
    for field in ("name", "status", "phone", "email", "website"):
        assert f'name="field-{field}"' in text
    assert 'name="field-region"' not in text  # the same in both: nothing to choose
    # The most complete record is offered to stay.
    assert re.search(rf'value="{pair["old"]}" id="survivor-{pair["old"]}"\s+checked', text)
    assert "1 contact" in text and "1 interaction" in text and "1 follow-up task" in text


def test_merging_keeps_the_chosen_values_and_redirects_to_the_survivor(app, client, pair):
    old, new = pair["old"], pair["new"]
    response = client.post(MERGE_ACCOUNTS, data=merge_form(old, [old, new], name=old, status=old, phone=new,
                                                           email=new, website=old))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/customers/accounts/{old}")
    with app.app_context():
        account = get_session().get(Account, old)
        assert (account.name, account.status, account.phone, account.email) == (
            "Acme Trading Ltd", "active", "+86 10 2222", "hello@acme.example")
        assert account.other_phones == "+86 10 1111"  # the survivor's own number is not lost
        assert account.other_emails == "info@acme.example"
    assert "Merged 1 records into" in client.get(f"/customers/accounts/{old}").text


def test_everything_about_the_merged_account_follows_the_survivor(app, client, company, pair):
    old, new = pair["old"], pair["new"]
    client.post(MERGE_ACCOUNTS, data=merge_form(old, [old, new], name=old, status=old, phone=old, email=new,
                                                website=old))
    with app.app_context():
        session = get_session()
        assert session.get(Contact, pair["contact"]).account_id == old
        interaction = session.scalar(select(Interaction))
        task = session.scalar(select(FollowUpTask))
        for row in (interaction, task):
            assert (row.account_id, row.subject_id) == (old, str(old))
        assert session.scalars(select(AccountTag.account_id).where(AccountTag.account_id == old)).all() == [old]
        account = session.get(Account, old)
        assert account.last_follow_up_at is not None and account.next_follow_up_at is not None
    page = client.get(f"/customers/accounts/{old}")
    assert "Wile E." in page.text and "vip" in page.text


def test_the_merge_is_audited_on_both_records_and_the_merged_one_is_in_the_trash(app, client, db_session, pair):
    old, new = pair["old"], pair["new"]
    client.post(MERGE_ACCOUNTS, data=merge_form(old, [old, new], name=old, status=old, phone=old, email=new,
                                                website=old))
    assert f"merged #{new} into this" in client.get(f"/customers/accounts/{old}").text
    actions = db_session.scalars(select(AuditEntry.action).where(
        AuditEntry.record_type == "customers_account", AuditEntry.record_id == str(new))).all()
    assert "merged_into" in actions and "delete" in actions
    assert client.get(f"/customers/accounts/{new}").status_code == 404
    assert "ACME trading" in client.get("/trash/customers_account/").text


def test_merging_emits_the_merged_event(client, db_session, pair):
    old, new = pair["old"], pair["new"]
    client.post(MERGE_ACCOUNTS, data=merge_form(old, [old, new], name=old, status=old, phone=old, email=new,
                                                website=old))
    assert events_named(db_session, "customers.account.merged") == [
        ("customers.account.merged", {"id": old, "name": "Acme Trading Ltd", "merged_ids": [new]})]


def test_without_confirmation_the_merge_asks_first_and_changes_nothing(app, client, pair):
    old, new = pair["old"], pair["new"]
    form = merge_form(old, [old, new], name=old, status=old, phone=old, email=new, website=old)
    del form["_confirmed"]
    page = client.post(MERGE_ACCOUNTS, data=form)
    assert page.status_code == 200 and "Merge records" in page.text and 'name="_confirmed" value="yes"' in page.text
    with app.app_context():
        assert get_session().get(Account, new) is not None


def test_contacts_merge_with_their_history(app, client, company, admin, db_session):
    account = add_account(app, company, "Acme", owner_id=admin.id)
    keep = add_contact(app, company, "Ann Smith", owner_id=admin.id, account_id=account, email="ann@acme.example")
    drop = add_contact(app, company, "ann smith", owner_id=admin.id, account_id=account, email="ANN@acme.example",
                       phone="+1 555 0100")
    with app.app_context():
        session = get_session()
        session.add(Interaction(company_id=company.id, kind="email", occurred_at=WHEN, summary="Wrote",
                                owner_id=admin.id, subject_type="customers_contact", subject_id=str(drop),
                                account_id=account, contact_id=drop))
        session.commit()
    response = client.post(MERGE_CONTACTS, data=merge_form(keep, [keep, drop], name=keep, email=keep, phone=drop))
    assert response.status_code == 302
    interaction = db_session.scalar(select(Interaction))
    assert (interaction.contact_id, interaction.subject_id) == (keep, str(keep))
    assert db_session.get(Contact, keep).phone == "+1 555 0100"
    assert [name for name, _payload in events_named(db_session, "customers.contact.merged")] == [
        "customers.contact.merged"]


def test_a_sales_rep_may_not_merge(app, client, company, login_as, pair):
    rep = make_member(app, company, "rita@acme.test", "Rita")
    login_as(rep)
    ids = f"{pair['old']},{pair['new']}"
    assert client.get(MERGE_ACCOUNTS, query_string={"ids": ids}).status_code == 403
    old, new = pair["old"], pair["new"]
    assert client.post(MERGE_ACCOUNTS, data=merge_form(old, [old, new])).status_code == 403


def test_bad_input_answers_4xx_naming_the_problem(app, client, company, pair):
    old, new = pair["old"], pair["new"]
    beta = make_company(app, "Beta", "beta")
    foreign = add_account(app, beta, "Beta's", owner_id=None)
    everything = {"name": old, "status": old, "phone": old, "email": new, "website": old}
    cases = [
        (merge_form(old, [old, 999999], **everything), 404),  # unknown id
        (merge_form(old, [old, foreign], **everything), 404),  # another company's record
        (merge_form(old, [old], **everything), 400),  # nothing to merge
        (merge_form(foreign, [old, new], **everything), 400),  # survivor not among the records
        (merge_form(old, [old, "x"], **everything), 400),  # not an id
        (merge_form(old, [old, new], name=old), 400),  # a field without a chosen value
        (merge_form(old, [old, new], **{**everything, "email": foreign}), 400),  # a value from elsewhere
    ]
    for form, status in cases:
        response = client.post(MERGE_ACCOUNTS, data=form)
        assert response.status_code == status, form
    assert client.get(MERGE_ACCOUNTS, query_string={"ids": str(old)}).status_code == 400
    with app.app_context():
        assert get_session().get(Account, new) is not None  # nothing was merged


def test_the_merge_screen_runs_a_bounded_number_of_queries(app, client, company, admin):
    def screen(count):
        ids = [add_account(app, company, f"Dup {count}-{n}", owner_id=admin.id, email=f"d{n}@x.example",
                           region=f"R{n}") for n in range(count)]
        client.get(MERGE_ACCOUNTS, query_string={"ids": ",".join(map(str, ids))})
        with counting_queries(app) as statements:
            assert client.get(MERGE_ACCOUNTS, query_string={"ids": ",".join(map(str, ids))}).status_code == 200
        return len(statements)

    assert screen(2) == screen(8)


# -- "Merge with…" from a record's page -------------------------------------------------------------


def test_merge_with_offers_the_likely_duplicates_then_any_record_a_search_finds(app, client, company, pair):
    shares_phone = add_account(app, company, "Roadrunner Supplies", region="South", other_phones="+86 10 1111")
    elsewhere = add_account(app, company, "Acme Trading Ltd", region="South")  # same name, another region
    unrelated = add_account(app, company, "Coyote Ventures", region="North")
    account_page = client.get(f"/customers/accounts/{pair['old']}").text
    url = f"/customers/duplicates/accounts/{pair['old']}/merge-with"
    assert f'href="{url}"' in account_page

    likely = client.get(url).text
    merge_link = f'{MERGE_ACCOUNTS}?ids={pair["old"]},'
    assert f"{merge_link}{pair['new']}" in likely  # the same name in the same region
    assert f"{merge_link}{shares_phone}" in likely  # another number of its equals this one's phone
    assert f"{merge_link}{elsewhere}" not in likely and f"{merge_link}{unrelated}" not in likely

    found = client.get(url, query_string={"q": "coyote"}).text
    assert f"{merge_link}{unrelated}" in found and f"{merge_link}{pair['new']}" not in found
    assert "Nothing found" in client.get(url, query_string={"q": "zzzz"}).text
    contact_url = f"/customers/duplicates/contacts/{pair['contact']}/merge-with"
    assert f'href="{contact_url}"' in client.get(f"/customers/contacts/{pair['contact']}").text
    assert "No record shares a phone" in client.get(contact_url).text


def test_merge_with_is_for_those_who_may_merge_and_records_they_see(app, client, company, login_as, pair):
    assert client.get("/customers/duplicates/accounts/999999/merge-with").status_code == 404
    rep = make_member(app, company, "rep@acme.test", "Rep")
    own = add_contact(app, company, "Rep's own", owner_id=rep.id)
    login_as(rep)
    assert client.get(f"/customers/duplicates/accounts/{pair['old']}/merge-with").status_code == 403
    page = client.get(f"/customers/contacts/{own}")
    assert page.status_code == 200 and "merge-with" not in page.text
