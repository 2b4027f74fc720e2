"""The sales plugin's demo data."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import Company
from plugins.sales import demo_data
from plugins.sales.models import Lead, LostReason, Pipeline, Stage
from tests.plugins.sales.helpers import in_company


def test_demo_data_gives_the_sales_pipeline_and_lost_reasons_once(app, company):
    from core.db import get_session

    for _ in range(2):  # idempotent: a second run adds nothing
        with app.app_context():
            session = get_session()
            demo_data(session=session, company=session.get(Company, company.id), size="small")
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


def run_demo(app, company, with_customers: bool = True) -> float:
    """The customers demo (accounts and contacts), then the sales demo; the sales demo's CPU
    seconds (its commit included; CPU time, so that other processes on the machine do not count)."""
    import time

    from core.db import get_session
    from plugins.customers import demo_data as customers_demo_data

    with app.app_context():
        session = get_session()
        target = session.get(Company, company.id)
        if with_customers:
            customers_demo_data(session=session, company=target, size="small")
            session.flush()
        started = time.process_time()
        demo_data(session=session, company=target, size="small")
        session.commit()
        return time.process_time() - started


def snapshot(app, company):
    from plugins.sales.models import Lead, Opportunity, OpportunityContact, StageChange

    def read(session):
        deals = session.execute(select(Opportunity.id, Opportunity.name, Opportunity.amount, Opportunity.currency,
                                       Opportunity.stage_id, Opportunity.owner_id, Opportunity.closed_at,
                                       Opportunity.stage_entered_at, Opportunity.created_at,
                                       Opportunity.lost_reason_id, Opportunity.account_id)
                                .order_by(Opportunity.id)).all()
        changes = session.execute(select(StageChange.opportunity_id, StageChange.from_stage_id, StageChange.to_stage_id,
                                         StageChange.changed_at, StageChange.seconds_in_from_stage)
                                  .order_by(StageChange.opportunity_id, StageChange.changed_at, StageChange.id)).all()
        leads = session.execute(select(Lead.name, Lead.source, Lead.status, Lead.owner_id, Lead.utm_source,
                                       Lead.last_follow_up_at).order_by(Lead.id)).all()
        stages = {stage.id: stage for stage in session.scalars(select(Stage))}
        links = session.scalar(select(func.count()).select_from(OpportunityContact))
        return deals, changes, leads, stages, links
    return in_company(app, company, read)


def test_demo_deals_and_leads_are_realistic_consistent_and_fast(app, company):
    from collections import Counter

    company.enable("sales")
    seconds = run_demo(app, company)
    deals, changes, leads, stages, links = snapshot(app, company)
    assert seconds < 3
    assert len(deals) == 150 and len(leads) == 120 and links > 0
    kinds = Counter(stages[deal.stage_id].kind for deal in deals)
    assert kinds["won"] == 38 and kinds["lost"] == 30
    open_counts = Counter(stages[deal.stage_id].name for deal in deals if stages[deal.stage_id].kind == "open")
    assert open_counts["Qualification"] > open_counts["Negotiation"]  # more in the early stages
    assert all(1000 <= deal.amount <= 200_000 for deal in deals)
    assert {deal.currency for deal in deals} == {"USD"}  # totals add amounts up as entered
    assert len({deal.owner_id for deal in deals}) >= 3
    for deal in deals:  # closed ones have closed_at and (lost) a reason; open ones neither
        kind = stages[deal.stage_id].kind
        assert (deal.closed_at is not None) == (kind != "open")
        assert (deal.lost_reason_id is not None) == (kind == "lost")
    by_deal: dict[int, list] = {}
    for change in changes:
        by_deal.setdefault(change.opportunity_id, []).append(change)
    for deal in deals:  # the history starts at creation, chains its stages and ends where the deal is
        rows = by_deal[deal.id]
        assert rows[0].from_stage_id is None and rows[0].changed_at == deal.created_at
        assert rows[-1].to_stage_id == deal.stage_id and rows[-1].changed_at == deal.stage_entered_at
        for before, after in zip(rows, rows[1:]):
            assert after.from_stage_id == before.to_stage_id
            assert after.seconds_in_from_stage == int((after.changed_at - before.changed_at).total_seconds())
    sources = Counter(lead.source for lead in leads)
    assert set(sources) == {"Web", "Trade fair", "Referral", "Cold call", "Partner"}
    assert all(bool(lead.utm_source) == (lead.source == "Web") for lead in leads)
    assert any(lead.owner_id is None for lead in leads) and any(lead.owner_id for lead in leads)
    assert any(any("\u4e00" <= char <= "\u9fff" for char in lead.name) for lead in leads)
    assert any(lead.last_follow_up_at is not None for lead in leads)  # a few were followed up


def test_a_second_run_adds_nothing_and_the_same_seed_draws_the_same_deals(app, company):
    import random
    from datetime import UTC, datetime

    from plugins.sales.demo import _amount, _final_stages, _path

    company.enable("sales")
    run_demo(app, company)
    first = snapshot(app, company)
    run_demo(app, company, with_customers=False)
    assert snapshot(app, company)[0] == first[0]
    stages = sorted(first[3].values(), key=lambda stage: stage.position)
    open_stages, won, lost = stages[:4], stages[4], stages[5]
    now = datetime(2026, 6, 1, tzinfo=UTC)

    def draw(seed):
        rng = random.Random(seed)
        finals = _final_stages(rng, open_stages, won, lost)
        return ([stage.id for stage in finals], [_amount(rng) for _ in range(20)],
                [[(stage.id, at) for stage, at in _path(rng, open_stages, final, now)] for final in finals[:20]])
    assert draw(7) == draw(7) and draw(7) != draw(8)


def test_the_demo_puts_its_unowned_leads_in_a_customer_pool(app, company, client, admin):
    run_demo(app, company)
    page = client.get("/sales/pools/").text
    assert "Public pool" in page and "No customer pool yet" not in page
    unowned = in_company(app, company, lambda session: session.scalar(
        select(func.count()).select_from(Lead).where(Lead.owner_id.is_(None), Lead.status != "converted")))
    assert unowned > 0 and page.count('name="ids"') >= min(unowned, 10)


def test_the_demo_leads_are_scored_by_its_scoring_rules(app, company):
    run_demo(app, company)
    scores = in_company(app, company, lambda session: session.execute(
        select(Lead.score, Lead.grade, Lead.source)).all())
    referred = [score for score, _grade, source in scores if source == "Referral"]
    assert referred and min(referred) >= 10  # +20 for the referral, at most -10 for a missing email
    assert {grade for _score, grade, _source in scores} - {""}  # graded by the default bands
