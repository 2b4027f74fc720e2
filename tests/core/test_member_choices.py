"""core.access.member_choices and team_choices: the people an owner or assignee field offers,
and the teams a team field offers."""

from __future__ import annotations

from core.access import member_choices, team_choices
from core.db import get_session
from core.models import Membership, Team, User
from core.scoping import company_scope
from core.testing import TEST_PASSWORD, make_company


def test_the_choices_are_the_current_companys_members_by_name(app, company, client, login_as):
    other = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        nameless = User(email="zed@acme.test", name="")
        nameless.set_password(TEST_PASSWORD)
        nameless.memberships.append(Membership(company_id=company.id))
        session.add(nameless)
        session.commit()
        nameless_id = nameless.id
    login_as(company.admin)
    with app.test_request_context():
        assert member_choices() == []  # no company in context: nobody
    with client:
        client.get("/")
        choices = member_choices()
    assert (company.admin.id, company.admin.name) in choices
    assert (nameless_id, "zed@acme.test") in choices  # no name: the email
    assert other.admin.id not in [user_id for user_id, _name in choices]


def test_team_choices_are_the_current_companys_teams_by_name(app, company, client, login_as):
    other = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        session.add_all([Team(company_id=company.id, name="West"), Team(company_id=company.id, name="East"),
                         Team(company_id=other.id, name="Beta team")])
        session.commit()
    login_as(company.admin)
    with app.test_request_context():
        assert team_choices() == []  # no company in context: none
    with client:
        client.get("/")  # the company in context
        with company_scope(get_session(), company.id):  # as during the request
            assert [name for _team_id, name in team_choices()] == ["East", "West"]
