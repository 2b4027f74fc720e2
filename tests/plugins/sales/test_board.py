"""The board of a pipeline: columns with their figures, filters shared with the list, record
visibility, "load more", moves (with their rules, history and undo), bounded queries; and the
follow-up dates the customers plugin keeps in step on leads and deals."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.models import Team, TeamMember
from core.testing import counting_queries
from plugins.sales.board import close_period
from plugins.sales.models import Lead, LostReason, Opportunity, StageChange
from plugins.sales.opportunities import create_opportunity
from plugins.sales.services import StageDraft, create_pipeline
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.sales.helpers import default_ids, in_company

BOARD = "/sales/opportunities/board"


def new_deal(app, company, owner_id, name="Deal", **data) -> int:
    def work(session):
        return create_opportunity(session, company.id, {"name": name, **data}, owner_id).id
    return in_company(app, company, work)


def column_html(html: str, stage_id: int) -> str:
    """The HTML of one column of the board."""
    start = html.index(f'id="board-column-{stage_id}"')
    end = html.find('<section class="board-column', start + 1)
    return html[start:end if end != -1 else len(html)]


def figures(html: str, stage_id: int) -> tuple[int, str]:
    """A column's count and total as shown."""
    part = column_html(html, stage_id)
    count = int(re.search(r'board-count"[^>]*>(\d+)<', part).group(1))
    total = re.search(r'board-total"[^>]*>([^<]+)<', part).group(1)
    return count, total


def names_in(html: str) -> set[str]:
    return set(re.findall(r'id="board-card-\d+-name"\s+href="[^"]+">([^<]+)</a>', html))


def a_reason(app, company) -> int:
    def work(session):
        reason = LostReason(company_id=company.id, name="Too expensive")
        session.add(reason)
        session.flush()
        return reason.id
    return in_company(app, company, work)


@pytest.fixture
def stages(app, company, admin):
    return default_ids(app, company)[1]


@pytest.fixture
def pipeline_id(app, company, admin):
    return default_ids(app, company)[0]


def test_columns_show_their_count_total_and_weighted_total(client, app, company, admin, stages):
    new_deal(app, company, admin.id, "Small", amount=Decimal("1000"), stage_id=stages["Proposal"])
    new_deal(app, company, admin.id, "Big", amount=Decimal("3000"), stage_id=stages["Proposal"])
    new_deal(app, company, admin.id, "Early", amount=Decimal("500"))
    html = client.get(BOARD).get_data(as_text=True)
    assert figures(html, stages["Proposal"]) == (2, "$4,000.00")
    assert "weighted $2,000.00" in column_html(html, stages["Proposal"])  # 50 %
    assert figures(html, stages["Qualification"]) == (1, "$500.00")
    assert figures(html, stages["Negotiation"]) == (0, "$0.00")
    assert {"Small", "Big", "Early"} <= names_in(html)
    assert "No opportunities here." in column_html(html, stages["Negotiation"])


def test_closed_columns_show_only_recently_closed_deals_and_say_so(client, app, company, admin, stages):
    reason = a_reason(app, company)
    recent = new_deal(app, company, admin.id, "Recent win", stage_id=stages["Won"])
    old = new_deal(app, company, admin.id, "Old win", stage_id=stages["Won"])
    new_deal(app, company, admin.id, "Lost one", stage_id=stages["Lost"], lost_reason_id=reason)

    def age(session):
        session.get(Opportunity, old).closed_at = utcnow() - timedelta(days=90)
    in_company(app, company, age)
    html = client.get(BOARD).get_data(as_text=True)
    won = column_html(html, stages["Won"])
    assert "Recent win" in won and "Old win" not in won and recent
    assert figures(html, stages["Won"])[0] == 1
    assert "Closed in the last 30 days" in won


def test_the_board_filters_by_owner_team_close_period_and_amount(client, app, company, admin, stages):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    today = date.today()
    new_deal(app, company, admin.id, "Admin deal", amount=Decimal("100"), expected_close_date=today)
    new_deal(app, company, rep.id, "Rep deal", amount=Decimal("5000"),
             expected_close_date=today + timedelta(days=70))
    new_deal(app, company, admin.id, "Late deal", amount=Decimal("900"), expected_close_date=today - timedelta(days=400))

    def team(session):
        row = Team(company_id=company.id, name="North")
        session.add(row)
        session.flush()
        session.add(TeamMember(team_id=row.id, user_id=rep.id))
        return row.id
    team_id = in_company(app, company, team)

    def shown(query: str) -> set[str]:
        return names_in(client.get(f"{BOARD}?{query}").get_data(as_text=True))
    assert shown(f"owner={rep.id}") == {"Rep deal"}
    assert shown(f"team={team_id}") == {"Rep deal"}
    assert shown("close=this_month") == {"Admin deal"}
    assert shown("close=overdue") == {"Late deal"}
    assert shown(f"close_from={today.isoformat()}") == {"Admin deal", "Rep deal"}
    assert shown("min_amount=500") == {"Rep deal", "Late deal"}
    assert shown("min_amount=500&max_amount=1000") == {"Late deal"}
    assert shown("q=rep") == {"Rep deal"}
    ignored = client.get(f"{BOARD}?min_amount=lots").get_data(as_text=True)
    assert "“lots” is not valid: ignored." in ignored
    assert names_in(ignored) == {"Admin deal", "Rep deal", "Late deal"}


def test_close_periods_cover_whole_months_and_quarters():
    assert close_period("this_month", date(2026, 12, 15)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert close_period("next_month", date(2026, 12, 15)) == (date(2027, 1, 1), date(2027, 1, 31))
    assert close_period("this_quarter", date(2026, 11, 25)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert close_period("overdue", date(2026, 11, 25)) == (None, date(2026, 11, 24))
    assert close_period("someday") is None


def test_the_list_reads_the_same_filters(client, app, company, admin, stages):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    new_deal(app, company, admin.id, "Admin deal", amount=Decimal("100"))
    new_deal(app, company, rep.id, "Rep deal", amount=Decimal("5000"))
    html = client.get(f"/sales/opportunities/?owner={rep.id}&min_amount=1000").get_data(as_text=True)
    assert "Rep deal" in html and "Admin deal" not in html
    # The tabs carry the filters from one view to the other.
    assert f'/sales/opportunities/board?owner={rep.id}&amp;min_amount=1000' in html
    board = client.get(f"{BOARD}?owner={rep.id}").get_data(as_text=True)
    assert f'/sales/opportunities/?owner={rep.id}' in board


def test_a_sales_rep_sees_only_their_own_deals_on_the_board(client, app, company, admin, login_as, stages):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    new_deal(app, company, rep.id, "Rita deal", amount=Decimal("10"))
    new_deal(app, company, admin.id, "Boss deal", amount=Decimal("99"))
    login_as(rep)
    html = client.get(BOARD).get_data(as_text=True)
    assert names_in(html) == {"Rita deal"}
    assert figures(html, stages["Qualification"]) == (1, "$10.00")


def test_load_more_continues_a_column_after_its_cursor(client, app, company, admin, stages):
    today = date.today()
    for number in range(23):
        new_deal(app, company, admin.id, f"Deal {number:02d}", expected_close_date=today + timedelta(days=number))
    new_deal(app, company, admin.id, "Undated")
    html = client.get(BOARD).get_data(as_text=True)
    first = names_in(column_html(html, stages["Qualification"]))
    assert first == {f"Deal {number:02d}" for number in range(20)}
    more = re.search(r'hx-get="(/sales/opportunities/board/column/[^"]+)"', html).group(1).replace("&amp;", "&")
    rest = client.get(more).get_data(as_text=True)
    assert names_in(rest) == {"Deal 20", "Deal 21", "Deal 22", "Undated"}  # undated deals come last
    assert "board-more" not in rest
    assert client.get(f"{BOARD}/column/{stages['Qualification']}?after=nonsense").status_code == 400


def test_moving_a_card_changes_its_stage_records_history_and_redraws_both_columns(client, app, company, admin,
                                                                                  stages):
    deal = new_deal(app, company, admin.id, "Mover", amount=Decimal("700"))
    response = client.post(f"/sales/opportunities/{deal}/move", data={"stage_id": stages["Proposal"]},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="board-column-{stages["Proposal"]}"' in html and 'hx-swap-oob="outerHTML"' in html
    assert figures(html, stages["Proposal"]) == (1, "$700.00")
    assert figures(html, stages["Qualification"]) == (0, "$0.00")
    assert "Undo" in html

    def moves(session):
        return [row.to_stage_id for row in session.scalars(
            select(StageChange).where(StageChange.opportunity_id == deal).order_by(StageChange.id))]
    assert in_company(app, company, moves) == [stages["Qualification"], stages["Proposal"]]
    undo = re.search(r'hx-post="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.post(undo, headers={"HX-Request": "true"}).status_code == 200
    assert in_company(app, company, lambda s: s.get(Opportunity, deal).stage_id) == stages["Qualification"]


def test_the_move_to_form_without_javascript_redirects_to_the_board_with_undo(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Phone deal")
    response = client.post(f"/sales/opportunities/{deal}/move", data={"stage_id": stages["Negotiation"]})
    assert response.status_code == 302 and "/sales/opportunities/board" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "moved to “Negotiation”" in page and "Undo" in page
    assert in_company(app, company, lambda s: s.get(Opportunity, deal).stage_id) == stages["Negotiation"]


def test_moving_to_lost_without_a_reason_is_refused_and_changes_nothing(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Keeper")
    response = client.post(f"/sales/opportunities/{deal}/move", data={"stage_id": stages["Lost"]},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.headers["X-Board-Needs-Lost-Reason"] == "1"
    assert "Say why the deal was lost." in response.get_data(as_text=True)
    assert in_company(app, company, lambda s: s.get(Opportunity, deal).stage_id) == stages["Qualification"]
    reason = a_reason(app, company)
    again = client.post(f"/sales/opportunities/{deal}/move",
                        data={"stage_id": stages["Lost"], "lost_reason_id": reason}, headers={"HX-Request": "true"})
    assert again.status_code == 200, again.get_data(as_text=True)
    assert in_company(app, company, lambda s: s.get(Opportunity, deal).lost_reason_id) == reason


def test_moving_to_a_stage_of_another_pipeline_is_refused(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Stay")
    other = in_company(app, company, lambda s: create_pipeline(
        s, company.id, "Renewals", [StageDraft(None, "Talk", 10, "open"), StageDraft(None, "Done", 100, "won"),
                                           StageDraft(None, "Gone", 0, "lost")]).id)
    from plugins.sales.models import Stage
    foreign = in_company(app, company, lambda s: s.scalar(select(Stage.id).where(Stage.pipeline_id == other).limit(1)))
    response = client.post(f"/sales/opportunities/{deal}/move", data={"stage_id": foreign},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "not a stage of the opportunity" in response.get_data(as_text=True)
    assert in_company(app, company, lambda s: s.get(Opportunity, deal).stage_id) == stages["Qualification"]


def test_a_rep_cannot_move_a_deal_they_cannot_see(client, app, company, admin, login_as, stages):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    deal = new_deal(app, company, admin.id, "Boss deal")
    login_as(rep)
    assert client.post(f"/sales/opportunities/{deal}/move", data={"stage_id": stages["Proposal"]}).status_code == 404


def test_the_board_runs_the_same_number_of_queries_for_5_and_50_deals(client, app, company, admin, stages):
    account_id = add_account(app, company, "Initech")
    names = list(stages)
    for number in range(5):
        new_deal(app, company, admin.id, f"Few {number}", account_id=account_id,
                 stage_id=stages[names[number % 4]], amount=Decimal(number))
    with counting_queries(app) as few:
        assert client.get(BOARD).status_code == 200
    for number in range(45):
        new_deal(app, company, admin.id, f"Many {number}", account_id=account_id,
                 stage_id=stages[names[number % 4]], amount=Decimal(number))
    with counting_queries(app) as many:
        html = client.get(BOARD).get_data(as_text=True)
    assert len(many) == len(few)
    assert "Initech" in html and "Load more" not in html
    assert len(few) <= 20


def test_the_board_of_an_unknown_pipeline_is_not_found(client, admin):
    assert client.get(f"{BOARD}?pipeline=999999").status_code == 404
    assert client.get(f"{BOARD}?pipeline=abc").status_code == 404


def test_cards_with_a_passed_close_date_or_a_late_follow_up_are_marked_overdue(client, app, company, admin, stages):
    today = date.today()
    late = new_deal(app, company, admin.id, "Late close", expected_close_date=today - timedelta(days=3))
    chase = new_deal(app, company, admin.id, "Chase", expected_close_date=today + timedelta(days=30))
    fine = new_deal(app, company, admin.id, "Fine", expected_close_date=today + timedelta(days=30))

    def late_task(session):
        from plugins.customers.followups import create_task
        create_task(session, title="Call back", due_at=utcnow() - timedelta(days=1),
                    subject_type="sales_opportunity", subject_id=chase, assignee_id=admin.id)
    in_company(app, company, late_task)
    html = client.get(BOARD).get_data(as_text=True)

    def card(deal_id: int) -> str:
        start = html.index(f'data-id="{deal_id}"')
        return html[start:html.index("</article>", start)]
    assert "board-overdue" in card(late) and "Close date passed" in card(late)
    assert "board-overdue" in card(chase) and "Follow-up overdue" in card(chase)
    assert "board-overdue" not in card(fine)


# -- follow-up dates kept in step ---------------------------------------------------------------


def test_follow_ups_keep_a_deals_dates_in_step_and_reach_its_accounts_timeline(app, company, admin, stages):
    from plugins.customers.followups import complete_task, create_task, log_interaction, reopen_task, update_task
    from plugins.customers.models import FollowUpTask, Interaction

    account_id = add_account(app, company, "Globex")
    deal = new_deal(app, company, admin.id, "Globex deal", account_id=account_id)
    now = utcnow()

    def follow(session):
        log_interaction(session, subject_type="sales_opportunity", subject_id=deal, kind="call",
                        occurred_at=now - timedelta(hours=2), summary="Talked", owner_id=admin.id)
        first = create_task(session, title="Send quote", due_at=now + timedelta(days=3),
                            subject_type="sales_opportunity", subject_id=deal, assignee_id=admin.id)
        create_task(session, title="Check in", due_at=now + timedelta(days=9),
                    subject_type="sales_opportunity", subject_id=deal, assignee_id=admin.id)
        return first.id
    first_id = in_company(app, company, follow)

    def dates(session):
        row = session.get(Opportunity, deal)
        return row.last_follow_up_at, row.next_follow_up_at

    def close(a, b):
        return abs((a.replace(tzinfo=None) - b.replace(tzinfo=None)).total_seconds()) < 1
    last, upcoming = in_company(app, company, dates)
    assert close(last, now - timedelta(hours=2)) and close(upcoming, now + timedelta(days=3))
    in_company(app, company, lambda s: complete_task(s, s.get(FollowUpTask, first_id)))
    assert close(in_company(app, company, dates)[1], now + timedelta(days=9))
    in_company(app, company, lambda s: reopen_task(s, s.get(FollowUpTask, first_id)))
    in_company(app, company, lambda s: update_task(s, s.get(FollowUpTask, first_id),
                                                   {"due_at": now + timedelta(days=1)}))
    assert close(in_company(app, company, dates)[1], now + timedelta(days=1))
    # Logged on the deal, seen on its account's timeline.
    assert in_company(app, company, lambda s: s.scalar(select(Interaction.account_id).where(
        Interaction.subject_type == "sales_opportunity"))) == account_id


def test_follow_ups_keep_a_leads_dates_in_step(app, company, admin):
    from plugins.customers.followups import complete_task, create_task, log_interaction
    from plugins.customers.models import FollowUpTask

    def add(session):
        lead = Lead(company_id=company.id, name="Lena Lead", owner_id=admin.id)
        session.add(lead)
        session.flush()
        return lead.id
    lead_id = in_company(app, company, add)
    now = utcnow()

    def follow(session):
        log_interaction(session, subject_type="sales_lead", subject_id=lead_id, kind="email",
                        occurred_at=now - timedelta(days=1), summary="Wrote", owner_id=admin.id)
        return create_task(session, title="Call", due_at=now + timedelta(days=2), subject_type="sales_lead",
                           subject_id=lead_id, assignee_id=admin.id).id
    task_id = in_company(app, company, follow)
    lead = in_company(app, company, lambda s: (s.get(Lead, lead_id).last_follow_up_at,
                                               s.get(Lead, lead_id).next_follow_up_at))
    assert lead[0] is not None and lead[1] is not None
    in_company(app, company, lambda s: complete_task(s, s.get(FollowUpTask, task_id)))
    assert in_company(app, company, lambda s: s.get(Lead, lead_id).next_follow_up_at) is None


def test_the_deal_page_shows_the_follow_up_panels(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Paneled")
    html = client.get(f"/sales/opportunities/{deal}").get_data(as_text=True)
    assert "Follow-up history" in html and "Follow-up tasks" in html


def test_the_board_tab_is_on_the_opportunities_list(client, admin, stages):
    html = client.get("/sales/opportunities/").get_data(as_text=True)
    assert 'href="/sales/opportunities/board"' in html


def test_a_deleted_deal_is_not_on_the_board(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Trashed")

    def trash(session):
        session.get(Opportunity, deal).deleted_at = utcnow()
    in_company(app, company, trash)
    assert "Trashed" not in names_in(client.get(BOARD).get_data(as_text=True))


def test_my_follow_ups_links_a_task_to_its_deal_and_marks_it_overdue(client, app, company, admin, stages):
    deal = new_deal(app, company, admin.id, "Linked deal")

    def task(session):
        from plugins.customers.followups import create_task
        create_task(session, title="Chase the signature", due_at=utcnow() - timedelta(days=2),
                    subject_type="sales_opportunity", subject_id=deal, assignee_id=admin.id)
    in_company(app, company, task)
    html = client.get("/customers/follow-ups/").get_data(as_text=True)
    start = html.index("Chase the signature")
    item = html[start:html.index("</li>", start)]
    assert f'href="/sales/opportunities/{deal}">Linked deal</a>' in item
    assert "Overdue" in item


def test_the_open_columns_figures_from_the_tally_equal_those_added_up_from_the_deals(client, app, company, admin,
                                                                                    login_as, stages):
    """The tally (per stage and owner) and the deals agree, for everyone, for one owner, and
    for a rep who sees their own deals only; after moves, amount changes and the trash. An
    amount filter ("from 0": every deal) makes the board add the deals up instead."""
    from core.trash import soft_delete
    from plugins.sales.opportunities import change_stage

    rep = make_member(app, company, "rep@acme.test", "Rep")
    ids = [new_deal(app, company, owner, f"Deal {n}", amount=Decimal(100 * n + 50), stage_id=stage)
           for n, (owner, stage) in enumerate([(admin.id, stages["Proposal"]), (rep.id, stages["Proposal"]),
                                               (rep.id, stages["Qualification"]), (None, stages["Negotiation"]),
                                               (admin.id, stages["Needs analysis"])])]

    def change(session):
        deals = {deal.id: deal for deal in session.scalars(select(Opportunity))}
        change_stage(session, deals[ids[0]], stages["Negotiation"], admin.id)
        deals[ids[1]].amount = Decimal("999.99")
        deals[ids[2]].probability = 80
        soft_delete(deals[ids[4]], admin.id)
        change_stage(session, deals[ids[3]], stages["Won"], admin.id)
    in_company(app, company, change)
    open_ids = [stages[name] for name in ("Qualification", "Needs analysis", "Proposal", "Negotiation")]

    def headers(query: str) -> list[tuple[int, str, str]]:
        html = client.get(f"{BOARD}?{query}").get_data(as_text=True)
        return [(*figures(html, stage_id), re.search(r"weighted ([^<]+)<", column_html(html, stage_id)).group(1))
                for stage_id in open_ids]

    for query in ("", f"owner={rep.id}"):
        tallied = headers(query)
        assert tallied == headers(f"{query}&min_amount=0") and sum(count for count, _t, _w in tallied) >= 1
    login_as(rep)
    mine = headers("")
    assert mine == headers("min_amount=0") and [count for count, _t, _w in mine] == [1, 0, 1, 0]
