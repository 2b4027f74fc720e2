"""The rules of pipelines, stages and lost reasons (plugins.sales.services), and the lead's
derived columns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Event
from plugins.sales.models import Lead, Pipeline, Stage
from plugins.sales.services import (
    DEFAULT_STAGES,
    PipelineError,
    StageDraft,
    add_lost_reason,
    create_pipeline,
    delete_pipeline,
    rename_lost_reason,
    set_default_pipeline,
    stage_problems,
    stages_of,
    update_pipeline,
)
from tests.plugins.sales.helpers import add_opportunity, default_ids, in_company

STANDARD = [StageDraft(None, "Open", 20), StageDraft(None, "Won", 100, "won"), StageDraft(None, "Lost", 0, "lost")]


def test_a_company_gets_the_default_pipeline_once_whatever_asks_for_it(app, company):
    first, stages = default_ids(app, company)
    again, _ = default_ids(app, company)
    assert first == again
    assert list(stages) == [name for name, _p, _k in DEFAULT_STAGES]

    def check(session):
        rows = stages_of(session, [first])[first]
        return [(s.name, s.probability, s.kind, s.position) for s in rows], session.get(Pipeline, first).is_default
    rows, is_default = in_company(app, company, check)
    assert rows[0] == ("Qualification", 10, "open", 0)
    assert rows[-2:] == [("Won", 100, "won", 4), ("Lost", 0, "lost", 5)]
    assert is_default


@pytest.mark.parametrize(("stages", "message"), [
    ([StageDraft(None, "Won", 100, "won"), StageDraft(None, "Lost", 0, "lost")], "at least one open stage"),
    ([StageDraft(None, "Open", 10), StageDraft(None, "Lost", 0, "lost")], "exactly one won stage; this one has 0"),
    ([StageDraft(None, "Open", 10), StageDraft(None, "W1", 100, "won"), StageDraft(None, "W2", 100, "won"),
      StageDraft(None, "Lost", 0, "lost")], "exactly one won stage; this one has 2"),
    ([StageDraft(None, "Open", 10), StageDraft(None, "Won", 100, "won")], "at least one lost stage"),
    ([StageDraft(None, "Open", 10), StageDraft(None, "open ", 20), *STANDARD[1:]], "Two stages are named “open”"),
    ([StageDraft(None, "Open", 10), StageDraft(None, "Won", 90, "won"), STANDARD[2]], "“Won” has a probability of 100 %"),
    ([StageDraft(None, "Open", 10), STANDARD[1], StageDraft(None, "Lost", 5, "lost")], "“Lost” has a probability of 0 %"),
    ([StageDraft(None, "Open", 101), *STANDARD[1:]], "between 0 and 100 %"),
])
def test_stage_rules_name_what_is_wrong(app, stages, message):
    with app.test_request_context():
        assert any(message in problem for problem in stage_problems(stages)), stage_problems(stages)


def test_a_sound_set_of_stages_has_no_problem(app):
    with app.test_request_context():
        assert stage_problems(STANDARD) == []


def test_pipeline_names_are_unique_in_a_company_but_not_across_companies(app, company):
    from core.testing import make_company

    other = make_company(app, "Other", "other")
    in_company(app, company, lambda s: create_pipeline(s, company.id, "Renewals", STANDARD))
    in_company(app, other, lambda s: create_pipeline(s, other.id, "Renewals", STANDARD))
    with app.test_request_context(), pytest.raises(PipelineError, match="“renewals” already exists"):
        in_company(app, company, lambda s: create_pipeline(s, company.id, " renewals ", STANDARD))


def test_the_first_pipeline_is_the_default_and_only_one_stays_default(app, company):
    first = in_company(app, company, lambda s: create_pipeline(s, company.id, "A", STANDARD).id)
    second = in_company(app, company, lambda s: create_pipeline(s, company.id, "B", STANDARD).id)
    in_company(app, company, lambda s: set_default_pipeline(s, s.get(Pipeline, second)))
    defaults = in_company(app, company, lambda s: list(s.scalars(select(Pipeline.id).where(Pipeline.is_default))))
    assert defaults == [second] and first != second


def test_updating_renames_reorders_adds_and_removes_stages_even_swapping_names(app, company):
    pipeline_id, ids = default_ids(app, company)

    def work(session):
        pipeline = session.get(Pipeline, pipeline_id)
        drafts = [StageDraft(ids["Proposal"], "Qualification", 10), StageDraft(ids["Qualification"], "Proposal", 50),
                  StageDraft(None, "Demo", 40), StageDraft(ids["Won"], "Won", 100, "won"),
                  StageDraft(ids["Lost"], "Lost", 0, "lost")]
        update_pipeline(session, pipeline, "Sales", drafts)
        return [(s.id, s.name, s.position) for s in stages_of(session, [pipeline_id])[pipeline_id]]
    rows = in_company(app, company, work)
    assert [(name, position) for _id, name, position in rows] == [
        ("Qualification", 0), ("Proposal", 1), ("Demo", 2), ("Won", 3), ("Lost", 4)]
    assert rows[0][0] == ids["Proposal"]  # the same stage, renamed: its opportunities stay
    assert ids["Negotiation"] not in [row[0] for row in rows]


def test_a_stage_holding_opportunities_cannot_be_removed_and_the_message_counts_them(app, company):
    pipeline_id, ids = default_ids(app, company)
    add_opportunity(app, company, pipeline_id, ids["Proposal"])
    add_opportunity(app, company, pipeline_id, ids["Proposal"], deleted=True)  # in the trash: still there

    def work(session):
        stages = [StageDraft.of(s) for s in stages_of(session, [pipeline_id])[pipeline_id] if s.name != "Proposal"]
        update_pipeline(session, session.get(Pipeline, pipeline_id), "Sales", stages)
    with app.test_request_context(), pytest.raises(PipelineError, match="“Proposal” holds 2 opportunities"):
        in_company(app, company, work)


def test_a_stage_holding_opportunities_cannot_become_won(app, company):
    pipeline_id, ids = default_ids(app, company)
    add_opportunity(app, company, pipeline_id, ids["Negotiation"])

    def work(session):
        stages = [StageDraft.of(s) for s in stages_of(session, [pipeline_id])[pipeline_id]]
        for draft in stages:
            if draft.name == "Negotiation":
                draft.kind, draft.probability = "won", 100
            elif draft.name == "Won":
                draft.kind, draft.probability = "open", 90
        update_pipeline(session, session.get(Pipeline, pipeline_id), "Sales", stages)
    with app.test_request_context(), pytest.raises(PipelineError, match="“Negotiation” holds 1 opportunity: it cannot"):
        in_company(app, company, work)


def test_a_pipeline_holding_opportunities_or_the_last_one_cannot_be_deleted(app, company):
    pipeline_id, ids = default_ids(app, company)
    with app.test_request_context(), pytest.raises(PipelineError, match="only pipeline"):
        in_company(app, company, lambda s: delete_pipeline(s, s.get(Pipeline, pipeline_id)))
    in_company(app, company, lambda s: create_pipeline(s, company.id, "Renewals", STANDARD))
    add_opportunity(app, company, pipeline_id, ids["Proposal"])
    with app.test_request_context(), pytest.raises(PipelineError, match="holds 1 opportunity"):
        in_company(app, company, lambda s: delete_pipeline(s, s.get(Pipeline, pipeline_id)))


def test_deleting_the_default_pipeline_makes_the_next_one_default_and_removes_its_stages(app, company):
    pipeline_id, _ = default_ids(app, company)
    other = in_company(app, company, lambda s: create_pipeline(s, company.id, "Renewals", STANDARD).id)
    in_company(app, company, lambda s: delete_pipeline(s, s.get(Pipeline, pipeline_id)))
    left = in_company(app, company, lambda s: [(p.id, p.is_default) for p in s.scalars(select(Pipeline))])
    assert left == [(other, True)]
    assert in_company(app, company, lambda s: s.scalar(select(Stage.id).where(Stage.pipeline_id == pipeline_id))) is None


def test_pipeline_changes_emit_events(app, company, db_session):
    pipeline_id, _ = default_ids(app, company)
    in_company(app, company, lambda s: update_pipeline(
        s, s.get(Pipeline, pipeline_id), "Main", [StageDraft.of(x) for x in stages_of(s, [pipeline_id])[pipeline_id]]))
    names = [(name, payload) for name, payload in db_session.execute(
        select(Event.name, Event.payload).where(Event.name.like("sales.%")).order_by(Event.id))]
    assert names == [("sales.pipeline.created", {"id": pipeline_id, "name": "Sales"}),
                     ("sales.pipeline.updated", {"id": pipeline_id, "name": "Main"})]


def test_lost_reasons_are_unique_case_insensitively(app, company):
    reason_id = in_company(app, company, lambda s: add_lost_reason(s, company.id, "Price too high").id)
    in_company(app, company, lambda s: add_lost_reason(s, company.id, "No budget"))
    with app.test_request_context(), pytest.raises(PipelineError, match="already on the list"):
        in_company(app, company, lambda s: add_lost_reason(s, company.id, "no BUDGET"))
    with app.test_request_context(), pytest.raises(PipelineError, match="Enter a reason"):
        in_company(app, company, lambda s: add_lost_reason(s, company.id, "  "))
    from plugins.sales.models import LostReason
    in_company(app, company, lambda s: rename_lost_reason(s, s.get(LostReason, reason_id), "Price"))


def test_a_lead_keeps_normalised_contact_details_and_its_search_text(app, company):
    def work(session):
        lead = Lead(company_id=company.id, name="Ann Lee", organisation="Bluebird Foods",
                    email=" Ann@Example.COM ", phone="+86 138-0013-8000")
        session.add(lead)
        session.flush()
        return lead.email, lead.email_normalized, lead.phone_normalized, lead.search_text
    email, email_normalized, phone_normalized, search_text = in_company(app, company, work)
    assert (email, email_normalized, phone_normalized) == ("Ann@Example.COM", "ann@example.com", "+8613800138000")
    assert "bluebird foods" in search_text and "+8613800138000" in search_text and "ann lee" in search_text
