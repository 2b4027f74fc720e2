from flask import Blueprint

from core.access import require_permission
from core.listing import Column, Filter, Listing
from fx_textsearch.models import Doc

blueprint = Blueprint("fx_textsearch", __name__, url_prefix="/docs", template_folder="templates")


def _digits(q):
    """Another spelling of the whole search: its digits (a phone number however typed)."""
    digits = "".join(ch for ch in q if ch.isdigit())
    return [digits] if len(digits) >= 3 and not any(ch.isalpha() for ch in q) else []


DOCS = Listing(Doc, columns=[Column("title", "Title", sortable=True)], search_text=Doc.search_text,
               search_variants=_digits, filters=[Filter("kind", "Kind", Doc.kind, choices=[("plain", "Plain"),
                                                                                           ("fancy", "Fancy")])],
               default_sort="title", page_size=5, id="docs", pagination="keyset", count_limit=10)


@blueprint.get("/")
@require_permission("fx_textsearch.doc.read")
def index():
    return DOCS.render("fx_textsearch/list.html", DOCS.page())
