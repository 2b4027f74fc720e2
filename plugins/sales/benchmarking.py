"""What the benchmark suite measures of the sales plugin (its ``benchmarks`` hook), on the
``large`` demo data: 200,000 leads and 500,000 opportunities with their stage history.

Budgets (issue "sales, part 1"): the board of one pipeline, the lead list with a filter and the
funnel report over all deals under 100 ms of server time; the customer pool's recycling of
200,000 leads under 10 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.hooks import BenchmarkPage, BenchmarkTask
from core.models import Company
from plugins.sales.models import Opportunity
from plugins.sales.services import default_pipeline

PAGE_BUDGET_MS = 100.0
RECYCLING_BUDGET_S = 10.0
PAGE_SIZE = 25

# The rows of the lead list (default columns, newest first) and of the opportunity list (by
# expected close date), with plain SQL: the floors of those pages.
_LEADS = ("SELECT l.id, l.name, l.organisation, l.status, l.email, l.source, u.name, l.created_at "
          "FROM sales_lead l LEFT JOIN core_user u ON u.id = l.owner_id WHERE l.company_id = :company "
          f"AND l.deleted_at IS NULL AND l.status = 'qualified' ORDER BY l.created_at DESC, l.id DESC LIMIT {PAGE_SIZE}")
_OPPORTUNITIES = ("SELECT o.id, o.name, a.name, s.name, o.amount, o.currency, o.probability, o.expected_close_date, "
                  "u.name FROM sales_opportunity o JOIN sales_stage s ON s.id = o.stage_id "
                  "LEFT JOIN customers_account a ON a.id = o.account_id LEFT JOIN core_user u ON u.id = o.owner_id "
                  "WHERE o.company_id = :company AND o.deleted_at IS NULL "
                  f"ORDER BY o.expected_close_date, o.id LIMIT {PAGE_SIZE}")


def benchmarks(session: Session, company: Company) -> list[BenchmarkPage | BenchmarkTask]:
    pipeline_id = default_pipeline(session, company.id).id
    busiest_owner = session.scalar(
        select(Opportunity.owner_id).where(Opportunity.company_id == company.id, Opportunity.owner_id.is_not(None))
        .group_by(Opportunity.owner_id).order_by(func.count().desc(), Opportunity.owner_id).limit(1))
    params = {"company": company.id}
    board = f"/sales/opportunities/board?pipeline={pipeline_id}"
    now = utcnow()
    return [
        BenchmarkPage("board of one pipeline", board, PAGE_BUDGET_MS),
        BenchmarkPage("lead list, filter", "/sales/leads/?status=qualified", PAGE_BUDGET_MS,
                      {"sqlite": _LEADS, "postgresql": _LEADS}, params),
        BenchmarkPage("funnel report, all deals", "/sales/reports/funnel?period=all", PAGE_BUDGET_MS),
        *([BenchmarkPage("board, one owner", f"{board}&owner={busiest_owner}")] if busiest_owner else []),
        BenchmarkPage("lead list, filter + search", "/sales/leads/?status=new&q=prospect12"),
        BenchmarkPage("opportunity list", "/sales/opportunities/", None,
                      {"sqlite": _OPPORTUNITIES, "postgresql": _OPPORTUNITIES}, params),
        BenchmarkPage("funnel report by owner", "/sales/reports/funnel?period=all&group=owner"),
        BenchmarkPage("customer pool", "/sales/pools/"),
        # The pool's recycling job three times: the first run catches up on a year of data, the
        # next day's finds what one day made due, a month later many records at once.
        BenchmarkTask("sales: pool recycling, first run", _recycling(now), RECYCLING_BUDGET_S),
        BenchmarkTask("sales: pool recycling, next day", _recycling(now + timedelta(days=1)), RECYCLING_BUDGET_S),
        BenchmarkTask("sales: pool recycling, a month later", _recycling(now + timedelta(days=31)),
                      RECYCLING_BUDGET_S),
    ]


def _recycling(moment: Any) -> Any:
    def run(_app: Any, company_id: int) -> str:
        from core.db import get_session
        from core.scoping import company_scope
        from plugins.sales.pools import recycle

        session = get_session()
        with company_scope(session, company_id):
            counts = recycle(session, company_id, now=moment)
            session.commit()
        return ", ".join(f"{key} {value:,}" for key, value in counts.items())

    return run
