"""core.access.member_choices: the people an owner or assignee field offers."""

from __future__ import annotations

from core.access import member_choices
from core.db import get_session
from core.models import Membership, User
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
