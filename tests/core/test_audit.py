"""The audit trail records who changed what, with old and new values, in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import history, set_actor
from core.db import get_session
from core.models import AuditEntry
from core.scoping import company_scope
from core.trash import restore, soft_delete
from tests.gadgets import GADGETS, add_gadgets, create_gadget_table
from tests.gadgets import app_config, crm_plugins  # noqa: F401  (fixtures: fx_gadgets loaded)


@pytest.fixture
def session(app, company):
    from fx_gadgets.models import Gadget  # noqa: F401  (imported with the plugin)

    create_gadget_table(app)
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            set_actor(session, company.admin.id)
            yield session


def entries(session):
    return session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def test_creating_a_record_is_recorded_with_its_values_and_author(session, company):
    from fx_gadgets.models import Gadget

    gadget = Gadget(name="Drill", secret="s3cret")
    session.add(gadget)
    session.commit()
    [entry] = entries(session)
    assert (entry.action, entry.record_type, entry.record_id) == ("create", "fx_gadgets_gadget", str(gadget.id))
    assert entry.user_id == company.admin.id and entry.company_id == company.id
    assert entry.changes["name"] == [None, "Drill"]
    assert "secret" not in entry.changes  # excluded by the model


def test_an_update_records_only_the_changed_fields_with_old_and_new_values(session):
    from fx_gadgets.models import Gadget

    gadget = Gadget(name="Drill")
    session.add(gadget)
    session.commit()
    gadget.name = "Hammer drill"
    gadget.secret = "changed but never recorded"
    session.commit()
    update = entries(session)[-1]
    assert update.action == "update"
    assert update.changes == {"name": ["Drill", "Hammer drill"]}


def test_soft_delete_restore_and_purge_are_recorded(session):
    from fx_gadgets.models import Gadget

    gadget = Gadget(name="Saw")
    session.add(gadget)
    session.commit()
    soft_delete(gadget)
    session.commit()
    restore(gadget)
    session.commit()
    session.delete(gadget)
    session.commit()
    assert [entry.action for entry in entries(session)] == ["create", "delete", "restore", "purge"]
    assert entries(session)[-1].changes["name"] == ["Saw", None]


def test_a_rolled_back_change_leaves_no_audit_entry(session):
    from fx_gadgets.models import Gadget

    session.add(Gadget(name="Never saved"))
    session.flush()
    session.rollback()
    assert entries(session) == []


def test_history_lists_a_records_changes_newest_first_with_names(session, company):
    from fx_gadgets.models import Gadget

    gadget = Gadget(name="Lathe")
    session.add(gadget)
    session.commit()
    gadget.name = "Big lathe"
    session.commit()
    listed = history(session, gadget)
    assert [(entry.action, who) for entry, who in listed] == [("update", "Acme Admin"), ("create", "Acme Admin")]


def test_changes_made_in_a_request_name_the_signed_in_user(app, client, company, login_as, fixture_plugins_path):
    from fx_gadgets.models import Gadget

    create_gadget_table(app)
    [gadget_id] = add_gadgets(app, company, "Press")
    company.enable(GADGETS)
    login_as(company.admin)

    @app.post("/_test/rename/<int:gadget_id>")
    def rename(gadget_id):
        get_session().get(Gadget, gadget_id).name = "Renamed press"
        return "ok"

    assert client.post(f"/_test/rename/{gadget_id}").status_code == 200
    with app.app_context():
        last = get_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last.user_id == company.admin.id and last.changes == {"name": ["Press", "Renamed press"]}
