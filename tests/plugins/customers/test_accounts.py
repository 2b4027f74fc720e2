"""Account pages of the customers plugin: form, list (search, filters, export, bulk trash),
visibility, the account's page, soft delete with undo, domain events, query counts."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.access import seed_roles
from core.models import Company, Event, Membership, Role, User
from core.testing import TEST_PASSWORD, counting_queries
from plugins.customers.models import Account, AccountTag, Contact, Tag

# -- helpers (also used by test_contacts.py) -------------------------------------------------------


@pytest.fixture
def admin(client, company, login_as):
    """The company's administrator, signed in, with the customers plugin enabled."""
    company.enable("customers")
    login_as(company.admin)
    return company.admin


def make_member(app, company, email: str, name: str, template: str | None = "customers.sales_rep") -> User:
    """A member of ``company`` holding the role made from ``template`` (None: no role)."""
    from core.db import get_session

    with app.app_context():
        session = get_session()
        company_row = session.get(Company, company.id)
        seed_roles(session, company_row)
        role_id = None
        if template is not None:
            role_id = session.scalar(select(Role.id).where(Role.company_id == company.id, Role.template == template)
                                     .execution_options(crm_unscoped=True))
        user = User(email=email, name=name)
        user.set_password(TEST_PASSWORD)
        user.memberships.append(Membership(company_id=company.id, role_id=role_id))
        session.add(user)
        session.commit()
        return user


def add_account(app, company, name: str, owner_id: int | None = None, **values) -> int:
    from core.db import get_session

    with app.app_context():
        session = get_session()
        account = Account(company_id=company.id, name=name, owner_id=owner_id, **values)
        session.add(account)
        session.commit()
        return account.id


def add_tag(app, company, account_id: int, name: str) -> int:
    from core.db import get_session

    with app.app_context():
        session = get_session()
        tag = Tag(company_id=company.id, name=name)
        session.add(tag)
        session.flush()
        session.add(AccountTag(account_id=account_id, tag_id=tag.id))
        session.commit()
        return tag.id



def names_listed(html: str, kind: str = "accounts") -> list[str]:
    return re.findall(rf'<a href="/customers/{kind}/\d+">([^<]+)</a>', html)


def events_named(db_session, prefix: str) -> list[tuple[str, dict]]:
    rows = db_session.execute(select(Event.name, Event.payload).where(Event.name.like(prefix + "%"))
                              .order_by(Event.id)).all()
    return [(name, payload) for name, payload in rows]


# -- the form ----------------------------------------------------------------------------------------


def test_a_new_account_is_saved_with_its_tags_and_shown_on_its_page(client, admin, db_session):
    response = client.post("/customers/accounts/new", data={
        "name": "Globex", "kind": "organisation", "status": "active", "industry": "Energy",
        "website": "globex.example", "phone": "+86 138-0013-8000", "email": "Info@Globex.example",
        "owner_id": str(admin.id), "tags": "vip, partner, VIP",
    })
    assert response.status_code == 302
    account = db_session.scalar(select(Account))
    assert response.headers["Location"] == f"/customers/accounts/{account.id}"
    assert (account.name, account.status, account.owner_id) == ("Globex", "active", admin.id)
    assert (account.phone_normalized, account.email_normalized) == ("+8613800138000", "info@globex.example")
    page = client.get(f"/customers/accounts/{account.id}").text
    assert '<h1 class="mb-0">Globex</h1>' in page
    assert '<span class="badge text-bg-secondary me-1">partner</span>' in page
    assert page.count(">vip</span>") == 1  # the same tag typed twice is one tag
    assert "created this" in page  # the history


def test_a_new_account_without_a_name_is_refused_with_the_message_by_the_field_and_values_kept(
        client, admin, db_session):
    response = client.post("/customers/accounts/new", data={"name": "", "industry": "Kept industry",
                                                           "kind": "organisation", "status": "prospect"})
    assert response.status_code == 422
    assert '<div class="invalid-feedback" id="field-name-error">Enter a name.</div>' in response.text
    assert 'value="Kept industry"' in response.text
    assert db_session.scalar(select(Account)) is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("email", "not-an-email", "Not a valid email address."),
    ("website", "not a site", "Enter a web address such as example.com."),
    ("status", "sleeping", "Must be one of"),
    ("owner_id", "999999", "Choose an owner among the company"),
    ("name", "x" * 201, "Longer than maximum length 200."),
])
def test_an_account_with_a_bad_value_is_refused_on_that_field(client, admin, db_session, field, value, message):
    data = {"name": "Initech", "kind": "organisation", "status": "prospect", field: value}
    response = client.post("/customers/accounts/new", data=data)
    assert response.status_code == 422
    error = re.search(rf'<div class="invalid-feedback" id="field-{field}-error">([^<]*)</div>', response.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'")
    assert db_session.scalar(select(Account)) is None


def test_editing_an_account_changes_it_its_tags_and_leaves_a_history(client, admin, app, company, db_session):
    account_id = add_account(app, company, "Umbrella", owner_id=admin.id)
    add_tag(app, company, account_id, "old")
    form = client.get(f"/customers/accounts/{account_id}/edit").text
    assert 'value="Umbrella"' in form and 'value="old"' in form
    refused = client.post(f"/customers/accounts/{account_id}/edit",
                          data={"name": "", "kind": "organisation", "status": "active", "region": "North"})
    assert refused.status_code == 422 and 'value="North"' in refused.text
    saved = client.post(f"/customers/accounts/{account_id}/edit",
                        data={"name": "Umbrella Corp", "kind": "organisation", "status": "active",
                              "owner_id": str(admin.id), "tags": "new"})
    assert saved.headers["Location"] == f"/customers/accounts/{account_id}"
    db_session.expire_all()
    assert db_session.get(Account, account_id).name == "Umbrella Corp"
    tags = db_session.scalars(select(Tag.name).join(AccountTag, AccountTag.tag_id == Tag.id)
                              .where(AccountTag.account_id == account_id)).all()
    assert tags == ["new"]
    assert "changed" in client.get(f"/customers/accounts/{account_id}").text


def test_creating_changing_and_trashing_an_account_emits_its_events(client, admin, db_session):
    client.post("/customers/accounts/new", data={"name": "Evented", "kind": "organisation", "status": "prospect"})
    account_id = db_session.scalar(select(Account.id))
    client.post(f"/customers/accounts/{account_id}/edit",
                data={"name": "Evented 2", "kind": "organisation", "status": "active"})
    client.post(f"/customers/accounts/{account_id}/delete", data={"_confirmed": "yes"})
    assert events_named(db_session, "customers.account.") == [
        ("customers.account.created", {"id": account_id, "name": "Evented"}),
        ("customers.account.updated", {"id": account_id, "name": "Evented 2"}),
        ("customers.account.deleted", {"id": account_id, "name": "Evented 2"}),
    ]


# -- the list ----------------------------------------------------------------------------------------


@pytest.fixture
def three_accounts(app, company, admin):
    return {
        "alpha": add_account(app, company, "Alpha Ltd", owner_id=admin.id, phone="+86 138 0013 8000",
                             email="sales@alpha.example", status="active", industry="Energy", region="North",
                             tier="gold", source="fair", kind="organisation"),
        "beta": add_account(app, company, "Beta GmbH", owner_id=admin.id, phone="(030) 1234-567",
                            email="Office@Beta.example", status="prospect", industry="Retail", region="South",
                            tier="silver", source="referral", kind="organisation"),
        "gamma": add_account(app, company, "Gamma Jones", owner_id=None, status="churned", industry="Retail",
                             region="North", tier="gold", source="web", kind="individual"),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ("alpha", ["Alpha Ltd"]),
    ("138-0013-8000", ["Alpha Ltd"]),          # typed with dashes, stored with spaces
    ("+86 13800138000", ["Alpha Ltd"]),
    ("030 1234 567", ["Beta GmbH"]),           # typed with spaces, stored with brackets and a dash
    ("office@beta.EXAMPLE", ["Beta GmbH"]),
    ("jones", ["Gamma Jones"]),
    ("nobody", []),
])
def test_the_account_list_searches_by_name_phone_and_email(client, three_accounts, query, expected):
    assert names_listed(client.get("/customers/accounts/", query_string={"q": query}).text) == expected


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "active"}, ["Alpha Ltd"]),
    ({"kind": "individual"}, ["Gamma Jones"]),
    ({"industry": "Retail"}, ["Beta GmbH", "Gamma Jones"]),
    ({"region": "North"}, ["Alpha Ltd", "Gamma Jones"]),
    ({"tier": "silver"}, ["Beta GmbH"]),
    ({"source": "web"}, ["Gamma Jones"]),
    ({"status": "nonsense"}, ["Alpha Ltd", "Beta GmbH", "Gamma Jones"]),  # ignored, not an error
])
def test_the_account_list_filters(client, three_accounts, params, expected):
    response = client.get("/customers/accounts/", query_string=params)
    assert response.status_code == 200
    assert names_listed(response.text) == expected


def test_the_account_list_filters_by_owner_and_tag(client, app, company, admin, three_accounts):
    tag_id = add_tag(app, company, three_accounts["beta"], "partner")
    assert names_listed(client.get(f"/customers/accounts/?owner={admin.id}").text) == ["Alpha Ltd", "Beta GmbH"]
    assert names_listed(client.get(f"/customers/accounts/?tag={tag_id}").text) == ["Beta GmbH"]
    page = client.get("/customers/accounts/").text
    assert f'<option value="{tag_id}">partner</option>' in page  # the tag is offered


def test_the_account_list_offers_only_the_companys_distinct_values(client, app, three_accounts):
    from core.testing import make_company

    other = make_company(app, "Other", "other")
    add_account(app, other, "Elsewhere", industry="Mining")
    page = client.get("/customers/accounts/").text
    assert page.count('<option value="Retail">Retail</option>') == 1
    assert "Mining" not in page


def test_the_account_list_sorts_by_name_descending(client, three_accounts):
    assert names_listed(client.get("/customers/accounts/?sort=-name").text) == [
        "Gamma Jones", "Beta GmbH", "Alpha Ltd"]


def test_the_account_list_exports_xlsx_with_the_current_filters(client, three_accounts):
    response = client.get("/customers/accounts/export?format=xlsx&region=North")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Name"
    assert sorted(row[0] for row in rows[1:]) == ["Alpha Ltd", "Gamma Jones"]


def test_bulk_trash_asks_first_then_moves_the_selected_accounts_to_the_trash(client, three_accounts, db_session):
    ids = [str(three_accounts["alpha"]), str(three_accounts["beta"])]
    asked = client.post("/customers/accounts/bulk/trash", data={"ids": ids, "action": "trash"})
    assert asked.status_code == 200 and "Move the selected accounts to the trash?" in asked.text
    assert len(db_session.scalars(select(Account)).all()) == 3  # nothing changed before confirming
    done = client.post("/customers/accounts/bulk/trash",
                       data={"ids": ids, "action": "trash", "_confirmed": "yes", "next": "/customers/accounts/"})
    assert done.headers["Location"] == "/customers/accounts/"
    assert names_listed(client.get("/customers/accounts/").text) == ["Gamma Jones"]
    assert [name for name, _payload in events_named(db_session, "customers.account.deleted")] == [
        "customers.account.deleted"] * 2


def test_the_account_list_runs_the_same_number_of_queries_for_3_and_30_accounts(client, app, company, admin):
    for number in range(3):
        add_account(app, company, f"Few {number}", owner_id=admin.id, industry=f"I{number}")
    client.get("/customers/accounts/")  # warm caches (session, menu)
    with counting_queries(app) as few:
        assert client.get("/customers/accounts/").status_code == 200
    for number in range(27):
        add_account(app, company, f"Many {number}", owner_id=admin.id, industry=f"I{number}")
    with counting_queries(app) as many:
        page = client.get("/customers/accounts/").text
    assert len(names_listed(page)) == 25
    assert len(many) == len(few)


# -- visibility --------------------------------------------------------------------------------------


def test_a_sales_rep_sees_only_their_own_accounts_and_another_ones_page_is_404(client, app, company, login_as,
                                                                               admin):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    mine = add_account(app, company, "Rita's account", owner_id=rep.id)
    theirs = add_account(app, company, "Someone else's", owner_id=admin.id)
    login_as(rep)
    assert names_listed(client.get("/customers/accounts/").text) == ["Rita&#39;s account"]
    assert client.get(f"/customers/accounts/{mine}").status_code == 200
    assert client.get(f"/customers/accounts/{theirs}").status_code == 404
    assert client.get(f"/customers/accounts/{theirs}/edit").status_code == 404
    export = client.get("/customers/accounts/export").text
    assert "Rita's account" in export and "Someone else" not in export


def test_a_sales_rep_may_not_trash_accounts(client, app, company, login_as, admin):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    mine = add_account(app, company, "Rita's account", owner_id=rep.id)
    login_as(rep)
    assert client.post(f"/customers/accounts/{mine}/delete", data={"_confirmed": "yes"}).status_code == 403
    assert "Move to trash" not in client.get(f"/customers/accounts/{mine}").text


def test_another_companys_account_is_404(client, app, admin):
    from core.testing import make_company

    other = make_company(app, "Other", "other")
    foreign = add_account(app, other, "Foreign")
    assert client.get(f"/customers/accounts/{foreign}").status_code == 404


# -- the account's page, trash and undo ----------------------------------------------------------------


def test_the_account_page_lists_its_contacts_and_links_to_add_one(client, app, company, admin, db_session):
    account_id = add_account(app, company, "Hooli", owner_id=admin.id)
    with app.app_context():
        from core.db import get_session

        session = get_session()
        session.add_all([Contact(company_id=company.id, name="Gavin", account_id=account_id, owner_id=admin.id),
                         Contact(company_id=company.id, name="Elsewhere", owner_id=admin.id)])
        session.commit()
    page = client.get(f"/customers/accounts/{account_id}").text
    assert re.search(r'<a href="/customers/contacts/\d+">Gavin</a>', page)
    assert "Elsewhere" not in page
    assert f'href="/customers/contacts/new?account_id={account_id}"' in page
    assert f'href="/customers/accounts/{account_id}/edit"' in page  # the Edit action
    assert f'action="/customers/accounts/{account_id}/delete"' in page  # Move to trash


def test_the_account_page_runs_a_bounded_number_of_queries(client, app, company, admin):
    account_id = add_account(app, company, "Counted", owner_id=admin.id)
    client.get(f"/customers/accounts/{account_id}")
    with counting_queries(app) as one:
        client.get(f"/customers/accounts/{account_id}")
    with app.app_context():
        from core.db import get_session

        session = get_session()
        session.add_all([Contact(company_id=company.id, name=f"C{n}", account_id=account_id, owner_id=admin.id)
                         for n in range(20)])
        session.commit()
    client.post(f"/customers/accounts/{account_id}/edit", data={"name": "Counted 2", "kind": "organisation",
                                                                "status": "active", "tags": "a, b, c"})
    with counting_queries(app) as many:
        page = client.get(f"/customers/accounts/{account_id}").text
    assert "C19" in page
    assert len(many) == len(one) and len(one) <= 20


def test_trashing_an_account_asks_first_then_undo_restores_it(client, app, company, admin, db_session):
    account_id = add_account(app, company, "Regrettable", owner_id=admin.id)
    asked = client.post(f"/customers/accounts/{account_id}/delete")
    assert asked.status_code == 200 and "Move the account “Regrettable” to the trash?" in asked.text
    page = client.post(f"/customers/accounts/{account_id}/delete", data={"_confirmed": "yes"},
                       follow_redirects=True).text
    assert "moved to the trash" in page and "Undo" in page
    assert names_listed(page) == []
    assert client.get(f"/customers/accounts/{account_id}").status_code == 404
    undo_url = f"/trash/customers_account/{account_id}/restore"
    assert f'action="{undo_url}"' in page
    client.post(undo_url, data={"next": "/customers/accounts/"})
    assert names_listed(client.get("/customers/accounts/").text) == ["Regrettable"]
