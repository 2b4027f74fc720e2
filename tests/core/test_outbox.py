"""The outbox: deliveries written with the event, delivered at least once from the job queue."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import create_app
from core.db import utcnow
from core.errors import StartupError
from core.events import backoff_seconds, dead_deliveries, deliver, emit, emit_many, retry_delivery, sweep
from core.models import Event, EventDelivery
from core.scoping import company_scope
from core.testing import base_test_config, make_company

PLUGINS = ["fx_events_a", "fx_events_b"]


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS, "CRM_OUTBOX_MAX_ATTEMPTS": 3}


@pytest.fixture
def fx_a(app):
    import fx_events_a

    return fx_events_a


def emit_for(db_session, company_id, name, payload=None):
    with company_scope(db_session, company_id):
        record = emit(name, payload or {})
        db_session.commit()
    return record


def deliveries(db_session):
    db_session.rollback()
    db_session.expire_all()  # see what other transactions committed
    return db_session.scalars(select(EventDelivery).order_by(EventDelivery.id)).all()


def make_due(db_session, delivery_id):
    """Pretend the backoff has passed."""
    db_session.execute(
        update(EventDelivery).where(EventDelivery.id == delivery_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()


def test_emit_writes_one_delivery_per_matching_handler_of_an_enabled_plugin(app, company, db_session, fx_a):
    company.enable("fx_events_a")  # fx_events_b (every event) is not enabled
    with company_scope(db_session, company.id):
        first = emit("fx_events_a.created", {})  # prefix "fx_events_a.*"
        second = emit("fx_events_b.ping", {})  # exact name, for fx_events_a.ping
        emit("other.thing", {})  # no handler wants it
        # In the same transaction as the events.
        assert len(db_session.scalars(select(EventDelivery)).all()) == 2
        db_session.rollback()
        assert db_session.scalar(select(EventDelivery.id)) is None
        first = emit("fx_events_a.created", {})
        second = emit("fx_events_b.ping", {})
        db_session.commit()

    rows = deliveries(db_session)
    assert [(row.event_id, row.handler, row.idempotency_key) for row in rows] == [
        (first.id, "fx_events_a.webhook", f"{first.id}:fx_events_a.webhook"),
        (second.id, "fx_events_a.ping", f"{second.id}:fx_events_a.ping"),
    ]


def test_a_delivery_runs_after_commit_and_is_marked_delivered(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        record = emit("fx_events_a.created", {"id": 3})
        assert fx_a.delivered == []
        db_session.commit()

    assert fx_a.delivered == [("fx_events_a.webhook", record, f"{record.id}:fx_events_a.webhook")]
    [row] = deliveries(db_session)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert row.delivered_at is not None


def test_emit_many_writes_an_event_and_its_deliveries_per_payload_and_delivers_each_after_commit(
        app, company, db_session, fx_a):
    from core.testing import counting_queries

    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        with counting_queries(app) as queries:
            assert emit_many("fx_events_a.created", [{"id": number} for number in range(40)]) == 40
        assert len(queries) <= 4  # the event rows and the delivery rows, whatever their number
        assert fx_a.delivered == []
        db_session.commit()
    events = db_session.scalars(select(Event).where(Event.name == "fx_events_a.created").order_by(Event.id)).all()
    assert [event.payload["id"] for event in events] == list(range(40))
    assert {event.company_id for event in events} == {company.id}
    rows = deliveries(db_session)
    assert [(row.event_id, row.status) for row in rows] == [(event.id, "delivered") for event in events]
    assert [(handler, record.id, record.payload) for handler, record, _key in fx_a.delivered] == [
        ("fx_events_a.webhook", event.id, event.payload) for event in events]
    assert [event.id for event, _scoped, _company in fx_a.received] == [event.id for event in events]  # on_event


def test_emit_many_hands_each_event_to_on_event_and_rolls_back_only_a_failing_ones_work(
        app, company, db_session, fx_a, caplog):
    company.enable("fx_events_a")
    with company_scope(db_session, company.id):
        emit_many("fx_events_a.chain", [{"n": 1}, {"n": 2}, {"n": 3}])  # each handled emits "chained"
        emit_many("fx_events_a.boom", [{"n": 4}, {"n": 5}])  # each handled emits, then raises
        db_session.commit()
    db_session.expire_all()
    names = db_session.scalars(select(Event.name).order_by(Event.id)).all()
    assert names.count("fx_events_a.chained") == 3 and "fx_events_a.after_boom" not in names
    assert [event.name for event, _scoped, _company in fx_a.received].count("fx_events_a.boom") == 2
    assert caplog.text.count("plugin 'fx_events_a' failed handling event fx_events_a.boom") == 2


def test_every_enabled_plugins_handler_gets_the_event(app, company, db_session, fx_a):
    import fx_events_b

    company.enable("fx_events_a", "fx_events_b")
    record = emit_for(db_session, company.id, "fx_events_a.created")

    assert [entry[0] for entry in fx_a.delivered] == ["fx_events_a.webhook"]
    assert fx_events_b.delivered == [(record, f"{record.id}:fx_events_b.all")]


def test_a_failed_delivery_is_retried_with_exponential_backoff_under_the_same_key(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    fx_a.failures["webhook"] = 2

    before = utcnow()
    record = emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("ConnectionError: the receiver is down")
    assert "Traceback" in row.last_error
    waited = row.next_attempt_at.replace(tzinfo=None) - before.replace(tzinfo=None)
    assert timedelta(seconds=29) < waited < timedelta(seconds=60)  # 30 s after the first failure

    assert sweep(app) == 0  # not due yet
    make_due(db_session, row.id)
    before = utcnow()
    assert sweep(app) == 1
    [row] = deliveries(db_session)
    assert (row.status, row.attempts) == ("pending", 2)
    waited = row.next_attempt_at.replace(tzinfo=None) - before.replace(tzinfo=None)
    assert timedelta(seconds=59) < waited < timedelta(seconds=120)  # then 60 s

    make_due(db_session, row.id)
    sweep(app)
    [row] = deliveries(db_session)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert fx_a.delivered == [("fx_events_a.webhook", record, f"{record.id}:fx_events_a.webhook")]


def test_backoff_doubles_from_thirty_seconds_up_to_an_hour():
    assert [backoff_seconds(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_the_last_attempt_a_delivery_is_dead_and_keeps_its_error(app, company, db_session, fx_a, caplog):
    company.enable("fx_events_a")
    fx_a.failures["webhook"] = 99
    emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    for _ in range(2):
        make_due(db_session, row.id)
        with caplog.at_level(logging.ERROR, logger="core.events"):
            sweep(app)

    [row] = deliveries(db_session)
    assert (row.status, row.attempts) == ("dead", 3)  # CRM_OUTBOX_MAX_ATTEMPTS
    assert row.last_error.startswith("ConnectionError: the receiver is down")
    assert f"outbox delivery #{row.id} (fx_events_a.webhook, fx_events_a.created) is dead after 3 attempts" in caplog.text
    make_due(db_session, row.id)
    assert sweep(app) == 0  # the sweep leaves the dead alone
    assert [(delivery.id, event.name) for delivery, event in dead_deliveries(session=db_session)] == [
        (row.id, "fx_events_a.created")
    ]


def test_a_dead_delivery_can_be_put_back_in_the_queue(app, company, db_session, fx_a):
    company.enable("fx_events_a")
    fx_a.failures["webhook"] = 3
    record = emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    for _ in range(2):
        make_due(db_session, row.id)
        sweep(app)
    assert deliveries(db_session)[0].status == "dead"

    with company_scope(db_session, company.id):
        assert retry_delivery(row.id) is True
        assert fx_a.delivered == []  # queued when the transaction commits
        db_session.commit()

    [row] = deliveries(db_session)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert fx_a.delivered == [("fx_events_a.webhook", record, f"{record.id}:fx_events_a.webhook")]
    assert retry_delivery(row.id, session=db_session) is False  # delivered already


def test_another_companys_delivery_cannot_be_retried(app, company, db_session, fx_a):
    other = make_company(app, "Beta", "beta")
    other.enable("fx_events_a")
    fx_a.failures["webhook"] = 1
    emit_for(db_session, other.id, "fx_events_a.created")
    [row] = deliveries(db_session)

    with company_scope(db_session, company.id):
        assert retry_delivery(row.id) is False
    assert retry_delivery(987654, session=db_session) is False


def test_the_sweep_delivers_what_was_committed_but_never_queued(app, company, db_session, fx_a, monkeypatch, caplog):
    from core.jobs import get_jobs

    company.enable("fx_events_a")
    jobs = get_jobs(app)

    def unreachable(*args, **kwargs):
        raise ConnectionError("the queue is unreachable")

    monkeypatch.setattr(jobs, "enqueue", unreachable)
    with caplog.at_level(logging.ERROR, logger="core.events"):
        record = emit_for(db_session, company.id, "fx_events_a.created")
    assert "could not queue outbox delivery" in caplog.text
    [row] = deliveries(db_session)
    assert (row.status, row.attempts) == ("pending", 0)
    assert fx_a.delivered == []

    monkeypatch.undo()
    assert sweep(app) == 1
    assert fx_a.delivered == [("fx_events_a.webhook", record, f"{record.id}:fx_events_a.webhook")]
    assert deliveries(db_session)[0].status == "delivered"


def test_a_delivery_queued_twice_is_delivered_once(app, company, db_session, fx_a, monkeypatch):
    from core.jobs import get_jobs

    company.enable("fx_events_a")
    monkeypatch.setattr(get_jobs(app), "enqueue", lambda *args, **kwargs: None)  # a queue that loses it
    emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)

    assert deliver(row.id, app) == "delivered"
    assert deliver(row.id, app) == "skipped"
    assert len(fx_a.delivered) == 1


def test_a_delivery_being_attempted_is_not_handed_out_again(app, company, db_session, fx_a, monkeypatch):
    from core.jobs import get_jobs

    company.enable("fx_events_a")
    attempts_seen = []

    def deliver_and_look(event, key):
        # While one worker delivers, the sweep finds nothing due and a second attempt is refused.
        attempts_seen.append((sweep(app), deliver(row.id, app)))

    monkeypatch.setattr(get_jobs(app), "enqueue", lambda *args, **kwargs: None)
    emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    handlers = app.extensions["crm.events"].handlers
    monkeypatch.setitem(handlers, "fx_events_a.webhook", replace(handlers["fx_events_a.webhook"], deliver=deliver_and_look))

    assert deliver(row.id, app) == "delivered"
    assert attempts_seen == [(0, "skipped")]


def test_a_delivery_whose_handler_is_gone_fails_with_a_clear_error(app, company, db_session, monkeypatch):
    from core.jobs import get_jobs

    company.enable("fx_events_a")
    monkeypatch.setattr(get_jobs(app), "enqueue", lambda *args, **kwargs: None)
    emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    del app.extensions["crm.events"].handlers["fx_events_a.webhook"]

    assert deliver(row.id, app) == "pending"
    [row] = deliveries(db_session)
    assert row.last_error == "no outbox handler named 'fx_events_a.webhook' is installed"


def test_the_handlers_database_work_commits_with_the_delivered_mark(app, company, db_session, fx_a, monkeypatch):
    from core.events import emit as emit_event

    company.enable("fx_events_a")
    handlers = app.extensions["crm.events"].handlers

    def deliver_writing(event, key):
        emit_event("fx_events_a.acknowledged", {"key": key})  # the handler's own change
        if event.payload.get("fail"):
            raise RuntimeError("the receiver said no")

    monkeypatch.setitem(handlers, "fx_events_a.ping", replace(handlers["fx_events_a.ping"], deliver=deliver_writing))
    emit_for(db_session, company.id, "fx_events_b.ping", {"fail": True})
    emit_for(db_session, company.id, "fx_events_b.ping", {"fail": False})

    db_session.rollback()
    acknowledged = db_session.scalars(select(Event.payload).where(Event.name == "fx_events_a.acknowledged")).all()
    statuses = {row.handler + ":" + row.status for row in deliveries(db_session)}
    assert len(acknowledged) == 1  # the failed attempt's write was rolled back
    assert statuses == {"fx_events_a.ping:pending", "fx_events_a.ping:delivered",
                        "fx_events_a.webhook:delivered"}


def test_invalid_outbox_handlers_stop_start_up_with_every_problem(tmp_path, fixture_plugins_path):
    config = base_test_config(tmp_path, f"sqlite:///{tmp_path}/x.sqlite3", ["fx_events_bad"])
    config.update(CRM_PLUGIN_MODULES=["fx_events_bad"], CRM_CHECK_SCHEMA=False)

    with pytest.raises(StartupError) as caught:
        create_app(config)

    problems = "\n".join(caught.value.problems)
    for expected in [
        "outbox handler 'elsewhere.hook': the name must start with 'fx_events_bad.'",
        "'fx_events_bad.string': events must be a non-empty tuple",
        "'fx_events_bad.star': 'fx_*.done' is not an event name or a prefix ending in '*'",
        "'fx_events_bad.deaf': events must be a non-empty tuple",
        "'fx_events_bad.mute': deliver is not callable",
        "'fx_events_bad.twice': the name is taken (by plugin 'fx_events_bad')",
        "returned 'not a handler' from outbox_handlers, not an OutboxHandler",
    ]:
        assert expected in problems


def test_administrators_list_and_retry_dead_deliveries_from_the_command_line(app, company, db_session, fx_a, runner):
    from core.cli import cli

    assert "No dead deliveries." in runner.invoke(cli, ["outbox", "dead"]).output
    company.enable("fx_events_a")
    fx_a.failures["webhook"] = 3
    emit_for(db_session, company.id, "fx_events_a.created")
    [row] = deliveries(db_session)
    for _ in range(2):
        make_due(db_session, row.id)
        sweep(app)
    listed = runner.invoke(cli, ["outbox", "dead"])
    assert listed.exit_code == 0
    assert f"{row.id}" in listed.output and "fx_events_a.webhook" in listed.output
    assert "ConnectionError" in listed.output

    retried = runner.invoke(cli, ["outbox", "retry", str(row.id)])
    assert retried.exit_code == 0, retried.output
    db_session.expire_all()
    assert deliveries(db_session)[0].status == "delivered"
    again = runner.invoke(cli, ["outbox", "retry", str(row.id)])
    assert again.exit_code == 1 and "delivered ones are not retried" in again.output
