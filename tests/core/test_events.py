"""Domain events: recorded in the transaction of the change, handled in process after commit."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from core.events import emit
from core.hooks import EventRecord
from core.models import Event, EventDelivery
from core.scoping import company_scope
from core.testing import make_company

PLUGINS = ["fx_events_a", "fx_events_b"]


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def fx_a(app):
    import fx_events_a

    return fx_events_a


@pytest.fixture
def fx_b(app):
    import fx_events_b

    return fx_events_b


def names(received):
    return [item[0].name for item in received]


def event_names(db_session):
    db_session.rollback()
    db_session.expire_all()  # see what other transactions committed
    return db_session.scalars(select(Event.name).order_by(Event.id)).all()


def test_an_event_is_recorded_in_the_transaction_of_the_change(app, company, db_session):
    with company_scope(db_session, company.id):
        record = emit("fx_events_a.created", {"id": 7, "tags": ["a"]})
        # Flushed in the open transaction: visible to it, with the session's company.
        row = db_session.get(Event, record.id)
        assert (row.name, row.payload, row.company_id) == ("fx_events_a.created", {"id": 7, "tags": ["a"]}, company.id)
        db_session.commit()

    assert isinstance(record, EventRecord)
    assert record.company_id == company.id
    assert record.created_at.tzinfo is not None
    assert event_names(db_session) == ["fx_events_a.created"]


def test_on_event_handlers_run_only_after_the_commit(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        record = emit("fx_events_a.created", {"id": 1})
        assert fx_a.received == []
        db_session.commit()

    assert [item[0] for item in fx_a.received] == [record]


def test_a_rolled_back_transaction_emits_nothing(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        emit("fx_events_a.created", {"id": 1})
        db_session.rollback()
        db_session.commit()  # a later commit must not send what was rolled back

    assert fx_a.received == []
    assert fx_a.delivered == []
    assert event_names(db_session) == []
    assert db_session.scalar(select(EventDelivery.id)) is None


def test_a_session_closed_without_commit_emits_nothing_later(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        emit("fx_events_a.forgotten", {})
    db_session.close()
    with company_scope(db_session, company.id):
        emit("fx_events_a.kept", {})
        db_session.commit()

    assert names(fx_a.received) == ["fx_events_a.kept"]


def test_an_event_in_a_rolled_back_savepoint_is_dropped_and_the_others_are_handled(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        emit("fx_events_a.before", {})
        savepoint = db_session.begin_nested()
        emit("fx_events_a.inside", {})
        savepoint.rollback()
        kept = db_session.begin_nested()
        emit("fx_events_a.released", {})
        kept.commit()
        assert fx_a.received == []  # releasing a savepoint is not the commit
        db_session.commit()

    assert names(fx_a.received) == ["fx_events_a.before", "fx_events_a.released"]
    assert event_names(db_session) == ["fx_events_a.before", "fx_events_a.released"]


def test_handlers_run_only_for_plugins_enabled_for_the_events_company(app, company, db_session, fx_a, fx_b):
    other = make_company(app, "Beta", "beta")
    company.enable("fx_events_a")
    other.enable("fx_events_b")
    with company_scope(db_session, company.id):
        emit("fx_events_a.created", {})
        db_session.commit()
    with company_scope(db_session, other.id):
        emit("fx_events_a.created", {})
        db_session.commit()

    assert [(item[0].company_id, item[1], item[2]) for item in fx_a.received] == [(company.id, company.id, company.id)]
    assert [event.company_id for event in fx_b.received] == [other.id]


def test_an_event_of_no_company_reaches_every_loaded_plugin(app, db_session, fx_a, fx_b):
    record = emit("fx_events_a.system", {})
    db_session.commit()

    assert record.company_id is None
    assert [(item[0].name, item[1]) for item in fx_a.received] == [("fx_events_a.system", None)]
    assert [event.name for event in fx_b.received] == ["fx_events_a.system"]


def test_a_handler_runs_in_its_own_transaction_scoped_to_the_events_company(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        emit("fx_events_a.chain", {})
        db_session.commit()

    # The handler's own event was committed by its transaction, for the same company,
    # and handled in turn.
    assert event_names(db_session) == ["fx_events_a.chain", "fx_events_a.chained"]
    assert set(db_session.scalars(select(Event.company_id))) == {company.id}
    assert names(fx_a.received) == ["fx_events_a.chain", "fx_events_a.chained"]


def test_a_failing_handler_is_logged_and_neither_stops_the_others_nor_undoes_the_request(
    app, client, company, login_as, db_session, fx_a, fx_b, caplog
):
    company.enable("fx_events_a", "fx_events_b")
    login_as(company.admin)

    with caplog.at_level(logging.ERROR, logger="core.events"):
        response = client.get("/fx-events/emit/fx_events_a.boom")

    assert response.status_code == 200
    # fx_events_a (first in order) raised; fx_events_b still got the event.
    assert names(fx_a.received) == ["fx_events_a.boom"]
    assert [event.name for event in fx_b.received] == ["fx_events_a.boom"]
    assert "plugin 'fx_events_a' failed handling event fx_events_a.boom" in caplog.text
    # The request's event stays committed; what the failing handler wrote is rolled back.
    assert event_names(db_session) == ["fx_events_a.boom"]


def test_a_request_that_fails_emits_nothing(app, client, company, login_as, db_session, fx_a):
    company.enable("fx_events_a")
    login_as(company.admin)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    assert client.get("/fx-events/emit/fx_events_a.created?outcome=invalid").status_code == 422
    assert client.get("/fx-events/emit/fx_events_a.created?outcome=raises").status_code == 500

    assert fx_a.received == []
    assert event_names(db_session) == []


def test_an_event_emitted_in_a_request_belongs_to_its_company_and_signed_in_user(
    app, client, company, login_as, db_session, fx_a
):
    company.enable("fx_events_a")
    login_as(company.admin)

    assert client.get("/fx-events/emit/fx_events_a.created").status_code == 200

    [(event, scope, current)] = fx_a.received
    assert (event.company_id, event.user_id, event.payload) == (company.id, company.admin.id, {"via": "page"})
    assert scope == current == company.id
    row = db_session.scalar(select(Event))
    assert (row.company_id, row.user_id) == (company.id, company.admin.id)


def test_each_handler_gets_its_own_copy_of_the_payload(app, company, db_session, fx_a, fx_b):
    company.enable("fx_events_a", "fx_events_b")
    with company_scope(db_session, company.id):
        emit("fx_events_a.created", {"items": [1]})
        db_session.commit()

    fx_a.received[0][0].payload["items"].append("changed by a")
    assert fx_b.received[0].payload == {"items": [1]}


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("Created", {}, "dotted lower-case words"),
        ("fx_events_a", {}, "dotted lower-case words"),
        ("fx_events_a." + "x" * 120, {}, "at most 120 characters"),
        ("fx_events_a.created", ["not", "a", "mapping"], "must be a mapping"),
        ("fx_events_a.created", {"when": object()}, "JSON-serialisable"),
    ],
)
def test_malformed_names_and_payloads_are_refused(app, db_session, name, payload, message):
    with pytest.raises(ValueError, match=message):
        emit(name, payload)
    assert db_session.scalar(select(Event.id)) is None


def test_an_event_cannot_be_emitted_for_another_company_than_the_one_in_context(app, company, db_session):
    other = make_company(app, "Beta", "beta")
    with company_scope(db_session, company.id):
        with pytest.raises(ValueError, match="not the company in context"):
            emit("fx_events_a.created", {}, company_id=other.id)
    # System-wide code (jobs, commands) names the company.
    assert emit("fx_events_a.created", {}, company_id=other.id).company_id == other.id
