"""The sales funnel report: stage reach and conversion from the stage history, win rate, deal
size and sales cycle of the deals closed in the period, filters, breakdowns, visibility, the
CSV/XLSX exports, the API, the "Pipeline summary" home card, bounded queries, empty state."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.models import Team
from core.testing import counting_queries
from plugins.sales.funnel import FunnelError, parse_query, period_of
from plugins.sales.models import Opportunity, Stage, StageChange
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.customers.test_api import token_for
from tests.plugins.sales.helpers import default_ids, in_company

PAGE = "/sales/reports/funnel"
API = "/api/v1/sales/reports/funnel"
NOW = datetime.now(UTC).replace(microsecond=0)


def deal(session, company_id: int, pipeline_id: int, path: list[int], *, created: datetime,
         closed: datetime | None = None, amount: int = 0, owner_id: int | None = None, team_id: int | None = None,
         source: str = "", probability: int = 0) -> int:
    """A deal that went through the stages ``path`` (its history rows), now in the last one;
    its furthest open stage is what the stage changes of plugins.sales.opportunities keep."""
    furthest = session.scalar(select(Stage.id).where(Stage.id.in_(path), Stage.is_won.is_(False),
                                                     Stage.is_lost.is_(False))
                              .order_by(Stage.position.desc(), Stage.id.desc()).limit(1))
    opportunity = Opportunity(company_id=company_id, name="Deal", pipeline_id=pipeline_id, stage_id=path[-1],
                              furthest_stage_id=furthest,
                              amount=Decimal(amount), currency="USD", owner_id=owner_id, team_id=team_id,
                              source=source, probability=probability, created_at=created, closed_at=closed,
                              stage_entered_at=closed or created)
    session.add(opportunity)
    session.flush()
    previous = None
    for step, stage_id in enumerate(path):
        session.add(StageChange(company_id=company_id, opportunity_id=opportunity.id, from_stage_id=previous,
                                to_stage_id=stage_id, changed_at=created + timedelta(hours=step)))
        previous = stage_id
    session.flush()
    return opportunity.id


@pytest.fixture
def rep(app, company, admin):
    return make_member(app, company, "rep@example.com", "Rita Rep")


@pytest.fixture
def data(app, company, admin, rep):
    """Six deals created in the last 12 months (A–F) and one old deal won lately (G).

    Furthest stages: A won, B Needs analysis (then lost), C Proposal, D Qualification,
    E Proposal (moved back to Needs analysis), F won without open stages."""
    pipeline_id, s = default_ids(app, company)
    q, n, p, won, lost = (s[name] for name in ("Qualification", "Needs analysis", "Proposal", "Won", "Lost"))

    def work(session):
        team = Team(company_id=company.id, name="East")
        session.add(team)
        session.flush()
        ago = lambda days: NOW - timedelta(days=days)
        ids = {
            "A": deal(session, company.id, pipeline_id, [q, n, p, won], created=ago(40), closed=ago(10), amount=1000,
                      owner_id=admin.id, source="web"),
            "B": deal(session, company.id, pipeline_id, [q, n, lost], created=ago(30), closed=ago(5), amount=500,
                      owner_id=rep.id, source="web"),
            "C": deal(session, company.id, pipeline_id, [q, n, p], created=ago(25), amount=300, owner_id=rep.id,
                      team_id=team.id, source="referral"),
            "D": deal(session, company.id, pipeline_id, [q], created=ago(20), owner_id=admin.id, team_id=team.id),
            "E": deal(session, company.id, pipeline_id, [q, p, n], created=ago(15), amount=200, owner_id=admin.id,
                      source="referral"),
            "F": deal(session, company.id, pipeline_id, [won], created=ago(20), closed=ago(14), amount=3000,
                      owner_id=rep.id, source="web"),
            "G": deal(session, company.id, pipeline_id, [q, won], created=ago(730), closed=ago(3), amount=2000,
                      owner_id=admin.id, source="event"),
        }
        return {"pipeline": pipeline_id, "team": team.id, "stages": s, **ids}
    return in_company(app, company, work)


def api_get(client, app, company, **params):
    headers = token_for(app, company, scopes="sales:*")
    return client.get(API, query_string=params, headers=headers)


def reach(body) -> dict[str, int]:
    return {stage["name"]: stage["reached"] for stage in body["stages"]}


# -- the figures -----------------------------------------------------------------------------------


def test_stage_reach_counts_each_deals_furthest_open_stage_and_won_deals_reach_every_stage(client, app, company, data):
    body = api_get(client, app, company).get_json()
    assert reach(body) == {"Qualification": 6, "Needs analysis": 5, "Proposal": 4, "Negotiation": 2, "Won": 2}
    conversions = [stage["conversion"] for stage in body["stages"]]
    assert conversions == [pytest.approx(5 / 6), pytest.approx(4 / 5), pytest.approx(2 / 4), pytest.approx(1.0), None]
    assert [stage["of_first"] for stage in body["stages"]][:2] == [pytest.approx(1.0), pytest.approx(5 / 6)]


def test_win_rate_size_and_cycle_count_the_deals_closed_in_the_period(client, app, company, data):
    total = api_get(client, app, company).get_json()["total"]
    assert total["created"] == 6  # G was created two years ago
    assert (total["won"], total["lost"]) == (3, 1)  # A, F and G won, B lost
    assert total["win_rate"] == pytest.approx(0.75)
    assert total["won_amount"] == "6000.00" and total["average_size"] == "2000.00"
    assert total["average_cycle_days"] == pytest.approx((30 + 6 + 727) / 3, abs=0.05)


def test_the_breakdown_groups_by_owner_team_and_source(client, app, company, data, admin, rep):
    by_owner = {row["key"]: row for row in api_get(client, app, company, group_by="owner").get_json()["groups"]}
    assert {key: (row["created"], row["won"], row["lost"], row["won_amount"]) for key, row in by_owner.items()} == {
        admin.id: (3, 2, 0, "3000.00"), rep.id: (3, 1, 1, "3000.00")}
    assert by_owner[rep.id]["label"] == "Rita Rep" and by_owner[rep.id]["win_rate"] == pytest.approx(0.5)
    assert by_owner[admin.id]["average_cycle_days"] == pytest.approx((30 + 727) / 2, abs=0.05)
    by_team = {row["label"]: row["created"] for row in api_get(client, app, company, group_by="team").get_json()["groups"]}
    assert by_team == {"East": 2, "No team": 4}
    by_source = {row["label"]: (row["created"], row["won"])
                 for row in api_get(client, app, company, group_by="source").get_json()["groups"]}
    assert by_source == {"web": (3, 2), "referral": (2, 0), "No source": (1, 0), "event": (0, 1)}


def test_filters_by_owner_team_source_and_period(client, app, company, data, rep):
    web = api_get(client, app, company, source="web").get_json()
    assert reach(web) == {"Qualification": 3, "Needs analysis": 3, "Proposal": 2, "Negotiation": 2, "Won": 2}
    assert (web["total"]["won"], web["total"]["lost"]) == (2, 1)
    mine = api_get(client, app, company, owner_id=rep.id).get_json()["total"]
    assert (mine["created"], mine["won"], mine["lost"]) == (3, 1, 1)
    team = api_get(client, app, company, team_id=data["team"]).get_json()
    assert reach(team)["Qualification"] == 2 and reach(team)["Proposal"] == 1
    # From 16 to 11 days ago: E created; F won (A closed 10 days ago, B 5).
    recent = api_get(client, app, company, **{"from": (NOW - timedelta(days=16)).date().isoformat(),
                                               "to": (NOW - timedelta(days=11)).date().isoformat()}).get_json()
    assert recent["period"]["key"] == "custom" and recent["total"]["created"] == 1
    assert (recent["total"]["won"], recent["total"]["lost"]) == (1, 0)


def test_a_rep_sees_the_figures_of_their_own_deals_only(client, app, company, data, rep, login_as):
    total = client.get(API, headers=token_for(app, company, rep, scopes="sales:*")).get_json()["total"]
    assert (total["created"], total["won"], total["lost"]) == (3, 1, 1)
    login_as(rep)
    page = client.get(PAGE)
    assert page.status_code == 200
    breakdown = page.get_data(as_text=True).split("Breakdown by", 1)[1]
    assert "Rita Rep" in breakdown and company.admin.name not in breakdown


def test_trashed_deals_are_left_out(client, app, company, data):
    def trash(session):
        session.get(Opportunity, data["A"]).deleted_at = utcnow()
    in_company(app, company, trash)
    body = api_get(client, app, company).get_json()
    assert body["total"]["created"] == 5 and reach(body)["Won"] == 1


# -- periods and bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "first", "last"), [
    ("this_month", date(2024, 2, 1), date(2024, 2, 29)),
    ("last_month", date(2024, 1, 1), date(2024, 1, 31)),
    ("this_quarter", date(2024, 1, 1), date(2024, 3, 31)),
    ("last_quarter", date(2023, 10, 1), date(2023, 12, 31)),
    ("this_year", date(2024, 1, 1), date(2024, 12, 31)),
    ("last_12_months", date(2023, 2, 16), date(2024, 2, 15)),
])
def test_periods_are_whole_days_seen_from_today(key, first, last):
    period = period_of(key, date(2024, 2, 15))
    assert (period.first, period.last) == (first, last)
    assert period.end - period.start == timedelta(days=(last - first).days + 1)


def test_bad_filters_are_refused_naming_each_parameter(app):
    with app.test_request_context():
        with pytest.raises(FunnelError) as caught:
            parse_query({"period": "fortnight", "owner": "x", "group": "colour", "pipeline": "99"}, date(2024, 2, 15),
                        1, [1])
        assert set(caught.value.errors) == {"period", "owner", "group", "pipeline"}
        with pytest.raises(FunnelError) as caught:
            parse_query({"from": "2024-03-01", "to": "2024-01-01"}, date(2024, 2, 15), 1, [1])
        assert set(caught.value.errors) == {"to"}


def test_the_page_and_the_api_answer_400_on_bad_filters(client, app, company, admin):
    page = client.get(PAGE, query_string={"period": "custom", "from": "yesterday"})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "is not a date" in text and 'value="yesterday"' in text  # what was typed stays
    problem = api_get(client, app, company, group_by="colour")
    assert problem.status_code == 400 and "group_by" in problem.get_json()["errors"]


# -- pages and exports -----------------------------------------------------------------------------


def test_the_page_shows_the_funnel_the_breakdown_and_the_chart_data(client, app, company, data):
    page = client.get(PAGE, query_string={"group": "source"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-chart-config="funnel-chart"' in text and "chart.umd.min.js" in text
    assert "75.0 %" in text  # the win rate
    assert "referral" in text and "No source" in text


def test_the_csv_export_has_both_tables_and_neutralises_formulas(client, app, company, data):
    def rename(session):
        session.get(Opportunity, data["C"]).source = "=HYPERLINK(\"http://evil\")"
    in_company(app, company, rename)
    response = client.get(f"{PAGE}.csv", query_string={"group": "source"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Stages"] and rows[2][:2] == ["Qualification", "6"]
    labels = [row[0] for row in rows if row]
    assert "'=HYPERLINK(\"http://evil\")" in labels and "=HYPERLINK(\"http://evil\")" not in labels
    total = next(row for row in rows if row and row[0] == "Total")
    assert total[1:6] == ["6", "3", "1", "75.0", "6000.00"]


def test_the_xlsx_export_has_two_sheets_with_numbers(client, app, company, data):
    from openpyxl import load_workbook

    response = client.get(f"{PAGE}.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Stages", "Breakdown"]
    assert [cell.value for cell in book["Stages"][2]][:2] == ["Qualification", 6]


def test_the_page_runs_the_same_number_of_queries_for_5_and_50_deals(client, app, company, admin):
    pipeline_id, s = default_ids(app, company)

    def add(count):
        def work(session):
            for number in range(count):
                deal(session, company.id, pipeline_id, [s["Qualification"], s["Won"] if number % 2 else s["Lost"]],
                     created=NOW - timedelta(days=3), closed=NOW - timedelta(days=1), amount=10, owner_id=admin.id,
                     source=f"s{number % 3}")
        in_company(app, company, work)

    def queries():
        with counting_queries(app) as statements:
            assert client.get(PAGE, query_string={"group": "source"}).status_code == 200
        return len(statements)
    add(5)
    few = queries()
    add(45)
    assert queries() == few


def test_with_no_deals_the_page_says_so_without_dividing_by_zero(client, app, company, admin):
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "No deals in this period yet" in page.get_data(as_text=True)
    body = api_get(client, app, company).get_json()
    assert body["empty"] is True and body["total"]["win_rate"] is None and body["total"]["average_size"] is None
    assert all(stage["reached"] == 0 and stage["conversion"] is None for stage in body["stages"])


def test_the_report_needs_the_opportunity_read_permission(client, app, company, login_as):
    company.enable("sales")
    nobody = make_member(app, company, "nobody@example.com", "No Role", template=None)
    login_as(nobody)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}.csv").status_code == 403


# -- the home card ---------------------------------------------------------------------------------


def test_the_pipeline_summary_card_shows_open_deals_per_stage_and_won_this_month(client, app, company, admin):
    pipeline_id, s = default_ids(app, company)
    month_start = NOW.replace(day=1, hour=0, minute=0, second=0)

    def work(session):
        deal(session, company.id, pipeline_id, [s["Qualification"]], created=NOW, amount=1000, probability=10)
        deal(session, company.id, pipeline_id, [s["Qualification"]], created=NOW, amount=500, probability=20)
        deal(session, company.id, pipeline_id, [s["Proposal"]], created=NOW, amount=2000, probability=50)
        deal(session, company.id, pipeline_id, [s["Won"]], created=NOW, closed=NOW, amount=700)
        deal(session, company.id, pipeline_id, [s["Won"]], created=month_start - timedelta(days=40),
             closed=month_start - timedelta(days=1), amount=9999)
        deal(session, company.id, pipeline_id, [s["Lost"]], created=NOW, closed=NOW, amount=123)
    in_company(app, company, work)

    from plugins.sales.funnel import pipeline_summary
    with app.test_request_context():
        from core.db import get_session
        from core.scoping import company_scope
        session = get_session()
        with company_scope(session, company.id):
            summary = pipeline_summary(session, lambda statement: statement, NOW.date())
    stages = {stage.name: (stage.count, stage.amount, stage.weighted) for stage in summary.stages}
    assert stages["Qualification"] == (2, Decimal(1500), Decimal(200))
    assert stages["Proposal"] == (1, Decimal(2000), Decimal(1000))
    assert (summary.open_count, summary.open_amount, summary.weighted_amount) == (3, Decimal(3500), Decimal(1200))
    assert (summary.won_count, summary.won_amount) == (1, Decimal(700))

    card = client.get("/dashboard/widgets/sales.pipeline_summary", headers={"HX-Request": "true"})
    text = card.get_data(as_text=True)
    assert card.status_code == 200 and "$3,500.00" in text and "$1,200.00" in text and "$700.00" in text


def test_the_breakdown_by_month_counts_deals_created_and_closed_in_each_month_latest_first(client, app, company,
                                                                                          data):
    def months(session):
        rows = session.execute(select(Opportunity.created_at, Opportunity.closed_at, Stage.is_won)
                               .join(Stage, Stage.id == Opportunity.stage_id)).all()
        expected: dict[str, list[int]] = {}
        for created, closed, won in rows:
            expected.setdefault(created.strftime("%Y-%m-01"), [0, 0, 0])[0] += 1
            if closed is not None:
                expected.setdefault(closed.strftime("%Y-%m-01"), [0, 0, 0])[1 if won else 2] += 1
        return expected
    expected = in_company(app, company, months)
    groups = api_get(client, app, company, group_by="month", period="all").get_json()["groups"]
    assert {row["key"]: [row["created"], row["won"], row["lost"]] for row in groups} == expected
    assert [row["key"] for row in groups] == sorted(expected, reverse=True)
    page = client.get("/sales/reports/funnel?period=all&group=month").text
    assert groups[0]["label"] in page and "Month" in page
