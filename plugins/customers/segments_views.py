"""Segment pages: the list with live counts, saving the current account or contact list's
filters as a segment, opening a segment as that list, and deleting one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from core.access import require_permission
from core.db import get_session
from core.forms import confirmation_required
from core.listing import Column, Listing
from core.tenancy import current_company
from core.ui import safe_next
from plugins.customers import DELETE_ACCOUNTS, READ_ACCOUNTS, WRITE_ACCOUNTS
from plugins.customers.models import Segment
from plugins.customers.segments import SegmentError, count, create_segment

blueprint = Blueprint("customers_segments", __name__, url_prefix="/customers/segments", template_folder="templates")

TARGET_LABELS = {"accounts": _l("Accounts"), "contacts": _l("Contacts")}
LIST_ENDPOINTS = {"accounts": "customers_accounts.index", "contacts": "customers_contacts.index"}

SEGMENTS = Listing(
    Segment,
    columns=[
        Column("name", _l("Name"), sortable=True),
        Column("target", _l("Of"), format=lambda value: str(TARGET_LABELS.get(value, value))),
        Column("added", _l("Added"), Segment.created_at, sortable=True),
    ],
    search=[Segment.name],
    default_sort="name",
    extra=[Segment.id, Segment.query],
    id="customers-segments",
)


def _segment_or_404(segment_id: int) -> Segment:
    segment = get_session().get(Segment, segment_id)  # scoped: another company's is not found
    if segment is None:
        abort(404)
    return segment


@blueprint.get("/")
@require_permission(READ_ACCOUNTS)
def index() -> Any:
    return SEGMENTS.render("customers/segments/index.html", SEGMENTS.page(), error=None)


@blueprint.post("/")
@require_permission(WRITE_ACCOUNTS)
def save() -> Any:
    """Save the filters of the list the form was on (``target``, ``query``) as a segment."""
    target = request.form.get("target", "")
    try:
        segment = create_segment(get_session(), current_company().id, request.form.get("name", ""), target,
                                 request.form.get("query", ""), current_user.id)
    except SegmentError as error:
        page = SEGMENTS.page()
        return SEGMENTS.render("customers/segments/index.html", page, error=str(error),
                               back=safe_next(request.form.get("next"), url_for("customers_segments.index")),
                               ), 422
    flash(_("Segment “%(name)s” saved.", name=segment.name), "success")
    return redirect(url_for("customers_segments.index"))


@blueprint.get("/<int:segment_id>")
@require_permission(READ_ACCOUNTS)
def open_segment(segment_id: int) -> Response:
    """The segment's records, as its account or contact list with its filters applied."""
    segment = _segment_or_404(segment_id)
    base = url_for(LIST_ENDPOINTS[segment.target])
    return redirect(f"{base}?{segment.query}" if segment.query else base)


@blueprint.get("/<int:segment_id>/count")
@require_permission(READ_ACCOUNTS)
def live_count(segment_id: int) -> str:
    """How many records the segment has now, for the reader (loaded on its own per row)."""
    segment = _segment_or_404(segment_id)
    return render_template("customers/segments/_count.html", total=count(get_session(), segment))


@blueprint.post("/<int:segment_id>/delete")
@require_permission(DELETE_ACCOUNTS)
def delete(segment_id: int) -> Response:
    segment = _segment_or_404(segment_id)
    asking = confirmation_required(_("Delete the segment “%(name)s”? Its records are not touched.", name=segment.name),
                                   label=_("Delete segment"))
    if asking is not None:
        return asking
    get_session().delete(segment)
    flash(_("Segment “%(name)s” deleted.", name=segment.name), "success")
    return redirect(url_for("customers_segments.index"))
