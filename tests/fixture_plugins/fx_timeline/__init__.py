"""Fixture: entries on every record's timeline, as a plugin reading its own table would give
them (newest first, at or before ``before``, at most ``limit``), plus one whose key lacks the
plugin's prefix and one that is not a TimelineEntry."""
from datetime import UTC, datetime, timedelta

from core import TimelineEntry, hookimpl

START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
# "won" deals every other day from START, newest last; deal 3 is dated naively (UTC).
DEALS = [(n, START + timedelta(days=2 * n)) for n in range(6)]
CALLS: list[dict] = []


@hookimpl
def timeline_entries(record_type, record, user, before, limit):
    CALLS.append({"record_type": record_type, "before": before, "limit": limit, "user_id": getattr(user, "id", None)})
    entries = [
        TimelineEntry(key=f"fx_timeline.deal.{n}", at=at.replace(tzinfo=None) if n == 3 else at,
                      title=f"Deal {n} won", icon="trophy", url=f"/deals/{n}", body="Big one", actor="Seller")
        for n, at in reversed(DEALS) if before is None or at <= before
    ][:limit]
    return entries + [TimelineEntry(key="sneaky.deal", at=START, title="Foreign key"), "not an entry"]
