"""The pipelines API (/api/v1/sales/pipelines, /stages, /lost-reasons): create, change,
replace the stages and delete under the pipeline rules; permissions; reading stages and
lost reasons."""

from __future__ import annotations

import pytest

from core.testing import make_company

from tests.plugins.customers.test_accounts import make_member
from tests.plugins.customers.test_api import assert_problem, token_for
from tests.plugins.sales.helpers import add_opportunity, default_ids, pipeline_names

API = "/api/v1/sales"
STAGES = [{"name": "Call", "probability": 20}, {"name": "Signed", "probability": 100, "kind": "won"},
          {"name": "Dropped", "probability": 0, "kind": "lost"}]


@pytest.fixture
def auth(app, company):
    company.enable("sales")
    return token_for(app, company, scopes="sales:*")


@pytest.fixture
def ids(app, company, auth):
    return default_ids(app, company)


def test_post_creates_a_pipeline_with_its_stages_in_order(client, app, company, auth, ids):
    response = client.post(f"{API}/pipelines", json={"name": "Renewals", "stages": STAGES}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["is_default"] is False
    assert [(s["name"], s["probability"], s["kind"]) for s in body["stages"]] == [
        ("Call", 20, "open"), ("Signed", 100, "won"), ("Dropped", 0, "lost")]
    assert pipeline_names(app, company) == ["Sales", "Renewals"]
    listed = client.get(f"{API}/pipelines/{body['id']}/stages", headers=auth).get_json()
    assert [stage["name"] for stage in listed] == ["Call", "Signed", "Dropped"]
    assert {stage["pipeline_id"] for stage in listed} == {body["id"]}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"name": "X", "stages": STAGES[:1]}, "stages", "won stage"),
    ({"name": "X", "stages": [*STAGES, {"name": "call", "probability": 5}]}, "stages", "Two stages"),
    ({"name": "X", "stages": [{"name": "A", "probability": 50, "kind": "won"}, *STAGES[1:]]}, "stages", "open stage"),
    ({"name": "Sales", "stages": STAGES}, "name", "already exists"),
    ({"name": "X", "stages": [{"name": "A", "probability": 500}]}, "stages.0.probability", ""),
    ({"stages": STAGES}, "name", ""),
    ({"name": "X"}, "stages", ""),
])
def test_post_refuses_a_broken_pipeline_with_422_naming_the_problem(client, auth, ids, body, field, words):
    problem = assert_problem(client.post(f"{API}/pipelines", json=body, headers=auth), 422, field)
    assert words in " ".join(problem["errors"][field]) + problem.get("detail", "")


def test_patch_renames_makes_default_and_replaces_the_stages(client, app, company, auth, ids):
    pipeline_id, stages = ids
    created = client.post(f"{API}/pipelines", json={"name": "Renewals", "stages": STAGES}, headers=auth).get_json()
    by_name = {stage["name"]: stage["id"] for stage in created["stages"]}
    body = {"name": "Renewal deals", "is_default": True, "stages": [
        {"id": by_name["Call"], "name": "First call", "probability": 15},
        {"name": "Offer", "probability": 60},
        {"id": by_name["Signed"], "name": "Signed", "probability": 100, "kind": "won"},
        {"id": by_name["Dropped"], "name": "Dropped", "probability": 0, "kind": "lost"}]}
    response = client.patch(f"{API}/pipelines/{created['id']}", json=body, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    changed = response.get_json()
    assert changed["name"] == "Renewal deals" and changed["is_default"] is True
    assert [stage["name"] for stage in changed["stages"]] == ["First call", "Offer", "Signed", "Dropped"]
    assert changed["stages"][0]["id"] == by_name["Call"]
    old = client.get(f"{API}/pipelines/{pipeline_id}", headers=auth).get_json()
    assert old["is_default"] is False


def test_patch_refuses_to_remove_a_stage_that_holds_deals(client, app, company, auth, ids):
    pipeline_id, stages = ids
    add_opportunity(app, company, pipeline_id, stages["Proposal"])
    current = client.get(f"{API}/pipelines/{pipeline_id}/stages", headers=auth).get_json()
    kept = [{key: stage[key] for key in ("id", "name", "probability", "kind")}
            for stage in current if stage["name"] != "Proposal"]
    problem = assert_problem(client.patch(f"{API}/pipelines/{pipeline_id}", json={"stages": kept}, headers=auth),
                             422, "stages")
    assert "Proposal" in problem["errors"]["stages"][0]
    after = client.get(f"{API}/pipelines/{pipeline_id}/stages", headers=auth).get_json()
    assert len(after) == len(current)


def test_patch_refuses_to_unset_the_default_and_names_the_field(client, auth, ids):
    assert_problem(client.patch(f"{API}/pipelines/{ids[0]}", json={"is_default": False}, headers=auth),
                   422, "is_default")


def test_delete_answers_409_while_the_pipeline_holds_deals_and_204_after(client, app, company, auth, ids):
    created = client.post(f"{API}/pipelines", json={"name": "Renewals", "stages": STAGES}, headers=auth).get_json()
    add_opportunity(app, company, created["id"], created["stages"][0]["id"], deleted=True)  # the trash counts
    response = client.delete(f"{API}/pipelines/{created['id']}", headers=auth)
    assert response.status_code == 409 and "Renewals" in response.get_json()["detail"]
    other = client.post(f"{API}/pipelines", json={"name": "Spare", "stages": STAGES}, headers=auth).get_json()
    assert client.delete(f"{API}/pipelines/{other['id']}", headers=auth).status_code == 204
    assert pipeline_names(app, company) == ["Sales", "Renewals"]
    assert client.get(f"{API}/pipelines/{other['id']}", headers=auth).status_code == 404


def test_the_only_pipeline_cannot_be_deleted(client, auth, ids):
    assert client.delete(f"{API}/pipelines/{ids[0]}", headers=auth).status_code == 409


def test_a_stage_reads_with_its_deal_count(client, app, company, auth, ids):
    pipeline_id, stages = ids
    add_opportunity(app, company, pipeline_id, stages["Won"])
    body = client.get(f"{API}/stages/{stages['Won']}", headers=auth).get_json()
    assert body == {"id": stages["Won"], "name": "Won", "position": 4, "probability": 100, "kind": "won",
                    "pipeline_id": pipeline_id, "opportunities": 1}
    assert client.get(f"{API}/stages/999999", headers=auth).status_code == 404


def test_lost_reasons_list_in_order_and_filter_by_active(client, app, company, auth, ids):
    from plugins.sales.services import add_lost_reason, set_lost_reason_active
    from tests.plugins.sales.helpers import in_company

    def work(session):
        add_lost_reason(session, company.id, "Too slow")
        set_lost_reason_active(session, add_lost_reason(session, company.id, "Old reason"), False)
    in_company(app, company, work)
    assert [r["name"] for r in client.get(f"{API}/lost-reasons", headers=auth).get_json()] == ["Too slow", "Old reason"]
    assert [r["name"] for r in client.get(f"{API}/lost-reasons?active=true", headers=auth).get_json()] == ["Too slow"]


def test_writes_need_the_pipeline_permission_reads_do_not(client, app, company, auth, ids):
    rep = make_member(app, company, "rep@example.com", "Rep")
    headers = token_for(app, company, user=rep, scopes="sales:*")
    assert client.get(f"{API}/pipelines/{ids[0]}", headers=headers).status_code == 200
    assert client.get(f"{API}/lost-reasons", headers=headers).status_code == 200
    assert client.post(f"{API}/pipelines", json={"name": "Mine", "stages": STAGES}, headers=headers).status_code == 403
    assert client.patch(f"{API}/pipelines/{ids[0]}", json={"name": "Mine"}, headers=headers).status_code == 403
    assert client.delete(f"{API}/pipelines/{ids[0]}", headers=headers).status_code == 403
    read_only = token_for(app, company, scopes="sales:read")
    assert client.post(f"{API}/pipelines", json={"name": "Mine", "stages": STAGES}, headers=read_only).status_code == 403


def test_another_companys_pipeline_is_not_found(client, app, company, auth, ids):
    other = make_company(app, "Other", "other")
    other.enable("sales")
    other_ids = default_ids(app, other)
    assert client.get(f"{API}/pipelines/{other_ids[0]}", headers=auth).status_code == 404
    assert client.patch(f"{API}/pipelines/{other_ids[0]}", json={"name": "Mine"}, headers=auth).status_code == 404
    assert client.get(f"{API}/stages/{other_ids[1]['Won']}", headers=auth).status_code == 404


def test_the_openapi_document_lists_the_pipeline_paths_with_their_permission(client, auth):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/sales/pipelines", "/sales/pipelines/{pipeline_id}", "/sales/pipelines/{pipeline_id}/stages",
                 "/sales/stages/{stage_id}", "/sales/lost-reasons"):
        assert any(key.endswith(path) for key in paths), path
    item = next(value for key, value in paths.items() if key.endswith("/sales/pipelines/{pipeline_id}"))
    assert item["patch"]["x-required-permission"] == "sales.pipeline.manage"
    assert item["delete"]["x-required-permission"] == "sales.pipeline.manage"
