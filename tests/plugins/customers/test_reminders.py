"""Follow-up task reminders: the periodic task notifies the assignee once, when the reminder
time has passed, in every company with the plugin enabled, a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import get_session
from core.jobs import get_jobs, run_in_transaction, run_periodic
from core.mail import outbox
from core.models import Membership, User
from core.notifications import Notification
from core.scoping import company_scope
from core.testing import make_company
from plugins.customers.followups import aware, create_task, update_task
from plugins.customers.jobs import REMINDER_TASK, send_due_reminders
from plugins.customers.models import Account, FollowUpTask

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(app, company):
    company.enable("customers")
    return company


def add_task(app, company, *, remind_at, title="Call back", assignee_id=None, done=False, subject=None):
    """A task about a new account (or ``subject``) assigned to the company's admin by default."""
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            if subject is None:
                account = Account(name=f"Account for {title}")
                session.add(account)
                session.flush()
                subject = ("customers_account", account.id)
            task = create_task(session, title=title, due_at=NOW + timedelta(days=1), remind_at=remind_at,
                               subject_type=subject[0], subject_id=subject[1],
                               assignee_id=assignee_id or company.admin.id)
            if done:
                task.done_at = NOW
            session.commit()
            return task.id


def run(app, **options):
    return run_in_transaction(app, lambda: send_due_reminders(now=NOW, **options))


def notifications(app):
    with app.app_context():
        return get_session().execute(
            select(Notification.company_id, Notification.user_id, Notification.title, Notification.url)
            .order_by(Notification.id)).all()


def reminded_at(app, task_id):
    with app.app_context():
        return aware(get_session().scalar(select(FollowUpTask.reminded_at).where(FollowUpTask.id == task_id)))


def test_a_due_reminder_notifies_the_assignee_once_with_a_mail_and_a_link_to_the_record(app, acme):
    task_id = add_task(app, acme, remind_at=NOW - timedelta(minutes=1), title="Call Li Wei")
    assert run(app) == 1
    [(company_id, user_id, title, url)] = notifications(app)
    assert (company_id, user_id, title) == (acme.id, acme.admin.id, "Reminder: Call Li Wei")
    assert url.startswith("/customers/accounts/")
    [mail] = outbox(app)
    assert mail.to == acme.admin.email and mail.subject == "Reminder: Call Li Wei"
    assert reminded_at(app, task_id) == NOW
    assert run(app) == 0  # never twice
    assert len(notifications(app)) == 1 and len(outbox(app)) == 1


def test_reminders_not_due_done_or_without_a_time_are_left_alone(app, acme):
    later = add_task(app, acme, remind_at=NOW + timedelta(minutes=1), title="Later")
    add_task(app, acme, remind_at=NOW - timedelta(hours=1), title="Done already", done=True)
    add_task(app, acme, remind_at=None, title="No reminder")
    assert run(app) == 0
    assert notifications(app) == [] and reminded_at(app, later) is None


def test_a_task_about_another_record_links_to_my_follow_ups(app, acme):
    from plugins.customers.models import Tag

    with app.app_context():
        session = get_session()
        with company_scope(session, acme.id):
            tag = Tag(name="VIP")
            session.add(tag)
            session.commit()
            tag_id = tag.id
    add_task(app, acme, remind_at=NOW, subject=("customers_tag", tag_id))
    run(app)
    assert notifications(app)[0].url == "/customers/follow-ups/"


def test_only_companies_with_customers_enabled_are_reminded(app, acme):
    other = make_company(app, "Other", "other")
    other.enable("customers")
    add_task(app, acme, remind_at=NOW)
    add_task(app, other, remind_at=NOW)
    other.disable("customers")
    assert run(app) == 1
    assert [row.company_id for row in notifications(app)] == [acme.id]


def test_each_company_is_reminded_in_its_own_scope(app, acme):
    other = make_company(app, "Other", "other")
    other.enable("customers")
    add_task(app, acme, remind_at=NOW, title="Acme task")
    add_task(app, other, remind_at=NOW, title="Other task")
    assert run(app) == 2
    assert {(row.company_id, row.user_id, row.title) for row in notifications(app)} == {
        (acme.id, acme.admin.id, "Reminder: Acme task"), (other.id, other.admin.id, "Reminder: Other task")}


def test_a_run_handles_one_batch_oldest_reminder_first(app, acme):
    ids = [add_task(app, acme, remind_at=NOW - timedelta(minutes=n), title=f"t{n}") for n in range(5)]
    assert run(app, batch=2) == 2
    assert {reminded_at(app, task_id) is not None for task_id in ids[3:]} == {True}
    assert run(app, batch=2) == 2
    assert run(app, batch=2) == 1
    assert run(app, batch=2) == 0


def test_a_former_member_is_not_told_but_the_task_counts_as_reminded(app, acme):
    with app.app_context():
        session = get_session()
        user = User(email="gone@acme.test", name="Gone")
        user.set_password("long enough password")
        user.memberships.append(Membership(company_id=acme.id))
        session.add(user)
        session.commit()
        gone_id = user.id
    task_id = add_task(app, acme, remind_at=NOW, assignee_id=gone_id)
    with app.app_context():
        session = get_session()
        session.execute(Membership.__table__.delete().where(Membership.user_id == gone_id))
        session.commit()
    assert run(app) == 1
    assert notifications(app) == [] and outbox(app) == []
    assert reminded_at(app, task_id) == NOW


def test_the_reminder_speaks_the_assignees_language(app, acme):
    with app.app_context():
        session = get_session()
        session.get(User, acme.admin.id).locale = "zh_Hans"
        session.commit()
    add_task(app, acme, remind_at=NOW, title="打电话")
    run(app)
    with app.app_context():
        body = get_session().scalar(select(Notification.body))
    assert "2025/6/3 09:00" in body  # the due date as zh_Hans writes it, not "6/3/25, 9:00 AM"


def test_changing_the_reminder_time_arms_it_again(app, acme):
    task_id = add_task(app, acme, remind_at=NOW - timedelta(minutes=5))
    run(app)
    with app.app_context():
        session = get_session()
        with company_scope(session, acme.id):
            task = session.get(FollowUpTask, task_id)
            update_task(session, task, {"title": "Call back"})  # no change: stays reminded
            assert task.reminded_at is not None
            update_task(session, task, {"remind_at": NOW - timedelta(minutes=1)})
            assert task.reminded_at is None
            session.commit()
    assert run(app) == 1
    assert len(notifications(app)) == 2


def test_update_task_refuses_unknown_fields(app, acme):
    task_id = add_task(app, acme, remind_at=None)
    with app.app_context():
        session = get_session()
        with company_scope(session, acme.id), pytest.raises(ValueError, match="subject_id"):
            update_task(session, session.get(FollowUpTask, task_id), {"subject_id": "9"})


def test_the_periodic_task_is_declared_and_runs_every_minute(app, acme):
    plugin, periodic = get_jobs(app).periodic[REMINDER_TASK]
    assert plugin == "customers" and periodic.schedule == "* * * * *" and periodic.per_company is False
    add_task(app, acme, remind_at=datetime.now(UTC) - timedelta(minutes=1))
    assert run_periodic(REMINDER_TASK, app) == 1
    assert len(notifications(app)) == 1


def test_the_tasks_panel_and_my_follow_ups_show_the_reminder_time(app, client, acme, login_as):
    task_id = add_task(app, acme, remind_at=datetime(2030, 1, 2, 8, 30, tzinfo=UTC))
    login_as(acme.admin)
    with app.app_context():
        account_id = get_session().get(FollowUpTask, task_id).account_id
    panel = client.get(f"/customers/follow-ups/panels/tasks/customers_account/{account_id}").text
    mine = client.get("/customers/follow-ups/").text
    for page in (panel, mine):
        assert 'aria-label="Reminder"' in page and 'datetime="2030-01-02T08:30:00' in page
