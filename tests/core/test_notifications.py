"""In-app notifications: notify(), the bell's unread count, the /notifications page, mail
after commit, and pruning old read notifications."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import get_session, utcnow
from core.mail import outbox
from core.notifications import Notification, mark_read, notify, prune, unread_count
from core.scoping import company_scope
from core.testing import counting_queries, make_company


@pytest.fixture
def crm_plugins():
    return []


def add_notifications(app, company, *titles, user=None, **options):
    """Notify ``user`` (default: the company's administrator) once per title; commit."""
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            ids = [notify((user or company.admin).id, title, session=session, **options).id for title in titles]
        session.commit()
        return ids



def badge(page):
    match = re.search(r'<span class="visually-hidden">(\d+) unread notifications?</span>', page)
    return int(match.group(1)) if match else 0


# -- notify --------------------------------------------------------------------------------------


def test_notify_needs_a_company_in_context(app, company):
    with app.app_context(), pytest.raises(ValueError, match="scoped to a company"):
        notify(company.admin.id, "Hello", session=get_session())


@pytest.mark.parametrize("url", ["https://evil.test/", "//evil.test/x", "javascript:alert(1)", "relative/path"])
def test_notify_refuses_a_link_off_the_site(app, company, url):
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id), pytest.raises(ValueError, match="path on this site"):
            notify(company.admin.id, "Hello", url=url, session=session)


def test_a_title_is_one_line_of_at_most_200_characters(app, company):
    [notification_id] = add_notifications(app, company, "Two\nlines  " + "x" * 300)
    with app.app_context():
        title = get_session().scalar(select(Notification.title).where(Notification.id == notification_id))
    assert title.startswith("Two lines x") and len(title) == 200


def test_mail_goes_out_only_when_the_transaction_commits(app, company):
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            notify(company.admin.id, "Rolled back", mail=True, session=session)
        session.rollback()
        assert outbox(app) == []
        with company_scope(session, company.id):
            notify(company.admin.id, "Task due", body="Call Li Wei", url="/somewhere", mail=True, session=session)
        assert outbox(app) == []  # not before the commit
        session.commit()
    [mail] = outbox(app)
    assert mail.to == company.admin.email and mail.subject == "Task due"
    assert "Call Li Wei" in mail.body


def test_the_mail_links_to_the_base_url_when_one_is_set(app, company):
    app.config["CRM_BASE_URL"] = "https://crm.example.com"
    add_notifications(app, company, "Linked", url="/notifications", mail=True)
    [mail] = outbox(app)
    assert "https://crm.example.com/notifications" in mail.body


# -- the bell ------------------------------------------------------------------------------------


def test_the_bell_shows_the_unread_count_of_the_company_in_context(app, client, company, login_as):
    other = make_company(app, "Other", "other")
    add_notifications(app, company, "One", "Two", "Three")
    add_notifications(app, other, "Elsewhere", user=company.admin)  # not a member there: never shown
    login_as(company.admin)
    page = client.get("/").text
    assert badge(page) == 3
    assert 'href="/notifications/"' in page


def test_the_bell_costs_one_query_and_nothing_when_signed_out(app, client, company, login_as):
    client.get("/login")
    with counting_queries(app) as anonymous:
        client.get("/login")
    assert not [s for s in anonymous if "core_notification" in s]
    login_as(company.admin)
    client.get("/")
    add_notifications(app, company, *[f"n{n}" for n in range(30)])
    with counting_queries(app) as signed_in:
        assert badge(client.get("/").text) == 30
    assert len([s for s in signed_in if "core_notification" in s]) == 1


def test_the_bell_says_99_plus_past_the_cap(app, client, company, login_as):
    add_notifications(app, company, *[f"n{n}" for n in range(120)])
    login_as(company.admin)
    page = client.get("/").text
    assert "99+" in page and "More than 99 unread notifications" in page


def test_no_badge_without_unread_notifications(app, client, company, login_as):
    login_as(company.admin)
    page = client.get("/").text
    assert badge(page) == 0 and '<span class="visually-hidden">Notifications</span>' in page


# -- the page ------------------------------------------------------------------------------------


def test_the_page_lists_newest_first_and_highlights_unread(app, client, company, login_as):
    first, second = add_notifications(app, company, "Older news", "Newer news")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            mark_read(session, company.admin.id, first)
        session.commit()
    login_as(company.admin)
    page = client.get("/notifications/").text
    assert page.index("Newer news") < page.index("Older news")
    assert page.count(">New</span>") == 1
    assert "Mark all read" in page


def test_opening_a_notification_marks_it_read_and_follows_its_link(app, client, company, login_as):
    [notification_id] = add_notifications(app, company, "Go there", url="/trash/")
    login_as(company.admin)
    response = client.post(f"/notifications/{notification_id}/open")
    assert response.status_code == 302 and response.headers["Location"] == "/trash/"
    with app.app_context():
        assert get_session().get(Notification, notification_id).read_at is not None


def test_someone_elses_notification_is_not_found(app, client, company, login_as):
    [notification_id] = add_notifications(app, company, "Private")
    other = make_company(app, "Other", "other")
    login_as(other.admin)
    response = client.post(f"/notifications/{notification_id}/open")
    assert response.status_code == 404
    assert "no such notification" in response.text


def test_mark_all_read_clears_the_badge(app, client, company, login_as):
    add_notifications(app, company, "A", "B")
    login_as(company.admin)
    response = client.post("/notifications/read", data={"next": "/"}, follow_redirects=True)
    assert response.status_code == 200 and badge(response.text) == 0
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            assert unread_count(company.admin.id, session) == 0


def test_the_page_is_paged_by_25_with_an_older_link(app, client, company, login_as):
    add_notifications(app, company, *[f"item {n:02d}" for n in range(30)])
    login_as(company.admin)
    first = client.get("/notifications/").text
    shown = re.findall(r"item \d\d", first)
    assert shown[0] == "item 29" and len(shown) == 25
    older = re.search(r'href="(/notifications/\?before=\d+)"', first).group(1)
    second = client.get(older).text
    assert re.findall(r"item \d\d", second) == [f"item {n:02d}" for n in range(4, -1, -1)]
    assert "Newest" in second


def test_an_empty_page_says_so(app, client, company, login_as):
    login_as(company.admin)
    assert "No notifications." in client.get("/notifications/").text


# -- pruning -------------------------------------------------------------------------------------


def test_prune_deletes_only_old_read_notifications(app, company):
    old_read, old_unread, recent_read = add_notifications(app, company, "old read", "old unread", "recent read")
    with app.app_context():
        session = get_session()
        long_ago = utcnow() - timedelta(days=200)
        for notification_id, read_at in ((old_read, long_ago), (recent_read, utcnow())):
            session.get(Notification, notification_id).read_at = read_at
        session.commit()
        assert prune(session) == 1
        session.commit()
        assert set(session.scalars(select(Notification.id))) == {old_unread, recent_read}


def test_prune_is_a_periodic_task_of_the_core(app):
    from core.jobs import get_jobs
    from core.notifications import PRUNE_TASK

    assert PRUNE_TASK in get_jobs(app).registered
