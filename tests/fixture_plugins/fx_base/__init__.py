"""Fixture: a page and a menu item; fx_child depends on it."""
from flask import Blueprint

from core import MenuItem, hookimpl

blueprint = Blueprint("fx_base", __name__, url_prefix="/fx-base")


@blueprint.get("/")
def index():
    return "fx_base page"


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def menu_items(user):
    return [MenuItem(label="Base page", endpoint="fx_base.index")]
