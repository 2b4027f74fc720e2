"""The global search finds opportunities by name: those the user may see, each linking to the
deal with its stage and amount; leads keep their share of the results."""

from __future__ import annotations

from decimal import Decimal

from core.testing import counting_queries
from plugins.sales.models import Lead, Opportunity
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.sales.helpers import default_ids, in_company


def add_deal(app, company, name: str, owner_id: int | None, stage: str = "Proposal", amount: str = "12500") -> int:
    pipeline_id, stages = default_ids(app, company)

    def work(session):
        deal = Opportunity(company_id=company.id, name=name, pipeline_id=pipeline_id, stage_id=stages[stage],
                           amount=Decimal(amount), currency="EUR", owner_id=owner_id)
        session.add(deal)
        session.flush()
        return deal.id
    return in_company(app, company, work)


def search(client, text: str) -> str:
    response = client.get("/search", query_string={"q": text})
    assert response.status_code == 200
    return response.text


def test_a_deal_is_found_by_the_words_of_its_name_with_stage_and_amount(client, app, company, admin):
    deal_id = add_deal(app, company, "Globex fleet renewal", admin.id)
    add_deal(app, company, "Initech servers", admin.id)
    page = search(client, "renewal FLEET")
    assert f'href="/sales/opportunities/{deal_id}"' in page
    assert "Globex fleet renewal" in page and "Proposal" in page and "12,500.00" in page
    assert "Initech servers" not in page


def test_a_rep_finds_only_the_deals_they_may_see(client, app, company, admin, login_as):
    rep = make_member(app, company, "rep@example.com", "Rep")
    mine = add_deal(app, company, "Umbrella lab kit", rep.id)
    theirs = add_deal(app, company, "Umbrella office kit", admin.id)
    login_as(rep)
    page = search(client, "umbrella")
    assert f"/sales/opportunities/{mine}" in page and f"/sales/opportunities/{theirs}" not in page


def test_without_the_read_permission_no_deal_is_found(client, app, company, admin, login_as):
    add_deal(app, company, "Hooli search deal", admin.id)
    outsider = make_member(app, company, "none@example.com", "None", template=None)
    login_as(outsider)
    assert "Hooli search deal" not in search(client, "hooli")


def test_percent_and_underscore_are_taken_literally(client, app, company, admin):
    add_deal(app, company, "Discount 10% deal", admin.id)
    add_deal(app, company, "Plain deal", admin.id)
    page = search(client, "10%")
    assert "Discount 10% deal" in page and "Plain deal" not in page
    assert "Plain deal" not in search(client, "_la")


def test_leads_and_deals_share_the_results_and_the_query_count_is_bounded(client, app, company, admin):
    def work(session):
        session.add_all([Lead(company_id=company.id, name=f"Acme person {n}", owner_id=admin.id) for n in range(12)])
    in_company(app, company, work)
    for number in range(12):
        add_deal(app, company, f"Acme deal {number}", admin.id)
    with counting_queries(app) as queries:
        page = search(client, "acme")
    assert page.count("/sales/opportunities/") >= 4 and page.count("/sales/leads/") >= 4
    assert len(queries) <= 30
