"""Fixture: an API over the core's teams table (no models of its own), for tests/core/test_api*.py."""

from core import Permission, hookimpl


@hookimpl
def register_blueprints(app):
    from fx_api_teams.api import blp

    return [blp]


@hookimpl
def permissions():
    return [
        Permission("fx_api_teams.team.read", "Read teams through the fixture API"),
        Permission("fx_api_teams.team.write", "Add teams through the fixture API"),
    ]
