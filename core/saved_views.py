"""Saved views of list pages: a named search, sort, filters and columns of a
:class:`core.listing.Listing`, kept for the person who saved it or shared with the company.

Every list gets them from the core: the template shows ``list.saved_views(page)`` (see
``templates/macros/list.html``), which lists the views the reader may use (their own and the
company's shared ones, :func:`views_for`) as links applying the view's query string to the
list, and a small form posting the current state to :func:`save`.

Rules: a name is required, at most 80 characters, unique per list and owner; the list id
must be one a ``Listing`` declared; the query keeps only the list's own parameters (``q``,
``sort``, the filters' parameters, ``cols``), never the page or cursor. Anyone may share a
view; a shared view is deleted by its owner or a company administrator, a private one only by
its owner (others get 404: they do not know it exists).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from core.access import is_admin
from core.auth import signed_in
from core.db import get_session
from core.forms import confirmation_required
from core.listing import MAX_VALUE_LENGTH, LISTINGS, Listing, ListPage
from core.models import SavedView
from core.tenancy import current_company
from core.ui import safe_next

blueprint = Blueprint("core_saved_views", __name__, url_prefix="/saved-views")
log = logging.getLogger(__name__)

MAX_NAME = 80
_TRUE = frozenset({"1", "true", "yes", "on"})


# -- the query a view keeps -------------------------------------------------------------------


def sanitized_query(listing: Listing, query: str, cols: str | None = None) -> str:
    """``query`` with only ``listing``'s parameters, in a fixed order: ``q``, ``sort`` (a
    sortable column), the filters' parameters, ``cols`` (known optional columns, ``default``
    or ``none``). Values are cut at the length the list reads. When the list has optional
    columns and the query names none, ``cols=default`` is added, so that applying the view
    also undoes a column choice the reader's session remembers. ``cols`` replaces the
    query's own ``cols``."""
    given: dict[str, list[str]] = {}
    for key, value in parse_qsl(query or "", keep_blank_values=False):
        given.setdefault(key, []).append(value.strip()[:MAX_VALUE_LENGTH])
    kept: list[tuple[str, str]] = []
    if given.get("q") and given["q"][0]:
        kept.append(("q", given["q"][0]))
    sortable = {column.key for column in listing.columns if column.sortable}
    sort = (given.get("sort") or [""])[0]
    if sort and sort.lstrip("-") in sortable:
        kept.append(("sort", sort))
    for filter_ in listing.filters:
        for param in filter_.params():
            if given.get(param) and given[param][0]:
                kept.append((param, given[param][0]))
    pickable = [column.key for column in listing.columns if column.pickable]
    if pickable:
        given_cols = [cols] if cols is not None else given.get("cols", [])
        names = {name.strip() for value in given_cols for name in value.split(",")}
        if "default" in names or not names:
            kept.append(("cols", "default"))
        else:
            chosen = [key for key in pickable if key in names]
            kept.append(("cols", ",".join(chosen) or "none"))
    return urlencode(kept)


# -- reading ------------------------------------------------------------------------------------


def views_for(list_id: str, user: Any = None) -> list[SavedView]:
    """The views of list ``list_id`` that ``user`` (default: the signed-in one) may use:
    their own and the shared ones of the company in context (company scoping is automatic),
    by name. One query."""
    user = current_user if user is None else user
    if not getattr(user, "is_authenticated", False):
        return []
    statement = (
        select(SavedView)
        .where(SavedView.list_id == list_id, or_(SavedView.owner_id == user.id, SavedView.shared.is_(True)))
        .order_by(SavedView.name, SavedView.id)
    )
    return list(get_session().scalars(statement))


@dataclass(frozen=True)
class ViewLink:
    """A saved view as the list macro shows it."""

    view: SavedView
    url: str
    active: bool
    mine: bool
    deletable: bool


def view_links(page: ListPage) -> list[ViewLink]:
    """The reader's views of ``page``'s list, each with the link applying it and whether it is
    the state shown now (for the macro ``list.saved_views``)."""
    listing = page.listing
    base = page.url(q=None, sort=None, page=None, cols=None, **dict.fromkeys(page.filter_params()))
    current = sanitized_query(listing, page.saved_query)
    admin = is_admin(current_user)
    links = []
    for view in views_for(listing.id):
        query = sanitized_query(listing, view.query)
        mine = view.owner_id == current_user.id
        links.append(ViewLink(view, f"{base}?{query}" if query else base, query == current, mine,
                              mine or (view.shared and admin)))
    return links


@blueprint.app_template_global("saved_view_links")
def _saved_view_links(page: ListPage) -> list[ViewLink]:
    return view_links(page)


# -- saving -------------------------------------------------------------------------------------

def _listing_or_400(list_id: str) -> Listing:
    listing = LISTINGS.get(list_id)
    if listing is None:
        abort(400, description=_("“%(id)s” is not a list of this application.", id=list_id[:80]))
    return listing


def _name_error(name: str, list_id: str) -> str | None:
    if not name:
        return _("Give the view a name.")
    if len(name) > MAX_NAME:
        return _("The name may have at most %(num)s characters.", num=MAX_NAME)
    taken = get_session().scalar(select(SavedView.id).where(
        SavedView.list_id == list_id, SavedView.owner_id == current_user.id, SavedView.name == name))
    if taken is not None:
        return _("You already have a view named “%(name)s” on this list.", name=name)
    return None


def _current_query(listing: Listing, raw_query: str) -> str:
    """The sanitised query of the state the reader sees: a query naming no columns shows the
    columns the reader's session remembers for this list, so those are the ones kept."""
    _visible, cols = listing.visible_columns(MultiDict(parse_qsl(raw_query)), remember=False)
    return sanitized_query(listing, raw_query, cols=cols or "default")


@blueprint.post("/")
@signed_in
def save() -> Any:
    """Save the list state posted in ``query`` as a view named ``name`` of list ``list_id``
    (``shared`` to show it to the whole company); back to ``next`` (the list)."""
    if current_company() is None:
        abort(404)
    listing = _listing_or_400(request.form.get("list_id", "").strip())
    name = " ".join(request.form.get("name", "").split())
    shared = request.form.get("shared", "").strip().lower() in _TRUE
    raw_query = request.form.get("query", "")
    next_url = safe_next(request.form.get("next"), "/")
    query = _current_query(listing, raw_query.lstrip("?"))
    error = _name_error(name, listing.id)
    if error:
        page = render_template("saved_views/save.html", list_id=listing.id, query=query, next_url=next_url,
                                      name=name, shared=shared, error=error)
        return page, 422
    view = SavedView(list_id=listing.id, name=name, query=query, owner_id=current_user.id, shared=shared)
    session = get_session()
    session.add(view)
    session.flush()
    log.info("user %s saved view %s (%r) of list %s, shared=%s", current_user.id, view.id, name, listing.id, shared)
    flash(_("View “%(name)s” saved.", name=name))
    target = urlsplit(next_url)
    return redirect(f"{target.path}?{query}" if query else target.path, code=303)


@blueprint.post("/<int:view_id>/delete")
@signed_in
def delete(view_id: int) -> Response:
    """Delete a saved view (confirmed POST). Another person's private view: 404; another
    person's shared view, for someone who does not administer the company: 403."""
    session = get_session()
    # A query, not session.get(): company scoping applies to queries.
    view = session.scalar(select(SavedView).where(SavedView.id == view_id))
    if view is None or (view.owner_id != current_user.id and not view.shared):
        abort(404)
    if view.owner_id != current_user.id and not is_admin(current_user):
        abort(403, description=_("Only the person who saved a shared view, or an administrator, may delete it."))
    next_url = safe_next(request.form.get("next"), "/")
    if (page := confirmation_required(_("Delete the saved view “%(name)s”?", name=view.name),
                                      title=_("Delete saved view"), label=_("Delete"), cancel_url=next_url)):
        return page
    name = view.name
    session.delete(view)
    session.flush()
    log.info("user %s deleted saved view %s (%r) of list %s", current_user.id, view_id, name, view.list_id)
    flash(_("View “%(name)s” deleted.", name=name))
    return redirect(next_url, code=303)
