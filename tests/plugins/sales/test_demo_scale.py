"""Sales data at scale (plugins.sales.demo_scale): leads and deals written with core.bulk after
the small demos, each deal with the stage history that brought it where it is, the funnel's
tallies matching that history, the text index and the indexes back, the same rows for the
same seed, and the sales pages answering on it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import func, inspect, select, text

from core.demo import DemoSize, add_staff
from core.models import Company, Team, TeamMember, User
from core.textsearch import text_matches
from plugins.customers.models import Account, Contact
from plugins.sales import demo_scale
from plugins.sales.funnel import FunnelQuery, funnel_report, period_of
from plugins.sales.funnel_tally import rebuild, tally_rows
from plugins.sales.models import (
    Lead,
    Opportunity,
    OpportunityContact,
    Stage,
    StageChange,
)
from plugins.sales.scope import Scope
from plugins.sales.scoring import DEFAULT_BANDS, grade_for
from plugins.sales.services import default_pipeline
from tests.plugins.sales.helpers import in_company

LEADS, DEALS, SEED = 300, 500, 5
NOW = datetime.now(UTC).replace(microsecond=0)
TABLES = ("sales_lead", "sales_opportunity", "sales_stage_change", "sales_opportunity_contact")


@dataclass
class Scaled:
    """What the fixture made: the last lead and deal ids before the data at scale, and the
    indexes and triggers of the tables it filled as they were before."""

    lead_before: int
    deal_before: int
    indexes: dict[str, set[str]]
    triggers: set[str]


def _indexes(session) -> dict[str, set[str]]:
    inspector = inspect(session.connection())
    return {table: {index["name"] for index in inspector.get_indexes(table)} for table in TABLES}


def _triggers(session) -> set[str]:
    if session.get_bind().dialect.name != "sqlite":
        return set()
    return set(session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND tbl_name IN ('sales_lead', 'sales_opportunity')")).scalars())


def _generate(session, company_id: int, seed: int = SEED) -> None:
    demo_scale.add_sales_at_scale(session, session.get(Company, company_id), leads=LEADS, opportunities=DEALS,
                                  seed=seed, now=NOW)


@pytest.fixture
def scaled(app, company, admin) -> Scaled:
    """Four reps in two teams, the customers and sales small demos, then the data at scale."""
    from core.db import get_session
    from plugins.customers import demo_data as customers_demo_data
    from plugins.sales import demo_data

    with app.app_context():
        session = get_session()
        target = session.get(Company, company.id)
        add_staff(session, target, session.get(User, company.admin.id), DemoSize("test", 4, 2))
        customers_demo_data(session=session, company=target, size="small")
        demo_data(session=session, company=target, size="small")
        session.commit()

    def work(session):
        before = Scaled(session.scalar(select(func.max(Lead.id))), session.scalar(select(func.max(Opportunity.id))),
                        _indexes(session), _triggers(session))
        _generate(session, company.id)
        return before
    return in_company(app, company, work)


def _deals(session, after: int) -> list:
    return session.execute(select(Opportunity).where(Opportunity.id > after).order_by(Opportunity.id)).scalars().all()


def test_the_counts_owners_and_teams_are_those_asked_for(app, company, scaled):
    def read(session):
        leads = session.execute(select(Lead.owner_id, Lead.team_id, Lead.status, Lead.score, Lead.grade, Lead.source,
                                       Lead.utm_source, Lead.last_follow_up_at, Lead.created_at, Lead.name)
                                .where(Lead.id > scaled.lead_before)).all()
        deals = _deals(session, scaled.deal_before)
        team_of = dict(session.execute(select(TeamMember.user_id, TeamMember.team_id).join(Team)
                                       .where(Team.company_id == company.id)).all())
        accounts = dict(session.execute(select(Account.id, Account.owner_id)).all())
        links = session.execute(select(OpportunityContact.opportunity_id, Contact.account_id)
                                .join(Contact, Contact.id == OpportunityContact.contact_id)
                                .where(OpportunityContact.opportunity_id > scaled.deal_before)).all()
        return leads, deals, team_of, accounts, links
    leads, deals, team_of, accounts, links = in_company(app, company, read)

    assert len(leads) == LEADS and len(deals) == DEALS
    unowned = sum(lead.owner_id is None for lead in leads)
    assert 0.04 * LEADS < unowned < 0.2 * LEADS  # about a tenth in the pool
    assert {lead.owner_id for lead in leads} - {None} <= set(team_of)  # the reps, all in a team
    assert all(lead.team_id == team_of.get(lead.owner_id) for lead in leads)
    assert set(Counter(lead.status for lead in leads)) == {"new", "contacted", "qualified", "unqualified",
                                                           "converted"}
    assert all(lead.grade == grade_for(lead.score, DEFAULT_BANDS) for lead in leads)
    assert all(bool(lead.utm_source) == (lead.source == "Web") for lead in leads)
    assert 0.55 * LEADS < sum(lead.last_follow_up_at is not None for lead in leads) < 0.85 * LEADS
    assert any("\u4e00" <= lead.name[0] <= "\u9fff" for lead in leads)
    assert all(lead.created_at.replace(tzinfo=None) <= NOW.replace(tzinfo=None) for lead in leads)
    assert all(deal.account_id in accounts and deal.currency == "USD" for deal in deals)
    assert all(deal.team_id == team_of.get(deal.owner_id) for deal in deals)
    # The owner is the account's more often than chance alone would make it.
    assert sum(deal.owner_id == accounts[deal.account_id] for deal in deals) > DEALS / 2
    assert all(1000 <= deal.amount <= 200_000 for deal in deals)
    account_of = {deal.id: deal.account_id for deal in deals}
    assert 0.2 * DEALS < len(links) < 0.45 * DEALS  # a third of the deals, with one of the account's contacts
    assert all(account_id == account_of[opportunity_id] for opportunity_id, account_id in links)


def test_every_deal_s_history_starts_nowhere_and_ends_at_its_stage(app, company, scaled):
    def read(session):
        stages = {stage.id: stage for stage in session.scalars(select(Stage))}
        changes = session.execute(select(StageChange).where(StageChange.opportunity_id > scaled.deal_before)
                                  .order_by(StageChange.opportunity_id, StageChange.changed_at,
                                            StageChange.id)).scalars().all()
        return stages, changes, _deals(session, scaled.deal_before)
    stages, changes, deals = in_company(app, company, read)

    history: dict[int, list] = {}
    for change in changes:
        history.setdefault(change.opportunity_id, []).append(change)
    kinds = Counter(stages[deal.stage_id].kind for deal in deals)
    assert kinds["won"] and kinds["lost"] and kinds["open"] > kinds["won"]
    for deal in deals:
        rows, kind = history[deal.id], stages[deal.stage_id].kind
        assert rows[0].from_stage_id is None and rows[0].changed_at == deal.created_at
        assert rows[-1].to_stage_id == deal.stage_id and rows[-1].changed_at == deal.stage_entered_at
        for before, after in pairwise(rows):
            assert after.from_stage_id == before.to_stage_id
            assert after.seconds_in_from_stage == int((after.changed_at - before.changed_at).total_seconds()) > 0
        assert rows[-1].changed_at.replace(tzinfo=None) <= NOW.replace(tzinfo=None)
        assert (deal.closed_at is not None) == (kind != "open")
        if kind != "open":
            assert deal.closed_at == deal.stage_entered_at
        assert (deal.lost_reason_id is not None) == (kind == "lost")
        reached = [stages[row.to_stage_id] for row in rows if stages[row.to_stage_id].kind == "open"]
        assert deal.furthest_stage_id == max(reached, key=lambda stage: stage.position).id
        assert deal.probability == stages[deal.stage_id].probability


def test_the_funnel_tallies_equal_a_rebuild_and_the_report_counts_what_the_history_says(app, company, scaled):
    def work(session):
        kept = tally_rows(session, company.id)
        rebuild(session, company.id)
        pipeline = default_pipeline(session, company.id)
        report = funnel_report(session, FunnelQuery(pipeline.id, period_of("all", NOW.date())), Scope(company.id))
        stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)))
        changes = session.execute(select(StageChange.opportunity_id, StageChange.to_stage_id)).all()
        amounts = dict(session.execute(select(Opportunity.id, Opportunity.amount)).all())
        current = dict(session.execute(select(Opportunity.id, Opportunity.stage_id)).all())
        return kept, tally_rows(session, company.id), report, stages, changes, amounts, current
    kept, rebuilt, report, stages, changes, amounts, current = in_company(app, company, work)

    assert kept == rebuilt and sum(row[-1] for row in rebuilt["created"]) == len(amounts)
    open_stages = [stage for stage in stages if stage.kind == "open"]
    rank = {stage.id: number for number, stage in enumerate(open_stages)}
    won = next(stage for stage in stages if stage.is_won)
    lost = next(stage for stage in stages if stage.is_lost)
    furthest: dict[int, int] = {}  # the history's truth: the furthest open stage (won: past them all)
    for deal_id, to_stage_id in changes:
        reach = len(open_stages) if to_stage_id == won.id else rank.get(to_stage_id, -1)
        furthest[deal_id] = max(furthest.get(deal_id, -1), reach)
    expected = [sum(reach >= number for reach in furthest.values()) for number in range(len(open_stages) + 1)]
    assert [figure.reached for figure in report.stages] == expected
    won_ids = [deal_id for deal_id, stage_id in current.items() if stage_id == won.id]
    assert report.total.created == len(current)
    assert report.total.won == len(won_ids)
    assert report.total.lost == sum(stage_id == lost.id for stage_id in current.values())
    assert report.total.won_amount == sum((amounts[deal_id] for deal_id in won_ids), Decimal(0))


def test_the_leads_are_found_by_the_text_search(client, app, company, scaled):
    def read(session):
        leads = session.execute(select(Lead.id, Lead.name, Lead.email, Lead.phone).where(Lead.id > scaled.lead_before)
                                .order_by(Lead.id)).all()
        found = {lead.id: set(session.scalars(select(Lead.id).where(text_matches(Lead.search_text, [lead.email]))))
                 for lead in leads[::50]}
        by_phone = set(session.scalars(select(Lead.id).where(text_matches(Lead.search_text, [leads[7].phone]))))
        return leads, found, by_phone
    leads, found, by_phone = in_company(app, company, read)

    assert all(found[lead_id] == {lead_id} for lead_id in found), [(lead, found.get(lead.id)) for lead in leads if lead.id in found]
    assert leads[7].id in by_phone
    page = client.get("/sales/leads/", query_string={"q": leads[-1].email})
    assert page.status_code == 200 and leads[-1].name in page.get_data(as_text=True)


def test_the_indexes_and_the_text_index_triggers_are_back_after_the_load(app, company, scaled):
    def read(session):
        return _indexes(session), _triggers(session)
    indexes, triggers = in_company(app, company, read)

    assert indexes == scaled.indexes and all(indexes[table] for table in TABLES[:3])
    assert triggers == scaled.triggers


def _snapshot(session, lead_after: int, deal_after: int) -> tuple[list, list, list, list]:
    """The rows written after those ids, with the deals' ids counted from the first."""
    leads = [tuple(row) for row in session.execute(
        select(Lead.name, Lead.email, Lead.phone, Lead.organisation, Lead.status, Lead.score, Lead.owner_id,
               Lead.source, Lead.created_at, Lead.last_follow_up_at).where(Lead.id > lead_after).order_by(Lead.id))]
    deals = [(row[0] - deal_after, *row[1:]) for row in session.execute(
        select(Opportunity.id, Opportunity.name, Opportunity.account_id, Opportunity.owner_id, Opportunity.stage_id,
               Opportunity.amount, Opportunity.created_at, Opportunity.closed_at, Opportunity.expected_close_date,
               Opportunity.lost_reason_id).where(Opportunity.id > deal_after).order_by(Opportunity.id))]
    changes = [(row[0] - deal_after, *row[1:]) for row in session.execute(
        select(StageChange.opportunity_id, StageChange.from_stage_id, StageChange.to_stage_id, StageChange.changed_at)
        .where(StageChange.opportunity_id > deal_after).order_by(StageChange.id))]
    links = sorted((row[0] - deal_after, row[1]) for row in session.execute(
        select(OpportunityContact.opportunity_id, OpportunityContact.contact_id)
        .where(OpportunityContact.opportunity_id > deal_after)))
    return leads, deals, changes, links


def test_the_same_seed_makes_the_same_rows_and_another_seed_others(app, company, scaled):
    def work(session):
        first = _snapshot(session, scaled.lead_before, scaled.deal_before)
        lead_after, deal_after = session.scalar(select(func.max(Lead.id))), session.scalar(select(func.max(Opportunity.id)))
        _generate(session, company.id)
        again = _snapshot(session, lead_after, deal_after)
        lead_after, deal_after = session.scalar(select(func.max(Lead.id))), session.scalar(select(func.max(Opportunity.id)))
        _generate(session, company.id, seed=SEED + 1)
        return first, again, _snapshot(session, lead_after, deal_after)
    first, again, other = in_company(app, company, work)

    assert all(first) and again == first
    assert other[0] != first[0] and other[1] != first[1]


def test_the_board_lead_list_and_funnel_answer_the_administrator(client, app, company, scaled):
    def read(session):
        newest = session.execute(select(Lead.name).where(Lead.status == "qualified")
                                 .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(1)).scalar_one()
        return default_pipeline(session, company.id).id, newest
    pipeline_id, newest = in_company(app, company, read)

    board = client.get(f"/sales/opportunities/board?pipeline={pipeline_id}")
    leads = client.get("/sales/leads/?status=qualified")
    funnel = client.get("/sales/reports/funnel?period=all")
    assert (board.status_code, leads.status_code, funnel.status_code) == (200, 200, 200)
    assert newest in leads.get_data(as_text=True)


def test_the_hook_adds_the_data_at_scale_for_the_medium_and_large_sizes_only(app, company, admin, monkeypatch):
    from core.db import get_session
    from plugins.sales import demo_data

    monkeypatch.setitem(demo_scale.SCALE, "medium", (30, 40))
    counts = []
    for size in ("small", "medium"):
        with app.app_context():
            session = get_session()
            demo_data(session=session, company=session.get(Company, company.id), size=size)
            session.commit()
        counts.append(in_company(app, company, lambda session: (
            session.scalar(select(func.count()).select_from(Lead)),
            session.scalar(select(func.count()).select_from(Opportunity)))))
    (small_leads, small_deals), (medium_leads, medium_deals) = counts
    assert (medium_leads - small_leads, medium_deals - small_deals) == (30, 40)
