"""Fixture: a timeline_entries hook that fails; the timeline must show the others."""
from core import hookimpl


@hookimpl
def timeline_entries(record_type, record):
    raise RuntimeError("the deals database is down")
