"""Fixture: a dashboard_widgets hook that fails."""
from core import hookimpl


@hookimpl
def dashboard_widgets(user):
    raise RuntimeError("widget registry unavailable")
