"""Fixture: registers a blueprint named fx_clash, as fx_clash_two does."""
from flask import Blueprint

from core import hookimpl


@hookimpl
def register_blueprints(app):
    return [Blueprint("fx_clash", __name__)]
