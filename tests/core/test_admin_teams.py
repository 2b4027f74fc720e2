"""The Teams page of the admin console (``/admin/teams``): list, create, rename, set the
manager, add and remove members (only members of the company), delete with confirmation."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from core.access import team_people
from core.db import get_session
from core.models import Membership, Team, TeamMember, User
from core.testing import make_company


def add_person(app, company_id: int, email: str, name: str | None = None) -> User:
    with app.app_context():
        session = get_session()
        user = User(email=email, name=name or email.split("@")[0].title())
        user.set_password("long enough")
        user.memberships.append(Membership(company_id=company_id))
        session.add(user)
        session.commit()
        return user


def add_team(app, company_id: int, name: str, manager_id: int | None = None) -> int:
    with app.app_context():
        session = get_session()
        team = Team(company_id=company_id, name=name, manager_id=manager_id)
        session.add(team)
        session.commit()
        return team.id


def team_state(app, team_id: int) -> tuple[str, int | None, set[int]] | None:
    """(name, manager id, member ids) of the team, or None when it is gone."""
    with app.app_context():
        session = get_session()
        team = session.get(Team, team_id)
        if team is None:
            return None
        members = set(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
        return team.name, team.manager_id, members


def test_only_administrators_manage_teams(app, client, company, login_as):
    member = add_person(app, company.id, "member@acme.test")
    team_id = add_team(app, company.id, "North")
    login_as(member)

    assert client.get("/admin/teams").status_code == 403
    assert client.post("/admin/teams/new", data={"name": "South"}).status_code == 403
    assert client.post(f"/admin/teams/{team_id}/delete", data={"confirm": "yes"}).status_code == 403
    assert team_state(app, team_id) is not None


def test_another_companys_team_is_not_found(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    team_id = add_team(app, beta.id, "Beta team")
    login_as(company.admin)

    assert client.get(f"/admin/teams/{team_id}").status_code == 404
    assert client.post(f"/admin/teams/{team_id}/delete", data={"confirm": "yes"}).status_code == 404
    assert team_state(app, team_id) is not None


def test_the_list_shows_the_companys_teams_with_manager_and_member_count(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test", "Ann")
    team_id = add_team(app, company.id, "North", manager_id=ann.id)
    add_team(app, company.id, "South")
    beta = make_company(app, "Beta", "beta")
    add_team(app, beta.id, "Elsewhere")
    with app.app_context():
        get_session().add(TeamMember(team_id=team_id, user_id=company.admin.id))
        get_session().commit()
    login_as(company.admin)

    page = client.get("/admin/teams").text

    assert re.findall(r'<a href="/admin/teams/\d+">([^<]+)</a>', page) == ["North", "South"]
    assert "Ann" in page and "No manager" in page
    assert "Elsewhere" not in page
    assert "South" not in client.get("/admin/teams?q=ann").text


def test_an_empty_list_says_how_to_start(client, company, login_as):
    login_as(company.admin)

    assert "No teams yet" in client.get("/admin/teams").text


def test_creating_a_team_with_a_manager_and_adding_members_changes_who_sees_what(app, client, company, login_as,
                                                                                  caplog):
    ann = add_person(app, company.id, "ann@acme.test", "Ann")
    bob = add_person(app, company.id, "bob@acme.test", "Bob")
    login_as(company.admin)

    with caplog.at_level(logging.INFO, logger="core.admin_teams"):
        created = client.post("/admin/teams/new", data={"name": " North ", "manager": str(ann.id)})
    assert created.status_code == 302
    team_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/admin/teams/{team_id}/members", data={"user": str(bob.id)}).status_code == 302

    assert team_state(app, team_id) == ("North", ann.id, {bob.id})
    with app.app_context():
        assert set(get_session().scalars(team_people(ann.id, company.id))) == {ann.id, bob.id}
    logged = [r.getMessage() for r in caplog.records if r.name == "core.admin_teams"]
    assert logged and "North" in logged[0] and "admin@acme.test" in logged[0]


def test_a_duplicate_name_is_refused_with_the_values_kept(app, client, company, login_as):
    add_team(app, company.id, "North")
    ann = add_person(app, company.id, "ann@acme.test", "Ann")
    login_as(company.admin)

    response = client.post("/admin/teams/new", data={"name": "north", "manager": str(ann.id)})

    assert response.status_code == 422
    assert "Acme has a team &#39;north&#39; already." in response.text
    assert 'id="field-name-error"' in response.text and 'value="north"' in response.text
    assert re.search(rf'<option value="{ann.id}" selected', response.text)
    with app.app_context():
        assert get_session().scalars(select(Team.name)).all() == ["North"]


def test_an_empty_name_is_refused(client, company, login_as):
    login_as(company.admin)

    response = client.post("/admin/teams/new", data={"name": "   "})

    assert response.status_code == 422 and "Give the team a name" in response.text


def test_renaming_and_changing_the_manager(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test", "Ann")
    team_id = add_team(app, company.id, "North", manager_id=ann.id)
    add_team(app, company.id, "South")
    login_as(company.admin)

    taken = client.post(f"/admin/teams/{team_id}", data={"name": "South", "manager": ""})
    assert taken.status_code == 422 and "has a team &#39;South&#39; already" in taken.text
    assert client.post(f"/admin/teams/{team_id}", data={"name": "East", "manager": ""}).status_code == 302

    assert team_state(app, team_id) == ("East", None, set())


def test_only_members_of_the_company_can_join_or_manage(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    team_id = add_team(app, company.id, "North")
    login_as(company.admin)

    joined = client.post(f"/admin/teams/{team_id}/members", data={"user": str(beta.admin.id)})
    managed = client.post(f"/admin/teams/{team_id}", data={"name": "North", "manager": str(beta.admin.id)})

    assert joined.status_code == 422 and "Choose one of the members of Acme." in joined.text
    assert managed.status_code == 422 and 'id="field-manager-error"' in managed.text
    assert team_state(app, team_id) == ("North", None, set())


def test_removing_a_member(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test", "Ann")
    team_id = add_team(app, company.id, "North")
    with app.app_context():
        get_session().add(TeamMember(team_id=team_id, user_id=ann.id))
        get_session().commit()
    login_as(company.admin)

    assert client.post(f"/admin/teams/{team_id}/members/{ann.id}/remove").status_code == 302
    assert team_state(app, team_id) == ("North", None, set())
    assert client.post(f"/admin/teams/{team_id}/members/{ann.id}/remove").status_code == 404


def test_deleting_needs_confirmation(app, client, company, login_as):
    team_id = add_team(app, company.id, "North")
    login_as(company.admin)

    refused = client.post(f"/admin/teams/{team_id}/delete", data={})
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    assert team_state(app, team_id) is not None

    assert client.post(f"/admin/teams/{team_id}/delete", data={"confirm": "yes"}).status_code == 302
    assert team_state(app, team_id) is None
