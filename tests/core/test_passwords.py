"""Passwords: changing one's own, and resetting a forgotten one through an emailed link."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.db import utcnow
from core.mail import outbox
from core.models import LoginAttempt, User, UserToken
from core.testing import TEST_PASSWORD

NEW_PASSWORD = "a brand new secret"
EMAIL = "admin@acme.test"


def sign_in_works(app, email, password) -> bool:
    return app.test_client().post("/login", data={"email": email, "password": password}).status_code == 302


def main_of(response) -> str:
    """The page's <main> (the rest differs from request to request: CSRF tokens)."""
    return re.search(r"<main.*</main>", response.get_data(as_text=True), re.S).group(0)


# -- changing one's password ---------------------------------------------------------------------


def change(client, current=TEST_PASSWORD, password=NEW_PASSWORD, confirm=None):
    return client.post("/account/password", data={
        "current": current, "password": password, "confirm": password if confirm is None else confirm})


def test_the_change_password_page_needs_sign_in(client, company, login_as):
    assert client.get("/account/password").status_code == 302
    login_as(company.admin)
    page = client.get("/account/password")
    assert page.status_code == 200 and b'name="current"' in page.data


def test_changing_the_password_replaces_the_old_one(app, client, company, login_as):
    login_as(company.admin)

    response = change(client)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Your password has been changed." in client.get("/").get_data(as_text=True)
    assert sign_in_works(app, EMAIL, NEW_PASSWORD)
    assert not sign_in_works(app, EMAIL, TEST_PASSWORD)


@pytest.mark.parametrize(("fields", "message"), [
    ({"current": "not my password"}, "That is not your current password."),
    ({"current": ""}, "Enter your current password."),
    ({"password": "short", "confirm": "short"}, "Choose a password of at least 8 characters."),
    ({"confirm": "something else"}, "The two passwords are not the same"),
])
def test_a_bad_password_change_is_refused_naming_the_problem(app, client, company, login_as, fields, message):
    login_as(company.admin)

    response = change(client, **fields)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert "not my password" not in page and "something else" not in page  # passwords are not echoed
    assert sign_in_works(app, EMAIL, TEST_PASSWORD)


def test_guessing_the_current_password_is_throttled_like_sign_in(app, client, company, login_as):
    login_as(company.admin)
    for _ in range(5):
        assert change(client, current="a wrong guess").status_code == 422

    response = change(client)

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert sign_in_works(app, EMAIL, TEST_PASSWORD) is False  # the account's sign-in waits too


def test_changing_the_password_makes_an_earlier_reset_link_useless(client, company, login_as):
    client.post("/password/reset", data={"email": EMAIL})
    link = reset_link(client.application)
    login_as(company.admin)
    change(client)
    assert client.get(link).status_code == 404


# -- asking for a reset link ---------------------------------------------------------------------


def reset_link(app) -> str:
    [mail] = [m for m in outbox(app) if "password/reset/" in m.body]
    return re.search(r"http://localhost(/password/reset/\S+)", mail.body).group(1)


def test_the_reset_request_answers_the_same_whether_or_not_the_address_has_an_account(app, company):
    known = app.test_client().post("/password/reset", data={"email": EMAIL})
    unknown = app.test_client().post("/password/reset", data={"email": "nobody@acme.test"})

    assert known.status_code == unknown.status_code == 200
    assert main_of(known).replace(EMAIL, "X") == main_of(unknown).replace("nobody@acme.test", "X")
    assert [mail.to for mail in outbox(app)] == [EMAIL]


def test_the_reset_mail_holds_a_link_and_the_database_only_its_hash(app, client, company, db_session):
    client.post("/password/reset", data={"email": "Admin@Acme.test "})

    [mail] = outbox(app)
    assert mail.to == EMAIL and "reset" in mail.subject.lower()
    token = reset_link(app).rsplit("/", 1)[1]
    stored = db_session.scalars(select(UserToken)).one()
    assert stored.purpose == "reset" and stored.user_id == company.admin.id
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    assert timedelta(minutes=59) < stored.expires_at - stored.created_at <= timedelta(hours=1)


def test_a_malformed_address_is_refused_naming_the_problem_and_keeping_it(client, company):
    response = client.post("/password/reset", data={"email": "admin at acme"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter an email address such as name@example.com." in page
    assert 'value="admin at acme"' in page


def test_an_inactive_account_gets_no_reset_mail(app, client, company, db_session):
    db_session.execute(update(User).values(active=False))
    db_session.commit()
    assert client.post("/password/reset", data={"email": EMAIL}).status_code == 200
    assert outbox(app) == []


def test_asking_again_within_minutes_sends_no_second_mail(app, client, company):
    client.post("/password/reset", data={"email": EMAIL})
    again = client.post("/password/reset", data={"email": EMAIL})
    assert again.status_code == 200
    assert len(outbox(app)) == 1


# -- using the link ------------------------------------------------------------------------------


@pytest.fixture
def link(client, company) -> str:
    client.post("/password/reset", data={"email": EMAIL})
    return reset_link(client.application)


def test_the_link_sets_a_new_password_and_signs_in(app, client, link):
    page = client.get(link)
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert sign_in_works(app, EMAIL, NEW_PASSWORD)
    assert not sign_in_works(app, EMAIL, TEST_PASSWORD)


def test_the_link_works_once(client, link):
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    client.post("/logout")

    again = client.get(link)

    assert again.status_code == 404
    assert "This link does not work" in again.get_data(as_text=True)
    assert client.post(link, data={"password": "yet another one", "confirm": "yet another one"}).status_code == 404


def test_the_link_expires_after_an_hour(client, link, db_session):
    db_session.execute(update(UserToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db_session.commit()
    assert client.get(link).status_code == 404


def test_a_made_up_link_does_not_work(client, company):
    assert client.get("/password/reset/not-a-real-token").status_code == 404


def test_a_short_or_mismatched_new_password_is_refused_and_the_link_still_works(client, link):
    short = client.post(link, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422
    assert "at least 8 characters" in short.get_data(as_text=True)
    mismatch = client.post(link, data={"password": NEW_PASSWORD, "confirm": "other"})
    assert mismatch.status_code == 422
    assert client.get(link).status_code == 200


def test_a_reset_clears_the_sign_in_throttle_of_the_account(app, client, company, db_session):
    db_session.add_all([LoginAttempt(email=EMAIL, address="10.9.9.9", succeeded=False, at=utcnow())
                        for _ in range(5)])
    db_session.commit()
    assert not sign_in_works(app, EMAIL, TEST_PASSWORD)  # refused: too many failures
    client.post("/password/reset", data={"email": EMAIL})
    client.post(reset_link(app), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert sign_in_works(app, EMAIL, NEW_PASSWORD)


def test_pages_with_a_token_in_their_address_leak_it_to_no_one(client, link):
    response = client.get(link)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_sign_in_page_links_to_the_reset_page(client):
    assert b'href="/password/reset"' in client.get("/login").data


def test_changing_the_password_ends_the_users_other_sessions(app, company, login_as):
    from core.db import get_session
    from core.models import User

    other_device = app.test_client()
    with other_device.session_transaction() as session:
        session["_user_id"] = company.admin.get_id()
    assert other_device.get("/").status_code == 200
    with app.app_context():
        user = get_session().get(User, company.admin.id)
        user.set_password("a brand new password")
        get_session().commit()
    assert other_device.get("/").status_code == 302  # back to the sign-in page


def test_a_session_id_without_the_password_fingerprint_is_refused(app, company):
    forged = app.test_client()
    with forged.session_transaction() as session:
        session["_user_id"] = str(company.admin.id)
    assert forged.get("/").status_code == 302
