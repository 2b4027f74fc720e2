"""The audit log of the admin console (``/admin/audit``): the company's entries newest first,
filters that combine and survive pagination, invalid filter values ignored visibly (as on
every core.listing list), other companies' entries never shown, and a bounded number of
queries whatever the entry count.

Uses the fx_gadgets fixture plugin (an audited model labelled "Gadgets")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from core.audit import set_actor
from core.db import get_session
from core.models import AuditEntry, Membership, User
from core.scoping import company_scope
from core.testing import counting_queries, make_company
from tests.gadgets import (  # noqa: F401  (fixtures: fx_gadgets loaded)
    GADGETS,
    add_gadgets,
    app_config,
    create_gadget_table,
    crm_plugins,
)

GADGET_TYPE = "fx_gadgets_gadget"
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin(app, client, company, login_as):
    create_gadget_table(app)
    company.enable(GADGETS)
    login_as(company.admin)
    return company


def add_member(app, company, email="member@acme.test", name="Mia Member", is_admin=False) -> int:
    with app.app_context():
        session = get_session()
        user = User(email=email, name=name)
        user.set_password("long enough")
        user.memberships.append(Membership(company_id=company.id, is_admin=is_admin))
        session.add(user)
        session.commit()
        return user.id


def add_entries(app, company_id, count=1, *, user_id=None, record_type="core.setting", action="update",
                at=DAY, record_id=None, changes=None) -> None:
    """Write ``count`` audit entries directly (one second apart, the last one at ``at``)."""
    rows = [
        {
            "company_id": company_id, "user_id": user_id, "record_type": record_type,
            "record_id": record_id if record_id is not None else f"r{n}", "action": action,
            "changes": changes if changes is not None else {"value": [n, n + 1]},
            "at": at - timedelta(seconds=count - 1 - n),
        }
        for n in range(count)
    ]
    with app.app_context():
        session = get_session()
        session.execute(insert(AuditEntry), rows)
        session.commit()


def record_ids(html: str) -> list[str]:
    """The record id column of each listed entry, in order."""
    return re.findall(r"<td><code>([^<]*)</code></td>", html)



# -- access and scope -------------------------------------------------------------------------


def test_a_member_who_is_not_an_administrator_gets_403(app, client, company, login_as):
    member = add_member(app, company)
    with app.app_context():
        login_as(get_session().get(User, member))

    response = client.get("/admin/audit")

    assert response.status_code == 403
    assert "Only company administrators can read the audit log." in response.text


def test_entries_show_newest_first_with_who_action_type_label_and_changes(app, client, admin, db_session):
    [gadget_id] = add_gadgets(app, admin, "Sprocket")  # created outside a request: no user
    with company_scope(db_session, admin.id):
        from fx_gadgets.models import Gadget

        set_actor(db_session, admin.admin.id)
        db_session.get(Gadget, gadget_id).name = "Cog"
        db_session.commit()

    response = client.get("/admin/audit")

    assert response.status_code == 200
    html = response.text
    assert record_ids(html) == [str(gadget_id), str(gadget_id)]
    changed, created = html.split('<time class="text-nowrap"')[1:3]
    assert "Acme Admin" in changed and "Changed" in changed and "Gadgets" in changed
    assert re.search(r"Sprocket\s*<span aria-hidden=\"true\">→</span>.*Cog", changed, re.DOTALL)
    assert "System" in created and "Created" in created
    assert "secret" not in html  # excluded from the trail, so not in the log either
    assert '<li class="breadcrumb-item"><a href="/admin">Administration</a></li>' in html


def test_changes_show_compactly_with_every_field_in_full_when_some_are_left_out(app, client, admin):
    long_text = "a very long value " * 10
    add_entries(app, admin.id, record_id="short", changes={"name": ["Old", "New"]}, at=DAY)
    add_entries(app, admin.id, record_id="many", at=DAY + timedelta(hours=1),
                changes={f"field{n}": [n, n + 1] for n in range(5)})
    add_entries(app, admin.id, record_id="long", at=DAY + timedelta(hours=2),
                changes={"body": [None, long_text], "flag": [False, True]})

    html = client.get("/admin/audit").text
    long, many, short = html.split('<time class="text-nowrap"')[1:4]

    assert "<details" not in short
    assert "All 5 fields</summary>" in many and "<code>field4</code>" in many.split("<details", 1)[1]
    assert "<code>field3</code>" not in many.split("<details", 1)[0]  # three inline
    assert "All 2 fields</summary>" in long
    assert f'<td class="text-break">{long_text}</td>' in long  # in full, not cut
    assert "— <span aria-hidden=\"true\">→</span>" in long and "no <span" in long  # None and False shown


def test_entries_of_other_companies_and_of_no_company_never_show(app, client, admin):
    beta = make_company(app, "Beta", "beta")
    add_entries(app, admin.id, record_id="ours")
    add_entries(app, beta.id, record_id="theirs", record_type="beta.only")
    add_entries(app, None, record_id="nobodys", record_type="system.only")

    html = client.get("/admin/audit").text

    assert record_ids(html) == ["ours"]
    assert "beta.only" not in html and "system.only" not in html  # not in the type filter either
    ignored = client.get("/admin/audit?type=beta.only").text
    assert "Ignored invalid filter values: Record type." in ignored and record_ids(ignored) == ["ours"]


def test_an_empty_log_and_an_empty_filter_result_say_so_differently(app, client, admin):
    assert "No changes recorded yet" in client.get("/admin/audit").text

    add_entries(app, admin.id, action="create")
    html = client.get("/admin/audit?change=purge").text
    assert "Nothing matches these filters" in html and "Clear filters" in html


# -- filters ----------------------------------------------------------------------------------


@pytest.fixture
def varied(app, admin):
    """Entries by a member, by the admin and by no one, of two types and actions, two days."""
    member = add_member(app, admin)
    add_entries(app, admin.id, user_id=member, record_type="core.setting", action="update",
                record_id="m-setting", at=DAY)
    add_entries(app, admin.id, user_id=member, record_type=GADGET_TYPE, action="create",
                record_id="m-gadget", at=DAY + timedelta(days=1))
    add_entries(app, admin.id, user_id=admin.admin.id, record_type=GADGET_TYPE, action="delete",
                record_id="a-gadget", at=DAY + timedelta(days=2))
    add_entries(app, admin.id, user_id=None, record_type="core.setting", action="update",
                record_id="s-setting", at=DAY + timedelta(days=3))
    return {"member": member, "admin": admin.admin.id}


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["s-setting", "a-gadget", "m-gadget", "m-setting"]),
    ("person={member}", ["m-gadget", "m-setting"]),
    ("person=system", ["s-setting"]),
    (f"type={GADGET_TYPE}", ["a-gadget", "m-gadget"]),
    ("change=update", ["s-setting", "m-setting"]),
    ("date_from=2026-03-11", ["s-setting", "a-gadget", "m-gadget"]),
    ("date_to=2026-03-11", ["m-gadget", "m-setting"]),  # the whole end day counts
    ("date_from=2026-03-11&date_to=2026-03-12", ["a-gadget", "m-gadget"]),
    ("record=a-gadget", ["a-gadget"]),
    (f"person={{member}}&type={GADGET_TYPE}&change=create&date_from=2026-03-11&date_to=2026-03-11"
     "&record=m-gadget", ["m-gadget"]),
    ("person={member}&change=delete", []),
])
def test_each_filter_narrows_the_entries_and_they_combine(client, varied, query, expected):
    response = client.get("/admin/audit?" + query.format(**varied))

    assert response.status_code == 200
    assert record_ids(response.text) == expected


def test_the_person_filter_offers_the_members_and_the_type_filter_the_types_present(client, varied):
    html = client.get("/admin/audit").text

    person = html.split('id="audit-entries-f-person"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{varied["member"]}">Mia Member (member@acme.test)</option>' in person
    assert '<option value="system">System (no person)</option>' in person
    types = html.split('id="audit-entries-f-type"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]+)"', types) == ["core.setting", GADGET_TYPE]  # by label
    assert f'<option value="{GADGET_TYPE}">Gadgets</option>' in types


@pytest.mark.parametrize(("query", "field", "label", "message"), [
    ("person=abc", "person", "Person", "“abc” is not a valid value: ignored."),
    ("person=999999", "person", "Person", "“999999” is not a valid value: ignored."),
    ("type=nope", "type", "Record type", "“nope” is not a valid value: ignored."),
    ("change=explode", "change", "Action", "“explode” is not a valid value: ignored."),
    ("date_from=2026-13-01", "date_from", "Date (UTC)", "“2026-13-01” is not a date (YYYY-MM-DD): ignored."),
    ("date_to=yesterday", "date_to", "Date (UTC)", "“yesterday” is not a date (YYYY-MM-DD): ignored."),
])
def test_an_invalid_filter_value_is_ignored_and_shown_as_such(client, varied, query, field, label, message):
    response = client.get("/admin/audit?" + query)

    assert response.status_code == 200
    html = response.text
    assert message in html and f"Ignored invalid filter values: {label}." in html
    assert f'aria-describedby="audit-entries-f-{field}-error"' in html and "is-invalid" in html
    assert len(record_ids(html)) == 4  # the list still shows, without the invalid filter


def test_a_valid_filter_still_applies_next_to_an_invalid_one(client, varied):
    response = client.get("/admin/audit?change=create&date_from=garbage")

    assert record_ids(response.text) == ["m-gadget"]


def test_another_companys_person_is_not_a_valid_filter(app, client, varied):
    beta = make_company(app, "Beta", "beta")
    add_entries(app, beta.id, user_id=beta.admin.id, record_id="theirs")

    html = client.get(f"/admin/audit?person={beta.admin.id}").text

    assert "Ignored invalid filter values: Person." in html
    assert "theirs" not in record_ids(html) and "Beta Admin" not in html


# -- pages and speed --------------------------------------------------------------------------


def next_link(html: str) -> str | None:
    match = re.search(r'rel="next" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_pages_hold_fifty_entries_newest_first_and_keep_the_filters(app, client, admin):
    add_entries(app, admin.id, 120, action="update")
    add_entries(app, admin.id, 3, action="create", record_id="created", at=DAY - timedelta(days=1))

    first = client.get("/admin/audit?change=update").text
    assert record_ids(first) == [f"r{n}" for n in range(119, 69, -1)]
    assert "120 items" in first
    second_url = next_link(first)
    assert "change=update" in second_url and "after=" in second_url

    second = client.get(second_url).text
    assert record_ids(second) == [f"r{n}" for n in range(69, 19, -1)]
    last = client.get(next_link(second)).text
    assert record_ids(last) == [f"r{n}" for n in range(19, -1, -1)]
    assert next_link(last) is None


def test_a_page_runs_the_same_few_queries_whatever_the_number_of_entries(app, client, admin):
    add_entries(app, admin.id, 3)
    client.get("/admin/audit")  # warm caches that are not per request
    with counting_queries(app) as few:
        assert len(record_ids(client.get("/admin/audit?change=update").text)) == 3
    member = add_member(app, admin)
    add_entries(app, admin.id, 400, user_id=member, record_type=GADGET_TYPE)
    add_entries(app, admin.id, 400, user_id=admin.admin.id)
    with counting_queries(app) as many:
        assert len(record_ids(client.get("/admin/audit?change=update").text)) == 50

    assert len(few) == len(many)
    audit_queries = [s for s in many if "core_audit_entry" in s]
    assert len(audit_queries) == 3  # the record types present, the capped count, the page
    page_query = next(s for s in audit_queries if "LIMIT" in s.upper() and "core_user" in s)
    assert "ORDER BY core_audit_entry.at DESC, core_audit_entry.id DESC" in page_query
