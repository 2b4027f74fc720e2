"""The People page of the admin console (``/admin/users``): the members list with search and
pending invitations, and a person's page (role, administrator flag, password reset, removal
from the company, deactivation), with the last administrator protected."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import select

from core.accounts import INVITE, issue_token
from core.auth import INVITED_PASSWORD_HASH
from core.db import get_session
from core.models import ApiToken, Membership, Role, Team, TeamMember, User, UserToken
from core.testing import counting_queries, make_company


def add_person(app, company_id: int, email: str, *, admin: bool = False, role_id: int | None = None,
               name: str | None = None) -> User:
    with app.app_context():
        session = get_session()
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name or email.split("@")[0].title())
            user.set_password("long enough")
            session.add(user)
            session.flush()
        session.add(Membership(user_id=user.id, company_id=company_id, is_admin=admin, role_id=role_id))
        session.commit()
        return user


def add_role(app, company_id: int, name: str) -> int:
    with app.app_context():
        session = get_session()
        role = Role(company_id=company_id, name=name)
        session.add(role)
        session.commit()
        return role.id


def membership(app, user_id: int, company_id: int) -> tuple[int | None, bool] | None:
    """(role id, administrator) of the membership, or None."""
    with app.app_context():
        found = get_session().get(Membership, (user_id, company_id))
        return (found.role_id, found.is_admin) if found is not None else None


def is_active(app, user_id: int) -> bool:
    with app.app_context():
        return get_session().get(User, user_id).active



def people_links(html: str) -> list[str]:
    return re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', html)


# -- access --------------------------------------------------------------------------------------


def test_only_administrators_open_the_people_pages(app, client, company, login_as):
    member = add_person(app, company.id, "member@acme.test")
    login_as(member)

    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{company.admin.id}").status_code == 403
    response = client.post(f"/admin/users/{company.admin.id}/access", data={"role": ""})
    assert response.status_code == 403
    assert membership(app, company.admin.id, company.id)[1]


def test_a_person_of_another_company_is_not_found(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    login_as(company.admin)

    assert client.get(f"/admin/users/{beta.admin.id}").status_code == 404
    assert client.post(f"/admin/users/{beta.admin.id}/deactivate", data={"confirm": "yes"}).status_code == 404
    assert is_active(app, beta.admin.id)


# -- the list ------------------------------------------------------------------------------------


def test_the_list_shows_members_with_role_and_flags_and_searches(app, client, company, login_as):
    role_id = add_role(app, company.id, "Reader")
    add_person(app, company.id, "ann@acme.test", name="Ann", role_id=role_id)
    add_person(app, company.id, "bob@acme.test", name="Bob")
    beta = make_company(app, "Beta", "beta")
    add_person(app, beta.id, "carl@beta.test", name="Carl")
    login_as(company.admin)

    page = client.get("/admin/users").text

    assert people_links(page) == ["Acme Admin", "Ann", "Bob"]  # not Beta's Carl
    assert "Reader" in page and "Administrator" in page
    assert 'href="/invitations"' in page  # inviting is the invitations page
    assert people_links(client.get("/admin/users?q=reader").text) == ["Ann"]
    assert "Nothing matches" in client.get("/admin/users?q=nobody").text


def test_pending_invitations_are_listed_apart_from_the_members(app, client, company, login_as):
    with app.app_context():
        session = get_session()
        invitee = User(email="new@acme.test", name="", password_hash=INVITED_PASSWORD_HASH, active=False)
        session.add(invitee)
        session.flush()
        session.add(Membership(user_id=invitee.id, company_id=company.id))
        issue_token(session, invitee.id, INVITE, timedelta(days=7), company.id)
        session.commit()
    login_as(company.admin)

    page = client.get("/admin/users").text

    assert "new@acme.test" not in " ".join(people_links(page))
    pending = page[page.index("Pending invitations"):]
    assert "new@acme.test" in pending and "/withdraw" in pending


def test_the_people_list_runs_the_same_number_of_queries_whatever_the_row_count(app, client, company, login_as):
    role_id = add_role(app, company.id, "Reader")
    for n in range(3):
        add_person(app, company.id, f"p{n}@acme.test", role_id=role_id)
    login_as(company.admin)
    client.get("/admin/users")  # warm caches that are not per request
    with counting_queries(app) as few:
        assert client.get("/admin/users").status_code == 200
    for n in range(3, 40):
        add_person(app, company.id, f"p{n}@acme.test", role_id=role_id)
    with counting_queries(app) as many:
        assert len(people_links(client.get("/admin/users").text)) == 25
    assert len(few) == len(many)
    assert len(many) <= 10


# -- role and administrator flag -----------------------------------------------------------------


def test_changing_role_and_admin_flag_takes_effect_and_is_logged(app, client, company, login_as, caplog):
    role_id = add_role(app, company.id, "Reader")
    ann = add_person(app, company.id, "ann@acme.test")
    login_as(company.admin)

    with caplog.at_level(logging.INFO, logger="core.admin_users"):
        response = client.post(f"/admin/users/{ann.id}/access", data={"role": str(role_id), "admin": "1"},
                               follow_redirects=True)

    assert response.status_code == 200 and "access is saved" in response.text
    assert membership(app, ann.id, company.id) == (role_id, True)
    logged = [r.getMessage() for r in caplog.records if r.name == "core.admin_users"]
    assert logged and "ann@acme.test" in logged[0] and "admin@acme.test" in logged[0] and "acme" in logged[0]


def test_a_role_of_another_company_is_refused_naming_the_field(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    foreign_role = add_role(app, beta.id, "Foreign")
    ann = add_person(app, company.id, "ann@acme.test")
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/access", data={"role": str(foreign_role), "admin": "1"})

    assert response.status_code == 422
    assert "Choose one of the roles of Acme." in response.text
    assert 'id="field-role-error"' in response.text
    assert re.search(r'<input [^>]*\bchecked\b[^>]*id="field-admin"', response.text)  # the ticked box stays ticked
    assert membership(app, ann.id, company.id)[0] is None


def test_the_last_administrator_cannot_be_demoted_even_by_themselves(app, client, company, login_as):
    login_as(company.admin)

    response = client.post(f"/admin/users/{company.admin.id}/access", data={"role": ""})

    assert response.status_code == 409
    assert "is the last administrator of Acme" in response.text
    assert membership(app, company.admin.id, company.id)[1]


def test_an_administrator_may_step_down_when_another_remains(app, client, company, login_as):
    add_person(app, company.id, "second@acme.test", admin=True)
    login_as(company.admin)

    response = client.post(f"/admin/users/{company.admin.id}/access", data={"role": ""})

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert not membership(app, company.admin.id, company.id)[1]


def test_an_inactive_administrator_does_not_count_as_the_remaining_one(app, client, company, login_as):
    other = add_person(app, company.id, "gone@acme.test", admin=True)
    with app.app_context():
        get_session().get(User, other.id).active = False
        get_session().commit()
    login_as(company.admin)

    response = client.post(f"/admin/users/{company.admin.id}/access", data={"role": ""})

    assert response.status_code == 409


# -- removing from the company -------------------------------------------------------------------


def test_removing_needs_confirmation(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test")
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/remove", data={})

    assert response.status_code == 422 and "Tick the box to confirm" in response.text
    assert membership(app, ann.id, company.id) is not None


def test_removing_ends_membership_teams_and_tokens_of_this_company_only(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    ann = add_person(app, company.id, "ann@acme.test")
    add_person(app, beta.id, "ann@acme.test")
    with app.app_context():
        session = get_session()
        team = Team(company_id=company.id, name="North", manager_id=ann.id)
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=ann.id))
        for company_id in (company.id, beta.id):
            session.add(ApiToken(user_id=ann.id, company_id=company_id, name="t", prefix=f"p{company_id}",
                                 token_hash=f"h{company_id}"))
        session.commit()
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/remove", data={"confirm": "yes"}, follow_redirects=True)

    assert response.status_code == 200 and "is removed from Acme" in response.text
    assert membership(app, ann.id, company.id) is None
    assert membership(app, ann.id, beta.id) is not None
    with app.app_context():
        session = get_session()
        assert session.scalars(select(TeamMember)).all() == []
        assert session.scalar(select(Team.manager_id)) is None
        revoked = dict(session.execute(select(ApiToken.company_id, ApiToken.revoked_at)).all())
        assert revoked[company.id] is not None and revoked[beta.id] is None
    assert is_active(app, ann.id)


def test_the_last_administrator_cannot_be_removed(app, client, company, login_as):
    login_as(company.admin)

    response = client.post(f"/admin/users/{company.admin.id}/remove", data={"confirm": "yes"})

    assert response.status_code == 409
    assert "last administrator of Acme and cannot be removed" in response.text
    assert membership(app, company.admin.id, company.id) is not None


# -- deactivating the account --------------------------------------------------------------------


def test_deactivating_blocks_sign_in_and_can_be_undone(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test")
    login_as(company.admin)

    page = client.get(f"/admin/users/{ann.id}").text
    assert "blocks signing in everywhere" in page

    response = client.post(f"/admin/users/{ann.id}/deactivate", data={"confirm": "yes"}, follow_redirects=True)
    assert response.status_code == 200 and "deactivated" in response.text
    assert not is_active(app, ann.id)

    client.post(f"/admin/users/{ann.id}/reactivate")
    assert is_active(app, ann.id)


def test_deactivating_is_refused_when_the_person_works_in_a_company_you_do_not_administer(
        app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    ann = add_person(app, company.id, "ann@acme.test")
    add_person(app, beta.id, "ann@acme.test")
    login_as(company.admin)

    assert "Remove them from Acme instead" in client.get(f"/admin/users/{ann.id}").text
    response = client.post(f"/admin/users/{ann.id}/deactivate", data={"confirm": "yes"})

    assert response.status_code == 409 and "companies you do not administer" in response.text
    assert is_active(app, ann.id)


def test_deactivating_is_allowed_when_you_administer_every_company_of_the_person(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    add_person(app, beta.id, company.admin.email, admin=True)
    ann = add_person(app, company.id, "ann@acme.test")
    add_person(app, beta.id, "ann@acme.test")
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/deactivate", data={"confirm": "yes"})

    assert response.status_code == 302
    assert not is_active(app, ann.id)


def test_nobody_deactivates_their_own_account(app, client, company, login_as):
    add_person(app, company.id, "second@acme.test", admin=True)
    login_as(company.admin)

    response = client.post(f"/admin/users/{company.admin.id}/deactivate", data={"confirm": "yes"})

    assert response.status_code == 409 and "cannot deactivate your own account" in response.text
    assert is_active(app, company.admin.id)


def test_the_last_active_administrator_is_the_only_active_one(app, company):
    other = add_person(app, company.id, "second@acme.test", admin=True)
    with app.app_context():
        from core.admin_users import is_last_admin

        session = get_session()
        assert not is_last_admin(session, company.id, company.admin.id)
        session.get(User, other.id).active = False
        session.flush()
        assert is_last_admin(session, company.id, company.admin.id)


# -- password reset ------------------------------------------------------------------------------


def test_sending_a_password_reset_mails_a_link(app, client, company, login_as, caplog):
    ann = add_person(app, company.id, "ann@acme.test")
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/password-reset", follow_redirects=True)

    assert response.status_code == 200 and "A password reset link is on its way to ann@acme.test" in response.text
    with app.app_context():
        tokens = get_session().scalars(select(UserToken).where(UserToken.user_id == ann.id)).all()
        assert [t.purpose for t in tokens] == ["reset"]


def test_a_password_reset_for_a_deactivated_account_is_refused(app, client, company, login_as):
    ann = add_person(app, company.id, "ann@acme.test")
    with app.app_context():
        get_session().get(User, ann.id).active = False
        get_session().commit()
    login_as(company.admin)

    response = client.post(f"/admin/users/{ann.id}/password-reset")

    assert response.status_code == 409 and "reactivate it before" in response.text
