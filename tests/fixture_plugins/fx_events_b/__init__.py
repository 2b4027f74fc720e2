"""Fixture: a second plugin that reacts to every event, in process and through the outbox."""
from core import OutboxHandler, hookimpl

received = []
delivered = []


@hookimpl
def on_event(event):
    received.append(event)


@hookimpl
def outbox_handlers():
    return [OutboxHandler("fx_events_b.all", ("*",), lambda event, key: delivered.append((event, key)))]
