from flask import Blueprint, redirect
from flask_login import current_user
from sqlalchemy import select

from core.access import require_permission
from core.db import get_session
from core.listing import BooleanFilter, BulkAction, Column, DateRangeFilter, Filter, Listing
from core.ui import safe_next
from fx_listing.models import Item

blueprint = Blueprint("fx_listing", __name__, url_prefix="/items", template_folder="templates")

# Records seen by the last bulk action view (the tests read it).
LAST_SELECTED: list[list[int]] = []


def _scores():
    """Choices from a query: the scores in use."""
    return [(score, f"Score {score}") for score in
            get_session().scalars(select(Item.score).where(Item.score.is_not(None)).distinct().order_by(Item.score))]


COLUMNS = [
    Column("name", "Name", sortable=True),
    Column("kind", "Kind", sortable=True),
    Column("due", "Due", sortable=True, optional=True),
    Column("score", "Score", sortable=True, optional=True),
    Column("memo", "Memo", optional=True, default=False),
    Column("added", "Added", Item.created_at, sortable=True, optional=True, default=False),
]
FILTERS = [
    Filter("kind", "Kind", Item.kind, choices=[("plain", "Plain"), ("fancy", "Fancy")]),
    BooleanFilter("active", "Active", Item.active),
    DateRangeFilter("due", "Due", Item.due),
    DateRangeFilter("added", "Added", Item.created_at),
    Filter("score", "Score", Item.score, choices=_scores),
    Filter("score_is", "Score is", Item.score, coerce=int),
]
ACTIONS = [
    BulkAction("archive", "Archive", "fx_listing.archive"),
    BulkAction("delete", "Delete", "fx_listing.delete", permission="fx_listing.item.delete",
               confirm="Delete the selected items?", danger=True),
]

ITEMS = Listing(Item, columns=COLUMNS, search=[Item.name], filters=FILTERS, default_sort="name",
                page_size=5, extra=[Item.id], id="items", bulk_actions=ACTIONS,
                export_formats=("csv", "xlsx"))
KEYSET = Listing(Item, columns=COLUMNS, search=[Item.name], filters=FILTERS, default_sort="name",
                 page_size=3, id="keyset-items", pagination="keyset")
KEYSET_COUNTED = Listing(Item, columns=COLUMNS, default_sort="name", page_size=3, id="counted-items",
                         pagination="keyset", count_limit=5)


def _active_only():
    return select(Item).where(Item.archived.is_(False))


@blueprint.get("/")
@require_permission("fx_listing.item.read")
def index():
    return ITEMS.render("fx_listing/list.html", ITEMS.page(_active_only()), listing_endpoint="fx_listing.export")


@blueprint.get("/keyset")
@require_permission("fx_listing.item.read")
def keyset():
    return KEYSET.render("fx_listing/list.html", KEYSET.page(), listing_endpoint=None)


@blueprint.get("/counted")
@require_permission("fx_listing.item.read")
def counted():
    return KEYSET_COUNTED.render("fx_listing/list.html", KEYSET_COUNTED.page(), listing_endpoint=None)


@blueprint.get("/export")
@require_permission("fx_listing.item.read")
def export():
    return ITEMS.export("items", _active_only())


@blueprint.post("/archive")
@require_permission("fx_listing.item.read")
def archive():
    items = ITEMS.selected(_active_only())
    LAST_SELECTED.append([item.id for item in items])
    for item in items:
        item.archived = True
    return redirect(safe_next(_next(), "/items/"))


@blueprint.post("/delete")
@require_permission("fx_listing.item.read")
def delete():
    from core.trash import soft_delete

    items = ITEMS.selected(_active_only())
    LAST_SELECTED.append([item.id for item in items])
    for item in items:
        soft_delete(item, current_user.id)
    return redirect(safe_next(_next(), "/items/"))


def _next():
    from flask import request

    return request.form.get("next")
