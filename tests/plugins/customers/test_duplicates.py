"""Possible duplicates of accounts and contacts: the same email or phone however typed, similar
names within a region (or an account), visibility, paging, bounded queries, the name key."""

from __future__ import annotations

import re

import pytest

from core.testing import counting_queries
from plugins.customers.similar import name_key, similar
from tests.plugins.customers.test_accounts import add_account, admin, make_member  # noqa: F401
from tests.plugins.customers.test_contacts import add_contact

ACCOUNTS = "/customers/duplicates/accounts/"
CONTACTS = "/customers/duplicates/contacts/"


def groups(html: str, kind: str = "accounts") -> list[list[str]]:
    """The groups on a duplicates page, each as the sorted names of its records."""
    found = []
    for block in html.split('duplicate-group"')[1:]:
        found.append(sorted(re.findall(rf'<a href="/customers/{kind}/\d+">([^<]+)</a>', block)))
    return sorted(found)


@pytest.mark.parametrize(("name", "key"), [
    ("ACME Trading Co., Ltd.", "acmetrading"),
    ("Ａｃｍｅ　Ｔｒａｄｉｎｇ", "acmetrading"),  # full-width letters and space
    ("acme-trading GmbH", "acmetrading"),
    ("上海星辰科技有限公司", "上海星辰科技"),
    ("星辰集团股份有限公司", "星辰"),
    ("Costco", "costco"),  # "co" is a legal form only as a word of its own
    ("Ltd", "ltd"),  # a name that is only a legal form keeps it
])
def test_the_name_key_leaves_out_case_width_punctuation_and_legal_forms(name, key):
    assert name_key(name) == key


def test_similar_names_allow_a_typo_but_not_a_different_short_name():
    assert similar("acmetrading", "acmetradng")
    assert similar("上海星辰科技", "上海星晨科技")
    assert not similar("acme", "acne")
    assert not similar("acmetrading", "zenithfoods")


def test_accounts_sharing_an_email_typed_differently_are_grouped(app, client, company, admin):
    add_account(app, company, "Alpha", owner_id=admin.id, email="Sales@Alpha.example ")
    add_account(app, company, "Alpha Two", owner_id=admin.id, email="sales@alpha.example")
    add_account(app, company, "Beta", owner_id=admin.id, email="beta@beta.example")
    page = client.get(ACCOUNTS, query_string={"reason": "email"})
    assert page.status_code == 200
    assert groups(page.text) == [["Alpha", "Alpha Two"]]
    assert "sales@alpha.example" in page.text and "Review and merge" in page.text


def test_a_second_phone_counts_as_much_as_the_primary_one(app, client, company, admin):
    add_account(app, company, "North", owner_id=admin.id, phone="+86 138-0013-8000")
    add_account(app, company, "South", owner_id=admin.id, phone="010 1234", other_phones="0086 13800138000")
    add_account(app, company, "East", owner_id=admin.id, phone="13800138000")  # no country code: another number
    assert groups(client.get(ACCOUNTS, query_string={"reason": "phone"}).text) == [["North", "South"]]


def test_similar_names_are_grouped_within_a_region_only(app, client, company, admin):
    for name, region in [("上海星辰科技有限公司", "上海"), ("上海星辰科技", "上海"), ("上海星辰科技有限公司", "北京"),
                         ("ＡＣＭＥ Trading Ltd", "North"), ("Acme Trading", "North"), ("Acme Tradng Inc.", "North"),
                         ("Acme Trading", "South"), ("Zenith Foods", "North")]:
        add_account(app, company, name, owner_id=admin.id, region=region)
    found = groups(client.get(ACCOUNTS, query_string={"reason": "name"}).text)
    assert found == sorted([["上海星辰科技", "上海星辰科技有限公司"],
                            ["Acme Trading", "Acme Tradng Inc.", "ＡＣＭＥ Trading Ltd"]])


def test_contacts_with_similar_names_are_grouped_at_the_same_account_or_none(app, client, company, admin):
    first = add_account(app, company, "First", owner_id=admin.id)
    second = add_account(app, company, "Second", owner_id=admin.id)
    add_contact(app, company, "Ann Smith", owner_id=admin.id, account_id=first)
    add_contact(app, company, "ann  smith", owner_id=admin.id, account_id=first)
    add_contact(app, company, "Ann Smith", owner_id=admin.id, account_id=second)
    add_contact(app, company, "Bob Stone", owner_id=admin.id)
    add_contact(app, company, "Bob Stone.", owner_id=admin.id)
    page = client.get(CONTACTS, query_string={"reason": "name"})
    assert groups(page.text, "contacts") == [["Ann Smith", "ann  smith"], ["Bob Stone", "Bob Stone."]]
    assert "First" in page.text  # the contact's account is named


def test_a_sales_manager_finds_duplicates_only_among_what_they_see(app, client, company, admin, login_as):
    manager = make_member(app, company, "mia@acme.test", "Mia", "customers.sales_manager")
    add_account(app, company, "Mine", owner_id=manager.id, email="same@x.example")
    add_account(app, company, "Also mine", owner_id=manager.id, email="same@x.example")
    add_account(app, company, "Not mine", owner_id=admin.id, email="other@x.example")
    add_account(app, company, "Not mine either", owner_id=admin.id, email="other@x.example")
    login_as(manager)
    assert groups(client.get(ACCOUNTS).text) == [["Also mine", "Mine"]]


def test_a_sales_rep_may_not_look_for_duplicates(app, client, company, admin, login_as):
    rep = make_member(app, company, "rita@acme.test", "Rita")
    login_as(rep)
    assert client.get(ACCOUNTS).status_code == 403
    assert client.get(CONTACTS).status_code == 403
    assert "Possible duplicates" not in client.get("/customers/accounts/").text


def test_the_lists_link_to_the_duplicates_pages(client, admin):
    assert 'href="/customers/duplicates/accounts/"' in client.get("/customers/accounts/").text
    assert 'href="/customers/duplicates/contacts/"' in client.get("/customers/contacts/").text


def test_no_duplicates_shows_an_empty_state(app, client, company, admin):
    add_account(app, company, "Lonely", owner_id=admin.id, email="lonely@x.example")
    for reason in ("email", "phone", "name"):
        page = client.get(ACCOUNTS, query_string={"reason": reason})
        assert page.status_code == 200 and "No possible duplicates" in page.text


@pytest.mark.parametrize("query", [{"reason": "colour"}, {"reason": "email", "after": "not json"},
                                   {"reason": "name", "after": '["only one"]'}])
def test_bad_parameters_answer_400_naming_the_problem(client, admin, query):
    response = client.get(ACCOUNTS, query_string=query)
    assert response.status_code == 400


def test_groups_come_a_page_at_a_time(app, client, company, admin, monkeypatch):
    from plugins.customers import duplicates

    monkeypatch.setattr(duplicates, "GROUPS_PER_PAGE", 2)
    for number in range(5):
        for copy in range(2):
            add_account(app, company, f"Shop {number}{copy}", owner_id=admin.id, email=f"shop{number}@x.example")
    seen = []
    url, query = ACCOUNTS, {"reason": "email"}
    for _page in range(4):
        page = client.get(url, query_string=query)
        seen += groups(page.text)
        cursor = re.search(r'rel="next" href="([^"]+)"', page.text)
        if cursor is None:
            break
        url, query = cursor.group(1).replace("&amp;", "&"), None
    assert seen == [[f"Shop {n}0", f"Shop {n}1"] for n in range(5)]


@pytest.mark.parametrize("reason", ["email", "phone", "name"])
def test_the_page_runs_the_same_number_of_queries_for_few_or_many_groups(app, client, company, admin, reason):
    def add_pairs(start, count):
        for number in range(start, start + count):
            for copy in range(2):
                add_account(app, company, f"Firm{number:03d} Ltd", owner_id=admin.id, region="North",
                            email=f"firm{number}@x.example", phone=f"+86 10 {number:04d}")

    def queries():
        client.get(ACCOUNTS, query_string={"reason": reason})  # warm caches (roles, plugins)
        with counting_queries(app) as statements:
            assert client.get(ACCOUNTS, query_string={"reason": reason}).status_code == 200
        return len(statements)

    add_pairs(0, 2)
    few = queries()
    add_pairs(2, 12)
    assert queries() == few
