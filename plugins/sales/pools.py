"""The customer pool (公海): leads and accounts without an owner, claimed by reps within limits,
assigned by managers, and returned to the pool by :func:`recycle` when their owner lets them
go stale.

Which pool a record is in is computed, never stored: the first active pool (by ``position``)
that applies to its kind and whose team and region match the record's (a pool without team,
or with the region "", matches any). Every holding is a :class:`PoolClaim` row (claimed,
assigned, or ``held``: an owner the recycling job found without a claim), closed when the
record leaves its owner; those rows, the audit trail of ``owner_id`` and the ``sales.pool.*``
events make the record's history.

:func:`recycle` is set-based: a constant number of statements per pool and kind, whatever the
number of records (the ids come back to Python only to write the audit trail and the event).
The records' columns come from :func:`pool_source` (the accounts' from
:func:`plugins.customers.services.account_pool_rows`: this module never sees the customers
models).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import (
    DateTime,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from core.audit import log_many, record_type
from core.db import utcnow
from core.events import emit
from core.i18n import DEFAULT_LOCALE, format_date
from core.models import Membership, User
from core.notifications import link, notify
from core.scoping import COMPANY_KEY
from plugins.customers.services import (
    account_pool_rows,
    clear_account_owners,
    set_account_owner,
)
from plugins.sales.holdings import holdings
from plugins.sales.models import Lead, Opportunity, Pool, PoolClaim, Stage

LEAD_TYPE = record_type(Lead)  # "sales_lead": the record type in the audit trail and the claims
ACCOUNT_TYPE = "customers_account"  # an account's (sales cannot import the customers models)
KINDS = {"leads": LEAD_TYPE, "accounts": ACCOUNT_TYPE}
KIND_OF = {record_type: kind for kind, record_type in KINDS.items()}
PAGE_SIZE = 50
EVENT_IDS_MAX = 1000  # ids listed in a sales.pool.recycled event; the counts are always whole


class PoolError(Exception):
    """A refused pool operation; ``str()`` is the message for the person who asked."""


# -- pools and membership ----------------------------------------------------------------------


def all_pools(session: Session) -> list[Pool]:
    """The company's pools, in the order that decides membership."""
    return list(session.scalars(select(Pool).order_by(Pool.position, Pool.id)))


def active_pools(session: Session, kind: str) -> list[Pool]:
    """The active pools applying to ``kind`` (``leads`` or ``accounts``), in order."""
    flag = Pool.for_leads if kind == "leads" else Pool.for_accounts
    return list(session.scalars(select(Pool).where(Pool.active.is_(True), flag.is_(True))
                                .order_by(Pool.position, Pool.id)))


def pool_source(kind: str) -> Any:
    """A Select of the records of ``kind`` a pool may hold (not in the trash; leads not
    converted), with the columns ``id``, ``name``, ``owner_id``, ``team_id``, ``region``,
    ``detail`` (organisation or industry), ``last_follow_up_at``, ``created_at``,
    ``search_text``, ``company_id``."""
    if kind == "leads":
        return select(Lead.id, Lead.name, Lead.owner_id, Lead.team_id, Lead.region, Lead.organisation.label("detail"),
                      Lead.last_follow_up_at, Lead.created_at, Lead.search_text, Lead.company_id).where(
            Lead.deleted_at.is_(None), Lead.status != "converted")
    if kind == "accounts":
        rows = account_pool_rows()
        columns = rows.selected_columns
        return rows.with_only_columns(columns.id, columns.name, columns.owner_id, columns.team_id, columns.region,
                                      columns.industry.label("detail"), columns.last_follow_up_at,
                                      columns.created_at, columns.search_text, columns.company_id,
                                      maintain_column_froms=True)
    raise ValueError(f"unknown pool kind {kind!r}")


def _matches(pool: Pool, columns: Any) -> Any:
    conditions = []
    if pool.team_id is not None:
        conditions.append(columns.team_id == pool.team_id)
    if pool.region:
        conditions.append(columns.region == pool.region)
    return and_(true(), *conditions)


def membership(pools: Sequence[Pool], pool: Pool, columns: Any) -> Any:
    """The condition on a record's ``columns`` of belonging to ``pool`` among ``pools`` (the
    active pools of its kind in order): matching it and none before it."""
    earlier = [_matches(other, columns) for other in pools[:pools.index(pool)]]
    return and_(_matches(pool, columns), not_(or_(false(), *earlier)))


def pool_of(pools: Sequence[Pool], team_id: int | None, region: str) -> Pool | None:
    """The pool of ``pools`` a record with ``team_id`` and ``region`` belongs to, if any."""
    for pool in pools:
        if (pool.team_id is None or pool.team_id == team_id) and (not pool.region or pool.region == region):
            return pool
    return None


def pool_records(session: Session, pool: Pool, kind: str, search: str = "", cursor: int | None = None,
                 limit: int = PAGE_SIZE) -> tuple[list[Any], int | None]:
    """A page of the records waiting in ``pool`` (newest first, by id), and the cursor of the
    next page (None at the end). One query, keyset-paged."""
    from core.textsearch import text_matches
    from plugins.customers.services import phone_spelling

    pools = active_pools(session, kind)
    if pool not in pools:
        return [], None
    statement = pool_source(kind)
    columns = statement.selected_columns
    statement = statement.where(columns.company_id == pool.company_id, columns.owner_id.is_(None),
                                membership(pools, pool, columns))
    words = search.split()
    if words:
        statement = statement.where(text_matches(columns.search_text, words,
                                                 *([variant] for variant in phone_spelling(search))))
    if cursor is not None:
        statement = statement.where(columns.id < cursor)
    rows = session.execute(statement.order_by(columns.id.desc()).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


# -- a rep's counters --------------------------------------------------------------------------


def day_start(now: datetime) -> datetime:
    """Midnight (UTC) of ``now``'s day: the daily claim limit counts from it."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def claimed_today(session: Session, user_id: int, now: datetime | None = None) -> int:
    """How many records ``user_id`` claimed from a pool since midnight (UTC)."""
    now = now or utcnow()
    return session.scalar(select(func.count()).select_from(PoolClaim).where(
        PoolClaim.user_id == user_id, PoolClaim.kind == "claimed", PoolClaim.claimed_at >= day_start(now))) or 0


def held_count(session: Session, user_id: int) -> int:
    """Open leads plus accounts ``user_id`` owns: what the holding cap counts."""
    leads, accounts = holdings(session, [user_id])[user_id]
    return leads + accounts


@dataclass(frozen=True)
class Counters:
    claimed_today: int
    daily_limit: int
    held: int
    holding_cap: int


def counters(session: Session, user_id: int, pool: Pool | None, now: datetime | None = None) -> Counters:
    """The user's "claimed today 3/10, holding 45/200", with ``pool``'s limits."""
    return Counters(claimed_today(session, user_id, now), pool.daily_claim_limit if pool else 0,
                    held_count(session, user_id), pool.holding_cap if pool else 0)


# -- claiming, releasing, assigning ------------------------------------------------------------


def _records(session: Session, kind: str, ids: Iterable[int]) -> list[Any]:
    wanted = sorted({int(record_id) for record_id in ids})
    if not wanted:
        return []
    statement = pool_source(kind)
    columns = statement.selected_columns
    return session.execute(statement.where(columns.id.in_(wanted)).order_by(columns.id)).all()


def _kind(record_type: str) -> str:
    if record_type not in KIND_OF:
        raise PoolError(_("Only leads and accounts go to a customer pool."))
    return KIND_OF[record_type]


def _set_owner(session: Session, kind: str, ids: list[int], owner_id: int | None) -> list[int | None]:
    """Change the owner of the records through the ORM (audited, events): few rows, by hand,
    locked first where the database can. Returns the owners they had once locked, so that a
    claim can tell whether someone else was quicker."""
    if kind == "leads":
        previous = []
        for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)).with_for_update()):
            previous.append(lead.owner_id)
            lead.owner_id = owner_id
        session.flush()
        return previous
    return [before for _id, _name, before in set_account_owner(session, ids, owner_id)]


def _close_claims(session: Session, record_type: str, holders: dict[int, int], reason: str, now: datetime) -> None:
    """End the holdings of ``holders`` (record id → owner): close their open claims, and record
    a closed ``held`` claim for an owner who had none (so that the cool-down knows)."""
    if not holders:
        return
    session.execute(update(PoolClaim).where(
        PoolClaim.record_type == record_type, PoolClaim.record_id.in_(list(holders)), PoolClaim.released_at.is_(None))
        .values(released_at=now, release_reason=reason).execution_options(synchronize_session=False))
    closed = set(session.scalars(select(PoolClaim.record_id).where(
        PoolClaim.record_type == record_type, PoolClaim.record_id.in_(list(holders)), PoolClaim.released_at == now)))
    company_id = session.info[COMPANY_KEY]
    session.add_all([PoolClaim(company_id=company_id, record_type=record_type, record_id=record_id, user_id=owner_id,
                               kind="held", claimed_at=now, released_at=now, release_reason=reason)
                     for record_id, owner_id in holders.items() if record_id not in closed])
    session.flush()


def claim(session: Session, user: Any, record_type: str, ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Give the user the records ``ids`` (of ``record_type``) waiting in a pool; all or none.

    Refused with :class:`PoolError` when a record has an owner already or is in no pool,
    when the user would pass the daily claim limit or the holding cap of the records' pools
    (the strictest, when they are in several), or when the user gave a record back less than
    its pool's cool-down ago. Returns the number of records claimed.
    """
    now = now or utcnow()
    kind = _kind(record_type)
    wanted = {int(record_id) for record_id in ids}
    rows = _records(session, kind, wanted)
    if not rows:
        raise PoolError(_("Choose at least one record to claim."))
    if len(rows) < len(wanted):
        raise PoolError(_("Some of the chosen records are no longer in the pool: show the list again."))
    pools = active_pools(session, kind)
    pool_by_id: dict[int, Pool] = {}
    for row in rows:
        if row.owner_id is not None:
            raise PoolError(_("“%(name)s” already has an owner.", name=row.name))
        pool = pool_of(pools, row.team_id, row.region)
        if pool is None:
            raise PoolError(_("“%(name)s” is in no customer pool.", name=row.name))
        pool_by_id[row.id] = pool
    limit = min(pool.daily_claim_limit for pool in pool_by_id.values())
    cap = min(pool.holding_cap for pool in pool_by_id.values())
    today = claimed_today(session, user.id, now)
    if today + len(rows) > limit:
        if today >= limit:
            raise PoolError(_("You have claimed %(num)s today, the limit is %(limit)s.", num=today, limit=limit))
        raise PoolError(_("You have claimed %(num)s today, the limit is %(limit)s: you can claim %(left)s more, "
                          "not %(chosen)s.", num=today, limit=limit, left=limit - today, chosen=len(rows)))
    held = held_count(session, user.id)
    if held + len(rows) > cap:
        raise PoolError(_("You hold %(held)s leads and accounts, the limit is %(cap)s: give some back before "
                          "claiming more.", held=held, cap=cap))
    released = session.execute(select(PoolClaim.record_id, func.max(PoolClaim.released_at)).where(
        PoolClaim.record_type == record_type, PoolClaim.record_id.in_([row.id for row in rows]),
        PoolClaim.user_id == user.id, PoolClaim.release_reason.in_(("recycled", "released")))
        .group_by(PoolClaim.record_id)).all()
    names = {row.id: row.name for row in rows}
    for record_id, released_at in released:
        released_at = released_at.replace(tzinfo=UTC) if released_at.tzinfo is None else released_at
        again = released_at + timedelta(days=pool_by_id[record_id].cooldown_days)
        if again > now:
            raise PoolError(_("You gave “%(name)s” back on %(released)s; you can claim it again from %(again)s.",
                              name=names[record_id], released=format_date(released_at), again=format_date(again)))
    record_ids = [row.id for row in rows]
    if any(owner is not None for owner in _set_owner(session, kind, record_ids, user.id)):
        # Read without a lock above: another rep claimed one of them meanwhile (all or none).
        raise PoolError(_("Someone else has just claimed one of these: show the list again."))
    session.add_all([PoolClaim(company_id=session.info[COMPANY_KEY], record_type=record_type, record_id=record_id,
                               user_id=user.id, kind="claimed", claimed_at=now) for record_id in record_ids])
    session.flush()
    emit("sales.pool.claimed", {"record_type": record_type, "ids": record_ids, "user_id": user.id}, session=session)
    return len(record_ids)


def release(session: Session, user: Any, record_type: str, ids: Iterable[int], *, for_anyone: bool = False,
            now: datetime | None = None) -> int:
    """Give records back to their pool: no owner, the claim closed (``released``), the
    cool-down starting for their owner. Only the owner may, unless ``for_anyone`` (a manager).
    Refused for a record without owner or in no pool (nobody could claim it back)."""
    now = now or utcnow()
    kind = _kind(record_type)
    rows = _records(session, kind, ids)
    if not rows:
        raise PoolError(_("Choose at least one record to give back."))
    pools = active_pools(session, kind)
    for row in rows:
        if row.owner_id is None:
            raise PoolError(_("“%(name)s” is in the pool already.", name=row.name))
        if row.owner_id != user.id and not for_anyone:
            raise PoolError(_("Only the owner of “%(name)s” can give it back to the pool.", name=row.name))
        if pool_of(pools, row.team_id, row.region) is None:
            raise PoolError(_("“%(name)s” is in no customer pool: nobody could claim it back.", name=row.name))
    holders = {row.id: row.owner_id for row in rows}
    _close_claims(session, record_type, holders, "released", now)
    _set_owner(session, kind, list(holders), None)
    emit("sales.pool.released", {"record_type": record_type, "ids": list(holders), "user_id": user.id},
         session=session)
    return len(holders)


def assign(session: Session, manager: Any, record_type: str, ids: Iterable[int], to_user_id: int, *,
           now: datetime | None = None) -> int:
    """A manager gives records (in the pool or held by someone) to ``to_user_id``, a member of
    the company. Assignment is a decision, not a claim: it bypasses the daily limit, the
    holding cap and the cool-down; it is audited and emits ``sales.pool.assigned``. Records
    the member holds already are left as they are. Returns the number assigned."""
    now = now or utcnow()
    kind = _kind(record_type)
    company_id = session.info[COMPANY_KEY]
    member = session.scalar(select(Membership.user_id).join(User, User.id == Membership.user_id).where(
        Membership.company_id == company_id, Membership.user_id == to_user_id, User.active.is_(True)))
    if member is None:
        raise PoolError(_("Choose a member of the company to assign to."))
    rows = [row for row in _records(session, kind, ids) if row.owner_id != to_user_id]
    if not rows:
        raise PoolError(_("Choose at least one record this member does not hold yet."))
    _close_claims(session, record_type, {row.id: row.owner_id for row in rows if row.owner_id is not None},
                  "reassigned", now)
    record_ids = [row.id for row in rows]
    _set_owner(session, kind, record_ids, to_user_id)
    session.add_all([PoolClaim(company_id=company_id, record_type=record_type, record_id=record_id,
                               user_id=to_user_id, kind="assigned", claimed_at=now) for record_id in record_ids])
    session.flush()
    emit("sales.pool.assigned", {"record_type": record_type, "ids": record_ids, "user_id": to_user_id,
                                 "by": manager.id}, session=session)
    return len(record_ids)


# -- recycling ---------------------------------------------------------------------------------


def _at(moment: datetime) -> Any:
    return literal(moment, DateTime(timezone=True))


def _due(pool: Pool, kind: str, claim: Any, columns: Any, at: datetime) -> list[tuple[str, Any]]:
    """The recycling rules of ``pool`` as conditions, at the moment ``at``, each named as the
    claim keeps it (``follow_up:N``, ``close:M``): no follow-up for N days, counted from the
    later of the claim and the last follow-up; M days since the claim without converting the
    lead (a converted lead leaves the pools), or without winning a deal with the account."""
    rules: list[tuple[str, Any]] = []
    if pool.follow_up_days is not None:
        cutoff = at - timedelta(days=pool.follow_up_days)
        rules.append((f"follow_up:{pool.follow_up_days}", and_(claim.claimed_at < cutoff, or_(columns.last_follow_up_at.is_(None),
                                                                       columns.last_follow_up_at < cutoff))))
    if pool.close_days is not None:
        cutoff = at - timedelta(days=pool.close_days)
        condition = claim.claimed_at < cutoff
        if kind == "accounts":
            # By the account alone (its deals are the company's): with the company in the
            # condition too, SQLite looked the deals up through (company_id, closed_at), every
            # deal closed since the claim for each account, minutes on 200,000 accounts.
            won = exists(select(Opportunity.id).join(Stage, Stage.id == Opportunity.stage_id).where(
                Opportunity.account_id == columns.id, Opportunity.deleted_at.is_(None), Stage.is_won.is_(True),
                Opportunity.closed_at >= claim.claimed_at))
            condition = and_(condition, not_(won))
        rules.append((f"close:{pool.close_days}", condition))
    return rules


def _held(kind: str, pools: Sequence[Pool], pool: Pool, company_id: int, at: datetime) -> tuple[Any, Any, Any]:
    """The open claims of the owners of ``pool``'s records, not protected at ``at``: a Select
    of the claim's id to filter on, the claim alias and the record's columns."""
    record_type = KINDS[kind]
    claim = aliased(PoolClaim)
    source = pool_source(kind)
    columns = source.selected_columns
    statement = source.with_only_columns(claim.id, maintain_column_froms=True).join(claim, and_(
        claim.company_id == company_id, claim.record_type == record_type, claim.record_id == columns.id,
        claim.user_id == columns.owner_id, claim.released_at.is_(None))).where(
        columns.company_id == company_id, columns.owner_id.is_not(None), membership(pools, pool, columns),
        claim.claimed_at < at - timedelta(days=pool.protect_days))
    return statement, claim, columns


def _settle_claims(session: Session, kind: str, pools: Sequence[Pool], company_id: int, now: datetime) -> tuple[int, int]:
    """Make every owned record of the pools have exactly one open claim, its owner's: close the
    claims whose owner changed outside the pool (``reassigned``), and open a ``held`` claim for
    owners without one, counted from the record's creation, or from now when the record had a
    claim before (its owner changed on its form: they get the full time). Three statements."""
    record_type = KINDS[kind]
    source = pool_source(kind)
    columns = source.selected_columns
    record = source.with_only_columns(columns.id, maintain_column_froms=True).where(
        columns.id == PoolClaim.record_id)
    still_held = exists(record.where(columns.owner_id == PoolClaim.user_id))
    reason = case((exists(record.where(columns.owner_id.is_not(None))), "reassigned"), else_="ended")
    closed = session.execute(update(PoolClaim).where(
        PoolClaim.company_id == company_id, PoolClaim.record_type == record_type, PoolClaim.released_at.is_(None),
        not_(still_held)).values(released_at=now, release_reason=reason)
        .execution_options(synchronize_session=False)).rowcount or 0
    earlier = aliased(PoolClaim)
    open_claim = exists(select(earlier.id).where(
        earlier.company_id == company_id, earlier.record_type == record_type, earlier.record_id == columns.id,
        earlier.released_at.is_(None)))
    had_claim = exists(select(earlier.id).where(
        earlier.company_id == company_id, earlier.record_type == record_type, earlier.record_id == columns.id))
    in_a_pool = or_(false(), *(_matches(pool, columns) for pool in pools))
    adopt = source.with_only_columns(
        literal(company_id), literal(record_type), columns.id, columns.owner_id, literal("held"),
        case((had_claim, _at(now)), else_=columns.created_at), maintain_column_froms=True).where(
        columns.company_id == company_id, columns.owner_id.is_not(None), in_a_pool, not_(open_claim))
    adopted = session.execute(insert(PoolClaim).from_select(
        ["company_id", "record_type", "record_id", "user_id", "kind", "claimed_at"], adopt)).rowcount or 0
    return int(closed), int(adopted)


def _recycle_pool(session: Session, kind: str, pools: Sequence[Pool], pool: Pool, company_id: int,
                  now: datetime) -> list[tuple[int, int]]:
    """Close (``recycled``) the claims of ``pool``'s records that a rule makes due now; return
    their ``(claim id, record id)``. One UPDATE per rule."""
    recycled: list[tuple[int, int]] = []
    held, claim, columns = _held(kind, pools, pool, company_id, now)
    for rule, due in _due(pool, kind, claim, columns, now):
        # The claims the first rule closed are no longer open for the second.
        result = session.execute(update(PoolClaim).where(PoolClaim.id.in_(held.where(due)))
                                 .values(released_at=now, release_reason="recycled", recycle_rule=rule)
                                 .returning(PoolClaim.id, PoolClaim.record_id)
                                 .execution_options(synchronize_session=False))
        recycled.extend((claim_id, record_id) for claim_id, record_id in result)
    return recycled


def _warn_pool(session: Session, kind: str, pools: Sequence[Pool], pool: Pool, company_id: int,
               now: datetime) -> Counter[int]:
    """Mark (``warned_at``) the claims of ``pool``'s records that a rule makes due within
    ``warn_days`` and whose owner was not told since (a follow-up made after a warning allows
    a new one); return how many each owner holds. One UPDATE."""
    if pool.warn_days <= 0:
        return Counter()
    at = now + timedelta(days=pool.warn_days)
    held, claim, columns = _held(kind, pools, pool, company_id, at)
    rules = [condition for _rule, condition in _due(pool, kind, claim, columns, at)]
    if not rules:
        return Counter()
    not_told = or_(claim.warned_at.is_(None), and_(columns.last_follow_up_at.is_not(None),
                                                   claim.warned_at < columns.last_follow_up_at))
    result = session.execute(update(PoolClaim).where(PoolClaim.id.in_(held.where(or_(*rules), not_told)))
                             .values(warned_at=now).returning(PoolClaim.user_id)
                             .execution_options(synchronize_session=False))
    return Counter(user_id for (user_id,) in result)


def _tell_owners(session: Session, company_id: int, kind: str, pool: Pool, owners: Counter[int]) -> None:
    """One notification per owner: how many of their records return to ``pool`` soon."""
    locales = dict(session.execute(
        select(User.id, User.locale).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company_id, User.id.in_(list(owners)), User.active.is_(True))).all())
    endpoint = "sales_leads.index" if kind == "leads" else "customers_accounts.index"
    for user_id, count in sorted(owners.items()):
        if user_id not in locales:
            continue
        with force_locale(locales[user_id] or DEFAULT_LOCALE):
            if kind == "leads":
                title = ngettext("%(num)s of your leads will return to the pool “%(pool)s”",
                                 "%(num)s of your leads will return to the pool “%(pool)s”", count, pool=pool.name)
            else:
                title = ngettext("%(num)s of your accounts will return to the pool “%(pool)s”",
                                 "%(num)s of your accounts will return to the pool “%(pool)s”", count, pool=pool.name)
            body = ngettext("Follow them up within %(num)s day, or they go back to the pool for others to claim.",
                            "Follow them up within %(num)s days, or they go back to the pool for others to claim.",
                            pool.warn_days)
        notify(user_id, title, body=body, url=link(endpoint), session=session)


def _take_owners_off(session: Session, kind: str, company_id: int, now: datetime) -> None:
    """Take the owner off the records whose claims this run closed, and write their audit
    entries (``owner_id``: the owner → none), in two statements whatever their number: the
    claims are found by a condition (closed as ``recycled`` at ``now``), not a list of ids."""
    record_type = KINDS[kind]
    source = pool_source(kind)
    columns = source.selected_columns
    closed_now = and_(PoolClaim.company_id == company_id, PoolClaim.record_type == record_type,
                      PoolClaim.released_at == now, PoolClaim.release_reason == "recycled")
    # Before the owners go, so that only records still held by the claim's owner are logged.
    log_many(session, company_id, record_type, "update", "owner_id", source.with_only_columns(
        columns.id, PoolClaim.user_id, literal(None), maintain_column_froms=True).join(PoolClaim, and_(
            PoolClaim.record_id == columns.id, PoolClaim.user_id == columns.owner_id, closed_now)).where(
        columns.company_id == company_id))
    just_closed = select(PoolClaim.record_id).where(closed_now)
    if kind == "leads":
        session.execute(update(Lead).where(Lead.company_id == company_id, Lead.id.in_(just_closed),
                                           Lead.owner_id.is_not(None))
                        .values(owner_id=None, updated_at=now).execution_options(synchronize_session=False))
    else:
        clear_account_owners(session, company_id, just_closed)


def recycle(session: Session, company_id: int, now: datetime | None = None) -> dict[str, int]:
    """Run the company's pool rules once: return to their pool the leads and accounts whose
    owner let a rule lapse (not within the protection period after claiming), and warn the
    owners of those due within their pool's ``warn_days``. Per kind: three statements settling
    the claims (:func:`_settle_claims`), per pool one UPDATE per rule closing the claims, then
    one INSERT … SELECT of the audit entries and one UPDATE taking the owners off; per pool one
    UPDATE marking the warned claims and one notification per owner warned, and one
    ``sales.pool.recycled`` event when it recycled anything (ids capped at
    :data:`EVENT_IDS_MAX` per kind). ``session`` must be scoped to ``company_id``.

    Returns the counts: ``leads`` and ``accounts`` recycled, ``warned`` records, ``held``
    claims opened for owners found without one, ``reassigned`` claims closed because their
    record changed owner outside the pool.
    """
    now = now or utcnow()
    counts = {"leads": 0, "accounts": 0, "warned": 0, "held": 0, "reassigned": 0}
    recycled_by_pool: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"leads": [], "accounts": []})
    pools_by_kind = {kind: active_pools(session, kind) for kind in KINDS}
    for kind, pools in pools_by_kind.items():
        if not pools:
            continue
        closed, adopted = _settle_claims(session, kind, pools, company_id, now)
        counts["reassigned"] += closed
        counts["held"] += adopted
        for pool in pools:
            recycled = _recycle_pool(session, kind, pools, pool, company_id, now)
            if recycled:  # a pool that returned nothing has no event
                recycled_by_pool[pool.id][kind] = [record_id for _claim, record_id in recycled]
            counts[kind] += len(recycled)
        if counts[kind]:
            _take_owners_off(session, kind, company_id, now)
        for pool in pools:
            owners = _warn_pool(session, kind, pools, pool, company_id, now)
            if owners:
                counts["warned"] += sum(owners.values())
                _tell_owners(session, company_id, kind, pool, owners)
    names = {pool.id: pool.name for pools in pools_by_kind.values() for pool in pools}
    for pool_id, recycled in recycled_by_pool.items():
        emit("sales.pool.recycled", {
            "pool_id": pool_id, "pool": names[pool_id],
            "leads": len(recycled["leads"]), "accounts": len(recycled["accounts"]),
            "lead_ids": recycled["leads"][:EVENT_IDS_MAX], "account_ids": recycled["accounts"][:EVENT_IDS_MAX],
        }, company_id, session=session)
    session.expire_all()  # the ORM's copies of the records changed under it
    return counts


# -- the record's history ----------------------------------------------------------------------


def history_entries(record_type: str, record: Any, before: datetime | None, limit: int) -> list[Any]:
    """The record's moves in and out of its pool as timeline entries, newest first: claimed,
    assigned, given back, returned by the job (with the rule), reassigned. One query."""
    from core.db import get_session
    from core.hooks import TimelineEntry

    if record_type not in KIND_OF or getattr(record, "id", None) is None:
        return []
    session = get_session()
    moved_at = func.coalesce(PoolClaim.released_at, PoolClaim.claimed_at)
    statement = (select(PoolClaim, User.name).outerjoin(User, User.id == PoolClaim.user_id)
                 .where(PoolClaim.record_type == record_type, PoolClaim.record_id == record.id)
                 .order_by(moved_at.desc(), PoolClaim.id.desc()).limit(limit))
    if before is not None:
        statement = statement.where(or_(PoolClaim.claimed_at <= before, PoolClaim.released_at <= before))
    entries = []
    for claim, name in session.execute(statement):
        entries.extend(_claim_entries(claim, name, TimelineEntry))
    if before is not None:
        entries = [entry for entry in entries if _aware(entry.at) <= before]
    return sorted(entries, key=lambda entry: (_aware(entry.at), entry.key), reverse=True)[:limit]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _claim_entries(claim: PoolClaim, name: str | None, entry: Any) -> list[Any]:
    who = name or _("a former member")
    key = f"sales.pool_claim.{claim.id}"
    found = []
    if claim.kind == "claimed":
        found.append(entry(f"{key}.claimed", claim.claimed_at, _("Claimed from the pool by %(name)s", name=who),
                           icon="box-arrow-in-down-right", actor=name))
    elif claim.kind == "assigned":
        found.append(entry(f"{key}.assigned", claim.claimed_at, _("Assigned from the pool to %(name)s", name=who),
                           icon="person-check"))
    if claim.released_at is not None:
        if claim.release_reason == "recycled":
            title = _("Returned to the pool: %(rule)s", rule=rule_text(claim.recycle_rule))
            found.append(entry(f"{key}.recycled", claim.released_at, title, icon="recycle",
                               body=_("It was held by %(name)s.", name=who)))
        elif claim.release_reason == "released":
            found.append(entry(f"{key}.released", claim.released_at, _("Given back to the pool by %(name)s", name=who),
                               icon="box-arrow-up", actor=name))
    return found


def rule_text(rule: str | None) -> str:
    """A recycling rule as kept on the claim (``follow_up:14``), in words."""
    name, _sep, days = (rule or "").partition(":")
    num = int(days) if days.isdigit() else 0
    if name == "follow_up":
        return ngettext("no follow-up in %(num)s day", "no follow-up in %(num)s days", num)
    return ngettext("not converted or won within %(num)s day", "not converted or won within %(num)s days", num)
