"""Soft delete, the trash, restore and the administrator's permanent delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import get_session
from core.models import Membership, User
from core.scoping import company_scope
from core.testing import TEST_PASSWORD, make_company
from core.trash import soft_delete
from tests.gadgets import GADGETS, add_gadgets, create_gadget_table
from tests.gadgets import app_config, crm_plugins  # noqa: F401  (fixtures: fx_gadgets loaded)


@pytest.fixture
def deleted_gadget(app, company):
    from fx_gadgets.models import Gadget

    create_gadget_table(app)
    company.enable(GADGETS)
    [gadget_id] = add_gadgets(app, company, "Old drill")
    add_gadgets(app, company, "Kept saw")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            soft_delete(session.get(Gadget, gadget_id))
            session.commit()
    return gadget_id


def visible_names(app, company):
    from fx_gadgets.models import Gadget

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            return sorted(session.scalars(select(Gadget.name)))


def test_a_soft_deleted_record_leaves_every_query_but_the_trash(app, client, company, login_as, deleted_gadget):
    assert visible_names(app, company) == ["Kept saw"]
    login_as(company.admin)
    assert client.get(f"/gadgets/{deleted_gadget}").status_code == 404
    page = client.get("/trash/fx_gadgets_gadget/")
    assert page.status_code == 200 and "Old drill" in page.text and "Kept saw" not in page.text
    assert "Gadgets" in client.get("/trash/").text


def test_restore_brings_the_record_back(app, client, company, login_as, deleted_gadget):
    login_as(company.admin)
    response = client.post(f"/trash/fx_gadgets_gadget/{deleted_gadget}/restore")
    assert response.status_code == 302
    assert visible_names(app, company) == ["Kept saw", "Old drill"]


def test_permanent_delete_needs_the_confirmation(app, client, company, login_as, deleted_gadget):
    from fx_gadgets.models import Gadget

    login_as(company.admin)
    client.post(f"/trash/fx_gadgets_gadget/{deleted_gadget}/purge")
    with app.app_context():
        kept = get_session().scalar(select(Gadget).where(Gadget.id == deleted_gadget),
                                    execution_options={"include_deleted": True})
        assert kept is not None
    client.post(f"/trash/fx_gadgets_gadget/{deleted_gadget}/purge", data={"confirm": "yes"})
    with app.app_context():
        gone = get_session().scalar(select(Gadget).where(Gadget.id == deleted_gadget),
                                    execution_options={"include_deleted": True})
        assert gone is None


def test_another_company_cannot_see_or_restore_the_record(app, client, company, login_as, deleted_gadget):
    beta = make_company(app, "Beta", "beta")
    beta.enable(GADGETS)
    login_as(beta.admin)
    assert "Old drill" not in client.get("/trash/fx_gadgets_gadget/").text
    assert client.post(f"/trash/fx_gadgets_gadget/{deleted_gadget}/restore").status_code == 404
    assert visible_names(app, company) == ["Kept saw"]


def test_a_member_without_the_delete_permission_has_no_trash_for_the_type(app, client, company, deleted_gadget):
    with app.app_context():
        session = get_session()
        user = User(email="member@acme.test", name="Member")
        user.set_password(TEST_PASSWORD)
        user.memberships.append(Membership(company_id=company.id))
        session.add(user)
        session.commit()
        session_id = user.get_id()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
    assert client.get("/trash/fx_gadgets_gadget/").status_code == 404
    assert client.post(f"/trash/fx_gadgets_gadget/{deleted_gadget}/restore").status_code == 404


def test_an_id_too_large_for_the_database_is_simply_not_found(client, company, login_as, deleted_gadget):
    login_as(company.admin)
    assert client.post(f"/trash/fx_gadgets_gadget/{2**40}/restore").status_code == 404
    assert client.get(f"/gadgets/{2**40}").status_code == 404
