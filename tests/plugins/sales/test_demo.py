"""The sales plugin's demo data."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Company
from plugins.sales import demo_data
from plugins.sales.models import LostReason, Pipeline, Stage
from tests.plugins.sales.helpers import in_company


def test_demo_data_gives_the_sales_pipeline_and_lost_reasons_once(app, company):
    from core.db import get_session

    for _ in range(2):  # idempotent: a second run adds nothing
        with app.app_context():
            session = get_session()
            demo_data(session=session, company=session.get(Company, company.id))
            session.commit()

    def read(session):
        pipelines = list(session.scalars(select(Pipeline.name)))
        stages = list(session.execute(select(Stage.name, Stage.probability, Stage.is_won, Stage.is_lost)
                                      .order_by(Stage.position)))
        return pipelines, stages, list(session.scalars(select(LostReason.name)))
    pipelines, stages, reasons = in_company(app, company, read)
    assert pipelines == ["Sales"]
    assert [tuple(row) for row in stages] == [
        ("Qualification", 10, False, False), ("Needs analysis", 25, False, False), ("Proposal", 50, False, False),
        ("Negotiation", 75, False, False), ("Won", 100, True, False), ("Lost", 0, False, True)]
    assert len(reasons) == 5
