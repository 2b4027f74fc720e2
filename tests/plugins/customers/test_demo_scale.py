"""Customers at scale (``crm demo --size medium|large``), written small: the counts, every row
pointing at the company's records, the indexes and text index rebuilt, the derived columns and
follow-up dates as the services keep them, the same data for the same seed, and the pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.demo import DemoSize, add_staff
from core.models import Company, TeamMember, User
from core.scoping import company_scope
from core.testing import make_company
from core.textsearch import text_contains
from plugins.customers import demo_data
from plugins.customers import demo_scale
from plugins.customers.demo import ACCOUNTS as SMALL_DEMO_ACCOUNTS
from plugins.customers.demo_scale import add_customers_at_scale
from plugins.customers.followups import ACCOUNT_TYPE, CONTACT_TYPE, aware
from plugins.customers.models import (
    Account,
    AccountTag,
    Contact,
    ContactPoint,
    FollowUpTask,
    Interaction,
)
from plugins.customers.services import contact_point_rows, derived_columns

ACCOUNTS = 300


def schema_objects(session: Session) -> set[tuple[str, str]]:
    """The indexes (and on SQLite the triggers that keep the text indexes) of the database."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text("SELECT 'index', indexname FROM pg_indexes WHERE schemaname = current_schema()"))
    else:
        rows = session.execute(text("SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger')"))
    return {(kind, name) for kind, name in rows}


@dataclass
class Scaled:
    id: int
    admin: User
    schema_before: set[tuple[str, str]]


def add_scaled(app, company, seed: int = demo_scale.SEED, *, reps: bool = True) -> Scaled:
    """``company`` with the customers plugin, four reps in two teams (unless not ``reps``: the
    reps' addresses are the same in every company) and ACCOUNTS accounts at scale."""
    from core.db import get_session

    company.enable("customers")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            target = session.get(Company, company.id)
            if reps:
                add_staff(session, target, session.get(User, company.admin.id), DemoSize("test", 4, 2))
                session.commit()
            before = schema_objects(session)
            add_customers_at_scale(session, target, accounts=ACCOUNTS, seed=seed)
            session.commit()
    return Scaled(company.id, company.admin, before)


@pytest.fixture
def scaled(app, company):
    return add_scaled(app, company)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_it_writes_the_accounts_twice_as_many_contacts_and_twenty_times_as_many_interactions(scaled, db_session):
    with company_scope(db_session, scaled.id):
        assert count(db_session, Account) == ACCOUNTS
        assert count(db_session, Contact) == 2 * ACCOUNTS
        assert count(db_session, Interaction) == 20 * ACCOUNTS
        assert ACCOUNTS * 0.15 < db_session.scalar(select(func.count(func.distinct(FollowUpTask.account_id)))) \
            <= ACCOUNTS * 0.2
        assert db_session.scalar(select(func.count()).select_from(FollowUpTask)
                                 .where(FollowUpTask.done_at.is_(None))) > 0
        assert db_session.scalar(select(func.count()).select_from(FollowUpTask)
                                 .where(FollowUpTask.done_at.is_not(None))) > 0
        tagged = db_session.scalar(select(func.count(func.distinct(AccountTag.account_id)))
                                   .join(Account, Account.id == AccountTag.account_id))
        assert tagged == ACCOUNTS // 10


def test_the_accounts_vary_as_real_ones_do(scaled, db_session):
    with company_scope(db_session, scaled.id):
        accounts = db_session.scalars(select(Account)).all()
        team_of = dict(db_session.execute(select(TeamMember.user_id, TeamMember.team_id)).all())
    names = [account.name for account in accounts]
    assert any(re.search(r"[\u4e00-\u9fff]", name) for name in names)
    assert any(re.fullmatch(r"[A-Za-z ]+", name) for name in names)
    assert {account.kind for account in accounts} == {"organisation", "individual"}
    assert {account.status for account in accounts} == {"prospect", "active", "inactive", "churned"}
    assert {account.tier for account in accounts} == {"A", "B", "C"}
    owners = {account.owner_id for account in accounts}
    assert None in owners and scaled.admin.id not in owners and len(owners) == 5  # four reps, and unowned
    assert all(account.team_id == team_of.get(account.owner_id) for account in accounts)
    assert all(account.team_id is not None for account in accounts if account.owner_id is not None)
    created = sorted(aware(account.created_at) for account in accounts)
    assert (created[-1] - created[0]).days > 2 * 365
    emails = [account.email_normalized for account in accounts]
    assert len(emails) > len(set(emails)) > 0.9 * len(emails)  # a few given twice


def test_every_contact_interaction_and_task_points_at_an_account_of_the_company(scaled, db_session):
    with company_scope(db_session, scaled.id):
        accounts = set(db_session.scalars(select(Account.id)))
        contact_account = dict(db_session.execute(select(Contact.id, Contact.account_id)).all())
        interactions = db_session.execute(select(Interaction.subject_type, Interaction.subject_id,
                                                 Interaction.account_id, Interaction.contact_id)).all()
        tasks = db_session.execute(select(FollowUpTask.subject_type, FollowUpTask.subject_id,
                                          FollowUpTask.account_id)).all()
    assert {account for account in contact_account.values() if account is not None} <= accounts
    assert 0 < sum(account is None for account in contact_account.values()) < 0.05 * len(contact_account)
    about_contacts = 0
    for subject_type, subject_id, account_id, contact_id in interactions:
        assert account_id in accounts
        if subject_type == CONTACT_TYPE:  # as log_interaction stores one about a contact
            about_contacts += 1
            assert (subject_id, contact_account[contact_id]) == (str(contact_id), account_id)
        else:
            assert (subject_type, subject_id, contact_id) == (ACCOUNT_TYPE, str(account_id), None)
    assert 0 < about_contacts < len(interactions) / 2
    for subject_type, subject_id, account_id in tasks:
        assert account_id in accounts
        if subject_type == CONTACT_TYPE:
            assert contact_account[int(subject_id)] == account_id
        else:
            assert (subject_type, subject_id) == (ACCOUNT_TYPE, str(account_id))


def test_the_derived_columns_and_contact_points_are_those_the_services_compute(scaled, db_session):
    with company_scope(db_session, scaled.id):
        for model, owner_key in ((Account, "account_id"), (Contact, "contact_id")):
            points: dict[int, list[dict]] = {}
            for point in db_session.scalars(select(ContactPoint).where(getattr(ContactPoint, owner_key).is_not(None))
                                            .order_by(ContactPoint.id)):
                points.setdefault(getattr(point, owner_key), []).append(
                    {"company_id": point.company_id, owner_key: getattr(point, owner_key), "kind": point.kind,
                     "value": point.value, "normalized": point.normalized, "position": point.position})
            records = db_session.scalars(select(model)).all()
            assert len(points) == len(records)
            for record in records:
                values = {name: getattr(record, name) for name in ("name", "phone", "email", "other_phones",
                                                                  "other_emails")}
                derived = derived_columns(values)
                assert {name: getattr(record, name) for name in derived} == derived
                assert points[record.id] == contact_point_rows(scaled.id, owner_key, record.id, values)


def test_the_text_search_finds_the_generated_accounts(scaled, db_session):
    with company_scope(db_session, scaled.id):
        search_texts = db_session.scalars(select(Account.search_text)).all()
        english = next(name for name in db_session.scalars(select(Account.name).order_by(Account.id))
                       if re.fullmatch(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", name))
        # A fragment inside a word, a Chinese trade name (two characters: the index's vocabulary).
        for fragment in (english.lower()[2:7], "明达"):
            found = db_session.scalar(select(func.count()).select_from(Account)
                                      .where(text_contains(Account.search_text, fragment)))
            assert found == sum(fragment in value for value in search_texts) > 0
        contact = db_session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
        assert db_session.scalar(select(Contact.id).where(text_contains(Contact.search_text, contact.email))) \
            == contact.id


def test_the_indexes_are_there_again_after_the_load(scaled, db_session):
    after = schema_objects(db_session)
    assert after == scaled.schema_before
    assert any(name.startswith("ix_customers_interaction") for _kind, name in after)


def test_each_accounts_follow_up_dates_are_its_latest_interaction_and_earliest_open_task(scaled, db_session):
    with company_scope(db_session, scaled.id):
        latest = dict(db_session.execute(select(Interaction.account_id, func.max(Interaction.occurred_at))
                                         .group_by(Interaction.account_id)).all())
        earliest = dict(db_session.execute(select(FollowUpTask.account_id, func.min(FollowUpTask.due_at))
                                           .where(FollowUpTask.done_at.is_(None))
                                           .group_by(FollowUpTask.account_id)).all())
        dates = db_session.execute(select(Account.id, Account.last_follow_up_at, Account.next_follow_up_at)).all()
    assert earliest and len(latest) > ACCOUNTS * 0.8
    for account_id, last, following in dates:
        assert aware(last) == aware(latest.get(account_id))
        assert aware(following) == aware(earliest.get(account_id))


def test_the_same_seed_writes_the_same_customers_and_another_seed_others(app, company, db_session):
    first = add_scaled(app, company)
    second = add_scaled(app, make_company(app, "Globex", "globex"), reps=False)
    third = add_scaled(app, make_company(app, "Initech", "initech"), seed=demo_scale.SEED + 1, reps=False)

    def names(company_id: int) -> tuple[list[str], list[str], list[str]]:
        with company_scope(db_session, company_id):
            return (db_session.scalars(select(Account.name).order_by(Account.id)).all(),
                    db_session.scalars(select(Contact.email).order_by(Contact.id)).all(),
                    db_session.scalars(select(Interaction.summary).order_by(Interaction.id)).all())

    assert names(first.id) == names(second.id)
    assert names(first.id)[0] != names(third.id)[0]


def test_the_account_list_and_an_account_page_answer_for_the_administrator(scaled, client, login_as, db_session):
    with company_scope(db_session, scaled.id):
        account = db_session.scalar(select(Account).where(Account.last_follow_up_at.is_not(None))
                                    .order_by(Account.id).limit(1))
    login_as(scaled.admin)
    listed = client.get("/customers/accounts/?q=" + account.name.split()[0][:4])
    assert listed.status_code == 200
    page = client.get(f"/customers/accounts/{account.id}")
    assert page.status_code == 200 and account.name in page.text


@pytest.mark.parametrize(("size", "at_scale"), [("small", 0), ("medium", 40)])
def test_the_demo_hook_adds_customers_at_scale_beside_the_hand_made_ones_for_a_bigger_size(
        app, company, db_session, monkeypatch, size, at_scale):
    monkeypatch.setitem(demo_scale.ACCOUNTS, "medium", 40)
    company.enable("customers")
    with company_scope(db_session, company.id):
        demo_data(session=db_session, company=db_session.get(Company, company.id), size=size)
        db_session.commit()
        assert count(db_session, Account) == SMALL_DEMO_ACCOUNTS + at_scale
        assert count(db_session, Interaction) >= 20 * at_scale
