"""Sign-in and default deny."""

from __future__ import annotations

import pytest

from core.testing import TEST_PASSWORD


def test_sign_in_with_the_right_password_opens_home(client, company):
    response = client.post("/login", data={"email": "ADMIN@acme.test ", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert b"Welcome, Acme Admin" in client.get("/").data


@pytest.mark.parametrize("password", ["wrong password", ""])
def test_sign_in_with_a_wrong_or_missing_password_explains_and_keeps_the_email(client, company, password):
    response = client.post("/login", data={"email": "admin@acme.test", "password": password})
    assert response.status_code == 400
    assert b'role="alert"' in response.data
    assert b'value="admin@acme.test"' in response.data
    assert client.get("/").status_code == 302


def test_sign_in_follows_next_only_within_the_site(client, company):
    data = {"email": "admin@acme.test", "password": TEST_PASSWORD}
    assert client.post("/login?next=/healthz", data=data).headers["Location"] == "/healthz"
    client.post("/logout")
    assert client.post("/login?next=//evil.example/", data=data).headers["Location"] == "/"


def test_sign_out_ends_the_session(client, company, login_as):
    login_as(company.admin)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_health_check_is_public_and_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_every_route_needs_sign_in_unless_declared_public(app):
    from core.auth import is_public

    anonymous = app.test_client()
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if is_public(rule.endpoint) or "GET" not in rule.methods or rule.arguments:
                continue
            response = anonymous.get(rule.rule)
            if rule.rule.startswith("/api/"):  # machines get 401 and a problem document
                assert response.status_code == 401, rule.rule
                continue
            assert response.status_code == 302, rule.rule
            assert "/login" in response.headers["Location"], rule.rule


@pytest.mark.parametrize("token", ["", "forged"])
def test_forms_are_refused_without_a_valid_csrf_token(client, company, token):
    response = client.post("/login", data={"email": "admin@acme.test", "password": TEST_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 400
    assert b"This form has expired" in response.data
    assert client.get("/").status_code == 302  # not signed in


def test_a_request_may_send_the_csrf_token_in_the_htmx_header_instead_of_a_field(app, client, company, login_as):
    login_as(company.admin)
    token = client.csrf_token()
    assert client.post("/logout", json={}, headers={"X-CSRFToken": token}).status_code == 302
    login_as(company.admin)
    assert client.post("/logout", json={}, headers={"X-CSRFToken": "forged"}).status_code == 400
