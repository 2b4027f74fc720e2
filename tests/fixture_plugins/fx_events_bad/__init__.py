"""Fixture: every kind of invalid outbox handler."""
from core import OutboxHandler, hookimpl


def deliver(event, key):
    pass


@hookimpl
def outbox_handlers():
    return [
        OutboxHandler("elsewhere.hook", ("x.y",), deliver),
        OutboxHandler("fx_events_bad.string", "fx_events_bad.*", deliver),
        OutboxHandler("fx_events_bad.star", ("fx_*.done",), deliver),
        OutboxHandler("fx_events_bad.deaf", (), deliver),
        OutboxHandler("fx_events_bad.mute", ("x.y",), "not callable"),
        OutboxHandler("fx_events_bad.twice", ("x.y",), deliver),
        OutboxHandler("fx_events_bad.twice", ("x.z",), deliver),
        "not a handler",
    ]
