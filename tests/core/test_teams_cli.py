"""`crm teams`: create teams, manage members, with clear refusals."""

from __future__ import annotations

from sqlalchemy import select

from core.cli import cli
from core.models import Membership, Team, TeamMember, User
from core.testing import make_company


def invoke(runner, *args):
    return runner.invoke(cli, list(args))


def add_member(db_session, company, email):
    user = User(email=email, name=email.split("@")[0].title())
    user.set_password("long enough")
    user.memberships.append(Membership(company_id=company.id))
    db_session.add(user)
    db_session.commit()
    return user


def test_a_team_gets_a_manager_and_members(app, runner, company, db_session):
    add_member(db_session, company, "sam@acme.test")
    created = invoke(runner, "teams", "create", "--name", "North", "--manager", "admin@acme.test")
    assert created.exit_code == 0, created.output
    assert invoke(runner, "teams", "add", "--team", "North", "--email", "SAM@acme.test").exit_code == 0
    listed = invoke(runner, "teams", "list")
    assert "North" in listed.output and "admin@acme.test" in listed.output and "sam@acme.test" in listed.output
    team = db_session.scalar(select(Team).where(Team.name == "North"))
    assert team.manager_id == company.admin.id
    assert db_session.scalars(select(TeamMember.user_id)).all() != []
    assert invoke(runner, "teams", "remove", "--team", "North", "--email", "sam@acme.test").exit_code == 0


def test_refusals_name_the_problem_and_change_nothing(app, runner, company, db_session):
    beta = make_company(app, "Beta", "beta")
    invoke(runner, "teams", "create", "--name", "North", "--company", "acme")
    duplicate = invoke(runner, "teams", "create", "--name", "North", "--company", "acme")
    assert duplicate.exit_code == 2 and "has a team 'North' already" in duplicate.output
    outsider = invoke(runner, "teams", "add", "--team", "North", "--email", "admin@beta.test", "--company", "acme")
    assert outsider.exit_code == 2 and "is not a member of Acme" in outsider.output
    missing = invoke(runner, "teams", "add", "--team", "South", "--email", "admin@acme.test", "--company", "acme")
    assert missing.exit_code == 2 and "has no team 'South'" in missing.output
    other_company = invoke(runner, "teams", "list", "--company", beta.slug)
    assert "Beta has no teams" in other_company.output  # Acme's team is not Beta's
    assert db_session.scalars(select(TeamMember)).all() == []
