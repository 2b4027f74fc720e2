"""Changing a follow-up task: the edit page (from the tasks panel and My follow-ups) and
PATCH /api/v1/customers/tasks/<id>, both through followups.update_task."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from core.db import get_session
from core.scoping import company_scope
from core.testing import make_company
from plugins.customers.followups import ACCOUNT_TYPE, aware, create_task
from plugins.customers.models import Account, FollowUpTask
from tests.plugins.customers.test_accounts import events_named
from tests.plugins.customers.test_api import API, assert_problem, token_for
from tests.plugins.customers.test_followups import BASE, account_of, add, add_member

DUE = datetime(2030, 5, 10, 9, 0, tzinfo=UTC)
REMIND = datetime(2030, 5, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(app, company, login_as):
    company.enable("customers")
    login_as(company.admin)
    return company


@pytest.fixture
def account_id(app, acme):
    [account_id] = add(app, acme.id, lambda: Account(name="Globex", owner_id=acme.admin.id))
    return account_id


def add_task(app, company, account_id, title="Send the offer", due_at=DUE, remind_at=REMIND, assignee_id=None,
             reminded=False):
    """A task about the account (assigned to the administrator by default); its id."""
    with app.test_request_context("/"):
        session = get_session()
        with company_scope(session, company.id):
            task = create_task(session, title=title, due_at=due_at, remind_at=remind_at,
                               subject_type=ACCOUNT_TYPE, subject_id=account_id,
                               assignee_id=assignee_id or company.admin.id)
            if reminded:
                task.reminded_at = REMIND
            session.commit()
            return task.id


def task_of(app, company, task_id):
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            return session.get(FollowUpTask, task_id)


def edit_url(task_id, next_url=None):
    return f"{BASE}/tasks/{task_id}/edit" + (f"?next={next_url}" if next_url else "")


def form(title="Send the offer", due_at="2030-05-10T09:00", remind_at="2030-05-09T09:00", assignee_id=""):
    return {"title": title, "due_at": due_at, "remind_at": remind_at, "assignee_id": assignee_id}


# -- the edit page --------------------------------------------------------------------------------


def test_the_edit_page_shows_the_task_s_current_values_and_a_way_back(app, client, acme, account_id):
    colleague = add_member(app, acme, "colleague@acme.test", ["customers.follow_up.write"])
    task_id = add_task(app, acme, account_id, assignee_id=colleague.id)
    page = client.get(edit_url(task_id, f"/customers/accounts/{account_id}"))
    assert page.status_code == 200
    html = page.text
    assert 'value="Send the offer"' in html
    assert 'value="2030-05-10T09:00"' in html and 'value="2030-05-09T09:00"' in html
    assert f'<option value="{colleague.id}" selected>Colleague</option>' in html
    assert f'href="/customers/accounts/{account_id}">Cancel</a>' in html
    assert f'<a href="/customers/accounts/{account_id}">Globex</a>' in html  # what the task is about
    assert html.count("<h1") == 1


def test_saving_a_new_due_date_moves_the_account_s_next_follow_up_and_goes_back(app, client, acme, account_id):
    task_id = add_task(app, acme, account_id)
    add_task(app, acme, account_id, title="Later call", due_at=datetime(2030, 6, 1, 9, tzinfo=UTC), remind_at=None)
    back = f"/customers/accounts/{account_id}"
    response = client.post(edit_url(task_id, back), data=form(title="Send the revised offer",
                                                              due_at="2030-07-01T10:00"))
    assert response.status_code == 302 and response.headers["Location"] == back
    task = task_of(app, acme, task_id)
    assert (task.title, aware(task.due_at)) == ("Send the revised offer", datetime(2030, 7, 1, 10, tzinfo=UTC))
    # the other task is now the soonest
    assert aware(account_of(app, acme.id, account_id).next_follow_up_at) == datetime(2030, 6, 1, 9, tzinfo=UTC)
    assert "Task “Send the revised offer” saved." in client.get(back).text


def test_a_new_reminder_time_arms_the_reminder_again(app, client, acme, account_id, db_session):
    task_id = add_task(app, acme, account_id, reminded=True)
    client.post(edit_url(task_id), data=form())  # nothing changed: still reminded, no event
    assert task_of(app, acme, task_id).reminded_at is not None
    assert [name for name, _ in events_named(db_session, "customers.task.updated")] == []

    client.post(edit_url(task_id), data=form(remind_at="2030-05-10T08:00"))
    task = task_of(app, acme, task_id)
    assert aware(task.remind_at) == datetime(2030, 5, 10, 8, tzinfo=UTC) and task.reminded_at is None
    [(_name, payload)] = events_named(db_session, "customers.task.updated")
    assert payload["id"] == task_id and payload["account_id"] == account_id


def test_saving_without_a_next_goes_back_to_the_task_s_record_and_refuses_other_sites(app, client, acme, account_id):
    task_id = add_task(app, acme, account_id)
    response = client.post(edit_url(task_id, "//evil.example/"), data=form(title="Changed"))
    assert response.headers["Location"] == f"/customers/accounts/{account_id}"


@pytest.mark.parametrize(("data", "message"), [
    (form(title="  "), "Write what is to be done."),
    (form(due_at=""), "Missing data for required field."),
    (form(due_at="soon"), "Not a valid date and time."),
    (form(remind_at="2030-06-01T09:00"), "The reminder must come before the due date."),
    (form(assignee_id="99999"), "Choose someone of this company."),
])
def test_a_refused_change_says_why_keeps_what_was_typed_and_saves_nothing(app, client, acme, account_id, data,
                                                                         message):
    task_id = add_task(app, acme, account_id, reminded=True)
    response = client.post(edit_url(task_id), data=data)
    assert response.status_code == 422
    assert message in unescape(response.text)
    assert 'aria-invalid="true"' in response.text
    task = task_of(app, acme, task_id)
    assert (task.title, aware(task.due_at), aware(task.remind_at)) == ("Send the offer", DUE, REMIND)
    assert task.reminded_at is not None


def test_an_assignee_who_left_the_company_stays_when_something_else_changes(app, client, acme, account_id):
    from core.models import Membership

    leaver = add_member(app, acme, "leaver@acme.test", ["customers.follow_up.write"])
    task_id = add_task(app, acme, account_id, assignee_id=leaver.id)
    with app.app_context():
        session = get_session()
        session.delete(session.scalar(select(Membership).where(Membership.user_id == leaver.id)))
        session.commit()
    page = client.get(edit_url(task_id)).text
    assert f'<option value="{leaver.id}" selected>Leaver</option>' in page  # not "Me"
    response = client.post(edit_url(task_id), data=form(title="Renamed", assignee_id=str(leaver.id)))
    assert response.status_code == 302
    assert task_of(app, acme, task_id).assignee_id == leaver.id


def test_another_company_s_task_is_404(app, client, acme, account_id, login_as):
    task_id = add_task(app, acme, account_id)
    beta = make_company(app, "Beta", "beta")
    beta.enable("customers")
    login_as(beta.admin)
    assert client.get(edit_url(task_id)).status_code == 404
    assert client.post(edit_url(task_id), data=form(title="Sneaky")).status_code == 404
    assert task_of(app, acme, task_id).title == "Send the offer"


def test_a_task_about_a_record_the_user_may_not_see_is_404_unless_it_is_their_own(app, client, acme, account_id,
                                                                                  login_as):
    rep = add_member(app, acme, "rep@acme.test", ["customers.account.read", "customers.follow_up.write"],
                     visibility="own")
    hidden = add_task(app, acme, account_id)
    own = add_task(app, acme, account_id, title="Mine", assignee_id=rep.id)
    login_as(rep)
    assert client.get(edit_url(hidden)).status_code == 404
    assert client.post(edit_url(hidden), data=form(title="Sneaky")).status_code == 404
    assert client.get(edit_url(own)).status_code == 200  # assigned to them: on their My follow-ups
    assert task_of(app, acme, hidden).title == "Send the offer"


def test_a_member_without_the_follow_up_permission_is_refused(app, client, acme, account_id, login_as):
    task_id = add_task(app, acme, account_id)
    reader = add_member(app, acme, "reader@acme.test", ["customers.account.read"])
    login_as(reader)
    assert client.get(edit_url(task_id)).status_code == 403
    assert client.post(edit_url(task_id), data=form(title="Nope")).status_code == 403
    assert "/edit" not in client.get(f"{BASE}/panels/tasks/customers_account/{account_id}").text
    assert task_of(app, acme, task_id).title == "Send the offer"


def test_the_tasks_panel_and_my_follow_ups_link_each_open_task_to_its_edit_page(app, client, acme, account_id):
    task_id = add_task(app, acme, account_id, due_at=datetime.now(UTC))
    account_page = f"http://localhost/customers/accounts/{account_id}"
    panel = client.get(f"{BASE}/panels/tasks/customers_account/{account_id}",
                       headers={"HX-Request": "true", "HX-Current-URL": account_page}).text
    link = re.search(rf'href="({BASE}/tasks/{task_id}/edit[^"]*)"', panel).group(1)
    assert unescape(link) == f"{BASE}/tasks/{task_id}/edit?next=/customers/accounts/{account_id}"
    assert '<span class="visually-hidden">Edit “Send the offer”</span>' in panel
    mine = client.get(f"{BASE}/").text
    assert f'href="{BASE}/tasks/{task_id}/edit?next={BASE}/"' in unescape(mine)


# -- the API ----------------------------------------------------------------------------------------


def test_patching_a_task_changes_only_the_fields_sent_and_emits_an_event(app, client, acme, account_id, db_session):
    task_id = add_task(app, acme, account_id, reminded=True)
    headers = token_for(app, acme)
    response = client.patch(f"{API}/tasks/{task_id}", headers=headers, json={"due_at": "2030-08-01T09:00:00Z"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["title"], body["due_at"], body["remind_at"]) == (
        "Send the offer", "2030-08-01T09:00:00+00:00", "2030-05-09T09:00:00+00:00")
    assert aware(account_of(app, acme.id, account_id).next_follow_up_at) == datetime(2030, 8, 1, 9, tzinfo=UTC)
    assert task_of(app, acme, task_id).reminded_at is not None  # the reminder time did not change

    client.patch(f"{API}/tasks/{task_id}", headers=headers, json={"remind_at": "2030-07-31T09:00:00Z"})
    assert task_of(app, acme, task_id).reminded_at is None
    assert [name for name, _ in events_named(db_session, "customers.task.updated")] == [
        "customers.task.updated", "customers.task.updated"]


@pytest.mark.parametrize(("body", "field"), [
    ({"title": " "}, "title"),
    ({"due_at": "next week"}, "due_at"),
    ({"remind_at": "2030-06-01T09:00:00Z"}, "remind_at"),  # after the due date the task keeps
    ({"due_at": "2030-05-01T09:00:00Z"}, "remind_at"),     # before the reminder the task keeps
    ({"assignee_id": 99999}, "assignee_id"),
    ({"subject_id": "7"}, "subject_id"),                    # not something a task's change may move
])
def test_a_refused_patch_names_the_field_and_changes_nothing(app, client, acme, account_id, body, field):
    task_id = add_task(app, acme, account_id)
    assert_problem(client.patch(f"{API}/tasks/{task_id}", headers=token_for(app, acme), json=body), 422, field)
    task = task_of(app, acme, task_id)
    assert (task.title, aware(task.due_at), aware(task.remind_at)) == ("Send the offer", DUE, REMIND)


def test_patching_a_task_the_user_may_not_see_or_of_another_company_is_404(app, client, acme, account_id):
    from tests.plugins.customers.test_accounts import make_member

    task_id = add_task(app, acme, account_id)
    rep = make_member(app, acme, "rep@acme.test", "Rep")
    assert_problem(client.patch(f"{API}/tasks/{task_id}", headers=token_for(app, acme, rep),
                                json={"title": "Sneaky"}), 404)
    beta = make_company(app, "Beta", "beta")
    beta.enable("customers")
    assert_problem(client.patch(f"{API}/tasks/{task_id}", headers=token_for(app, beta),
                                json={"title": "Sneaky"}), 404)
    assert_problem(client.patch(f"{API}/tasks/{task_id}", headers=token_for(app, acme, scopes="customers:read"),
                                json={"title": "Sneaky"}), 403)
    assert task_of(app, acme, task_id).title == "Send the offer"


def test_the_openapi_document_lists_the_task_patch(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "patch" in paths[f"{API}/tasks/{{task_id}}"]


def test_the_edit_page_keeps_the_basic_accessibility_rules_also_when_refused(app, client, acme, account_id):
    from tests.core.test_accessibility import audit

    task_id = add_task(app, acme, account_id)
    assert audit(client.get(edit_url(task_id)).text) == []
    refused = client.post(edit_url(task_id), data=form(title=" "))
    assert refused.status_code == 422 and audit(refused.text) == []
    add_task(app, acme, account_id, title="Today", due_at=datetime.now(UTC), remind_at=None)
    mine = client.get(f"{BASE}/").text
    assert "/edit?next=" in mine and audit(mine) == []
