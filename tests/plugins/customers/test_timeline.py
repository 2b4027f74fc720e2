"""The History panel is the record's timeline: interactions, tasks done, the record's own life
from the audit trail (created, owner and status changes, trashed, restored, merged) and other
plugins' entries (the ``timeline_entries`` hook), interleaved by time and paged by a cursor."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from core.audit import log_action, set_actor
from core.db import get_session, utcnow
from core.models import Membership, User
from core.scoping import company_scope
from core.testing import counting_queries
from core.timeline import Cursor, merge_pages
from core.trash import restore, soft_delete
from plugins.customers.followups import complete_task, create_task
from plugins.customers.models import Account, Interaction, Tag

PLUGINS = ["customers", "fx_timeline", "fx_timeline_broken"]
BASE = "/customers/follow-ups/panels/timeline"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": ["fx_timeline", "fx_timeline_broken"]}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def acme(app, company, login_as):
    company.enable("customers")
    login_as(company.admin)
    return company


@contextmanager
def acting(app, company, user_id=None):
    """A session scoped to the company, acting as its administrator; committed at the end."""
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            set_actor(session, user_id or company.admin.id)
            yield session
            session.commit()


def add_account(app, company, name="Globex"):
    with acting(app, company) as session:
        account = Account(name=name, owner_id=company.admin.id)
        session.add(account)
        session.flush()
        return account.id


def add_interactions(app, company, account_id, *moments, summary="call"):
    with acting(app, company) as session:
        session.add_all([Interaction(kind="call", summary=f"{summary} {n}", occurred_at=moment,
                                     subject_type="customers_account", subject_id=str(account_id),
                                     account_id=account_id, owner_id=company.admin.id)
                         for n, moment in enumerate(moments)])


def lines(html):
    """Each entry of the panel as text: an event's title, or "call: <summary>"."""
    found = []
    for item in re.findall(r'<li class="border-top py-2.*?</li>', html, re.S):
        title = re.search(r'class="event-title">(?:<a [^>]*>)?([^<]*)', item)
        summary = re.search(r'style="white-space: pre-line">([^<]*)</p>', item)
        found.append(unescape(title.group(1)) if title else f"call: {summary.group(1) if summary else ''}")
    return found


def older_link(html):
    match = re.search(r'<a class="page-link" href="([^"]+)"[^>]*>Older</a>', html)
    return unescape(match.group(1)) if match else None



def add_member(app, company, name):
    with app.app_context():
        session = get_session()
        user = User(email=f"{name.lower()}@acme.test", name=name)
        user.set_password("long enough password")
        user.memberships.append(Membership(company_id=company.id, is_admin=True))
        session.add(user)
        session.commit()
        return user.id


# -- the record's life ---------------------------------------------------------------------------


def test_the_history_interleaves_the_accounts_life_with_interactions_and_tasks_done(app, client, acme):
    bob = add_member(app, acme, "Bob")
    account_id = add_account(app, acme)
    add_interactions(app, acme, account_id, utcnow())
    with acting(app, acme) as session:
        account = session.get(Account, account_id)
        account.owner_id = bob
        account.status = "active"
    with acting(app, acme) as session:
        soft_delete(session.get(Account, account_id), acme.admin.id)
    with acting(app, acme) as session:
        restore(session.scalar(select(Account).where(Account.id == account_id)
                               .execution_options(include_deleted=True)))
    with acting(app, acme) as session:
        task = create_task(session, title="Send the quote", due_at=utcnow(), subject_type="customers_account",
                           subject_id=account_id, assignee_id=bob)
        complete_task(session, task)

    page = client.get(f"{BASE}/customers_account/{account_id}").text
    assert lines(page) == [
        "Task done: Send the quote",
        "Restored from the trash",
        "Moved to the trash",
        "Owner changed from Acme Admin to Bob",
        "call: call 0",
        "Created",
    ]
    assert "Status changed from Prospect to Active" in page  # the same change, second line
    assert "by Acme Admin" in page and "Assigned to Bob" in page


def test_edits_of_other_fields_stay_in_the_audit_history_not_the_timeline(app, client, acme):
    account_id = add_account(app, acme)
    with acting(app, acme) as session:
        session.get(Account, account_id).industry = "Retail"
    assert lines(client.get(f"{BASE}/customers_account/{account_id}").text) == ["Created"]


def test_merges_show_on_the_survivor_and_on_the_merged_record(app, client, acme):
    survivor_id, merged_id = add_account(app, acme, "Globex"), add_account(app, acme, "Globex Ltd")
    with acting(app, acme) as session:
        log_action(session, session.get(Account, survivor_id), "merge", {"merged": [None, [str(merged_id)]]})
        log_action(session, session.get(Account, merged_id), "merged_into", {"merged_into": [None, str(survivor_id)]})
    assert lines(client.get(f"{BASE}/customers_account/{survivor_id}").text)[0] == \
        f"Merged #{merged_id} into this record"
    assert lines(client.get(f"{BASE}/customers_account/{merged_id}").text)[0] == f"Merged into #{survivor_id}"


# -- paging --------------------------------------------------------------------------------------


def test_many_entries_of_the_same_moment_page_without_loss(app, client, acme):
    account_id = add_account(app, acme)
    moment = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    add_interactions(app, acme, account_id, *[moment] * 45)
    seen, url, pages = [], f"{BASE}/customers_account/{account_id}", 0
    while url:
        page = client.get(url).text
        seen += lines(page)
        url, pages = older_link(page), pages + 1
    assert pages == 3
    assert seen[0] == "Created" and sorted(seen[1:]) == sorted(f"call: call {n}" for n in range(45))


def test_the_panel_runs_the_same_queries_however_long_the_history(app, client, acme):
    bob = add_member(app, acme, "Bob")
    account_id = add_account(app, acme)
    url = f"{BASE}/customers_account/{account_id}"
    client.get(url)
    with counting_queries(app) as short:
        client.get(url)
    for n in range(15):
        with acting(app, acme) as session:
            session.get(Account, account_id).owner_id = bob if n % 2 == 0 else acme.admin.id
    add_interactions(app, acme, account_id, *[utcnow() - timedelta(days=n) for n in range(30)])
    with acting(app, acme) as session:
        for n in range(25):
            complete_task(session, create_task(session, title=f"t{n}", due_at=utcnow(), assignee_id=bob,
                                               subject_type="customers_account", subject_id=account_id))
    with counting_queries(app) as long:
        page = client.get(url).text
    assert len(lines(page)) == 20 and older_link(page)
    assert len(long) <= len(short) + 1  # the owners' names, read once for the page


def test_a_before_that_is_not_a_date_is_a_400_naming_it(app, client, acme):
    account_id = add_account(app, acme)
    response = client.get(f"{BASE}/customers_account/{account_id}?before=yesterday")
    assert response.status_code == 400
    assert "“yesterday” is not a date and time" in response.text


def test_a_record_with_no_history_says_so(app, client, acme):
    with acting(app, acme) as session:
        tag = Tag(name="VIP")
        session.add(tag)
        session.flush()
        tag_id = tag.id
    page = client.get(f"{BASE}/customers_tag/{tag_id}").text
    assert "Nothing has happened here yet" in page


# -- other plugins' entries ----------------------------------------------------------------------


def test_other_plugins_entries_are_interleaved_checked_and_paged(app, client, acme, caplog):
    from fx_timeline import CALLS

    acme.enable("fx_timeline", "fx_timeline_broken")
    account_id = add_account(app, acme)
    # one interaction between each two deals (deals every other day from 2024-01-01 12:00)
    add_interactions(app, acme, account_id,
                     *[datetime(2024, 1, 2, 12, 0, tzinfo=UTC) + timedelta(days=2 * n) for n in range(6)])
    CALLS.clear()
    with caplog.at_level(logging.WARNING):
        page = client.get(f"{BASE}/customers_account/{account_id}").text
    assert lines(page) == ["Created"] + [entry for n in range(5, -1, -1)
                                         for entry in (f"call: call {n}", f"Deal {n} won")]
    assert '<a href="/deals/5">Deal 5 won</a>' in page and "by Seller" in page and "Big one" in page
    assert "Foreign key" not in page
    assert "not a TimelineEntry" in caplog.text and "the deals database is down" in caplog.text
    assert CALLS[0]["record_type"] == "customers_account" and CALLS[0]["before"] is None
    assert CALLS[0]["limit"] == 21 and CALLS[0]["user_id"] == acme.admin.id


def test_the_hook_is_asked_from_where_the_page_starts(app, client, acme):
    from fx_timeline import CALLS

    acme.enable("fx_timeline")
    account_id = add_account(app, acme)
    add_interactions(app, acme, account_id, *[datetime(2023, 1, 1, tzinfo=UTC)] * 25)
    first = client.get(f"{BASE}/customers_account/{account_id}").text
    assert lines(first)[:7] == ["Created"] + [f"Deal {n} won" for n in range(5, -1, -1)]
    CALLS.clear()
    second = client.get(older_link(first)).text
    assert CALLS[0]["before"] == datetime(2023, 1, 1, tzinfo=UTC)
    assert not [line for line in lines(second) if "Deal" in line]  # shown already: not again
    assert len(lines(first)) + len(lines(second)) == 1 + 6 + 25


def test_a_disabled_plugin_is_not_asked(app, client, acme):
    from fx_timeline import CALLS

    account_id = add_account(app, acme)
    CALLS.clear()
    page = client.get(f"{BASE}/customers_account/{account_id}").text
    assert CALLS == [] and "Deal" not in page


# -- the core's pieces ---------------------------------------------------------------------------


def test_a_cursor_round_trips_through_its_query_parameters():
    cursor = Cursor(datetime(2024, 1, 1, 9, 30, tzinfo=UTC), "customers.interaction.000000000042")
    assert Cursor.parse(**{"at": cursor.params()["before"], "key": cursor.params()["key"]}) == cursor
    assert Cursor.parse("", "") is None
    naive = Cursor.parse("2024-01-01T09:30:00", "")
    assert naive.at.tzinfo is not None
    with pytest.raises(ValueError):
        Cursor.parse("soon", "")


def test_merge_pages_cuts_at_the_limit_and_says_where_to_go_on():
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    first = [(moment, f"a.{n}") for n in (3, 2, 1)]
    second = [(moment + timedelta(hours=1), "b.1"), (moment - timedelta(hours=1), "b.0")]
    page = merge_pages([first, second], at=lambda item: item[0], key=lambda item: item[1], limit=3)
    assert page.items == [second[0], first[0], first[1]]
    assert page.has_more and page.next_cursor == Cursor(moment, "a.2")
    last = merge_pages([[first[2]], [second[1]]], at=lambda item: item[0], key=lambda item: item[1], limit=3)
    assert not last.has_more and last.next_cursor is None
