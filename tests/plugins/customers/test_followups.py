"""Follow-ups: interactions and tasks on any record, the History and Follow-up tasks panels,
and the "My follow-ups" page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape as html_unescape

import pytest
from sqlalchemy import func, select

from core.db import get_session
from core.models import Membership, Role, RolePermission, RoleVisibility, User
from core.scoping import company_scope
from core.testing import counting_queries, make_company
from plugins.customers.followups import aware, create_task
from plugins.customers.models import Account, Contact, FollowUpTask, Interaction, Tag

HTMX = {"HX-Request": "true"}
BASE = "/customers/follow-ups"


@pytest.fixture
def acme(app, company, login_as):
    company.enable("customers")
    login_as(company.admin)
    return company


def add(app, company_id, *rows_of):
    """Add rows built by ``rows_of`` callables in the company; return their ids."""
    with app.app_context():
        session = get_session()
        with company_scope(session, company_id):
            rows = [make() for make in rows_of]
            session.add_all(rows)
            session.commit()
            return [row.id for row in rows]


def account_of(app, company_id, account_id):
    with app.app_context():
        session = get_session()
        with company_scope(session, company_id):
            return session.get(Account, account_id)


def add_member(app, company, email, permissions, visibility="all"):
    """A member of ``company`` whose role grants ``permissions`` (visibility for customers)."""
    with app.app_context():
        session = get_session()
        role = Role(company_id=company.id, name=f"Role of {email}")
        role.permissions = [RolePermission(code=code) for code in permissions]
        role.visibilities = [RoleVisibility(record_type=t, level=visibility)
                             for t in ("customers.account", "customers.contact")]
        user = User(email=email, name=email.split("@")[0].title())
        user.set_password("long enough password")
        user.memberships.append(Membership(company_id=company.id, role=role))
        session.add_all([role, user])
        session.commit()
        session.refresh(user)
        session.expunge(user)  # usable after the session closes (login_as reads its id)
        return user


def timeline_url(record_type, record_id):
    return f"{BASE}/panels/timeline/{record_type}/{record_id}"


def older_link(html):
    """The "Older" link of a history page (unescaped)."""
    return html_unescape(re.search(r'<a class="page-link" href="([^"]+)"[^>]*>Older</a>', html).group(1))


def summaries(html):
    return re.findall(r'<p class="mb-0 mt-1" style="white-space: pre-line">([^<]*)</p>', html)


# -- interactions -------------------------------------------------------------------------------


def test_logging_an_interaction_on_an_account_moves_its_last_follow_up_and_shows_in_its_history(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    response = client.post(f"{BASE}/log/customers_account/{account_id}",
                           data={"kind": "call", "summary": "Talked about the renewal",
                                 "occurred_at": "2024-03-05T10:30", "next": f"/customers/accounts/{account_id}"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/customers/accounts/{account_id}"
    assert aware(account_of(app, acme.id, account_id).last_follow_up_at) == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)

    # an older interaction logged later does not move the last follow-up back
    client.post(f"{BASE}/log/customers_account/{account_id}",
                data={"kind": "email", "summary": "First contact", "occurred_at": "2024-01-01T09:00"})
    assert aware(account_of(app, acme.id, account_id).last_follow_up_at) == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)

    page = client.get(timeline_url("customers_account", account_id)).text
    assert summaries(page) == ["Talked about the renewal", "First contact"]  # newest first


def test_an_interaction_without_a_date_happened_now(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    before = datetime.now(UTC)
    client.post(f"{BASE}/log/customers_account/{account_id}", data={"kind": "call", "summary": ""})
    assert aware(account_of(app, acme.id, account_id).last_follow_up_at) >= before - timedelta(seconds=1)


def test_an_interaction_with_a_contact_shows_on_the_contact_and_on_its_account(app, client, acme, db_session):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    [contact_id] = add(app, acme.id, lambda: Contact(name="Li Wei", account_id=account_id))
    client.post(f"{BASE}/log/customers_contact/{contact_id}",
                data={"kind": "meeting", "summary": "Demo with Li", "occurred_at": "2024-04-01T14:00"})

    assert account_of(app, acme.id, account_id).last_follow_up_at is not None
    account_page = client.get(timeline_url("customers_account", account_id)).text
    assert summaries(account_page) == ["Demo with Li"]
    assert "Li Wei" in account_page  # who it was with, on the account's history
    assert summaries(client.get(timeline_url("customers_contact", contact_id)).text) == ["Demo with Li"]
    with company_scope(db_session, acme.id):
        interaction = db_session.scalars(select(Interaction)).one()
        assert (interaction.account_id, interaction.contact_id) == (account_id, contact_id)


def test_a_record_of_another_table_of_the_company_gets_a_history_too(app, client, acme):
    [tag_id] = add(app, acme.id, lambda: Tag(name="VIP"))
    response = client.post(f"{BASE}/log/customers_tag/{tag_id}", data={"kind": "note", "summary": "Tag reviewed"})
    assert response.status_code == 302
    assert summaries(client.get(timeline_url("customers_tag", tag_id)).text) == ["Tag reviewed"]


@pytest.mark.parametrize("url", [
    timeline_url("core_user", 1),               # not a company's record
    timeline_url("no_such_table", 1),
    timeline_url("customers_account", "abc"),
    timeline_url("customers_account", 999),
])
def test_a_subject_that_is_not_a_record_of_the_company_answers_404(app, client, acme, url):
    assert client.get(url).status_code == 404


def test_another_company_s_record_is_refused_and_nothing_is_logged(app, client, acme, login_as, db_session):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    beta = make_company(app, "Beta", "beta")
    beta.enable("customers")
    login_as(beta.admin)
    assert client.get(timeline_url("customers_account", account_id)).status_code == 404
    assert client.get(f"{BASE}/panels/tasks/customers_account/{account_id}").status_code == 404
    assert client.post(f"{BASE}/log/customers_account/{account_id}",
                       data={"kind": "call", "summary": "sneaky"}).status_code == 404
    assert client.post(f"{BASE}/tasks/customers_account/{account_id}",
                       data={"title": "sneaky", "due_at": "2030-01-01T10:00"}).status_code == 404
    assert db_session.scalar(select(func.count()).select_from(Interaction)) == 0
    assert db_session.scalar(select(func.count()).select_from(FollowUpTask)) == 0


def test_a_record_the_user_may_not_see_is_refused(app, client, acme, login_as):
    [account_id] = add(app, acme.id, lambda: Account(name="Someone else's", owner_id=acme.admin.id))
    rep = add_member(app, acme, "rep@acme.test", ["customers.account.read", "customers.follow_up.write"],
                     visibility="own")
    login_as(rep)
    assert client.get(timeline_url("customers_account", account_id)).status_code == 404
    assert client.post(f"{BASE}/log/customers_account/{account_id}",
                       data={"kind": "call", "summary": "x"}).status_code == 404


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "note", "summary": "  "}, "Write what the note says."),
    ({"kind": "shout", "summary": "Hello"}, "Must be one of"),
    ({"summary": "Hello"}, "Missing data for required field."),
    ({"kind": "call", "occurred_at": "yesterday"}, "Not a valid date and time."),
])
def test_a_refused_interaction_says_why_keeps_the_text_and_saves_nothing(app, client, acme, db_session, data, message):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    response = client.post(f"{BASE}/log/customers_account/{account_id}", data=data)
    assert response.status_code == 422
    assert message in response.text
    if data.get("summary", "").strip():
        assert data["summary"] in response.text  # nothing typed is lost
    assert db_session.scalar(select(func.count()).select_from(Interaction)) == 0


def test_htmx_quick_log_answers_with_the_history_panel(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    response = client.post(f"{BASE}/log/customers_account/{account_id}", headers=HTMX,
                           data={"kind": "visit", "summary": "Visited the plant"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div class="customers-timeline"')
    assert "<html" not in response.text
    assert summaries(response.text) == ["Visited the plant"]
    assert "Interaction logged." in response.text

    panel = client.get(timeline_url("customers_account", account_id),
                       headers={**HTMX, "HX-Current-URL": f"http://localhost/customers/accounts/{account_id}?tab=1"})
    assert f'name="next" value="/customers/accounts/{account_id}?tab=1"' in panel.text  # the way back without htmx

    refused = client.post(f"{BASE}/log/customers_account/{account_id}", headers=HTMX, data={"kind": "note"})
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith('<div class="customers-timeline"')
    assert "Write what the note says." in refused.text


def test_the_history_is_paged_by_twenty(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    add(app, acme.id, *(lambda n=n: Interaction(kind="note", summary=f"entry {n}", occurred_at=start + timedelta(days=n),
                                                 subject_type="customers_account", subject_id=str(account_id),
                                                 account_id=account_id) for n in range(25)))
    first = client.get(timeline_url("customers_account", account_id)).text
    # the account's creation (today) is the newest entry, then the interactions
    assert "Created" in first
    assert summaries(first) == [f"entry {n}" for n in range(24, 5, -1)]
    second = client.get(older_link(first)).text
    assert summaries(second) == [f"entry {n}" for n in range(5, -1, -1)]
    assert "Older" not in second and "Newest" in second


def test_the_history_panel_runs_the_same_number_of_queries_whatever_the_row_count(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    [contact_id] = add(app, acme.id, lambda: Contact(name="Li Wei", account_id=account_id))

    def interactions(count):
        return (lambda n=n: Interaction(kind="call", summary=f"call {n}", occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
                                        subject_type="customers_contact", subject_id=str(contact_id),
                                        account_id=account_id, contact_id=contact_id, owner_id=acme.admin.id)
                for n in range(count))

    add(app, acme.id, *interactions(2))
    url = timeline_url("customers_account", account_id)
    client.get(url)  # warm caches that are not per request
    with counting_queries(app) as few:
        assert len(summaries(client.get(url).text)) == 2
    add(app, acme.id, *interactions(40))
    with counting_queries(app) as many:
        assert len(summaries(client.get(url).text)) == 19  # and the account's creation: 20 entries
    assert len(few) == len(many)
    assert len([s for s in many if "customers_interaction" in s]) == 1



# -- panels and permissions ---------------------------------------------------------------------


def test_panels_are_offered_on_any_record_only_to_who_may_read(app, acme):
    from plugins.customers.followups_views import panels

    reader = add_member(app, acme, "reader@acme.test", ["customers.account.read"])
    stranger = add_member(app, acme, "stranger@acme.test", ["customers.contact.read"])
    with app.test_request_context("/"):
        from flask import g

        from core.models import Company

        g.crm_company = get_session().get(Company, acme.id)
        record = Tag(id=7, name="x")
        offered = panels("customers_tag", record, get_session().get(User, reader.id))
        assert [p.key for p in offered] == ["customers.timeline", "customers.tasks"]
        assert offered[0].url == timeline_url("customers_tag", 7)
        assert panels("customers_tag", record, get_session().get(User, stranger.id)) == []


def test_without_the_write_permission_the_panels_show_no_forms_and_refuse_posts(app, client, acme, login_as):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    reader = add_member(app, acme, "reader@acme.test", ["customers.account.read"])
    login_as(reader)
    page = client.get(timeline_url("customers_account", account_id))
    assert page.status_code == 200 and "<form" not in page.text
    assert "<form" not in client.get(f"{BASE}/panels/tasks/customers_account/{account_id}").text
    assert client.post(f"{BASE}/log/customers_account/{account_id}",
                       data={"kind": "call", "summary": "x"}).status_code == 403
    assert client.get(f"{BASE}/").status_code == 403

    nobody = add_member(app, acme, "nobody@acme.test", [])
    login_as(nobody)
    assert client.get(timeline_url("customers_account", account_id)).status_code == 403


# -- tasks --------------------------------------------------------------------------------------


def test_tasks_keep_the_account_s_next_follow_up_at_the_earliest_open_due_date(app, client, acme, db_session):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    [contact_id] = add(app, acme.id, lambda: Contact(name="Li Wei", account_id=account_id))

    def next_follow_up():
        return aware(account_of(app, acme.id, account_id).next_follow_up_at)

    assert client.post(f"{BASE}/tasks/customers_account/{account_id}",
                       data={"title": "Send the offer", "due_at": "2030-05-10T09:00"}).status_code == 302
    assert next_follow_up() == datetime(2030, 5, 10, 9, tzinfo=UTC)
    client.post(f"{BASE}/tasks/customers_contact/{contact_id}", data={"title": "Call Li", "due_at": "2030-05-01T09:00"})
    assert next_follow_up() == datetime(2030, 5, 1, 9, tzinfo=UTC)  # a contact's task counts for its account

    with company_scope(db_session, acme.id):
        call_li = db_session.scalar(select(FollowUpTask).where(FollowUpTask.title == "Call Li"))
        assert call_li.assignee_id == acme.admin.id  # "Me" by default
    assert client.post(f"{BASE}/tasks/{call_li.id}/done").status_code == 302
    assert next_follow_up() == datetime(2030, 5, 10, 9, tzinfo=UTC)
    assert client.post(f"{BASE}/tasks/{call_li.id}/reopen").status_code == 302
    assert next_follow_up() == datetime(2030, 5, 1, 9, tzinfo=UTC)

    client.post(f"{BASE}/tasks/{call_li.id}/done")
    panel = client.get(f"{BASE}/panels/tasks/customers_account/{account_id}").text
    assert "Send the offer" in panel and "Call Li" not in panel
    offer_id = int(re.search(r"/tasks/(\d+)/done", panel).group(1))
    done = client.post(f"{BASE}/tasks/{offer_id}/done", headers=HTMX, data={"panel": "1"})
    assert done.text.lstrip().startswith('<div class="customers-tasks"')
    assert "Task “Send the offer” done." in done.text and f"/tasks/{offer_id}/reopen" in done.text
    assert next_follow_up() is None


def test_the_tasks_panel_marks_overdue_tasks(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    client.post(f"{BASE}/tasks/customers_account/{account_id}", data={"title": "Late one", "due_at": "2020-01-01T09:00"})
    client.post(f"{BASE}/tasks/customers_account/{account_id}", data={"title": "Future one", "due_at": "2099-01-01T09:00"})
    panel = client.get(f"{BASE}/panels/tasks/customers_account/{account_id}").text
    assert panel.count("Overdue") == 1
    assert panel.index("Late one") < panel.index("Overdue") < panel.index("Future one")


@pytest.mark.parametrize(("data", "message"), [
    ({"title": "  ", "due_at": "2030-01-01T09:00"}, "Write what is to be done."),
    ({"title": "Call", "due_at": ""}, "Missing data for required field."),
    ({"title": "Call", "due_at": "2030-01-01T09:00", "remind_at": "2030-02-01T09:00"},
     "The reminder must come before the due date."),
    ({"title": "Call", "due_at": "2030-01-01T09:00", "assignee_id": "99999"}, "Choose someone of this company."),
])
def test_a_refused_task_says_why_and_saves_nothing(app, client, acme, db_session, data, message):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    response = client.post(f"{BASE}/tasks/customers_account/{account_id}", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert db_session.scalar(select(func.count()).select_from(FollowUpTask)) == 0


def test_a_task_of_another_company_cannot_be_completed(app, client, acme, login_as):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    client.post(f"{BASE}/tasks/customers_account/{account_id}", data={"title": "Ours", "due_at": "2030-01-01T09:00"})
    beta = make_company(app, "Beta", "beta")
    beta.enable("customers")
    login_as(beta.admin)
    assert client.post(f"{BASE}/tasks/1/done").status_code == 404


# -- My follow-ups ------------------------------------------------------------------------------


def section(html, key):
    match = re.search(rf'<section class="mb-2" id="follow-ups-{key}">(.*?)</section>', html, re.DOTALL)
    return match.group(1) if match else ""


def test_my_follow_ups_sorts_my_open_tasks_into_overdue_today_and_upcoming(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    colleague = add_member(app, acme, "colleague@acme.test", ["customers.follow_up.write"])
    now = datetime.now(UTC)
    today_noon = datetime.combine(now.date(), time(12), tzinfo=UTC)
    with app.test_request_context("/"):
        session = get_session()
        with company_scope(session, acme.id):
            def task(title, due, assignee=acme.admin.id):
                return create_task(session, title=title, due_at=due, subject_type="customers_account",
                                   subject_id=account_id, assignee_id=assignee)

            task("Overdue call", today_noon - timedelta(days=3))
            task("Email for today", today_noon)
            task("Visit next week", today_noon + timedelta(days=7))
            task("Far away", today_noon + timedelta(days=40))
            task("Colleague's", today_noon, assignee=colleague.id)
            from plugins.customers.followups import complete_task

            complete_task(session, task("Already done", today_noon - timedelta(days=1)))
            session.commit()

    page = client.get(f"{BASE}/").text
    assert "Overdue call" in section(page, "overdue")
    assert "Email for today" in section(page, "today")
    assert "Visit next week" in section(page, "upcoming")
    assert "Far away" not in page and "1 more task is due later." in page
    assert "Colleague" not in page and "Already done" not in page
    assert f'<a href="/customers/accounts/{account_id}">Globex</a>' in section(page, "overdue")


def test_my_follow_ups_done_button_comes_back_with_an_undo(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    client.post(f"{BASE}/tasks/customers_account/{account_id}",
                data={"title": "Ring back", "due_at": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    page = client.get(f"{BASE}/").text
    task_id = int(re.search(r"/tasks/(\d+)/done", page).group(1))
    response = client.post(f"{BASE}/tasks/{task_id}/done", data={"next": f"{BASE}/"}, follow_redirects=True)
    assert "Task “Ring back” done." in response.text and f"/tasks/{task_id}/reopen" in response.text
    assert "Nothing to follow up." in response.text


def test_my_follow_ups_without_tasks_says_so(client, acme):
    assert "Nothing to follow up." in client.get(f"{BASE}/").text


def test_an_account_page_loads_the_history_and_tasks_panels(app, client, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex"))
    page = client.get(f"/customers/accounts/{account_id}").text
    assert f'hx-get="{timeline_url("customers_account", account_id)}"' in page
    assert f'hx-get="{BASE}/panels/tasks/customers_account/{account_id}"' in page
