"""Fixture: depends on fx_base; a page and a menu item."""
from flask import Blueprint

from core import MenuItem, hookimpl

blueprint = Blueprint("fx_child", __name__, url_prefix="/fx-child")


@blueprint.get("/")
def index():
    return "fx_child page"


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def menu_items(user):
    return [MenuItem(label="Child page", endpoint="fx_child.index")]
