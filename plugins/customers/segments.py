"""Segments: saved filters over accounts or contacts, evaluated when asked.

A segment keeps the search and filters of the account or contact list (its query string), so
its members are always the records that match now. Other plugins (marketing) use
:func:`members` and :func:`count` through this module.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from core.access import visible
from core.listing import LISTINGS, Listing
from core.saved_views import sanitized_query
from plugins.customers.models import SEGMENT_TARGETS, Account, Contact, Segment

SEGMENT_NAME_MAX = 120
_SOURCES = {"accounts": ("customers-accounts", Account, "customers.account"),
            "contacts": ("customers-contacts", Contact, "customers.contact")}


class SegmentError(ValueError):
    """A segment cannot be saved; ``field`` says which input is at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _listing(target: str) -> Listing:
    return LISTINGS[_SOURCES[target][0]]


def filters_only(target: str, query: str) -> str:
    """``query`` reduced to what selects records: the search and the filters (no sort, no
    columns, no position)."""
    kept = sanitized_query(_listing(target), query)
    return "&".join(part for part in kept.split("&") if part and not part.startswith(("sort=", "cols=")))


def create_segment(session: Session, company_id: int, name: str, target: str, query: str,
                   created_by_id: int | None) -> Segment:
    """Save a segment (flushed); :class:`SegmentError` for a bad name or target."""
    name = (name or "").strip()
    if target not in SEGMENT_TARGETS:
        raise SegmentError("target", _("Choose accounts or contacts."))
    if not name or len(name) > SEGMENT_NAME_MAX:
        raise SegmentError("name", _("Give the segment a name of 1 to %(max)d characters.", max=SEGMENT_NAME_MAX))
    taken = session.scalar(select(Segment.id).where(func.lower(Segment.name) == name.lower()))
    if taken is not None:
        raise SegmentError("name", _("A segment named “%(name)s” exists already.", name=name))
    segment = Segment(company_id=company_id, name=name, target=target, query=filters_only(target, query),
                      created_by_id=created_by_id)
    session.add(segment)
    session.flush()
    return segment


def members(segment: Segment, user: Any = None) -> Any:
    """The statement selecting the segment's records that ``user`` (default: the signed-in
    user) may see, in the company in context."""
    _list_id, model, record_type = _SOURCES[segment.target]
    statement = visible(select(model), model, record_type, user)
    return _listing(segment.target).matching(MultiDict(parse_qsl(segment.query)), statement)


def count(session: Session, segment: Segment, user: Any = None) -> int:
    """How many records the segment has now (for ``user``)."""
    statement = members(segment, user)
    return int(session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0)
