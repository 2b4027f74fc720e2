"""Arranging sales data in tests, straight through the models and services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.scoping import company_scope
from plugins.sales.models import Opportunity, Pipeline, Stage
from plugins.sales.services import default_pipeline


def in_company(app, company, work) -> Any:
    """Run ``work(session)`` for ``company`` and commit."""
    from core.db import get_session

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            result = work(session)
            session.commit()
            return result


def default_ids(app, company) -> tuple[int, dict[str, int]]:
    """The default pipeline's id and its stages' ids by name (created when missing)."""
    def work(session):
        pipeline = default_pipeline(session, company.id)
        stages = session.execute(select(Stage.name, Stage.id).where(Stage.pipeline_id == pipeline.id)).all()
        return pipeline.id, dict(stages)
    return in_company(app, company, work)


def add_opportunity(app, company, pipeline_id: int, stage_id: int, name: str = "Deal", deleted: bool = False) -> int:
    from core.db import utcnow

    def work(session):
        opportunity = Opportunity(company_id=company.id, name=name, pipeline_id=pipeline_id, stage_id=stage_id,
                                  currency="EUR", deleted_at=utcnow() if deleted else None)
        session.add(opportunity)
        session.flush()
        return opportunity.id
    return in_company(app, company, work)


def pipeline_names(app, company) -> list[str]:
    return in_company(app, company, lambda session: list(session.scalars(
        select(Pipeline.name).order_by(Pipeline.position))))
