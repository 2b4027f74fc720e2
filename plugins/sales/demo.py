"""Demo data of the sales plugin: the default pipeline and a few lost reasons.

Deals and leads come with the pages that show them. Written through the services: a handful
of rows, and the same rules as a company that sets itself up by hand.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import Company
from core.scoping import company_scope
from plugins.sales.services import DEFAULT_LOST_REASONS, add_lost_reason, default_pipeline, lost_reasons


def add_demo_sales(session: Session, company: Company) -> None:
    """The "Sales" pipeline with its six stages, and the usual reasons deals are lost."""
    with company_scope(session, company.id):
        default_pipeline(session, company.id)
        if not lost_reasons(session):
            for name in DEFAULT_LOST_REASONS:
                add_lost_reason(session, company.id, name)
