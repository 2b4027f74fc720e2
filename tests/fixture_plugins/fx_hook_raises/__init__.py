"""Fixture: a start-up hook that raises."""
from core import hookimpl


@hookimpl
def register_blueprints(app):
    raise RuntimeError("no database credentials for the blueprint")
