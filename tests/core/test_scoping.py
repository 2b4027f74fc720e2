"""Company scoping: every ORM query sees only the company in context."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import get_session
from core.scoping import company_scope, set_company
from core.testing import make_company
from tests.gadgets import GADGETS, add_gadgets, create_gadget_table
from tests.gadgets import app_config, crm_plugins  # noqa: F401  (fixtures: fx_gadgets loaded)


@pytest.fixture
def two_companies(app, company):
    create_gadget_table(app)
    beta = make_company(app, "Beta", "beta")
    add_gadgets(app, company, "Acme drill", "Acme saw")
    add_gadgets(app, beta, "Beta lathe")
    return company, beta


def gadget_names(session):
    from fx_gadgets.models import Gadget

    return sorted(session.scalars(select(Gadget.name)))


def test_a_session_scoped_to_a_company_sees_only_its_rows(app, two_companies):
    acme, beta = two_companies
    with app.app_context():
        session = get_session()
        with company_scope(session, acme.id):
            assert gadget_names(session) == ["Acme drill", "Acme saw"]
        with company_scope(session, beta.id):
            assert gadget_names(session) == ["Beta lathe"]


def test_aggregates_and_lookups_by_id_are_scoped_too(app, two_companies):
    from fx_gadgets.models import Gadget

    acme, beta = two_companies
    with app.app_context():
        session = get_session()
        with company_scope(session, beta.id):
            beta_id = session.scalar(select(Gadget.id))
        session.expunge_all()
        with company_scope(session, acme.id):
            assert session.scalar(select(func.count(Gadget.id))) == 2
            assert session.get(Gadget, beta_id) is None


def test_system_context_sees_every_company(app, two_companies):
    with app.app_context():
        assert gadget_names(get_session()) == ["Acme drill", "Acme saw", "Beta lathe"]


def test_an_explicitly_unscoped_query_sees_every_company(app, two_companies):
    from fx_gadgets.models import Gadget

    acme, _ = two_companies
    with app.app_context():
        session = get_session()
        set_company(session, acme.id)
        names = session.scalars(select(Gadget.name).execution_options(crm_unscoped=True)).all()
        assert len(names) == 3


def test_new_rows_take_the_company_in_context(app, two_companies):
    from fx_gadgets.models import Gadget

    _, beta = two_companies
    with app.app_context():
        session = get_session()
        with company_scope(session, beta.id):
            gadget = Gadget(name="Beta press")
            session.add(gadget)
            session.flush()
            assert gadget.company_id == beta.id


def test_a_request_sees_only_the_signed_in_users_company(app, client, two_companies, login_as):
    acme, beta = two_companies
    acme.enable(GADGETS)
    beta.enable(GADGETS)
    login_as(acme.admin)
    assert client.get("/gadgets/").text.splitlines() == ["Acme drill", "Acme saw"]
    login_as(beta.admin)
    assert client.get("/gadgets/").text.splitlines() == ["Beta lathe"]


def test_a_user_of_two_companies_switches_between_them(app, client, two_companies, login_as):
    from core.models import Membership

    acme, beta = two_companies
    acme.enable(GADGETS)
    beta.enable(GADGETS)
    with app.app_context():
        session = get_session()
        session.add(Membership(user_id=acme.admin.id, company_id=beta.id))
        session.commit()
    login_as(acme.admin)
    assert client.get("/gadgets/").text.splitlines() == ["Acme drill", "Acme saw"]
    response = client.post("/company", data={"company_id": str(beta.id)})
    assert response.status_code == 302
    assert client.get("/gadgets/").text.splitlines() == ["Beta lathe"]


def test_switching_to_a_company_the_user_does_not_belong_to_is_refused(app, client, two_companies, login_as):
    acme, beta = two_companies
    login_as(acme.admin)
    response = client.post("/company", data={"company_id": str(beta.id)})
    assert response.status_code == 404
    response = client.post("/company", data={"company_id": "not a number"})
    assert response.status_code == 400


def test_rows_loaded_for_one_company_are_not_handed_out_after_switching(app, two_companies):
    from fx_gadgets.models import Gadget

    acme, beta = two_companies
    with app.app_context():
        session = get_session()
        with company_scope(session, acme.id):
            acme_gadget_id = session.scalar(select(Gadget.id))
            assert session.get(Gadget, acme_gadget_id) is not None
        with company_scope(session, beta.id):
            assert session.get(Gadget, acme_gadget_id) is None
