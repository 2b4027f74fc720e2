from flask import Blueprint, abort
from sqlalchemy import select

from core.db import get_session
from fx_gadgets.models import Gadget

blueprint = Blueprint("fx_gadgets", __name__, url_prefix="/gadgets")


@blueprint.get("/")
def index():
    return "\n".join(g.name for g in get_session().scalars(select(Gadget)))


@blueprint.get("/<int:gadget_id>")
def detail(gadget_id):
    gadget = get_session().get(Gadget, gadget_id)
    if gadget is None:
        abort(404)
    return gadget.name


@blueprint.get("/export.csv")
def export():
    rows = get_session().execute(select(Gadget.id, Gadget.name)).all()
    return "\n".join(f"{i},{n}" for i, n in rows), 200, {"Content-Type": "text/csv"}
