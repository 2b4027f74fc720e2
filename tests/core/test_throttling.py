"""Sign-in security: throttling per account and per address, and the session cookie's flags.

Failures are arranged either through the form or, where time matters, as rows of
``core_login_attempt`` dated in the past; no test waits.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.models import LoginAttempt, User
from core.testing import TEST_PASSWORD

EMAIL = "admin@acme.test"
HERE = "10.0.0.1"


def sign_in(client, email=EMAIL, password=TEST_PASSWORD, address=HERE):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def fail(client, times, email=EMAIL, address=HERE):
    for _ in range(times):
        assert sign_in(client, email, "wrong password", address).status_code == 400


def add_failures(db_session, count, minutes_ago, email=EMAIL, address=HERE):
    at = utcnow() - timedelta(minutes=minutes_ago)
    db_session.add_all([LoginAttempt(email=email, address=address, succeeded=False, at=at) for _ in range(count)])
    db_session.commit()


def test_five_failures_for_an_account_refuse_even_the_right_password_with_429(client, company):
    fail(client, 5)

    response = sign_in(client)

    assert response.status_code == 429
    assert "Too many failed sign-in attempts; try again in 15 minutes." in response.get_data(as_text=True)
    assert b'value="admin@acme.test"' in response.data
    assert client.get("/").status_code == 302  # not signed in


def test_four_failures_still_let_the_right_password_in(client, company):
    fail(client, 4)
    assert sign_in(client).status_code == 302


def test_a_refused_sign_in_does_not_check_the_password(client, company, db_session, monkeypatch):
    add_failures(db_session, 5, minutes_ago=1)

    def must_not_run(self, password):
        raise AssertionError("the password was checked during a refusal")

    monkeypatch.setattr(User, "check_password", must_not_run)
    assert sign_in(client).status_code == 429


def test_a_refused_attempt_does_not_extend_the_refusal(client, company, db_session):
    add_failures(db_session, 5, minutes_ago=1)
    sign_in(client)
    sign_in(client)
    assert db_session.scalar(select(LoginAttempt.id).where(LoginAttempt.at > utcnow() - timedelta(seconds=30))) is None


def test_the_wait_shown_lasts_until_the_oldest_counted_failure_leaves_the_window(client, company, db_session):
    add_failures(db_session, 5, minutes_ago=10)
    response = sign_in(client)
    assert response.status_code == 429
    assert "try again in 5 minutes." in response.get_data(as_text=True)


def test_failures_older_than_the_window_no_longer_count(client, company, db_session):
    add_failures(db_session, 5, minutes_ago=16)
    assert sign_in(client).status_code == 302


def test_a_successful_sign_in_starts_the_account_count_afresh(client, company):
    fail(client, 4)
    assert sign_in(client).status_code == 302
    client.post("/logout")
    fail(client, 4)
    assert sign_in(client).status_code == 302


def test_twenty_failures_from_one_address_refuse_that_address_for_every_account(client, company):
    for number in range(20):
        fail(client, 1, email=f"guess{number}@acme.test")

    refused = sign_in(client)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.get_data(as_text=True)
    assert sign_in(client, address="10.0.0.2").status_code == 302


def test_failures_of_an_account_count_from_every_address(client, company):
    for number in range(5):
        fail(client, 1, address=f"10.0.1.{number}")
    assert sign_in(client, address="10.0.2.1").status_code == 429


def test_email_case_and_spaces_do_not_dodge_the_account_count(client, company):
    fail(client, 3, email="ADMIN@acme.test ")
    fail(client, 2, email="admin@ACME.test")
    assert sign_in(client).status_code == 429


@pytest.mark.parametrize("app_config", [{"CRM_LOGIN_MAX_FAILURES_PER_ACCOUNT": 2,
                                         "CRM_LOGIN_THROTTLE_MINUTES": 30}])
def test_the_limits_come_from_configuration(client, company, db_session):
    add_failures(db_session, 2, minutes_ago=20)  # outside the default 15 minutes, inside 30
    response = sign_in(client)
    assert response.status_code == 429
    assert "try again in 10 minutes." in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"CRM_LOGIN_MAX_FAILURES_PER_ACCOUNT": 0,
                                         "CRM_LOGIN_MAX_FAILURES_PER_ADDRESS": 0}])
def test_a_limit_of_zero_turns_that_throttle_off(client, company, db_session):
    add_failures(db_session, 50, minutes_ago=1)
    assert sign_in(client).status_code == 302


def test_attempts_older_than_the_window_are_pruned_when_one_is_recorded(client, company, db_session):
    add_failures(db_session, 3, minutes_ago=60 * 24, email="old@acme.test")
    fail(client, 1)
    assert db_session.scalars(select(LoginAttempt.email)).all() == [EMAIL]


def test_failures_are_kept_although_the_failed_request_is_rolled_back(client, company, db_session):
    fail(client, 2)
    rows = db_session.execute(select(LoginAttempt.email, LoginAttempt.address, LoginAttempt.succeeded)).all()
    assert rows == [(EMAIL, HERE, False), (EMAIL, HERE, False)]


# -- cookies -------------------------------------------------------------------------------------


def cookie_headers(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_session_and_remember_cookies_are_http_only_and_same_site_lax(client, company):
    response = client.post("/login", data={"email": EMAIL, "password": TEST_PASSWORD, "remember": "1"})
    cookies = cookie_headers(response)
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name], name
        assert "SameSite=Lax" in cookies[name], name
        assert "Secure" not in cookies[name], name  # testing runs over plain http


@pytest.mark.parametrize("app_config", [{"CRM_ENV": "production", "CRM_BASE_URL": "https://crm.example.com"}])
def test_cookies_are_secure_in_production(client, company):
    response = client.post("/login", data={"email": EMAIL, "password": TEST_PASSWORD, "remember": "1"},
                           base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"})  # CSRF over https checks it
    assert response.status_code == 302
    cookies = cookie_headers(response)
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name], name
