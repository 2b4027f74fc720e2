from flask import Blueprint, abort
from sqlalchemy import select

from core.access import require_permission
from core.db import get_session
from core.listing import Column, Listing
from fx_gadgets.models import Gadget

blueprint = Blueprint("fx_gadgets", __name__, url_prefix="/gadgets", template_folder="templates")

# A list page made with core.listing (tests/core/test_listing.py).
GADGET_LIST = Listing(
    Gadget,
    columns=[Column("name", "Name", sortable=True), Column("added", "Added", Gadget.created_at, sortable=True),
             Column("owner", "Owner", Gadget.owner_id)],
    search=[Gadget.name],
    default_sort="name",
    page_size=10,
    id="gadgets",
)


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


@blueprint.get("/list")
@require_permission("fx_gadgets.gadget.read")
def listing():
    return GADGET_LIST.render("fx_gadgets/list.html", GADGET_LIST.page())


@blueprint.get("/list.csv")
@require_permission("fx_gadgets.gadget.read")
def listing_csv():
    return GADGET_LIST.export_csv("gadgets.csv")
