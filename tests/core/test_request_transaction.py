"""One request, one transaction: committed after success, rolled back otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.auth import public
from core.db import get_session
from core.models import Company


@pytest.fixture
def app(app):
    @public
    def write(outcome: str):
        get_session().add(Company(name=f"Made by {outcome}", slug=outcome))
        if outcome == "raises":
            raise RuntimeError("boom")
        return outcome, 200 if outcome == "ok" else 422

    app.add_url_rule("/_test/write/<outcome>", view_func=write)
    return app


def slugs(app):
    with app.app_context():
        return set(get_session().scalars(select(Company.slug)))


def test_successful_request_commits_its_changes(app, client):
    assert client.get("/_test/write/ok").status_code == 200
    assert "ok" in slugs(app)


def test_request_answering_an_error_status_keeps_nothing(app, client):
    assert client.get("/_test/write/invalid").status_code == 422
    assert "invalid" not in slugs(app)


def test_request_that_raises_keeps_nothing_and_shows_an_error_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/_test/write/raises")
    assert response.status_code == 500
    assert b"Internal Server Error" in response.data
    assert "raises" not in slugs(app)


def test_failing_commit_turns_into_an_error_not_a_false_success(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/_test/write/ok").status_code == 200
    # Same slug again: the unique constraint fails at commit time.
    assert client.get("/_test/write/ok").status_code == 500
