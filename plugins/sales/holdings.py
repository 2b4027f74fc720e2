"""What a sales rep holds: their open leads and the accounts they own.

The customer pool's holding cap and the assignment rules' caps both count the same thing, so
it is counted here once, for many reps in two queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugins.customers.services import owned_account_counts
from plugins.sales.models import Lead

# A lead still being worked: neither converted nor given up.
OPEN_LEAD_STATUSES = ("new", "contacted", "qualified")


def open_lead_counts(session: Session, owner_ids: Iterable[int]) -> dict[int, int]:
    """Open leads (not in the trash) per owner, for ``owner_ids`` in the current company."""
    wanted = {int(owner_id) for owner_id in owner_ids}
    if not wanted:
        return {}
    rows = session.execute(select(Lead.owner_id, func.count()).where(
        Lead.owner_id.in_(wanted), Lead.status.in_(OPEN_LEAD_STATUSES), Lead.deleted_at.is_(None))
        .group_by(Lead.owner_id))
    return {owner_id: count for owner_id, count in rows}


def holdings(session: Session, owner_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """``(open leads, accounts owned)`` per rep of ``owner_ids`` (zeros for a rep holding none)."""
    wanted = [int(owner_id) for owner_id in owner_ids]
    leads, accounts = open_lead_counts(session, wanted), owned_account_counts(session, wanted)
    return {owner_id: (leads.get(owner_id, 0), accounts.get(owner_id, 0)) for owner_id in wanted}
