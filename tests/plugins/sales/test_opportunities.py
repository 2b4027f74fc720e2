"""Opportunities: stage changes and their history, probability, closing, events, the pages
(list, form, detail, move, trash and undo), visibility, and the account page's panel and button."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import get_session
from core.models import Event
from core.testing import counting_queries
from plugins.sales.models import LostReason, Opportunity, Stage, StageChange
from plugins.sales.opportunities import (
    OpportunityError,
    change_stage,
    create_opportunity,
    update_opportunity,
)
from plugins.sales.services import StageDraft, create_pipeline
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.sales.helpers import default_ids, in_company

BASE = "/sales/opportunities"


def events(app, prefix: str = "sales.opportunity.") -> list[tuple[str, dict]]:
    with app.app_context():
        rows = get_session().execute(select(Event.name, Event.payload)
                                     .where(Event.name.like(prefix + "%")).order_by(Event.id))
        return [(name, payload) for name, payload in rows]


def new_deal(app, company, user_id=None, **data) -> int:
    def work(session):
        return create_opportunity(session, company.id, {"name": "Deal", **data}, user_id).id
    return in_company(app, company, work)


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


def test_a_new_deal_enters_the_first_open_stage_with_its_probability_and_a_history_row(app, company, stages):
    deal_id = new_deal(app, company, company.admin.id, amount=Decimal(1000))

    def check(session):
        deal = session.get(Opportunity, deal_id)
        rows = session.scalars(select(StageChange).where(StageChange.opportunity_id == deal_id)).all()
        return deal.stage_id, deal.probability, deal.currency, deal.stage_entered_at, [(r.from_stage_id, r.to_stage_id) for r in rows]
    stage_id, probability, currency, entered, rows = in_company(app, company, check)
    assert (stage_id, probability, currency) == (stages["Qualification"], 10, "USD")
    assert entered is not None and rows == [(None, stages["Qualification"])]
    assert [name for name, _payload in events(app)] == ["sales.opportunity.created"]


def test_a_stage_change_records_the_time_spent_in_the_stage_left(app, company, stages):
    deal_id = new_deal(app, company, company.admin.id)

    def age_and_move(session):
        deal = session.get(Opportunity, deal_id)
        deal.stage_entered_at = deal.stage_entered_at - timedelta(days=2)  # as if two days ago
        session.flush()
        assert change_stage(session, deal, stages["Proposal"], company.admin.id)
        rows = session.scalars(select(StageChange).where(StageChange.opportunity_id == deal_id)
                               .order_by(StageChange.id)).all()
        return deal.probability, [(r.from_stage_id, r.to_stage_id, r.seconds_in_from_stage) for r in rows]
    probability, rows = in_company(app, company, age_and_move)
    assert probability == 50
    assert rows[-1][:2] == (stages["Qualification"], stages["Proposal"])
    assert 2 * 86400 <= rows[-1][2] < 2 * 86400 + 60
    changed = [payload for name, payload in events(app) if name == "sales.opportunity.stage_changed"]
    assert changed == [{"id": deal_id, "name": "Deal", "amount": "0.00", "pipeline_id": changed[0]["pipeline_id"],
                        "stage_id": stages["Proposal"], "from_stage_id": stages["Qualification"]}]


def test_a_probability_the_rep_typed_survives_stage_changes_until_cleared(app, company, stages):
    deal_id = new_deal(app, company, company.admin.id, probability=33)

    def move(session):
        deal = session.get(Opportunity, deal_id)
        change_stage(session, deal, stages["Negotiation"], None)
        kept = (deal.probability, deal.probability_set_by_rep)
        update_opportunity(session, deal, {"probability": None}, None)
        return kept, (deal.probability, deal.probability_set_by_rep)
    kept, cleared = in_company(app, company, move)
    assert kept == (33, True)
    assert cleared == (75, False)


def test_winning_and_losing_set_closed_at_emit_their_events_and_reopening_clears_it(app, company, stages):
    deal_id = new_deal(app, company, company.admin.id)
    reason_id = a_reason(app, company)

    def moves(session):
        deal = session.get(Opportunity, deal_id)
        change_stage(session, deal, stages["Won"], None)
        won = deal.closed_at
        change_stage(session, deal, stages["Proposal"], None)
        reopened = deal.closed_at
        change_stage(session, deal, stages["Lost"], None, lost_reason_id=reason_id)
        return won, reopened, deal.closed_at, deal.lost_reason_id
    won, reopened, lost, reason = in_company(app, company, moves)
    assert won is not None and reopened is None and lost is not None and reason == reason_id
    names = [name for name, _payload in events(app)]
    assert names.count("sales.opportunity.won") == 1 and names.count("sales.opportunity.lost") == 1


def test_a_stage_of_another_pipeline_is_refused(app, company, stages):
    deal_id = new_deal(app, company, company.admin.id)

    def other_pipeline(session):
        pipeline = create_pipeline(session, company.id, "Renewals",
                                   [StageDraft(None, "Talk", 20), StageDraft(None, "Won", 100, "won"),
                                    StageDraft(None, "Lost", 0, "lost")])
        return pipeline.id, session.scalar(select(Stage.id).where(Stage.pipeline_id == pipeline.id, Stage.name == "Won"))
    pipeline_id, won_id = in_company(app, company, other_pipeline)

    def refused(session):
        with pytest.raises(OpportunityError, match="not a stage of the opportunity's pipeline"):
            change_stage(session, session.get(Opportunity, deal_id), won_id, None)
        deal = session.get(Opportunity, deal_id)
        update_opportunity(session, deal, {"pipeline_id": pipeline_id}, None)  # no stage: its first open one
        return session.scalar(select(Stage.name).where(Stage.id == deal.stage_id))
    assert in_company(app, company, refused) == "Talk"


# -- pages -----------------------------------------------------------------------------------------


def test_the_form_adds_a_deal_for_an_account_and_refuses_bad_input_inline(client, app, company, admin, stages):
    account_id = add_account(app, company, "Globex")
    page = client.get(f"{BASE}/new?account_id={account_id}")
    assert page.status_code == 200 and f'value="{account_id}" selected' in page.get_data(as_text=True)
    bad = client.post(f"{BASE}/new", data={"name": "", "amount": "-5", "currency": "dollars"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter a name." in html and "Enter an amount of 0 or more." in html and "three-letter" in html
    lost = client.post(f"{BASE}/new", data={"name": "Big deal", "stage_id": stages["Lost"]})
    assert lost.status_code == 422 and "Say why the deal was lost." in lost.get_data(as_text=True)
    saved = client.post(f"{BASE}/new", data={"name": "Big deal", "account_id": account_id, "amount": "12500.50",
                                             "currency": "eur", "owner_id": admin.id})
    assert saved.status_code == 302
    detail = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Big deal" in detail and "Globex" in detail and "Qualification" in detail


def test_move_to_stage_on_the_page_asks_for_a_lost_reason_then_moves(client, app, company, admin, stages):
    deal_id = new_deal(app, company, admin.id)
    reason_id = a_reason(app, company)
    refused = client.post(f"{BASE}/{deal_id}/stage", data={"stage_id": stages["Lost"]})
    assert refused.status_code == 422 and "Say why the deal was lost." in refused.get_data(as_text=True)
    moved = client.post(f"{BASE}/{deal_id}/stage", data={"stage_id": stages["Lost"], "lost_reason_id": reason_id})
    assert moved.status_code == 302
    page = client.get(f"{BASE}/{deal_id}").get_data(as_text=True)
    assert "Too expensive" in page and "Stage history" in page
    assert in_company(app, company, lambda s: s.get(Opportunity, deal_id).closed_at) is not None


def test_the_list_filters_by_stage_and_runs_the_same_number_of_queries_for_3_and_30_deals(client, app, company,
                                                                                        admin, stages):
    account_id = add_account(app, company, "Initech")
    for number in range(3):
        new_deal(app, company, admin.id, name=f"Small {number}", account_id=account_id)
    with counting_queries(app) as few:
        assert client.get(f"{BASE}/").status_code == 200
    for number in range(27):
        new_deal(app, company, admin.id, name=f"More {number}", account_id=account_id, stage_id=stages["Proposal"])
    with counting_queries(app) as many:
        html = client.get(f"{BASE}/").get_data(as_text=True)
    assert len(many) == len(few)
    assert "Initech" in html
    filtered = client.get(f"{BASE}/?stage={stages['Qualification']}").get_data(as_text=True)
    assert "Small 0" in filtered and "More 0" not in filtered


def test_a_sales_rep_sees_only_their_own_deals(client, app, company, admin, login_as, stages):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    mine = new_deal(app, company, rep.id, name="Rita's deal")
    theirs = new_deal(app, company, admin.id, name="Boss deal")
    login_as(rep)
    listed = client.get(f"{BASE}/").get_data(as_text=True)
    assert "Rita&#39;s deal" in listed and "Boss deal" not in listed
    assert client.get(f"{BASE}/{mine}").status_code == 200
    assert client.get(f"{BASE}/{theirs}").status_code == 404
    assert client.post(f"{BASE}/{mine}/delete", data={"_confirmed": "yes"}).status_code == 403


def test_trashing_asks_first_then_undo_restores_the_deal(client, app, company, admin, stages):
    deal_id = new_deal(app, company, admin.id)
    asked = client.post(f"{BASE}/{deal_id}/delete")
    assert asked.status_code == 200 and "Please confirm" in asked.get_data(as_text=True)
    assert client.post(f"{BASE}/{deal_id}/delete", data={"_confirmed": "yes"}).status_code == 302
    assert client.get(f"{BASE}/{deal_id}").status_code == 404
    assert "sales.opportunity.deleted" in [name for name, _payload in events(app)]
    restored = client.post(f"/trash/sales_opportunity/{deal_id}/restore")
    assert restored.status_code in (302, 303)
    assert client.get(f"{BASE}/{deal_id}").status_code == 200


def test_the_account_page_has_the_opportunities_panel_and_the_new_opportunity_button(client, app, company, admin,
                                                                                    stages):
    account_id = add_account(app, company, "Umbrella")
    other_id = add_account(app, company, "Elsewhere")
    new_deal(app, company, admin.id, name="Umbrella renewal", account_id=account_id)
    new_deal(app, company, admin.id, name="Elsewhere deal", account_id=other_id)
    page = client.get(f"/customers/accounts/{account_id}").get_data(as_text=True)
    panel_url = f"{BASE}/panel/account/{account_id}"
    assert panel_url in page
    assert f"{BASE}/new?account_id={account_id}" in page and "New opportunity" in page
    panel = client.get(panel_url).get_data(as_text=True)
    assert "Umbrella renewal" in panel and "Elsewhere deal" not in panel
    assert client.get(f"{BASE}/panel/account/999999").status_code == 404


def test_the_panel_runs_the_same_number_of_queries_for_1_and_15_deals(client, app, company, admin, stages):
    account_id = add_account(app, company, "Hooli")
    new_deal(app, company, admin.id, account_id=account_id)
    with counting_queries(app) as few:
        client.get(f"{BASE}/panel/account/{account_id}")
    for _number in range(14):
        new_deal(app, company, admin.id, account_id=account_id)
    with counting_queries(app) as many:
        html = client.get(f"{BASE}/panel/account/{account_id}").get_data(as_text=True)
    assert len(many) == len(few)
    assert "Only the first 10 are shown." in html


def test_the_menu_offers_opportunities(client, admin, stages):
    assert f'href="{BASE}/"' in client.get("/").get_data(as_text=True)


def test_the_edit_form_shows_an_empty_probability_when_it_follows_the_stage(client, app, company, admin, stages):
    deal_id = new_deal(app, company, admin.id)
    html = client.get(f"{BASE}/{deal_id}/edit").get_data(as_text=True)
    assert 'name="probability"' in html and 'name="probability" value="10"' not in html
    saved = client.post(f"{BASE}/{deal_id}/edit", data={"name": "Deal", "probability": "60"})
    assert saved.status_code == 302
    assert in_company(app, company, lambda s: (s.get(Opportunity, deal_id).probability,
                                               s.get(Opportunity, deal_id).probability_set_by_rep)) == (60, True)
