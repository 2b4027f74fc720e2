"""The pipeline set-up pages: list, stage editor, default, order, delete, lost reasons;
validation, permissions and tenant isolation."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.testing import make_company
from plugins.sales.models import LostReason, Pipeline
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.sales.helpers import add_opportunity, default_ids, in_company, pipeline_names


def stage_form(name: str, stages: list[tuple[str, str, str, str]], action: str = "save", **extra) -> dict:
    """The editor's form: ``stages`` as (id, name, probability, kind)."""
    data = {"name": name, "action": action, **extra}
    for i, (stage_id, stage_name, probability, kind) in enumerate(stages):
        data.update({f"stage-{i}-id": stage_id, f"stage-{i}-name": stage_name,
                     f"stage-{i}-probability": probability, f"stage-{i}-kind": kind})
    return data


STANDARD = [("", "Talk", "20", "open"), ("", "Signed", "100", "won"), ("", "Gone", "0", "lost")]


def stage_names(html: str) -> list[str]:
    return re.findall(r'name="stage-\d+-name"\s+value="([^"]*)"', html)


def test_the_first_visit_shows_the_default_pipeline_with_its_stages(client, admin):
    page = client.get("/sales/pipelines/")
    assert page.status_code == 200
    for text in ("Sales", "Default", "Qualification · 10 %", "Won · 100 %", "0 opportunities"):
        assert text in page.text
    assert client.get("/sales/pipelines/").text.count("<h2") == 1  # not created twice


def test_a_new_pipeline_starts_from_the_usual_stages_and_is_saved(app, client, admin, company):
    form = client.get("/sales/pipelines/new")
    assert stage_names(form.text) == ["Qualification", "Needs analysis", "Proposal", "Negotiation", "Won", "Lost"]
    saved = client.post("/sales/pipelines/new", data=stage_form("Renewals", STANDARD))
    assert saved.status_code == 302
    assert "Renewals" in pipeline_names(app, company)
    assert "Signed · 100 %" in client.get("/sales/pipelines/").text


def test_a_refused_pipeline_says_why_with_422_and_keeps_what_was_typed(app, client, admin, company):
    no_won = [("", "Talk", "20", "open"), ("", "Gone", "0", "lost")]
    answer = client.post("/sales/pipelines/new", data=stage_form("Renewals", no_won))
    assert answer.status_code == 422
    assert "exactly one won stage" in answer.text and stage_names(answer.text) == ["Talk", "Gone"]
    bad_row = client.post("/sales/pipelines/new", data=stage_form("", [("", "", "abc", "open"), *STANDARD[1:]]))
    assert bad_row.status_code == 422
    assert "Enter a name." in bad_row.text and "Not a valid integer." in bad_row.text
    assert 'id="stage-0-name-error"' in bad_row.text
    assert "Renewals" not in pipeline_names(app, company)


def test_up_down_add_and_remove_rearrange_the_form_without_saving(app, client, admin, company):
    moved = client.post("/sales/pipelines/new", data=stage_form("X", STANDARD, action="down:0"))
    assert moved.status_code == 200 and stage_names(moved.text) == ["Signed", "Talk", "Gone"]
    added = client.post("/sales/pipelines/new", data=stage_form("X", STANDARD, action="add"))
    assert stage_names(added.text) == ["Talk", "", "Signed", "Gone"]  # before the closed stages
    removed = client.post("/sales/pipelines/new", data=stage_form("X", STANDARD, action="remove:0"))
    assert stage_names(removed.text) == ["Signed", "Gone"]
    assert "X" not in pipeline_names(app, company)


def test_removing_a_stage_that_holds_opportunities_is_refused_with_the_count(app, client, admin, company):
    pipeline_id, ids = default_ids(app, company)
    add_opportunity(app, company, pipeline_id, ids["Proposal"])
    stages = [(str(ids[n]), n, p, k) for n, p, k in [("Qualification", "10", "open"), ("Won", "100", "won"),
                                                        ("Lost", "0", "lost")]]
    answer = client.post(f"/sales/pipelines/{pipeline_id}", data=stage_form("Sales", stages))
    assert answer.status_code == 422
    assert "The stage “Proposal” holds 1 opportunity" in answer.text
    editor = client.get(f"/sales/pipelines/{pipeline_id}")
    assert "1 opportunity" in editor.text and len(stage_names(editor.text)) == 6


def test_make_default_move_and_delete_with_confirmation(app, client, admin, company):
    default_ids(app, company)
    client.post("/sales/pipelines/new", data=stage_form("Renewals", STANDARD))
    renewals = in_company(app, company, lambda s: s.scalar(select(Pipeline.id).where(Pipeline.name == "Renewals")))
    assert client.post(f"/sales/pipelines/{renewals}/default").status_code == 302
    assert in_company(app, company, lambda s: s.get(Pipeline, renewals).is_default)
    client.post(f"/sales/pipelines/{renewals}/move", data={"direction": "up"})
    assert pipeline_names(app, company) == ["Renewals", "Sales"]
    asked = client.post(f"/sales/pipelines/{renewals}/delete")
    assert asked.status_code == 200 and "Delete the pipeline “Renewals” and its stages?" in asked.text
    assert "Renewals" in pipeline_names(app, company)
    done = client.post(f"/sales/pipelines/{renewals}/delete", data={"_confirmed": "yes"})
    assert done.status_code == 302 and pipeline_names(app, company) == ["Sales"]
    assert in_company(app, company, lambda s: s.scalar(select(Pipeline.is_default)))


def test_deleting_a_pipeline_with_opportunities_is_refused_and_said(app, client, admin, company):
    pipeline_id, ids = default_ids(app, company)
    client.post("/sales/pipelines/new", data=stage_form("Renewals", STANDARD))
    add_opportunity(app, company, pipeline_id, ids["Won"])
    answer = client.post(f"/sales/pipelines/{pipeline_id}/delete", data={"_confirmed": "yes"}, follow_redirects=True)
    assert "holds 1 opportunity: move it to another pipeline first" in answer.text
    assert "Sales" in pipeline_names(app, company)


def test_lost_reasons_are_added_renamed_and_stop_being_offered(app, client, admin, company):
    empty = client.get("/sales/pipelines/lost-reasons")
    assert empty.status_code == 200 and "No lost reasons yet" in empty.text
    assert client.post("/sales/pipelines/lost-reasons", data={"name": "Price too high"}).status_code == 302
    twice = client.post("/sales/pipelines/lost-reasons", data={"name": "price too HIGH"})
    assert twice.status_code == 422 and "already on the list" in twice.text
    blank = client.post("/sales/pipelines/lost-reasons", data={"name": " "})
    assert blank.status_code == 422 and "Enter a reason." in blank.text
    reason = in_company(app, company, lambda s: s.scalar(select(LostReason.id)))
    client.post(f"/sales/pipelines/lost-reasons/{reason}", data={"name": "Too expensive"})
    client.post(f"/sales/pipelines/lost-reasons/{reason}/active", data={"active": "0"})
    row = in_company(app, company, lambda s: (lambda r: (r.name, r.active))(s.get(LostReason, reason)))
    assert row == ("Too expensive", False)
    assert "Offer again" in client.get("/sales/pipelines/lost-reasons").text


def test_pipeline_pages_need_the_manage_permission(app, client, company, login_as):
    company.enable("sales")
    rep = make_member(app, company, "rep@acme.test", "Rep")  # a sales rep of customers: no pipeline permission
    pipeline_id, _ = default_ids(app, company)
    login_as(rep)
    for url in ("/sales/pipelines/", "/sales/pipelines/new", f"/sales/pipelines/{pipeline_id}",
                "/sales/pipelines/lost-reasons"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/sales/pipelines/{pipeline_id}/delete", data={"_confirmed": "yes"}).status_code == 403
    assert client.post("/sales/pipelines/lost-reasons", data={"name": "X"}).status_code == 403
    assert "/sales/pipelines/" not in client.get("/").text  # no menu entry either


def test_another_companys_pipelines_and_reasons_are_not_found(app, client, admin, company):
    other = make_company(app, "Other", "other")
    other.enable("sales")
    theirs, _ = default_ids(app, other)
    reason = in_company(app, other, lambda s: __import__("plugins.sales.services", fromlist=["x"])
                        .add_lost_reason(s, other.id, "Theirs").id)
    assert client.get(f"/sales/pipelines/{theirs}").status_code == 404
    assert client.post(f"/sales/pipelines/{theirs}/delete", data={"_confirmed": "yes"}).status_code == 404
    assert client.post(f"/sales/pipelines/{theirs}/default").status_code == 404
    assert client.post(f"/sales/pipelines/lost-reasons/{reason}", data={"name": "Mine"}).status_code == 404
    assert "Theirs" not in client.get("/sales/pipelines/lost-reasons").text


def test_the_pages_are_gone_when_sales_is_disabled(client, admin, company):
    company.disable("sales")
    assert client.get("/sales/pipelines/").status_code == 404
