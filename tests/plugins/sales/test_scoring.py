"""Lead scoring: the pure rule (field rules, each operator, negative points, activity per
occurrence with its cap, grade bands), leads scored again on create, update, a logged
interaction and a change of the rules (inline and as a job), the explanation on the lead's
page, the set-up page (permission, inline errors, grades, delete), the API and the query count."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.models import AuditEntry, Event, Job
from core.testing import counting_queries
from plugins.customers.services import InteractionCount
from plugins.sales import scoring
from plugins.sales.models import GradeBand, Lead, ScoringRule
from plugins.sales.scoring import DEFAULT_BANDS, grade_for, rescore_leads, score_lead
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.customers.test_api import token_for
from tests.plugins.sales.helpers import in_company


def rule(**values) -> SimpleNamespace:
    defaults = dict(id=1, active=True, kind="field", field="source", operator="equals", value="", interaction_kind="",
                    with_outcome=False, per_occurrence=False, max_count=None, points=10, label="")
    return SimpleNamespace(**{**defaults, **values})


def add_rule(app, company, **values) -> int:
    def work(session):
        row = ScoringRule(company_id=company.id, **{key: value for key, value in vars(rule(**values)).items()
                                                    if key != "id"})
        session.add(row)
        session.flush()
        return row.id
    return in_company(app, company, work)


def add_lead(app, company, name: str, owner_id: int | None = None, **values) -> int:
    def work(session):
        lead = Lead(company_id=company.id, name=name, owner_id=owner_id, **values)
        session.add(lead)
        session.flush()
        return lead.id
    return in_company(app, company, work)


def scored(db_session, lead_id: int) -> tuple[int, str, list[dict]]:
    db_session.expire_all()
    lead = db_session.get(Lead, lead_id)
    return lead.score, lead.grade, lead.score_details


# -- the pure rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "actual", "expected", "applies"), [
    ("equals", "Referral", "referral", True),
    ("equals", "Referral web", "referral", False),
    ("not_equals", "Fair", "referral", True),
    ("not_equals", " REFERRAL ", "referral", False),
    ("contains", "li@Acme.example", "@acme.example", True),
    ("contains", "li@other.example", "@acme.example", False),
    ("is_set", "x", "", True),
    ("is_set", "  ", "", False),
    ("is_empty", "", "", True),
    ("is_empty", "x", "", False),
])
def test_a_field_rule_compares_without_regard_to_case(app, operator, actual, expected, applies):
    lead = {"source": actual}
    with app.test_request_context():
        score, _grade, details = score_lead(lead, [rule(operator=operator, value=expected, points=30)], {})
    assert (score, len(details)) == ((30, 1) if applies else (0, 0))


def test_negative_points_subtract_and_the_explanation_lists_each_rule_that_applied(app):
    rules = [rule(id=1, field="industry", operator="equals", value="Food", points=40, label="Our industry"),
             rule(id=2, field="email", operator="is_empty", points=-25),
             rule(id=3, field="region", operator="equals", value="North", points=99),
             rule(id=4, field="title", operator="contains", value="buyer", points=100, active=False)]
    with app.test_request_context():
        score, grade, details = score_lead({"industry": "food", "email": "", "region": "South", "title": "Buyer"},
                                           rules, {})
    assert (score, grade) == (15, "D")
    assert details == [{"rule_id": 1, "label": "Our industry", "points": 40, "times": 1},
                       {"rule_id": 2, "label": "Email is empty", "points": -25, "times": 1}]


def test_an_activity_rule_counts_once_or_per_occurrence_up_to_its_cap(app):
    counts = {"meeting": InteractionCount(4, 1), "email": InteractionCount(3, 2)}
    with app.test_request_context():
        assert score_lead({}, [rule(kind="activity", interaction_kind="meeting", points=20)], counts)[0] == 20
        per_meeting = rule(kind="activity", interaction_kind="meeting", points=10, per_occurrence=True, max_count=3)
        assert score_lead({}, [per_meeting], counts)[0] == 30  # 4 meetings, 3 count
        answered = rule(kind="activity", interaction_kind="email", with_outcome=True, per_occurrence=True, max_count=9,
                        points=5)
        score, _grade, details = score_lead({}, [answered], counts)
        assert (score, details[0]["times"]) == (10, 2)  # 2 of the 3 emails have an outcome
        assert score_lead({}, [rule(kind="activity", interaction_kind="visit", points=50)], counts)[0] == 0


def test_no_active_rule_means_no_score_and_no_grade(app):
    with app.test_request_context():
        assert score_lead({"source": "x"}, [], {}) == (0, "", [])
        assert score_lead({"source": "x"}, [rule(active=False)], {}) == (0, "", [])


@pytest.mark.parametrize(("score", "grade"), [(100, "A"), (80, "A"), (79, "B"), (50, "B"), (49, "C"), (20, "C"),
                                              (19, "D"), (-500, "D")])
def test_the_default_grade_bands(score, grade):
    assert grade_for(score, DEFAULT_BANDS) == grade


def test_custom_grade_bands_in_any_order_with_a_catch_all():
    bands = [("Cold", None), ("Hot", 100), ("Warm", 0)]
    assert [grade_for(score, bands) for score in (150, 100, 99, 0, -1)] == ["Hot", "Hot", "Warm", "Warm", "Cold"]


# -- when leads are scored ---------------------------------------------------------------------------


def test_a_lead_is_scored_when_added_and_again_when_changed(client, app, company, admin, db_session):
    add_rule(app, company, field="source", operator="equals", value="Referral", points=60, label="Referred")
    add_rule(app, company, field="industry", operator="is_set", points=25)
    answer = client.post("/sales/leads/new", data={"name": "Ada", "source": "referral", "status": "new",
                                                   "owner_id": str(admin.id)})
    assert answer.status_code == 302
    lead_id = db_session.scalar(select(Lead.id))
    score, grade, details = scored(db_session, lead_id)
    assert (score, grade, [item["label"] for item in details]) == (60, "B", ["Referred"])
    answer = client.post(f"/sales/leads/{lead_id}/edit", data={"name": "Ada", "source": "referral", "status": "new",
                                                               "industry": "Food", "owner_id": str(admin.id)})
    assert answer.status_code == 302
    assert scored(db_session, lead_id)[:2] == (85, "A")
    # The score is derived: the audit trail records the person's change, not the scoring.
    changes = db_session.scalars(select(AuditEntry.changes).where(AuditEntry.record_type == "sales_lead",
                                                                  AuditEntry.action == "update")).all()
    assert changes and all("score" not in change for change in changes)


def test_logging_a_meeting_on_a_lead_raises_its_score(client, app, company, admin, db_session):
    add_rule(app, company, kind="activity", interaction_kind="meeting", points=15, per_occurrence=True, max_count=2,
             label="Meeting held")
    lead_id = add_lead(app, company, "Bo", owner_id=admin.id)
    in_company(app, company, lambda session: rescore_leads(session, [lead_id]))
    assert scored(db_session, lead_id)[:2] == (0, "D")
    for _number in range(3):
        answer = client.post(f"/customers/follow-ups/log/sales_lead/{lead_id}",
                             data={"kind": "meeting", "summary": "Demo", "outcome": "Wants a quote"})
        assert answer.status_code in (200, 302)
    score, grade, details = scored(db_session, lead_id)
    assert (score, grade) == (30, "C")  # capped at two meetings
    assert details == [{"rule_id": details[0]["rule_id"], "label": "Meeting held", "points": 30, "times": 2}]


def test_adding_a_rule_on_the_page_scores_the_existing_leads_and_is_audited(client, app, company, admin, db_session):
    lead_id = add_lead(app, company, "Cy", owner_id=admin.id, region="North")
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "field", "field": "region", "operator": "equals", "value": "north", "points": "90", "active": "y"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/sales/scoring/"
    assert scored(db_session, lead_id)[:2] == (90, "A")
    rule_id = db_session.scalar(select(ScoringRule.id))
    assert db_session.scalar(select(AuditEntry.id).where(AuditEntry.record_type == "sales_scoring_rule",
                                                         AuditEntry.record_id == str(rule_id)))
    assert db_session.scalar(select(Event.id).where(Event.name == "sales.scoring_rule.created"))
    page = client.get("/sales/scoring/").text
    assert "Region is “north”" in page and "+90" in page


def test_many_leads_are_scored_again_by_a_job_in_batches(client, app, company, admin, db_session, monkeypatch):
    monkeypatch.setattr(scoring, "INLINE_LIMIT", 1)
    monkeypatch.setattr(scoring, "BATCH", 2)
    ids = [add_lead(app, company, f"Lead {number}", owner_id=admin.id, source="fair") for number in range(5)]
    converted = add_lead(app, company, "Old", owner_id=admin.id, source="fair", status="converted")
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "field", "field": "source", "operator": "equals", "value": "fair", "points": "55", "active": "y"})
    job_id = re.search(r"job=([0-9a-f]+)", answer.headers["Location"]).group(1)
    job = db_session.get(Job, job_id)
    assert (job.status, job.done, job.total) == ("done", 5, 5)  # tests run jobs at once
    assert all(scored(db_session, lead_id)[:2] == (55, "B") for lead_id in ids)
    assert scored(db_session, converted)[0] == 0  # a converted lead's score is history
    assert f'id="job-{job_id}"' in client.get(answer.headers["Location"]).text  # the progress bar


def test_recalculate_all_scores_starts_a_job(client, app, company, admin, db_session):
    lead_id = add_lead(app, company, "Di", owner_id=admin.id, phone="+1 555 0100")
    add_rule(app, company, field="phone", operator="is_set", points=20)
    answer = client.post("/sales/scoring/recalculate")
    assert answer.status_code == 302 and "job=" in answer.headers["Location"]
    assert scored(db_session, lead_id)[:2] == (20, "C")


def test_deleting_a_rule_asks_first_then_scores_the_leads_without_it(client, app, company, admin, db_session):
    lead_id = add_lead(app, company, "Ed", owner_id=admin.id, source="web")
    rule_id = add_rule(app, company, field="source", operator="equals", value="web", points=30)
    add_rule(app, company, field="source", operator="is_set", points=5)
    client.post("/sales/scoring/recalculate")
    assert scored(db_session, lead_id)[0] == 35
    asked = client.post(f"/sales/scoring/rules/{rule_id}/delete")
    assert asked.status_code == 200 and db_session.get(ScoringRule, rule_id) is not None
    assert client.post(f"/sales/scoring/rules/{rule_id}/delete", data={"_confirmed": "yes"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(ScoringRule, rule_id) is None
    assert scored(db_session, lead_id)[0] == 5


def test_editing_a_rule_keeps_only_what_its_kind_uses(client, app, company, admin, db_session):
    rule_id = add_rule(app, company, field="source", operator="equals", value="web", points=30)
    form = client.get(f"/sales/scoring/rules/{rule_id}").text
    assert 'value="web"' in form
    answer = client.post(f"/sales/scoring/rules/{rule_id}", data={
        "kind": "activity", "interaction_kind": "email", "with_outcome": "y", "field": "source", "operator": "equals",
        "value": "web", "points": "-5", "label": "Replied", "active": "y"})
    assert answer.status_code == 302
    db_session.expire_all()
    saved = db_session.get(ScoringRule, rule_id)
    assert (saved.kind, saved.interaction_kind, saved.with_outcome, saved.field, saved.value, saved.points) == (
        "activity", "email", True, "", "", -5)


# -- refusals ----------------------------------------------------------------------------------------


def test_bad_rule_input_is_refused_inline_keeping_what_was_typed(client, admin, db_session):
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "field", "field": "birthday", "operator": "equals", "value": "", "points": "5000",
        "label": "Typed label"})
    assert answer.status_code == 422
    page = answer.text
    assert "-1000" in page and "1000" in page and 'aria-invalid="true"' in page
    assert 'value="Typed label"' in page
    assert db_session.scalar(select(ScoringRule.id)) is None
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "field", "field": "birthday", "operator": "equals", "value": "x", "points": "5"})
    assert answer.status_code == 422 and "is not a field a rule can look at" in answer.text
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "field", "field": "source", "operator": "equals", "value": " ", "points": "5"})
    assert answer.status_code == 422 and "Enter the value to compare with." in answer.text
    answer = client.post("/sales/scoring/rules/new", data={
        "kind": "activity", "interaction_kind": "", "per_occurrence": "y", "points": "5"})
    assert answer.status_code == 422
    assert "Choose the kind of interaction." in answer.text and "how many interactions count at most" in answer.text


def test_a_sales_rep_may_not_set_up_scoring(client, app, company, admin, login_as):
    rep = make_member(app, company, "rep@example.com", "Rep")
    login_as(rep)
    assert client.get("/sales/scoring/").status_code == 403
    assert client.post("/sales/scoring/recalculate").status_code == 403
    assert client.post("/sales/scoring/rules/new", data={"kind": "field", "points": "1"}).status_code == 403


# -- grades ------------------------------------------------------------------------------------------


def test_grades_are_saved_checked_and_applied(client, app, company, admin, db_session):
    lead_id = add_lead(app, company, "Flo", owner_id=admin.id, source="web")
    add_rule(app, company, field="source", operator="equals", value="web", points=30)
    refused = client.post("/sales/scoring/grades", data={"grade-0": "Hot", "min-0": "25", "grade-1": "hot",
                                                         "min-1": "", "grade-2": "Cold", "min-2": "abc"})
    assert refused.status_code == 422
    assert "The grade “hot” appears twice." in refused.text and "“abc” (grade Cold) is not a whole number." in refused.text
    assert 'value="abc"' in refused.text
    no_catch_all = client.post("/sales/scoring/grades", data={"grade-0": "Hot", "min-0": "25"})
    assert no_catch_all.status_code == 422 and "exactly one grade" in no_catch_all.text
    answer = client.post("/sales/scoring/grades", data={"grade-0": "Cold", "min-0": "", "grade-1": "Hot",
                                                        "min-1": "25"})
    assert answer.status_code == 302
    assert [(band.grade, band.min_score) for band in db_session.scalars(select(GradeBand).order_by(
        GradeBand.position))] == [("Hot", 25), ("Cold", None)]
    assert scored(db_session, lead_id)[:2] == (30, "Hot")
    assert client.post("/sales/scoring/grades", data={}).status_code == 302  # back to the defaults
    assert scored(db_session, lead_id)[:2] == (30, "C")


# -- on the lead's page, in the list and in the API ------------------------------------------------------


def test_the_lead_page_shows_the_score_grade_and_explanation(client, app, company, admin):
    add_rule(app, company, field="source", operator="equals", value="fair", points=45, label="Met at a fair")
    add_rule(app, company, field="email", operator="is_empty", points=-5)
    lead_id = add_lead(app, company, "Gus", owner_id=admin.id, source="Fair")
    in_company(app, company, lambda session: rescore_leads(session, [lead_id]))
    page = client.get(f"/sales/leads/{lead_id}").text
    assert 'data-panel="sales.score"' in page
    url = re.search(r'data-panel="sales.score".*?hx-get="([^"]+)"', page, re.DOTALL).group(1)
    panel = client.get(url).text
    assert 'data-score="40"' in panel and 'data-grade="C"' in panel
    assert "Met at a fair" in panel and "+45" in panel and "Email is empty" in panel and "-5" in panel


def test_the_score_panel_of_a_lead_another_rep_owns_is_not_found(client, app, company, admin, login_as):
    lead_id = add_lead(app, company, "Hidden", owner_id=admin.id)
    rep = make_member(app, company, "rep2@example.com", "Rep")
    login_as(rep)
    assert client.get(f"/sales/scoring/panel/lead/{lead_id}").status_code == 404


def test_the_lead_list_sorts_and_filters_by_grade(client, app, company, admin):
    add_rule(app, company, field="source", operator="equals", value="web", points=90)
    add_rule(app, company, field="source", operator="is_set", points=1)
    hot = add_lead(app, company, "Hot lead", owner_id=admin.id, source="web")
    cold = add_lead(app, company, "Cold lead", owner_id=admin.id, source="fair")
    in_company(app, company, lambda session: rescore_leads(session, [hot, cold]))
    page = client.get("/sales/leads/?grade=A").text
    assert "Hot lead" in page and "Cold lead" not in page
    page = client.get("/sales/leads/?sort=score&columns=name,score,grade").text
    assert page.index("Cold lead") < page.index("Hot lead")


def test_the_api_shows_the_score_read_only(client, app, company):
    company.enable("sales")
    auth = token_for(app, company, scopes="sales:*")
    add_rule(app, company, field="source", operator="equals", value="api", points=50, label="From the API")
    refused = client.post("/api/v1/sales/leads", headers=auth, json={"name": "Ivy", "source": "api", "score": 999})
    assert refused.status_code == 422 and "score" in refused.get_json()["errors"]
    answer = client.post("/api/v1/sales/leads", headers=auth, json={"name": "Ivy", "source": "api"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert client.get(f"/api/v1/sales/leads/{body['id']}", headers=auth).get_json()["score_details"] == \
        body["score_details"]
    assert (body["score"], body["grade"]) == (50, "B")
    assert body["score_details"] == [{"rule_id": body["score_details"][0]["rule_id"], "label": "From the API",
                                      "points": 50, "times": 1}]


# -- cost ----------------------------------------------------------------------------------------------


def test_scoring_many_leads_runs_a_bounded_number_of_queries(app, company, admin):
    add_rule(app, company, field="source", operator="is_set", points=10)
    add_rule(app, company, kind="activity", interaction_kind="call", points=5)
    few = [add_lead(app, company, f"Few {number}", source="x") for number in range(3)]
    many = [add_lead(app, company, f"Many {number}", source="y") for number in range(60)]

    def queries(ids):
        with counting_queries(app) as statements:
            in_company(app, company, lambda session: rescore_leads(session, ids))
        return len(statements)

    assert queries(many) == queries(few) <= 8
    assert queries(many) < 8  # nothing changed the second time: no UPDATE


def test_the_scoring_page_runs_a_bounded_number_of_queries(client, app, company, admin):
    add_rule(app, company, field="source", operator="is_set", points=10)
    with counting_queries(app) as few:
        assert client.get("/sales/scoring/").status_code == 200
    for number in range(20):
        add_rule(app, company, field="region", operator="equals", value=f"R{number}", points=number)
    with counting_queries(app) as many:
        assert client.get("/sales/scoring/").status_code == 200
    assert len(many) == len(few)
