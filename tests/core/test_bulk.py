"""core.bulk: rows loaded with the driver's fast path and the indexes built once at the end, on
the fx_textsearch fixture plugin (a table with an ordinary index and a text index) and on core
tables with JSON, boolean and date-time columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from core.bulk import bulk_loading, insert_rows, reserve_ids
from core.db import get_database, get_session
from core.models import AuditEntry, LoginAttempt
from core.scoping import company_scope
from core.textsearch import text_contains

PLUGIN = "fx_textsearch"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


def doc_model():
    from fx_textsearch.models import Doc

    return Doc


def index_names(connection, table_name: str) -> set[str]:
    if connection.dialect.name == "sqlite":
        return set(connection.scalars(text(
            "SELECT name FROM sqlite_master WHERE tbl_name = :t AND type IN ('index', 'trigger') AND sql IS NOT NULL"),
            {"t": table_name}))
    return set(connection.scalars(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = :t UNION ALL "
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t)"), {"t": table_name}))


def test_loaded_rows_are_found_by_the_text_index_and_every_index_is_there_again(app, company):
    doc = doc_model()
    with app.app_context():
        session = get_session()
        connection = session.connection()
        before = index_names(connection, doc.__tablename__)
        ids = reserve_ids(connection, doc.__table__, 500)
        with bulk_loading(connection, doc.__table__):
            assert index_names(connection, doc.__tablename__) < before  # dropped for the load
            written = insert_rows(connection, doc.__table__, (
                {"id": number, "company_id": company.id, "title": f"Report {number}",
                 "search_text": f"quarterly report {number}"} for number in ids))
        assert written == 500
        assert index_names(connection, doc.__tablename__) == before
        session.commit()
        with company_scope(session, company.id):
            assert session.scalar(select(func.count()).select_from(doc)) == 500
            found = session.scalars(select(doc.title).where(text_contains(doc.search_text, f"report {ids[-1]}")))
            assert list(found) == [f"Report {ids[-1]}"]
            # Columns left out got their defaults (``kind``: "plain").
            assert set(session.scalars(select(doc.kind))) == {"plain"}
            # A row written afterwards the ordinary way is indexed again: the trigger is back.
            session.add(doc(company_id=company.id, title="Later", search_text="written later"))
            session.commit()
            assert list(session.scalars(select(doc.title).where(text_contains(doc.search_text, "itten lat")))) == ["Later"]


def test_only_the_new_rows_are_added_to_the_text_index(app, company):
    doc = doc_model()
    with app.app_context():
        session = get_session()
        session.add(doc(company_id=company.id, title="Old", search_text="unique older words"))
        session.commit()
        connection = session.connection()
        with bulk_loading(connection, doc.__table__):
            insert_rows(connection, doc.__table__, [{"company_id": company.id, "title": "New",
                                                      "search_text": "unique newer words"}])
        session.commit()
        with company_scope(session, company.id):
            assert sorted(session.scalars(select(doc.title).where(text_contains(doc.search_text, "unique")))) == \
                ["New", "Old"]  # the older row is in the index once, not twice
            if get_database(app).engine.dialect.name == "sqlite":
                entries = session.execute(text("SELECT count(*) FROM fx_textsearch_doc_search_text_textsearch")).scalar()
                assert entries == 2


def test_a_failed_load_rolls_back_with_the_indexes_in_place(app, company):
    doc = doc_model()
    with app.app_context():
        session = get_session()
        connection = session.connection()
        before = index_names(connection, doc.__tablename__)
        session.commit()
        connection = session.connection()
        with pytest.raises(ZeroDivisionError), bulk_loading(connection, doc.__table__):
            insert_rows(connection, doc.__table__, [{"company_id": company.id, "title": "Lost", "search_text": ""}])
            1 / 0
        session.rollback()
        connection = session.connection()
        assert index_names(connection, doc.__tablename__) == before
        assert session.execute(select(func.count()).select_from(doc.__table__)).scalar() == 0


def test_values_of_every_common_type_read_back_as_the_orm_wrote_them(app, company):
    moment = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    with app.app_context():
        session = get_session()
        connection = session.connection()
        insert_rows(connection, AuditEntry.__table__, [
            {"company_id": company.id, "record_type": "fx.doc", "record_id": str(number), "action": "create",
             "changes": {"title": [None, f"Doc {number}"], "tags": ["a", "中文"]}, "at": moment + timedelta(days=number)}
            for number in range(3)])
        insert_rows(connection, LoginAttempt.__table__, [
            {"email": "someone@example.com", "address": "10.0.0.1", "succeeded": succeeded}
            for succeeded in (True, False)])
        session.commit()
        entries = session.scalars(select(AuditEntry).where(AuditEntry.record_type == "fx.doc")
                                  .order_by(AuditEntry.record_id)).all()
        assert [entry.changes for entry in entries] == [
            {"title": [None, f"Doc {number}"], "tags": ["a", "中文"]} for number in range(3)]
        assert [entry.at.replace(tzinfo=UTC) for entry in entries] == [moment + timedelta(days=n) for n in range(3)]
        # Later than the first row, in SQL too (what the pages' filters compare).
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.record_type == "fx.doc", AuditEntry.at > moment)) == 2
        attempts = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
        assert [attempt.succeeded for attempt in attempts] == [True, False]
        # The left-out ``at`` got its default, one moment for the whole load, stored as the ORM
        # stores it (on SQLite, the text SQL compares: no time zone suffix).
        assert attempts[0].at is not None and attempts[0].at == attempts[1].at
        session.add(LoginAttempt(email="orm@example.com", address="10.0.0.2", succeeded=True))
        session.flush()
        if get_database().engine.dialect.name == "sqlite":
            stored = session.execute(text("SELECT email, at FROM core_login_attempt ORDER BY id")).all()
            assert len({len(at) for _email, at in stored}) == 1 and not any("+" in at for _email, at in stored)


def test_reserved_ids_are_taken_by_no_other_row(app, company):
    doc = doc_model()
    with app.app_context():
        session = get_session()
        connection = session.connection()
        ids = list(reserve_ids(connection, doc.__table__, 3))
        insert_rows(connection, doc.__table__, [{"id": number, "company_id": company.id, "title": str(number),
                                                  "search_text": ""} for number in ids])
        session.add(doc(company_id=company.id, title="next", search_text=""))
        session.flush()
        later = session.scalar(select(doc.id).where(doc.title == "next"))
        assert len(set(ids)) == 3 and later not in ids and later > max(ids)
        assert reserve_ids(connection, doc.__table__, 0) == []
        assert insert_rows(connection, doc.__table__, []) == 0


def test_a_row_pointing_at_nothing_fails_the_load(app, company):
    from sqlalchemy.exc import IntegrityError

    doc = doc_model()
    with app.app_context():
        session = get_session()
        connection = session.connection()
        with pytest.raises(IntegrityError), bulk_loading(connection, doc.__table__):
            # On PostgreSQL the foreign keys are checked when they are added back, at the end.
            insert_rows(connection, doc.__table__, [{"company_id": company.id + 1000, "title": "Orphan",
                                                      "search_text": ""}])
        session.rollback()
