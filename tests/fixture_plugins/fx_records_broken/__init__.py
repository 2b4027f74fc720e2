"""Fixture: record_actions and record_panels hooks that fail."""
from core import hookimpl


@hookimpl
def record_actions(record_type, record, user):
    raise RuntimeError("action registry unavailable")


@hookimpl
def record_panels(record_type):
    raise RuntimeError("panel registry unavailable")
