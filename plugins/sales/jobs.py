"""The sales plugin's periodic work: the customer pool's recycling.

Every hour, for each company that has the plugin enabled (a per-company periodic task,
scoped to it), :func:`plugins.sales.pools.recycle` returns to their pool the leads and
accounts whose owner let a pool rule lapse and warns the owners of those due soon. Hourly
rather than daily so that a record is recycled within the hour its time runs out and a
warning is never later than an hour; a run with nothing due costs a few indexed queries.
"""

from __future__ import annotations

from core import PeriodicTask
from core.db import get_session, utcnow
from core.scoping import COMPANY_KEY

RECYCLE_TASK = "sales.pool_recycling"
RECYCLE_SCHEDULE = "17 * * * *"  # hourly, off the round minutes other tasks crowd


def periodic_tasks() -> list[PeriodicTask]:
    return [PeriodicTask(name=RECYCLE_TASK, schedule=RECYCLE_SCHEDULE, run=run_recycling, per_company=True)]


def run_recycling() -> dict[str, int]:
    """Recycle the company in context (the task's session is scoped to it)."""
    from plugins.sales.pools import recycle

    session = get_session()
    return recycle(session, session.info[COMPANY_KEY], now=utcnow())
