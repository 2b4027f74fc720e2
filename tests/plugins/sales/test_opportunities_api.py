"""The opportunities API (/api/v1/sales/opportunities, /pipelines): create, read, change, move
to a stage, trash; validation problems, stage rules, visibility."""

from __future__ import annotations

import pytest

from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.customers.test_api import assert_problem, token_for
from tests.plugins.sales.helpers import default_ids

API = "/api/v1/sales"


@pytest.fixture
def auth(app, company):
    company.enable("sales")
    return token_for(app, company, scopes="sales:*")


@pytest.fixture
def stages(app, company, auth):
    return default_ids(app, company)[1]


def create(client, auth, **body):
    response = client.post(f"{API}/opportunities", json={"name": "Deal", **body}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_post_creates_a_deal_in_the_default_pipelines_first_open_stage(client, app, company, auth, stages):
    account_id = add_account(app, company, "Globex")
    body = create(client, auth, account_id=account_id, amount="1500.5", currency="cny")
    assert body["stage_id"] == stages["Qualification"] and body["probability"] == 10
    assert body["amount"] == "1500.50" and body["currency"] == "CNY" and body["account_id"] == account_id
    assert body["probability_set_by_rep"] is False and body["closed_at"] is None
    fetched = client.get(f"{API}/opportunities/{body['id']}", headers=auth).get_json()
    assert fetched["name"] == "Deal"
    listed = client.get(f"{API}/opportunities?stage_id={stages['Qualification']}", headers=auth).get_json()
    assert [item["id"] for item in listed] == [body["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "-1"}, "amount"),
    ({"currency": "EURO"}, "currency"),
    ({"probability": 101}, "probability"),
    ({"account_id": 999999}, "account_id"),
    ({"owner_id": 999999}, "owner_id"),
])
def test_post_refuses_bad_values_with_422_naming_the_field(client, auth, stages, body, field):
    response = client.post(f"{API}/opportunities", json={"name": "Deal", **body}, headers=auth)
    assert_problem(response, 422, field)


def test_a_lost_stage_needs_a_lost_reason(client, auth, stages):
    response = client.post(f"{API}/opportunities", json={"name": "Deal", "stage_id": stages["Lost"]}, headers=auth)
    assert_problem(response, 422, "lost_reason_id")


def test_moving_to_a_stage_and_winning_closes_the_deal(client, auth, stages):
    deal = create(client, auth, probability=40)
    moved = client.post(f"{API}/opportunities/{deal['id']}/stage", json={"stage_id": stages["Won"]}, headers=auth)
    assert moved.status_code == 200, moved.get_data(as_text=True)
    body = moved.get_json()
    assert body["stage_id"] == stages["Won"] and body["closed_at"] is not None
    assert body["probability"] == 40  # the rep's own value is kept
    lost = client.post(f"{API}/opportunities/{deal['id']}/stage", json={"stage_id": stages["Lost"]}, headers=auth)
    assert_problem(lost, 422, "lost_reason_id")


def test_a_stage_of_another_pipeline_is_422(client, auth, stages):
    other = client.get(f"{API}/pipelines", headers=auth).get_json()
    assert [stage["name"] for stage in other[0]["stages"]][:2] == ["Qualification", "Needs analysis"]
    deal = create(client, auth)
    response = client.post(f"{API}/opportunities/{deal['id']}/stage", json={"stage_id": 999999}, headers=auth)
    assert_problem(response, 422, "stage_id")


def test_patch_changes_the_fields_sent_and_a_null_probability_follows_the_stage(client, auth, stages):
    deal = create(client, auth, probability=90)
    changed = client.patch(f"{API}/opportunities/{deal['id']}", json={"probability": None, "note": "Call back"},
                           headers=auth)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = changed.get_json()
    assert (body["probability"], body["probability_set_by_rep"], body["note"], body["name"]) == (10, False,
                                                                                                "Call back", "Deal")


def test_delete_moves_to_the_trash_and_then_404(client, auth, stages):
    deal = create(client, auth)
    assert client.delete(f"{API}/opportunities/{deal['id']}", headers=auth).status_code == 204
    assert_problem(client.get(f"{API}/opportunities/{deal['id']}", headers=auth), 404)
    assert_problem(client.get(f"{API}/opportunities/999999", headers=auth), 404)


def test_a_rep_token_sees_only_the_reps_own_deals(client, app, company, auth, stages):
    theirs = create(client, auth)
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    rep_auth = token_for(app, company, rep, scopes="sales:*")
    mine = client.post(f"{API}/opportunities", json={"name": "Mine"}, headers=rep_auth).get_json()
    listed = client.get(f"{API}/opportunities", headers=rep_auth).get_json()
    assert [item["id"] for item in listed] == [mine["id"]]
    assert_problem(client.get(f"{API}/opportunities/{theirs['id']}", headers=rep_auth), 404)
