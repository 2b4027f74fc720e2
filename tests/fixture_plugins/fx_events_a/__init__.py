"""Fixture: reacts to events in process (on_event) and out of process (two outbox handlers).

Its page /fx-events/emit/<name>?outcome=ok|invalid|raises emits an event in the request's
transaction, then answers 200, answers 422 or raises.
"""
from flask import Blueprint, request

from core import OutboxHandler, hookimpl
from core.auth import signed_in

blueprint = Blueprint("fx_events_a", __name__, url_prefix="/fx-events")

# What the handlers saw; the test fixture re-imports the module for every test.
received = []    # on_event: (event, company the session is scoped to, current company id)
delivered = []   # outbox: (handler, event, idempotency key)
failures = {"webhook": 0}  # the webhook handler fails this many times before it succeeds


@blueprint.get("/emit/<name>")
@signed_in
def emit_page(name):
    from core.events import emit

    event = emit(name, {"via": "page"})
    outcome = request.args.get("outcome", "ok")
    if outcome == "raises":
        raise RuntimeError("the page failed after emitting")
    return {"event": event.id}, 200 if outcome == "ok" else 422


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def on_event(event):
    from core.db import get_session
    from core.events import emit
    from core.scoping import COMPANY_KEY
    from core.tenancy import current_company

    company = current_company()
    received.append((event, get_session().info.get(COMPANY_KEY), company.id if company else None))
    if event.name == "fx_events_a.chain":
        emit("fx_events_a.chained", {"from": event.id})
    if event.name == "fx_events_a.boom":
        emit("fx_events_a.after_boom", {"from": event.id})  # rolled back with the handler
        raise RuntimeError("the handler failed")


def deliver_webhook(event, idempotency_key):
    if failures["webhook"] > 0:
        failures["webhook"] -= 1
        raise ConnectionError("the receiver is down")
    delivered.append(("fx_events_a.webhook", event, idempotency_key))


def deliver_ping(event, idempotency_key):
    delivered.append(("fx_events_a.ping", event, idempotency_key))


@hookimpl
def outbox_handlers():
    return [
        OutboxHandler("fx_events_a.webhook", ("fx_events_a.*",), deliver_webhook),
        OutboxHandler("fx_events_a.ping", ("fx_events_b.ping",), deliver_ping),
    ]
