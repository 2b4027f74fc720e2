"""The funnel report's monthly tallies: kept in step with every change of the deals through the
ORM (equal to a rebuild from the deals), the report from tallies plus edges equal to the report
from the deals alone, the "All time" period, the furthest open stage, and the migration's SQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update

from core.db import utcnow
from core.trash import restore
from plugins.sales import funnel
from plugins.sales.funnel import FunnelQuery, Period, Scope, funnel_report, period_of, whole_months
from plugins.sales.funnel_tally import rebuild, tally_rows
from plugins.sales.models import FunnelClosed, FunnelCreated, Opportunity, Stage
from plugins.sales.opportunities import change_stage, create_opportunity, delete_opportunity, update_opportunity
from plugins.sales.services import StageDraft, add_lost_reason, create_pipeline, default_pipeline, lost_reasons
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.sales.helpers import default_ids, in_company

PAGE = "/sales/reports/funnel"
API = "/api/v1/sales/reports/funnel"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def rep(app, company, admin):
    return make_member(app, company, "rep@example.com", "Rita Rep")


def _second_pipeline(session, company_id: int) -> int:
    drafts = [StageDraft(None, "Lead in", 10), StageDraft(None, "Demo", 40), StageDraft(None, "Signed", 100, "won"),
              StageDraft(None, "Gone", 0, "lost")]
    return create_pipeline(session, company_id, "Partners", drafts).id


def _reason(session, company_id: int) -> int:
    found = lost_reasons(session)
    return found[0].id if found else add_lost_reason(session, company_id, "Price").id


def _stages(session, pipeline_id: int) -> list[Stage]:
    return list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)))


def _shuffle_deals(session, company_id: int, user_ids: list[int | None], seed: int, steps: int = 90) -> list[int]:
    """A random life for a few dozen deals through the services: creations spread over 14
    months, stage changes (won, lost, reopened), amount, owner, team, source and pipeline
    changes, the trash and back, hard deletes. Returns the ids of the deals still there."""
    rng = random.Random(seed)
    pipelines = [default_pipeline(session, company_id).id, _second_pipeline(session, company_id)]
    reason_id = _reason(session, company_id)
    deals: list[Opportunity] = []
    trashed: list[Opportunity] = []
    for _step in range(steps):
        action = rng.choices(["create", "stage", "edit", "pipeline", "trash", "restore", "delete", "backdate"],
                             [4, 5, 2, 1, 1, 1, 1, 1])[0]
        if action == "create" or not deals:
            pipeline_id = rng.choice(pipelines)
            stage = rng.choice(_stages(session, pipeline_id))
            deal = create_opportunity(session, company_id, {
                "name": f"Deal {len(deals)}", "pipeline_id": pipeline_id, "stage_id": stage.id,
                "amount": Decimal(rng.randrange(0, 5000)), "source": rng.choice(["", "web", "event"]),
                "owner_id": rng.choice(user_ids), "lost_reason_id": reason_id if stage.is_lost else None}, None)
            deal.created_at = NOW - timedelta(days=rng.randrange(0, 420), hours=rng.randrange(0, 24))
            session.flush()
            deals.append(deal)
            continue
        deal = rng.choice(deals)
        if action == "stage":
            change_stage(session, deal, rng.choice(_stages(session, deal.pipeline_id)), None, reason_id)
            if deal.closed_at is not None:
                deal.closed_at = deal.created_at.replace(tzinfo=None) + timedelta(days=rng.randrange(0, 90))
            session.flush()
        elif action == "edit":
            update_opportunity(session, deal, {"amount": Decimal(rng.randrange(0, 9000)) / 4,
                                               "owner_id": rng.choice(user_ids),
                                               "source": rng.choice(["", "web", "event", "partner"])}, None)
        elif action == "pipeline":
            update_opportunity(session, deal, {"pipeline_id": rng.choice(pipelines)}, None)
        elif action == "trash":
            delete_opportunity(session, deal, None)
            deals.remove(deal)
            trashed.append(deal)
        elif action == "restore" and trashed:
            back = trashed.pop()
            restore(back)
            session.flush()
            deals.append(back)
        elif action == "delete":
            session.delete(deal)
            session.flush()
            deals.remove(deal)
        elif action == "backdate":
            deal.created_at = NOW - timedelta(days=rng.randrange(0, 420))
            session.flush()
    return [deal.id for deal in deals]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tallies_kept_through_any_changes_equal_a_rebuild_from_the_deals(app, company, admin, rep, seed):
    def work(session):
        _shuffle_deals(session, company.id, [admin.id, rep.id, None], seed)
        kept = tally_rows(session, company.id)
        rebuild(session, company.id)
        rebuilt = tally_rows(session, company.id)
        return kept, rebuilt
    kept, rebuilt = in_company(app, company, work)
    assert rebuilt["created"] and rebuilt["closed"]
    assert kept == rebuilt


def test_the_report_from_tallies_and_edges_equals_the_report_from_the_deals_alone(app, company, admin, rep,
                                                                                   monkeypatch):
    in_company(app, company, lambda session: _shuffle_deals(session, company.id, [admin.id, rep.id, None], seed=7,
                                                            steps=120))

    def work(session):
        pipeline_id = default_pipeline(session, company.id).id
        today = NOW.date()
        periods = [Period("custom", today - timedelta(days=200), today - timedelta(days=10)),
                   period_of("last_12_months", today), period_of("all", today), period_of("this_month", today)]
        scopes = [Scope(company.id), Scope(company.id, [rep.id]), Scope(company.id, nothing=True)]
        reports = []
        for period in periods:
            for scope in scopes:
                for group_by in ("owner", "team", "source"):
                    for owner_id in (None, rep.id):
                        query = FunnelQuery(pipeline_id, period, owner_id=owner_id, group_by=group_by)
                        reports.append(funnel_report(session, query, scope))
        return reports, periods

    with_tallies, periods = in_company(app, company, work)
    assert any(whole_months(period) for period in periods)
    assert any(report.total.created and report.total.won for report in with_tallies)
    monkeypatch.setattr(funnel, "whole_months", lambda period: None)  # every day an edge: the deals only
    from_deals, _periods = in_company(app, company, work)

    def figures(report):
        total = report.total
        return ([(s.id, s.reached) for s in report.stages],
                [(g.key, g.label, g.created, g.won, g.lost, g.won_amount, round(g.won_days, 3))
                 for g in report.groups],
                (total.created, total.won, total.lost, total.won_amount, round(total.won_days, 3)))

    assert [figures(report) for report in with_tallies] == [figures(report) for report in from_deals]


def test_whole_months_are_the_months_inside_the_period_and_the_rest_are_edges():
    assert whole_months(Period("custom", date(2026, 1, 15), date(2026, 4, 10))) == (date(2026, 2, 1), date(2026, 4, 1))
    assert whole_months(Period("custom", date(2026, 1, 1), date(2026, 1, 31))) == (date(2026, 1, 1), date(2026, 2, 1))
    assert whole_months(Period("custom", date(2026, 1, 2), date(2026, 2, 27))) is None
    assert whole_months(period_of("all", date(2026, 11, 25))) == (date(1970, 1, 1), date(2026, 11, 1))


def test_the_furthest_open_stage_follows_forward_moves_only_and_restarts_in_another_pipeline(app, company, admin):
    pipeline_id, s = default_ids(app, company)

    def work(session):
        deal = create_opportunity(session, company.id, {"name": "Deal", "stage_id": s["Qualification"]}, admin.id)
        seen = [deal.furthest_stage_id]
        for name in ("Proposal", "Needs analysis", "Won"):
            change_stage(session, deal, s[name], admin.id)
            seen.append(deal.furthest_stage_id)
        other = _second_pipeline(session, company.id)
        update_opportunity(session, deal, {"pipeline_id": other}, admin.id)
        seen.append(session.get(Stage, deal.furthest_stage_id).name)
        lost = create_opportunity(session, company.id, {"name": "Lost at once", "stage_id": s["Lost"],
                                                        "lost_reason_id": _reason(session, company.id)}, admin.id)
        return seen, lost.furthest_stage_id

    seen, lost_furthest = in_company(app, company, work)
    assert seen == [s["Qualification"], s["Proposal"], s["Proposal"], s["Proposal"], "Lead in"]
    assert lost_furthest is None


def test_the_all_time_period_counts_every_deal_on_the_page_and_in_the_api(client, app, company, admin):
    pipeline_id, s = default_ids(app, company)

    def work(session):
        for days, stage in ((900, "Won"), (400, "Lost"), (3, "Proposal"), (0, "Won")):
            deal = create_opportunity(session, company.id, {
                "name": "Deal", "stage_id": s[stage], "amount": Decimal(100),
                "lost_reason_id": _reason(session, company.id) if stage == "Lost" else None}, admin.id)
            deal.created_at = NOW - timedelta(days=days)
            if deal.closed_at is not None:
                deal.closed_at = NOW - timedelta(days=days // 2)
        session.flush()
    in_company(app, company, work)

    page = client.get(PAGE + "?period=all&group=owner")
    assert page.status_code == 200
    assert "All time" in page.get_data(as_text=True)
    body = client.get(API + "?period=all").get_json()
    assert body["period"]["key"] == "all"
    assert (body["total"]["created"], body["total"]["won"], body["total"]["lost"]) == (4, 2, 1)
    assert body["total"]["won_amount"] == "200.00"
    assert client.get(API + "?period=last_12_months").get_json()["total"]["created"] == 2


def test_a_rep_sees_only_their_own_deals_in_the_tallied_months(client, app, company, admin, rep, login_as):
    pipeline_id, s = default_ids(app, company)

    def work(session):
        for owner in (admin.id, rep.id, rep.id):
            deal = create_opportunity(session, company.id, {"name": "Deal", "stage_id": s["Won"], "owner_id": owner,
                                                            "amount": Decimal(10)}, admin.id)
            deal.created_at = deal.closed_at = NOW - timedelta(days=200)
        session.flush()
    in_company(app, company, work)
    assert client.get(API + "?period=all").get_json()["total"]["won"] == 3
    login_as(rep)
    assert client.get(API + "?period=all").get_json()["total"]["won"] == 2


def test_the_migration_sql_backfills_the_furthest_stage_and_fills_the_tallies_as_a_rebuild(app, company, admin):
    from importlib import import_module

    migration = import_module("plugins.sales.migrations.6b1d2e3f4a50_funnel_tallies")
    pipeline_id, s = default_ids(app, company)

    def work(session):
        _shuffle_deals(session, company.id, [admin.id, None], seed=5, steps=60)
        expected = dict(session.execute(select(Opportunity.id, Opportunity.furthest_stage_id)
                                        .execution_options(include_deleted=True)).all())
        rebuild(session, company.id)
        tallies = tally_rows(session, company.id)
        connection = session.connection()
        connection.execute(update(Opportunity.__table__).values(furthest_stage_id=None))
        connection.execute(delete(FunnelCreated.__table__))
        connection.execute(delete(FunnelClosed.__table__))
        connection.execute(text(migration.BACKFILL_FURTHEST))
        for statement in migration.tally_statements(connection.dialect.name):
            connection.execute(text(statement))
        backfilled = dict(session.execute(select(Opportunity.id, Opportunity.furthest_stage_id)
                                          .execution_options(include_deleted=True, populate_existing=True)).all())
        return expected, backfilled, tallies, tally_rows(session, company.id)

    expected, backfilled, tallies, migrated = in_company(app, company, work)
    assert expected and backfilled == expected
    assert migrated == tallies


def test_rebuild_counts_deals_written_with_core_inserts(app, company, admin):
    pipeline_id, s = default_ids(app, company)

    def work(session):
        session.execute(Opportunity.__table__.insert(), [
            {"company_id": company.id, "name": f"Bulk {n}", "pipeline_id": pipeline_id, "stage_id": s["Won"],
             "furthest_stage_id": s["Proposal"], "amount": Decimal(5), "currency": "USD", "source": "",
             "probability": 100, "probability_set_by_rep": False, "note": "",
             "created_at": NOW - timedelta(days=100), "updated_at": NOW, "closed_at": NOW - timedelta(days=40)}
            for n in range(3)])
        before = tally_rows(session, company.id)
        rebuild(session, company.id)
        return before, tally_rows(session, company.id)

    before, after = in_company(app, company, work)
    assert before == {"created": set(), "closed": set(), "open": set()}
    assert sum(row[-1] for row in after["created"]) == 3
    (closed,) = after["closed"]
    assert closed[-3:] == (3, "15.00", 180.0)


def test_tallies_leave_out_trashed_deals_and_take_them_back_on_restore(app, company, admin):
    pipeline_id, s = default_ids(app, company)

    def work(session):
        deal = create_opportunity(session, company.id, {"name": "Deal", "stage_id": s["Won"]}, admin.id)
        counted = tally_rows(session, company.id)
        delete_opportunity(session, deal, admin.id)
        trashed = tally_rows(session, company.id)
        restore(deal)
        session.flush()
        return counted, trashed, tally_rows(session, company.id)

    counted, trashed, restored = in_company(app, company, work)
    assert len(counted["created"]) == len(counted["closed"]) == 1
    assert trashed == {"created": set(), "closed": set(), "open": set()}
    assert restored == counted


def test_a_change_to_an_unloaded_deal_takes_its_old_values_from_the_database(app, company, admin):
    pipeline_id, s = default_ids(app, company)
    deal_id = in_company(app, company, lambda session: create_opportunity(
        session, company.id, {"name": "Deal", "stage_id": s["Won"], "amount": Decimal(7)}, admin.id).id)

    def work(session):
        deal = session.get(Opportunity, deal_id)
        session.expire(deal)
        deal.source = "web"  # set without loading: no old value in the attribute history
        deal.amount = Decimal(9)
        session.flush()
        kept = tally_rows(session, company.id)
        rebuild(session, company.id)
        return kept, tally_rows(session, company.id)

    kept, rebuilt = in_company(app, company, work)
    assert kept == rebuilt


def test_the_month_of_a_moment_is_its_utc_month():
    from plugins.sales.funnel_tally import month_of

    assert month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 3, 1)
    assert month_of(datetime(2026, 4, 1, 1, 0)) == date(2026, 4, 1)
    assert month_of(utcnow()) == utcnow().date().replace(day=1)



def test_the_rebuild_command_recomputes_a_companys_tallies(app, runner, company, admin):
    from core.cli import cli

    pipeline_id, s = default_ids(app, company)
    in_company(app, company, lambda session: session.execute(Opportunity.__table__.insert(), [
        {"company_id": company.id, "name": "Bulk", "pipeline_id": pipeline_id, "stage_id": s["Proposal"],
         "furthest_stage_id": s["Proposal"], "amount": Decimal(5), "currency": "USD", "source": "", "probability": 50,
         "probability_set_by_rep": False, "note": "", "created_at": NOW, "updated_at": NOW}]))
    result = runner.invoke(cli, ["sales", "rebuild-funnel", "--company", company.slug])
    assert result.exit_code == 0, result.output
    assert "Rebuilt" in result.output
    rows = in_company(app, company, lambda session: tally_rows(session, company.id))
    assert [row[-1] for row in rows["created"]] == [1]
    assert runner.invoke(cli, ["sales", "rebuild-funnel", "--company", "nope"]).exit_code != 0


def test_changing_what_the_tallies_do_not_read_costs_the_listeners_nothing(app, company, admin, monkeypatch):
    """A note or a name edited: the listeners neither read the deal's tallied columns (which
    may cost a query per deal) nor write a tally; an amount edited: they do both."""
    from plugins.sales import funnel_tally

    reads = []
    read = funnel_tally._values
    monkeypatch.setattr(funnel_tally, "_values", lambda *args, **kwargs: reads.append(1) or read(*args, **kwargs))

    def work(session):
        deal = create_opportunity(session, company.id, {"name": "Quiet", "amount": 100}, admin.id)
        session.flush()
        reads.clear()
        deal.note = "Called, no news"
        deal.name = "Quiet deal"
        session.flush()
        quiet = len(reads)
        deal.amount = 200
        session.flush()
        return quiet, len(reads) - quiet
    assert in_company(app, company, work) == (0, 2)  # the old values out, the new ones in
