"""The customer pool: claiming within the daily limit and the holding cap, the cool-down,
managers assigning (and reps not), giving back, the recycling job (rules, protection, warnings,
accounts, its event, its audit trail, a constant number of queries), the history on a record's
page and the pool set-up pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.models import AuditEntry, Event, User
from core.notifications import Notification
from core.testing import counting_queries, make_company
from plugins.customers.models import Account
from plugins.sales.models import Lead, Opportunity, Pool, PoolClaim
from plugins.sales.pools import ACCOUNT_TYPE, LEAD_TYPE, PoolError, claim, recycle, release
from tests.plugins.customers.test_accounts import add_account, make_member
from tests.plugins.sales.helpers import add_opportunity, default_ids, in_company
from tests.plugins.sales.test_leads import add_lead

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def days(number: float) -> datetime:
    return T0 + timedelta(days=number)


def add_pool(app, company, name: str = "Everyone", **values) -> int:
    def work(session):
        pool = Pool(company_id=company.id, name=name, **values)
        session.add(pool)
        session.flush()
        return pool.id
    return in_company(app, company, work)


def run_recycle(app, company, now: datetime) -> dict[str, int]:
    return in_company(app, company, lambda session: recycle(session, company.id, now=now))


def as_user(app, company, user_id: int, work):
    """``work(session, user)`` for the member ``user_id``, committed."""
    return in_company(app, company, lambda session: work(session, session.get(User, user_id)))


def owners(db_session, model, ids) -> list[int | None]:
    db_session.expire_all()
    return [db_session.get(model, record_id).owner_id for record_id in ids]


@pytest.fixture
def rep(app, company, admin):
    return make_member(app, company, "rep@example.com", "Rita Rep")


# -- claiming ------------------------------------------------------------------------------------


def test_a_rep_claims_leads_waiting_in_the_pool_and_sees_the_counters(client, app, company, rep, login_as, db_session):
    add_pool(app, company, daily_claim_limit=5, holding_cap=50)
    first, second = add_lead(app, company, "Pooled One"), add_lead(app, company, "Pooled Two")
    add_lead(app, company, "Owned", owner_id=rep.id)
    login_as(rep)
    page = client.get("/sales/pools/").text
    assert "Pooled One" in page and "Pooled Two" in page and "Owned" not in page
    assert "Claimed today 0/5" in page and "Holding 1/50" in page
    answer = client.post("/sales/pools/claim", data={"kind": "leads", "ids": [str(first), str(second)]})
    assert answer.status_code == 302
    assert owners(db_session, Lead, [first, second]) == [rep.id, rep.id]
    kinds = db_session.scalars(select(PoolClaim.kind).where(PoolClaim.user_id == rep.id)).all()
    assert kinds == ["claimed", "claimed"]
    assert "Claimed today 2/5" in client.get("/sales/pools/").text


def test_claiming_past_the_daily_limit_is_refused_with_the_count(client, app, company, rep, login_as, db_session):
    add_pool(app, company, daily_claim_limit=2)
    ids = [add_lead(app, company, f"Lead {number}") for number in range(3)]
    login_as(rep)
    for lead_id in ids[:2]:
        assert client.post("/sales/pools/claim", data={"kind": "leads", "one": str(lead_id)}).status_code == 302
    answer = client.post("/sales/pools/claim", data={"kind": "leads", "one": str(ids[2])})
    assert answer.status_code == 409
    assert "You have claimed 2 today, the limit is 2." in answer.text
    assert owners(db_session, Lead, ids) == [rep.id, rep.id, None]


def test_claiming_past_the_holding_cap_is_refused(client, app, company, rep, login_as, db_session):
    add_pool(app, company, holding_cap=2)
    add_lead(app, company, "Held lead", owner_id=rep.id)
    add_account(app, company, "Held account", owner_id=rep.id)
    pooled = add_lead(app, company, "Wanted")
    login_as(rep)
    answer = client.post("/sales/pools/claim", data={"kind": "leads", "one": str(pooled)})
    assert answer.status_code == 409
    assert "You hold 2 leads and accounts, the limit is 2" in answer.text
    assert owners(db_session, Lead, [pooled]) == [None]


def test_a_record_with_an_owner_cannot_be_claimed(app, company, rep, admin):
    add_pool(app, company)
    taken = add_lead(app, company, "Taken", owner_id=admin.id)
    with pytest.raises(PoolError, match="“Taken” already has an owner"):
        as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [taken], now=T0))


@pytest.mark.parametrize("kind", ["lead", "account"])
def test_a_record_someone_else_claimed_after_the_list_was_read_is_refused(app, company, rep, admin, monkeypatch,
                                                                           kind, db_session):
    """The pool rows are read without a lock; the owners are checked again once locked."""
    import plugins.sales.pools as pools

    add_pool(app, company)
    if kind == "lead":
        record_id, record_type, model = add_lead(app, company, "Raced", owner_id=admin.id), LEAD_TYPE, Lead
    else:
        record_id, record_type, model = add_account(app, company, "Raced Ltd", owner_id=admin.id), ACCOUNT_TYPE, Account
    read = pools._records

    def as_read_before_the_other_claim(session, kind_, ids):
        from types import SimpleNamespace

        return [SimpleNamespace(**{**row._asdict(), "owner_id": None}) for row in read(session, kind_, ids)]
    monkeypatch.setattr(pools, "_records", as_read_before_the_other_claim)
    with pytest.raises(PoolError, match="Someone else has just claimed"):
        as_user(app, company, rep.id, lambda session, user: claim(session, user, record_type, [record_id], now=T0))
    assert owners(db_session, model, [record_id]) == [admin.id]


def test_a_record_given_back_can_be_claimed_again_by_the_same_rep_only_after_the_cool_down(app, company, rep,
                                                                                          db_session):
    add_pool(app, company, cooldown_days=7)
    lead_id = add_lead(app, company, "Boomerang")
    as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=T0))
    as_user(app, company, rep.id, lambda session, user: release(session, user, LEAD_TYPE, [lead_id], now=days(1)))
    assert owners(db_session, Lead, [lead_id]) == [None]
    with pytest.raises(PoolError, match="you can claim it again from"):
        as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=days(5)))
    other = make_member(app, company, "other@example.com", "Otto Other")
    # Someone else may take it meanwhile; the rep again once the cool-down is over.
    as_user(app, company, other.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=days(5)))
    as_user(app, company, other.id, lambda session, user: release(session, user, LEAD_TYPE, [lead_id], now=days(6)))
    as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=days(8.5)))
    assert owners(db_session, Lead, [lead_id]) == [rep.id]


def test_the_owner_gives_a_lead_back_from_its_page(client, app, company, rep, login_as, db_session):
    add_pool(app, company)
    lead_id = add_lead(app, company, "Mine for now", owner_id=rep.id)
    login_as(rep)
    assert "Give back to the pool" in client.get(f"/sales/leads/{lead_id}").text
    answer = client.post(f"/sales/pools/release/leads/{lead_id}", data={"_confirmed": "yes"})
    assert answer.status_code == 302
    assert owners(db_session, Lead, [lead_id]) == [None]
    closed = db_session.scalar(select(PoolClaim).where(PoolClaim.record_id == lead_id))
    assert (closed.user_id, closed.release_reason) == (rep.id, "released")


# -- managers --------------------------------------------------------------------------------------


def test_a_manager_assigns_pool_records_and_reassigns_them(client, app, company, rep, login_as, db_session):
    add_pool(app, company, daily_claim_limit=1, holding_cap=1)
    manager = make_member(app, company, "boss@example.com", "Mia Manager", template="customers.sales_manager")
    other = make_member(app, company, "other@example.com", "Otto Other")
    ids = [add_lead(app, company, f"Lead {number}") for number in range(2)]
    login_as(manager)
    assert "Assign selected" in client.get("/sales/pools/").text
    answer = client.post("/sales/pools/assign", data={"kind": "leads", "ids": [str(i) for i in ids],
                                                       "to_user": str(rep.id)})
    assert answer.status_code == 302  # past the rep's limits: assigning is the manager's decision
    assert owners(db_session, Lead, ids) == [rep.id, rep.id]
    answer = client.post("/sales/pools/assign", data={"kind": "leads", "ids": [str(ids[0])], "to_user": str(other.id)})
    assert answer.status_code == 302
    assert owners(db_session, Lead, ids) == [other.id, rep.id]
    history = db_session.execute(select(PoolClaim.user_id, PoolClaim.kind, PoolClaim.release_reason)
                                 .where(PoolClaim.record_id == ids[0]).order_by(PoolClaim.id)).all()
    assert history == [(rep.id, "assigned", "reassigned"), (other.id, "assigned", None)]


def test_a_rep_cannot_assign(client, app, company, rep, login_as, db_session):
    add_pool(app, company)
    lead_id = add_lead(app, company, "Not yours to give")
    login_as(rep)
    assert "Assign selected" not in client.get("/sales/pools/").text
    answer = client.post("/sales/pools/assign", data={"kind": "leads", "one": str(lead_id), "to_user": str(rep.id)})
    assert answer.status_code == 403
    assert owners(db_session, Lead, [lead_id]) == [None]


def test_assigning_to_someone_outside_the_company_is_refused(client, app, company, admin, db_session):
    add_pool(app, company)
    lead_id = add_lead(app, company, "Stays")
    answer = client.post("/sales/pools/assign", data={"kind": "leads", "one": str(lead_id), "to_user": "99999"})
    assert answer.status_code == 422 and "Choose a member of the company" in answer.text


# -- recycling -----------------------------------------------------------------------------------


def test_the_protection_period_after_claiming_keeps_a_lead_from_recycling(app, company, rep, db_session):
    add_pool(app, company, follow_up_days=1, protect_days=3, warn_days=0)
    lead_id = add_lead(app, company, "Protected")
    as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=T0))
    assert run_recycle(app, company, days(2))["leads"] == 0
    assert owners(db_session, Lead, [lead_id]) == [rep.id]
    assert run_recycle(app, company, days(3.5))["leads"] == 1
    assert owners(db_session, Lead, [lead_id]) == [None]


def test_leads_return_to_the_pool_without_follow_up_or_without_conversion(app, company, rep, db_session):
    add_pool(app, company, follow_up_days=5, close_days=30, protect_days=0, warn_days=0)
    silent = add_lead(app, company, "Silent", owner_id=rep.id, created_at=T0)
    busy = add_lead(app, company, "Busy", owner_id=rep.id, created_at=T0)
    converted = add_lead(app, company, "Won over", owner_id=rep.id, created_at=T0, status="converted")
    in_company(app, company, lambda session: setattr(session.get(Lead, busy), "last_follow_up_at", days(4)))
    assert run_recycle(app, company, days(6))["leads"] == 1
    assert owners(db_session, Lead, [silent, busy, converted]) == [None, rep.id, rep.id]
    in_company(app, company, lambda session: setattr(session.get(Lead, busy), "last_follow_up_at", days(28)))
    assert run_recycle(app, company, days(31))["leads"] == 1  # followed up, never converted
    assert owners(db_session, Lead, [silent, busy, converted]) == [None, None, rep.id]
    rules = dict(db_session.execute(select(PoolClaim.record_id, PoolClaim.recycle_rule)
                                    .where(PoolClaim.release_reason == "recycled")).all())
    assert rules == {silent: "follow_up:5", busy: "close:30"}
    trail = db_session.execute(select(AuditEntry.record_id, AuditEntry.changes).where(
        AuditEntry.record_type == LEAD_TYPE, AuditEntry.record_id == str(silent), AuditEntry.action == "update")).all()
    assert trail == [(str(silent), {"owner_id": [rep.id, None]})]


def test_the_owner_is_warned_once_before_the_lead_returns(app, company, rep, db_session):
    add_pool(app, company, follow_up_days=10, warn_days=2, protect_days=0)
    lead_ids = [add_lead(app, company, f"Fading {number}", owner_id=rep.id, created_at=T0) for number in range(2)]

    def notes():
        return db_session.scalars(select(Notification.title).where(Notification.user_id == rep.id)).all()

    assert run_recycle(app, company, days(7))["warned"] == 0
    assert run_recycle(app, company, days(8.5))["warned"] == 2
    assert notes() == ["2 of your leads will return to the pool “Everyone”"]
    assert run_recycle(app, company, days(9))["warned"] == 0
    assert len(notes()) == 1
    assert run_recycle(app, company, days(10.5))["leads"] == 2
    assert owners(db_session, Lead, lead_ids) == [None, None]


def test_accounts_return_to_the_pool_unless_a_deal_was_won_with_them(app, company, rep, db_session):
    add_pool(app, company, for_leads=False, close_days=30, protect_days=0, warn_days=0)
    idle = add_account(app, company, "Idle Ltd", owner_id=rep.id, created_at=T0)
    winner = add_account(app, company, "Winner Ltd", owner_id=rep.id, created_at=T0)
    pipeline_id, stages = default_ids(app, company)
    deal = add_opportunity(app, company, pipeline_id, stages["Won"], name="Big deal")

    def won(session):
        opportunity = session.get(Opportunity, deal)
        opportunity.account_id, opportunity.closed_at = winner, days(10)
    in_company(app, company, won)
    counts = run_recycle(app, company, days(31))
    assert (counts["accounts"], counts["leads"]) == (1, 0)
    assert owners(db_session, Account, [idle, winner]) == [None, rep.id]
    trail = db_session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.record_type == ACCOUNT_TYPE, AuditEntry.record_id == str(idle), AuditEntry.action == "update"))
    assert trail == 1


def test_recycling_emits_one_event_per_pool_with_counts_and_ids(app, company, rep, db_session):
    add_pool(app, company, follow_up_days=3, protect_days=0, warn_days=0)
    ids = [add_lead(app, company, f"Old {number}", owner_id=rep.id, created_at=T0) for number in range(3)]
    run_recycle(app, company, days(4))
    events = db_session.execute(select(Event.payload).where(Event.name == "sales.pool.recycled")).scalars().all()
    assert len(events) == 1
    assert events[0]["leads"] == 3 and sorted(events[0]["lead_ids"]) == ids and events[0]["accounts"] == 0
    run_recycle(app, company, days(5))  # nothing more is due: no event
    assert db_session.scalar(select(func.count()).select_from(Event).where(Event.name == "sales.pool.recycled")) == 1


def test_a_lead_given_an_owner_on_its_form_gets_the_full_time_again(app, company, rep, admin, db_session):
    add_pool(app, company, follow_up_days=5, protect_days=0, warn_days=0)
    lead_id = add_lead(app, company, "Handed over", owner_id=rep.id, created_at=T0)
    run_recycle(app, company, days(1))  # the job starts counting the rep's holding
    in_company(app, company, lambda session: setattr(session.get(Lead, lead_id), "owner_id", admin.id))
    assert run_recycle(app, company, days(5.5))["reassigned"] == 1  # the rep's claim ends, the admin's starts now
    assert owners(db_session, Lead, [lead_id]) == [admin.id]
    assert run_recycle(app, company, days(11))["leads"] == 1


def test_recycling_runs_the_same_number_of_queries_for_10_and_100_leads(app):
    def counted(number: int) -> int:
        other = make_company(app, f"Company {number}", f"company-{number}")
        other.enable("sales")
        add_pool(app, other, "Leads", follow_up_days=3, close_days=20, protect_days=0, warn_days=2)
        add_pool(app, other, "North", region="North", follow_up_days=5, position=-1)

        def work(session):
            session.add_all([Lead(company_id=other.id, name=f"L{i}", owner_id=other.admin.id, created_at=T0,
                                  region="North" if i % 2 else "") for i in range(number)])
        in_company(app, other, work)
        with counting_queries(app) as statements:
            counts = run_recycle(app, other, days(4))
        # Half recycled by the first pool's rule, half warned by the second's.
        assert (counts["leads"], counts["warned"]) == (number // 2, number // 2)
        return len(statements)

    assert counted(10) == counted(100)


# -- the record's history --------------------------------------------------------------------------


def test_the_lead_page_history_shows_the_claim_and_the_return_to_the_pool(client, app, company, admin, rep):
    add_pool(app, company, follow_up_days=14, protect_days=0, warn_days=0)
    lead_id = add_lead(app, company, "Storied")
    as_user(app, company, rep.id, lambda session, user: claim(session, user, LEAD_TYPE, [lead_id], now=T0))
    run_recycle(app, company, days(15))
    page = client.get(f"/sales/leads/{lead_id}").text
    url = re.search(r'data-panel="customers.timeline".*?hx-get="([^"]+)"', page, re.DOTALL).group(1)
    timeline = client.get(url.replace("&amp;", "&")).text
    assert "Claimed from the pool by Rita Rep" in timeline
    assert "Returned to the pool: no follow-up in 14 days" in timeline


# -- set-up ----------------------------------------------------------------------------------------


def test_an_administrator_sets_up_a_pool_and_a_wrong_number_is_explained(client, admin, db_session):
    answer = client.post("/sales/pools/manage/new", data={
        "name": "North", "region": "North", "for_leads": "y", "follow_up_days": "0", "warn_days": "2",
        "protect_days": "3", "cooldown_days": "7", "daily_claim_limit": "10", "holding_cap": "200",
        "position": "0", "active": "y"})
    assert answer.status_code == 422 and "Enter a number from 1 to 3650." in answer.text
    assert 'value="North"' in answer.text
    answer = client.post("/sales/pools/manage/new", data={
        "name": "North", "region": "North", "for_leads": "y", "follow_up_days": "14", "warn_days": "2",
        "protect_days": "3", "cooldown_days": "7", "daily_claim_limit": "10", "holding_cap": "200",
        "position": "0", "active": "y"})
    assert answer.status_code == 302
    pool = db_session.scalar(select(Pool))
    assert (pool.name, pool.region, pool.for_leads, pool.for_accounts, pool.follow_up_days, pool.close_days) == (
        "North", "North", True, False, 14, None)
    assert "North" in client.get("/sales/pools/manage").text


def test_a_rep_cannot_set_up_pools(client, rep, login_as):
    login_as(rep)
    assert client.get("/sales/pools/manage").status_code == 403
    assert client.get("/sales/pools/").status_code == 200


def test_the_pool_page_runs_a_bounded_number_of_queries(client, app, company, admin):
    add_pool(app, company)
    for number in range(30):
        add_lead(app, company, f"Waiting {number}")
    client.get("/sales/pools/")
    with counting_queries(app) as statements:
        assert client.get("/sales/pools/").status_code == 200
    assert len(statements) <= 20


def test_a_rep_claims_an_account_from_the_accounts_tab(client, app, company, rep, login_as, db_session):
    add_pool(app, company, for_leads=False)
    account_id = add_account(app, company, "Ownerless Ltd")
    login_as(rep)
    assert "Ownerless Ltd" in client.get("/sales/pools/?kind=accounts").text
    answer = client.post("/sales/pools/claim", data={"kind": "accounts", "one": str(account_id)})
    assert answer.status_code == 302
    assert owners(db_session, Account, [account_id]) == [rep.id]
    assert db_session.scalar(select(PoolClaim.record_type).where(PoolClaim.record_id == account_id)) == ACCOUNT_TYPE


def test_the_hourly_task_recycles_the_company_in_context(app, company, admin, rep, db_session):
    from plugins.sales.jobs import RECYCLE_TASK, periodic_tasks, run_recycling

    assert [(task.name, task.per_company) for task in periodic_tasks()] == [(RECYCLE_TASK, True)]
    add_pool(app, company, follow_up_days=3, protect_days=0, warn_days=0)
    lead_id = add_lead(app, company, "Long forgotten", owner_id=rep.id, created_at=T0)
    counts = in_company(app, company, lambda session: run_recycling())
    assert counts["leads"] == 1
    assert owners(db_session, Lead, [lead_id]) == [None]
