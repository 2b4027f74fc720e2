"""Lead assignment rules: matching (first rule wins, conditions case-insensitive and
multi-valued, inactive rules skipped), round robin over a team with caps, a rep's rule, the
bulk variant's query count and fairness, the lead form and API hooks, the manager's bulk
"Assign to…" and "Apply assignment rules", and the admin page (validation, order, toggle,
delete, "Test a lead" without moving the turn)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.models import AuditEntry, Event, Team, TeamMember, User
from core.testing import counting_queries
from plugins.sales.assignment import assign_lead, assign_leads, assign_unowned, rule_matches
from plugins.sales.models import AssignmentRule, Lead
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.customers.test_api import token_for
from tests.plugins.sales.helpers import in_company
from tests.plugins.sales.test_leads import add_lead


def make_team(app, company, name: str, member_ids: list[int]) -> int:
    def work(session):
        team = Team(company_id=company.id, name=name)
        session.add(team)
        session.flush()
        session.add_all(TeamMember(team_id=team.id, user_id=user_id) for user_id in member_ids)
        return team.id
    return in_company(app, company, work)


def add_rule(app, company, name: str = "Rule", position: int = 0, **values) -> int:
    def work(session):
        rule = AssignmentRule(company_id=company.id, name=name, position=position, **values)
        session.add(rule)
        session.flush()
        return rule.id
    return in_company(app, company, work)


def assign_new(app, company, region: str = "", industry: str = "", source: str = "") -> tuple[int, int | None, int | None]:
    """Add an unowned lead and run the rules on it: ``(lead id, owner id, team id)``."""
    def work(session):
        lead = Lead(company_id=company.id, name="New one", region=region, industry=industry, source=source)
        session.add(lead)
        session.flush()
        assign_lead(session, lead)
        return lead.id, lead.owner_id, lead.team_id
    return in_company(app, company, work)


@pytest.fixture
def reps(app, company):
    """Three sales reps (by id: first, second, third) in the team "Inside sales"."""
    company.enable("sales")
    people = [make_member(app, company, f"rep{number}@acme.test", f"Rep {number}") for number in (1, 2, 3)]
    team_id = make_team(app, company, "Inside sales", [person.id for person in people])
    return [person.id for person in people], team_id


# -- matching ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "industry", "source", "fits"), [
    ("asia", "", "", True),
    ("  EUROPE ", "", "", True),
    ("Africa", "", "", False),
    ("", "", "", False),
    ("Europe", "Food", "Fair", True),
])
def test_conditions_compare_case_insensitively_with_several_values(region, industry, source, fits):
    rule = AssignmentRule(name="R", region="Europe, Asia", industry="", source="")
    assert rule_matches(rule, region, industry, source) is fits


def test_every_condition_must_fit(reps, app, company):
    (first, _second, _third), _team = reps
    add_rule(app, company, "Food fairs", industry="food, drinks", source="FAIR", user_id=first)
    assert assign_new(app, company, industry="Drinks", source="fair")[1] == first
    assert assign_new(app, company, industry="Drinks", source="web")[1] is None
    assert assign_new(app, company, industry="Cars", source="fair")[1] is None


def test_the_first_matching_rule_wins(reps, app, company):
    (first, second, _third), _team = reps
    add_rule(app, company, "Everything else", position=1, user_id=second)
    add_rule(app, company, "Europe", position=0, region="Europe", user_id=first)
    assert assign_new(app, company, region="europe")[1] == first
    assert assign_new(app, company, region="Asia")[1] == second


def test_an_inactive_rule_is_ignored(reps, app, company):
    (first, second, _third), _team = reps
    add_rule(app, company, "Off", position=0, user_id=first, active=False)
    add_rule(app, company, "On", position=1, user_id=second)
    assert assign_new(app, company)[1] == second


def test_without_a_matching_rule_the_lead_stays_unowned(reps, app, company):
    (first, _second, _third), _team = reps
    add_rule(app, company, "Asia", region="Asia", user_id=first)
    assert assign_new(app, company, region="Europe")[1:] == (None, None)


# -- round robin and caps ------------------------------------------------------------------------------


def test_a_team_rule_rotates_across_its_members_and_wraps(reps, app, company, db_session):
    (first, second, third), team_id = reps
    rule_id = add_rule(app, company, "Team", team_id=team_id)
    given = [assign_new(app, company) for _ in range(4)]
    assert [owner for _lead, owner, _team in given] == [first, second, third, first]
    assert {team for _lead, _owner, team in given} == {team_id}
    assert db_session.get(AssignmentRule, rule_id).last_user_id == first


def test_members_who_left_the_company_or_were_deactivated_are_skipped(reps, app, company, db_session):
    (first, second, third), team_id = reps
    add_rule(app, company, "Team", team_id=team_id)
    db_session.get(User, second).active = False
    db_session.commit()
    assert [assign_new(app, company)[1] for _ in range(3)] == [first, third, first]


def test_a_rep_at_the_cap_is_skipped(reps, app, company):
    (first, second, third), team_id = reps
    add_rule(app, company, "Capped", team_id=team_id, cap=2)
    add_lead(app, company, "Held", owner_id=second, status="new")
    add_account(app, company, "Held account", owner_id=second)
    add_lead(app, company, "Lost cause", owner_id=third, status="unqualified")  # not open: not counted
    # second holds 2 (a lead and an account): skipped every time; first and third alternate.
    assert [assign_new(app, company)[1] for _ in range(3)] == [first, third, first]


def test_when_everyone_is_at_the_cap_the_lead_stays_unowned_in_the_team(reps, app, company, db_session):
    (first, second, third), team_id = reps
    rule_id = add_rule(app, company, "Capped", team_id=team_id, cap=1, last_user_id=second)
    for rep in (first, second, third):
        add_lead(app, company, f"Held by {rep}", owner_id=rep)
    lead_id, owner, team = assign_new(app, company)
    assert (owner, team) == (None, team_id)
    assert db_session.get(AssignmentRule, rule_id).last_user_id == second  # the turn did not move
    why = db_session.scalars(select(AssignmentRule.name)).one()
    entries = db_session.scalars(select(AuditEntry.changes).where(
        AuditEntry.record_type == "sales_lead", AuditEntry.record_id == str(lead_id))).all()
    assert {"assignment_rule": [None, why], "everyone_at_cap": [None, True]} in entries


def test_a_rule_for_one_rep_gives_them_every_lead_and_records_why(reps, app, company, db_session):
    (_first, second, _third), _team = reps
    rule_id = add_rule(app, company, "Fairs to Rep 2", source="fair", user_id=second)
    given = [assign_new(app, company, source="Fair") for _ in range(2)]
    assert [owner for _lead, owner, _team in given] == [second, second]
    lead_id = given[0][0]
    payloads = db_session.scalars(select(Event.payload).where(Event.name == "sales.lead.assigned")).all()
    assert payloads[0] == {"id": lead_id, "owner_id": second, "rule_id": rule_id}
    changes = db_session.scalars(select(AuditEntry.changes).where(
        AuditEntry.record_type == "sales_lead", AuditEntry.record_id == str(lead_id))).all()
    assert {"assignment_rule": [None, "Fairs to Rep 2"]} in changes
    assert any(change.get("owner_id") == [None, second] for change in changes)


# -- bulk ----------------------------------------------------------------------------------------------


def _bulk(app, company, count: int) -> list[int | None]:
    def work(session):
        leads = [Lead(company_id=company.id, name=f"Imported {number}") for number in range(count)]
        session.add_all(leads)
        session.flush()
        with counting_queries(app) as queries:
            owners = assign_leads(session, leads)
            session.flush()
        return owners, len(queries)
    return in_company(app, company, work)


def test_bulk_assignment_runs_a_bounded_number_of_queries_and_shares_evenly(reps, app, company, db_session):
    (first, second, third), team_id = reps
    rule_id = add_rule(app, company, "Team", team_id=team_id, cap=1000)
    _owners, few = _bulk(app, company, 5)
    owners, many = _bulk(app, company, 100)
    assert many == few <= 12
    counts = {rep: owners.count(rep) for rep in (first, second, third)}
    assert sorted(counts.values()) == [33, 33, 34]
    assert db_session.get(AssignmentRule, rule_id).last_user_id == owners[-1]
    events = db_session.scalars(select(Event.payload).where(Event.name == "sales.lead.assigned")
                                .order_by(Event.id)).all()
    assert len(events) == 105 and {event["rule_id"] for event in events} == {rule_id}  # one per lead
    assert [event["owner_id"] for event in events[-100:]] == owners


def test_the_rule_row_is_locked_before_the_turn_moves(reps, app, company):
    """Two leads created at once wait for each other on the rule's row (PostgreSQL), so the
    second sees who got the first; SQLite has one writer at a time anyway."""
    _reps, team_id = reps
    add_rule(app, company, "Team", team_id=team_id)

    def work(session):
        lead = Lead(company_id=company.id, name="Locked")
        session.add(lead)
        session.flush()
        with counting_queries(app) as queries:
            assign_lead(session, lead)
        return session.get_bind().dialect.name, queries
    dialect, queries = in_company(app, company, work)
    locking = [query for query in queries if "FOR UPDATE" in query]
    assert len(locking) == (1 if dialect == "postgresql" else 0)
    assert "sales_assignment_rule" in (locking[0] if locking else "sales_assignment_rule")


def test_assign_unowned_leaves_owned_leads_alone(reps, app, company, db_session):
    (first, second, _third), _team = reps
    add_rule(app, company, "Rep 1", user_id=first)
    owned = add_lead(app, company, "Owned", owner_id=second)
    unowned = add_lead(app, company, "Unowned")
    outcome = in_company(app, company, lambda session: assign_unowned(session, [owned, unowned]))
    assert outcome == {unowned: first}
    assert db_session.get(Lead, owned).owner_id == second


# -- the form and the API ---------------------------------------------------------------------------------


def test_the_lead_form_offers_assign_automatically_and_the_rules_choose(reps, client, app, company, admin, db_session):
    (first, _second, _third), _team = reps
    assert "Assign automatically" not in client.get("/sales/leads/new").text  # no rules: no such choice
    add_rule(app, company, "Rep 1", user_id=first)
    page = client.get("/sales/leads/new").text
    assert '<option value="">Assign automatically</option>' in page
    answer = client.post("/sales/leads/new", data={"name": "Auto", "status": "new", "owner_id": ""})
    assert answer.status_code == 302
    assert db_session.scalar(select(Lead.owner_id).where(Lead.name == "Auto")) == first
    client.post("/sales/leads/new", data={"name": "Mine", "status": "new", "owner_id": str(admin.id)})
    assert db_session.scalar(select(Lead.owner_id).where(Lead.name == "Mine")) == admin.id


def test_the_api_without_owner_id_lets_the_rules_choose(reps, client, app, company, db_session):
    (first, second, _third), team_id = reps
    auth = token_for(app, company, scopes="sales:*")
    without_rules = client.post("/api/v1/sales/leads", headers=auth, json={"name": "Before rules"})
    assert without_rules.get_json()["owner_id"] == company.admin.id  # as before: the token's user
    add_rule(app, company, "Team", team_id=team_id)
    first_lead = client.post("/api/v1/sales/leads", headers=auth, json={"name": "By rules"}).get_json()
    second_lead = client.post("/api/v1/sales/leads", headers=auth, json={"name": "By rules too"}).get_json()
    assert (first_lead["owner_id"], second_lead["owner_id"]) == (first, second)
    named = client.post("/api/v1/sales/leads", headers=auth, json={"name": "Named", "owner_id": None}).get_json()
    assert named["owner_id"] == company.admin.id  # an explicit null: the rules are not asked
    assert db_session.get(Lead, first_lead["id"]).team_id == team_id


# -- the manager's bulk actions on the lead list ------------------------------------------------------------


def test_a_manager_assigns_selected_leads_to_a_member(reps, client, app, company, login_as, db_session):
    (first, second, _third), team_id = reps
    manager = make_member(app, company, "boss@acme.test", "Bea Boss", template="customers.sales_manager")
    make_team(app, company, "Managed", [manager.id, first, second])
    ids = [add_lead(app, company, f"Lead {number}", owner_id=first) for number in range(3)]
    login_as(manager)
    assert "Assign to…" in client.get("/sales/leads/").text
    asking = client.post("/sales/leads/bulk/assign", data={"ids": ids, "action": "assign"})
    assert asking.status_code == 200 and 'name="owner_id"' in asking.text and "Assign 3 leads" in asking.text
    refused = client.post("/sales/leads/bulk/assign", data={"ids": ids, "action": "assign", "owner_id": "999999"})
    assert refused.status_code == 422 and "Choose a member of the company." in refused.text
    done = client.post("/sales/leads/bulk/assign", data={"ids": ids, "action": "assign", "owner_id": str(second)})
    assert done.status_code == 302
    db_session.expire_all()
    assert {db_session.get(Lead, lead_id).owner_id for lead_id in ids} == {second}


def test_a_rep_may_not_reassign_leads(reps, client, app, company, login_as):
    rep = make_member(app, company, "solo@acme.test", "Solo Rep")
    lead_id = add_lead(app, company, "Mine", owner_id=rep.id)
    login_as(rep)
    assert "Mine" in client.get("/sales/leads/").text and "Assign to…" not in client.get("/sales/leads/").text
    assert client.post("/sales/leads/bulk/assign", data={"ids": [lead_id], "owner_id": str(rep.id)}).status_code == 403
    assert client.post("/sales/leads/bulk/apply-rules", data={"ids": [lead_id], "_confirmed": "yes"}).status_code == 403
    assert client.get("/sales/assignment/").status_code == 403


def test_applying_the_rules_to_selected_unowned_leads(reps, client, app, company, admin, db_session):
    (first, second, _third), team_id = reps
    add_rule(app, company, "Team", team_id=team_id)
    ids = [add_lead(app, company, f"Pooled {number}") for number in range(2)]
    kept = add_lead(app, company, "Kept", owner_id=admin.id)
    answer = client.post("/sales/leads/bulk/apply-rules", data={"ids": [*ids, kept], "action": "apply_rules",
                                                               "_confirmed": "yes"}, follow_redirects=True)
    assert "The rules gave 2 leads an owner. 1 had an owner already." in answer.text
    db_session.expire_all()
    assert [db_session.get(Lead, lead_id).owner_id for lead_id in (*ids, kept)] == [first, second, admin.id]


# -- the admin page -----------------------------------------------------------------------------------------


def test_a_rule_is_added_edited_and_listed_in_order(reps, client, app, company, admin, db_session):
    (first, _second, _third), team_id = reps
    answer = client.post("/sales/assignment/new", data={
        "name": "Europe", "region": " europe ,, Asia ", "team_id": str(team_id), "cap": "20", "active": "y"})
    assert answer.status_code == 302
    client.post("/sales/assignment/new", data={"name": "Rest", "user_id": str(first), "active": "y"})
    rules = db_session.scalars(select(AssignmentRule).order_by(AssignmentRule.position)).all()
    assert [(rule.name, rule.region, rule.team_id, rule.cap) for rule in rules] == [
        ("Europe", "europe, Asia", team_id, 20), ("Rest", "", None, None)]
    page = client.get("/sales/assignment/").text
    assert page.index("Europe") < page.index("Rest") and "In turn to the team Inside sales" in page
    client.post(f"/sales/assignment/{rules[1].id}/move", data={"direction": "up"})
    page = client.get("/sales/assignment/").text
    assert page.index(">Rest<") < page.index(">Europe<")
    audited = db_session.scalars(select(AuditEntry.action).where(AuditEntry.record_type == "sales_assignment_rule"))
    assert "create" in list(audited)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "No target"}, "Choose a team or one rep to give the leads to."),
    ({"name": "Both", "team_id": "TEAM", "user_id": "USER"}, "Choose a team or one rep, not both."),
    ({"name": "Zero cap", "team_id": "TEAM", "cap": "0"}, "Enter a cap of at least 1, or leave it empty."),
    ({"name": "", "team_id": "TEAM"}, "Enter a name."),
])
def test_the_rule_form_refuses_bad_input_inline_keeping_what_was_typed(reps, client, admin, db_session, data, message):
    (first, _second, _third), team_id = reps
    data = {key: {"TEAM": str(team_id), "USER": str(first)}.get(value, value) for key, value in data.items()}
    answer = client.post("/sales/assignment/new", data={**data, "region": "Typed region"})
    assert answer.status_code == 422
    assert message in answer.text and 'value="Typed region"' in answer.text and "is-invalid" in answer.text
    assert db_session.scalar(select(AssignmentRule)) is None


def test_a_team_without_members_is_saved_with_a_warning(reps, client, app, company, admin):
    empty_team = make_team(app, company, "Nobody here", [])
    answer = client.post("/sales/assignment/new", data={"name": "Empty", "team_id": str(empty_team), "active": "y"},
                         follow_redirects=True)
    assert "The team has no active members yet" in answer.text
    assert "The team has no active members: this rule gives nobody a lead." in answer.text


def test_a_rule_is_turned_off_and_deleted_after_confirmation(reps, client, app, company, admin, db_session):
    (first, _second, _third), _team = reps
    rule_id = add_rule(app, company, "Short-lived", user_id=first)
    client.post(f"/sales/assignment/{rule_id}/active", data={"active": "0"})
    assert db_session.get(AssignmentRule, rule_id).active is False
    asking = client.post(f"/sales/assignment/{rule_id}/delete")
    assert asking.status_code == 200 and "Delete the rule “Short-lived”?" in asking.text
    db_session.expire_all()
    assert db_session.get(AssignmentRule, rule_id) is not None
    assert client.post(f"/sales/assignment/{rule_id}/delete", data={"_confirmed": "yes"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(AssignmentRule, rule_id) is None


def test_testing_a_lead_shows_who_would_get_it_without_moving_the_turn(reps, client, app, company, admin, db_session):
    (first, _second, _third), team_id = reps
    rule_id = add_rule(app, company, "Europe team", region="Europe", team_id=team_id, last_user_id=first)
    for _ in range(2):
        page = client.get("/sales/assignment/?test=1&region=EUROPE&industry=&source=").text
        outcome = re.search(r'id="test-outcome">(.*?)</div>', page, re.DOTALL).group(1)
        assert "Rule “Europe team” fits: Rep 2 would get the lead." in outcome
    assert db_session.get(AssignmentRule, rule_id).last_user_id == first
    assert db_session.scalar(select(Lead)) is None
    missing = client.get("/sales/assignment/?test=1&region=Mars").text
    assert "No active rule fits" in missing


def test_the_rules_page_runs_a_bounded_number_of_queries(reps, client, app, company, admin):
    (first, _second, _third), team_id = reps
    add_rule(app, company, "One", team_id=team_id)
    with counting_queries(app) as few:
        assert client.get("/sales/assignment/?test=1").status_code == 200
    for number in range(8):
        add_rule(app, company, f"More {number}", position=number + 1,
                 **({"team_id": make_team(app, company, f"T{number}", [first])} if number % 2 else {"user_id": first}))
    with counting_queries(app) as many:
        assert client.get("/sales/assignment/?test=1").status_code == 200
    assert len(many) == len(few)
