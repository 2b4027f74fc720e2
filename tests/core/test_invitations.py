"""Invitations: an administrator invites people by email; they accept through a single-use link."""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.access import INVITE_PERMISSION
from core.auth import INVITED_PASSWORD_HASH
from core.db import get_session, utcnow
from core.mail import outbox
from core.models import Membership, Role, RolePermission, User, UserToken
from core.testing import TEST_PASSWORD, make_company

NEW = "new.person@example.com"


def make_role(app, company_id: int, name: str, *codes: str) -> int:
    with app.app_context():
        session = get_session()
        role = Role(company_id=company_id, name=name)
        role.permissions = [RolePermission(code=code) for code in codes]
        session.add(role)
        session.commit()
        return role.id


def add_member(app, company_id: int, email: str, role_id: int | None = None) -> User:
    with app.app_context():
        session = get_session()
        user = User(email=email, name=email.split("@")[0].title())
        user.set_password(TEST_PASSWORD)
        user.memberships.append(Membership(company_id=company_id, role_id=role_id))
        session.add(user)
        session.commit()
        return user


def invite(client, email=NEW, **fields):
    return client.post("/invitations", data={"email": email, **fields})


def invitation_link(app, email=NEW) -> str:
    mails = [m for m in outbox(app) if m.to == email]
    return re.search(r"http://localhost(/invite/\S+)", mails[-1].body).group(1)


def accept(client, link, name="New Person", password="a good password", confirm=None):
    return client.post(link, data={"name": name, "password": password,
                                   "confirm": password if confirm is None else confirm})


@pytest.fixture
def admin_client(client, company, login_as):
    login_as(company.admin)
    return client


# -- inviting ------------------------------------------------------------------------------------


def test_inviting_a_new_address_creates_an_inactive_member_and_mails_a_link(app, admin_client, company, db_session):
    role_id = make_role(app, company.id, "Sales")

    response = invite(admin_client, "New.Person@Example.com", role=str(role_id))

    assert response.status_code == 302 and response.headers["Location"] == "/invitations"
    user = db_session.scalar(select(User).where(User.email == NEW))
    assert not user.active and user.password_hash == INVITED_PASSWORD_HASH
    membership = db_session.get(Membership, (user.id, company.id))
    assert membership.role_id == role_id and not membership.is_admin
    [mail] = outbox(app)
    assert mail.to == NEW and "Acme" in mail.subject
    assert "/invite/" in mail.body
    page = admin_client.get("/invitations").get_data(as_text=True)
    assert f"Invitation sent to {NEW}." in page
    assert NEW in page and "Sales" in page


def test_an_invited_person_cannot_sign_in_before_accepting(app, admin_client):
    invite(admin_client)
    anonymous = app.test_client()
    for password in ("", INVITED_PASSWORD_HASH, "anything at all"):
        assert anonymous.post("/login", data={"email": NEW, "password": password}).status_code == 400


def test_the_invitation_token_is_stored_as_a_hash_and_lasts_seven_days(app, admin_client, company, db_session):
    invite(admin_client)
    token = invitation_link(app).rsplit("/", 1)[1]
    stored = db_session.scalars(select(UserToken)).one()
    assert (stored.purpose, stored.company_id) == ("invite", company.id)
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    assert stored.expires_at - stored.created_at == timedelta(days=7)


def test_inviting_someone_who_has_an_account_adds_them_at_once(app, admin_client, company, db_session):
    beta = make_company(app, "Beta", "beta")

    response = invite(admin_client, "admin@beta.test")

    assert response.status_code == 302
    assert db_session.get(Membership, (beta.admin.id, company.id)) is not None
    assert db_session.scalar(select(UserToken.id)) is None  # nothing to accept
    [mail] = outbox(app)
    assert mail.to == "admin@beta.test" and "/invite/" not in mail.body and "/login" in mail.body
    assert "already had an account and now belongs to Acme" in admin_client.get("/invitations").get_data(as_text=True)


@pytest.mark.parametrize(("email", "message"), [
    ("not an address", "Enter an email address such as name@example.com."),
    ("", "Enter an email address such as name@example.com."),
    ("admin@acme.test", "admin@acme.test is already a member of Acme."),
])
def test_a_bad_invitation_is_refused_naming_the_problem_and_keeping_the_input(admin_client, email, message):
    response = invite(admin_client, email)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert f'value="{email}"' in page


def test_a_role_of_another_company_is_refused(app, admin_client, db_session):
    beta = make_company(app, "Beta", "beta")
    foreign = make_role(app, beta.id, "Beta role")
    response = invite(admin_client, role=str(foreign))
    assert response.status_code == 422
    assert "Choose one of the roles of Acme." in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.email == NEW)) is None


def test_inviting_again_sends_a_new_link_and_the_old_one_stops_working(app, admin_client):
    invite(admin_client)
    first = invitation_link(app)
    invite(admin_client)
    second = invitation_link(app)

    assert first != second
    assert admin_client.get(first).status_code == 404
    assert admin_client.get(second).status_code == 200


def test_when_mail_cannot_be_sent_nothing_is_kept_and_the_page_says_so(app, admin_client, db_session, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(smtplib, "SMTP", unreachable)
    app.config["CRM_SMTP_URL"] = "smtp://mail.example.com"

    response = invite(admin_client)

    assert response.status_code == 503
    assert "could not be sent" in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.email == NEW)) is None


# -- who may invite ------------------------------------------------------------------------------


def test_a_member_without_the_invite_permission_gets_403(app, client, company, login_as):
    login_as(add_member(app, company.id, "rita@acme.test"))
    response = client.get("/invitations")
    assert response.status_code == 403
    assert INVITE_PERMISSION in response.get_data(as_text=True)
    assert invite(client).status_code == 403


def test_the_invitations_link_shows_for_those_who_may_invite_and_change_password_for_everyone(
        app, client, company, login_as):
    login_as(add_member(app, company.id, "rita@acme.test"))
    page = client.get("/").get_data(as_text=True)
    assert 'href="/account/password"' in page and 'href="/invitations"' not in page
    login_as(company.admin)
    assert 'href="/invitations"' in client.get("/").get_data(as_text=True)


def test_a_member_allowed_to_invite_may_not_make_administrators(app, client, company, login_as, db_session):
    inviter = make_role(app, company.id, "Inviter", INVITE_PERMISSION)
    login_as(add_member(app, company.id, "rita@acme.test", inviter))

    response = invite(client, admin="1")

    assert response.status_code == 422
    assert "Only an administrator can invite administrators." in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.email == NEW)) is None


def test_a_member_allowed_to_invite_may_give_only_roles_within_their_own_permissions(app, client, company, login_as):
    inviter = make_role(app, company.id, "Inviter", INVITE_PERMISSION)
    same = make_role(app, company.id, "Also inviter", INVITE_PERMISSION)
    login_as(add_member(app, company.id, "rita@acme.test", inviter))
    with app.app_context():  # a role holding a permission Rita lacks (declared or not)
        session = get_session()
        session.add(Role(company_id=company.id, name="Boss",
                         permissions=[RolePermission(code="core.other.power")]))
        session.commit()
        boss = session.scalar(select(Role.id).where(Role.name == "Boss"))

    assert invite(client, role=str(boss)).status_code == 422
    assert invite(client, role=str(same)).status_code == 302


def test_an_administrator_may_invite_an_administrator(app, admin_client, company, db_session):
    assert invite(admin_client, admin="1").status_code == 302
    user = db_session.scalar(select(User).where(User.email == NEW))
    assert db_session.get(Membership, (user.id, company.id)).is_admin


# -- accepting -----------------------------------------------------------------------------------


def test_accepting_sets_name_and_password_activates_and_signs_in(app, admin_client, company, db_session):
    invite(admin_client)
    link = invitation_link(app)
    visitor = app.test_client()

    page = visitor.get(link)
    assert page.status_code == 200
    assert "Join Acme" in page.get_data(as_text=True) and NEW in page.get_data(as_text=True)

    response = accept(visitor, link)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Welcome to Acme, New Person." in visitor.get("/").get_data(as_text=True)
    user = db_session.scalar(select(User).where(User.email == NEW))
    assert user.active and user.name == "New Person"
    assert app.test_client().post("/login", data={"email": NEW, "password": "a good password"}).status_code == 302
    assert "No invitation is waiting" in admin_client.get("/invitations").get_data(as_text=True)


def test_an_invitation_link_works_once(app, admin_client):
    invite(admin_client)
    link = invitation_link(app)
    accept(app.test_client(), link)

    again = app.test_client().get(link)

    assert again.status_code == 404
    assert "This link does not work" in again.get_data(as_text=True)


def test_an_invitation_link_expires_after_seven_days(app, admin_client, db_session):
    invite(admin_client)
    link = invitation_link(app)
    db_session.execute(update(UserToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db_session.commit()

    assert app.test_client().get(link).status_code == 404
    assert accept(app.test_client(), link).status_code == 404
    assert "Expired" in admin_client.get("/invitations").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "  "}, "Enter your name."),
    ({"password": "short"}, "Choose a password of at least 8 characters."),
    ({"confirm": "not the same"}, "The two passwords are not the same"),
])
def test_a_bad_acceptance_is_refused_naming_the_problem_and_keeping_the_name(app, admin_client, db_session,
                                                                          fields, message):
    invite(admin_client)
    link = invitation_link(app)
    visitor = app.test_client()

    response = accept(visitor, link, **{"name": "Nova", **fields})

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    if fields.get("name") is None:
        assert 'value="Nova"' in page
    assert 'value="short"' not in page and "not the same\"" not in page
    assert not db_session.scalar(select(User.active).where(User.email == NEW))
    assert visitor.get(link).status_code == 200  # the link still works


def test_withdrawing_an_invitation_kills_the_link_and_the_unused_account(app, admin_client, db_session):
    invite(admin_client)
    link = invitation_link(app)
    token_id = db_session.scalar(select(UserToken.id))

    response = admin_client.post(f"/invitations/{token_id}/withdraw")

    assert response.status_code == 302
    assert "is withdrawn" in admin_client.get("/invitations").get_data(as_text=True)
    assert app.test_client().get(link).status_code == 404
    assert db_session.scalar(select(User).where(User.email == NEW)) is None


def test_withdrawing_keeps_an_invitee_that_another_company_invited_too(app, admin_client, company, db_session):
    beta = make_company(app, "Beta", "beta")
    invite(admin_client)
    with app.app_context():
        session = get_session()
        user = session.scalar(select(User).where(User.email == NEW))
        session.add(Membership(user_id=user.id, company_id=beta.id))
        session.commit()
    token_id = db_session.scalar(select(UserToken.id))

    admin_client.post(f"/invitations/{token_id}/withdraw")

    user = db_session.scalar(select(User).where(User.email == NEW))
    assert db_session.get(Membership, (user.id, company.id)) is None
    assert db_session.get(Membership, (user.id, beta.id)) is not None


def test_an_administrator_cannot_withdraw_another_companys_invitation(app, client, login_as, company, db_session):
    beta = make_company(app, "Beta", "beta")
    login_as(beta.admin)
    invite(client)
    token_id = db_session.scalar(select(UserToken.id))

    login_as(company.admin)
    assert client.post(f"/invitations/{token_id}/withdraw").status_code == 404
    assert db_session.scalar(select(UserToken.used_at)) is None


def test_ids_out_of_the_databases_range_are_refused_not_crashed_on(admin_client):
    assert admin_client.post(f"/invitations/{10**20}/withdraw").status_code == 404
    response = invite(admin_client, role=str(10**20))
    assert response.status_code == 422
    assert "Choose one of the roles of Acme." in response.get_data(as_text=True)
