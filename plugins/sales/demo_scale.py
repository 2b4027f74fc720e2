"""Sales data at scale for ``crm demo --size medium|large`` (and the benchmarks in ``bench/``):
leads, and opportunities in the default pipeline with the stage history that brought each one
where it stands, written with :mod:`core.bulk`.

Runs after the small demo (:mod:`plugins.sales.demo`: the pipeline, its lost reasons, the
scoring rules) and after the customers plugin's data (the accounts and contacts deals point
at). The owners are the company's members in a team (the reps ``core.demo`` adds), each record
with its owner's team. Reproducible: one ``random.Random(seed)`` draws everything, in a fixed
order, so a seed (and ``now``) always gives the same rows.

Fast because the per-row work is small: every pool of names, organisations, dates and grades
is made once, weighted draws are a bisection on precomputed cumulative weights, times are
one subtraction from a single ``now``, columns whose default fits are left to
:func:`core.bulk.insert_rows` (``updated_at``: the load's time, when the rows were written),
and the tables' secondary indexes (and SQLite's text index) are built once at the end.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, pairwise
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bulk import bulk_loading, insert_rows, reserve_ids
from core.db import utcnow
from core.models import Company, Membership, Team, TeamMember
from core.scoping import company_scope
from plugins.customers.services import (
    account_pool_rows,
    contact_ids_by_account,
    normalize_email,
    normalize_phone,
)
from plugins.sales.demo import (
    DEAL_WORDS,
    DEAL_WORDS_ZH,
    FIRST,
    GIVEN,
    INDUSTRIES,
    LAST,
    LEAD_NOTES,
    ORGS,
    ORGS_ZH,
    REGIONS,
    REGIONS_ZH,
    SOURCES,
    SURNAMES,
    TITLES,
    TITLES_ZH,
    UTM,
    _amount,
)
from plugins.sales.funnel_tally import rebuild
from plugins.sales.models import (
    Lead,
    Opportunity,
    OpportunityContact,
    Stage,
    StageChange,
    lead_search_text,
)
from plugins.sales.opportunities import DEFAULT_CURRENCY
from plugins.sales.scoring import grade_bands, grade_for
from plugins.sales.services import default_pipeline, lost_reasons

# (leads, opportunities) of each size at scale; "small" is the hand-made demo alone.
SCALE = {"medium": (20_000, 50_000), "large": (200_000, 500_000)}
SEED = 20_26
DEALS_PER_ROUND = 10_000  # deals (with their history) generated and written at a time
UNOWNED_SHARE = 0.1  # leads nobody owns: the customer pool
LINKED_SHARE = 1 / 3  # deals with one of their account's contacts
DAY, HOUR = 86_400, 3_600

# More names than the small demo's, so that 200,000 leads do not all look alike.
MORE_FIRST = ["Emma", "James", "Isabella", "Henry", "Grace", "Daniel", "Zoe", "Samuel", "Ella", "Jack",
              "Nora", "Adam", "Ivy", "Felix", "Ruby", "Max", "Alice", "Victor"]
MORE_LAST = ["Walker", "Becker", "Dubois", "Larsen", "Rossi", "Novak", "Okafor", "Meyer", "Brooks", "Kim",
             "Schmidt", "Jensen", "Costa", "Bauer", "Young"]
MORE_SURNAMES = ["徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩"]
MORE_GIVEN = ["俊杰", "婷婷", "宇航", "梓萱", "明轩", "诗涵", "文博", "雅静", "天佑", "可欣"]
# Organisations: word × kind, as many as a trade-fair badge scanner would meet.
ORG_WORDS = ["Bright", "North", "Cobalt", "Fjord", "Maple", "Quartz", "Vista", "Helix", "Orbit", "Lumen",
             "Atlas", "Nimbus", "Harbor", "Summit", "Granite", "Willow", "Falcon", "Crescent", "Pioneer", "Aurora"]
ORG_KINDS = ["Hotels", "Clinics", "Robotics", "Seafood", "Schools", "Retail", "Architects", "Biotech", "Freight",
             "Studios", "Farms", "Cloud", "Logistics", "Foods", "Energy", "Textiles"]
CITIES_ZH = ["上海", "深圳", "杭州", "成都", "北京", "广州", "南京", "苏州", "武汉", "西安", "重庆", "天津"]
ORG_KINDS_ZH = ["云启科技", "华创电子", "绿源食品", "天府物流", "博学教育", "海纳贸易", "金陵医药", "锦程纺织",
                "恒信机械", "远航软件"]
# Not the small demo's domains: no lead at scale shares an address with a hand-made one.
DOMAINS = ["mail.example.com", "example.org", "example.net"]
DOMAINS_ZH = ["mail.example.cn", "example.com.cn"]
# Lead statuses with their weights, and each status's score range (start, width): a qualified
# lead has done more than a new one.
LEAD_STATUSES = (("new", 30), ("contacted", 25), ("qualified", 18), ("unqualified", 15), ("converted", 12))
SCORE_RANGES = {"new": (0, 40), "contacted": (10, 50), "qualified": (40, 61), "unqualified": (0, 30),
                "converted": (50, 51)}
# Where deals stand: open stages share 70 (more in the early ones), won 17, lost 13.
OPEN_SHARE, WON_SHARE, LOST_SHARE = 70, 17, 13
# Deals spend a day to a month in a stage, and entered their current one up to ten months ago.
STEP_SPAN, ENTERED_SPAN = 29 * DAY, 300 * DAY
AMOUNTS = 10_000  # amounts drawn once (log-normal, to the hundred), then drawn from
# Expected close dates of open deals: six months ago to four months ahead.
CLOSE_FROM, CLOSE_TO = -180, 120


class _Weighted:
    """A weighted draw by one uniform number (what ``random.choices`` does, without its
    per-call set-up): ``draw(rng.random())``."""

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.values = [value for value, _weight in pairs]
        self.cumulative = list(accumulate(weight for _value, weight in pairs))
        self.total = self.cumulative[-1]

    def draw(self, uniform: float) -> Any:
        return self.values[bisect(self.cumulative, uniform * self.total)]


@dataclass(frozen=True)
class _Staff:
    """Who owns records: the members in a team (all members when no team exists), with the
    team of each (their first)."""

    owner_ids: list[int]
    team_of: dict[int, int]


class _Account(NamedTuple):
    id: int
    owner_id: int | None
    name: str
    chinese: bool


class _Route(NamedTuple):
    """One way through the pipeline: the stage a deal ends in, the stage it began in, the
    moves (from, to) in between, whether it ends closed (and lost), its furthest open stage
    and the probability it ends with."""

    stage_id: int
    first_id: int
    moves: tuple[tuple[int, int], ...]
    closed: bool
    lost: bool
    furthest_id: int
    probability: int


def add_sales_at_scale(session: Session, company: Company, *, leads: int, opportunities: int, seed: int = SEED,
                       now: datetime | None = None) -> None:
    """``leads`` leads and ``opportunities`` deals (with their stage history, some with the
    account's contacts) for ``company``, then the funnel's tallies rebuilt (Core inserts pass
    by the ORM listeners that keep them). ``now`` (default: the current time) is when the data
    is as of: fix it and ``seed`` to get the same rows twice. In the session's transaction."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps the UTC wall time as text either way (core.bulk drops the zone), and
        # naive datetimes are subtracted and written in half the time: millions of them here.
        now = now.astimezone(UTC).replace(tzinfo=None)
    rng = random.Random(seed)
    session.flush()
    with company_scope(session, company.id):
        pipeline_id, routes = _routes(session, company.id)
        reason_ids = [reason.id for reason in lost_reasons(session, active_only=True)]
        bands = grade_bands(session)
        grades = [grade_for(score, bands) for score in range(101)]  # a lead's grade by its score
        accounts = _accounts(session, company.id)
        contacts = contact_ids_by_account(session, company.id)
    staff = _staff(session, company.id)
    connection = session.connection()
    tables = [Lead.__table__, Opportunity.__table__, StageChange.__table__, OpportunityContact.__table__]
    with bulk_loading(connection, *tables):  # type: ignore[arg-type]
        insert_rows(connection, Lead.__table__,  # type: ignore[arg-type]
                    _lead_rows(rng, company.id, leads, staff, grades, accounts, now))
        deal_ids = reserve_ids(connection, Opportunity.__table__, opportunities)  # type: ignore[arg-type]
        for start in range(0, opportunities, DEALS_PER_ROUND):
            deals, history, links = _deal_rows(rng, company.id, deal_ids[start:start + DEALS_PER_ROUND], pipeline_id,
                                               routes, reason_ids, staff, accounts, contacts, now)
            insert_rows(connection, Opportunity.__table__, deals)  # type: ignore[arg-type]
            insert_rows(connection, StageChange.__table__, history)  # type: ignore[arg-type]
            insert_rows(connection, OpportunityContact.__table__, links)  # type: ignore[arg-type]
    rebuild(session, company.id)


# -- what the rows are made of ------------------------------------------------------------------------


def _routes(session: Session, company_id: int) -> tuple[int, _Weighted]:
    """The default pipeline's id, and the ways a deal goes through it, weighted by how many
    deals stand where each leads: an open deal went through every open stage up to its own
    (more deals in the early ones), a won one through all of them, a lost one through the
    first one to all, each as likely."""
    pipeline = default_pipeline(session, company_id)
    stages = list(session.execute(select(Stage.id, Stage.probability, Stage.is_won, Stage.is_lost)
                                  .where(Stage.pipeline_id == pipeline.id).order_by(Stage.position, Stage.id)))
    open_stages = [stage for stage in stages if not stage.is_won and not stage.is_lost]
    won = next(stage for stage in stages if stage.is_won)
    lost = next(stage for stage in stages if stage.is_lost)

    def route(through: list[Any], final: Any) -> _Route:
        closed = final.is_won or final.is_lost
        return _Route(final.id, through[0].id, tuple(pairwise(stage.id for stage in through)), closed, final.is_lost,
                      through[-2].id if closed else final.id, final.probability)

    count = len(open_stages)
    routes = [(route(open_stages[:rank + 1], stage), OPEN_SHARE * (count - rank) / (count * (count + 1) / 2))
              for rank, stage in enumerate(open_stages)]
    routes.append((route([*open_stages, won], won), WON_SHARE))
    routes += [(route([*open_stages[:passed], lost], lost), LOST_SHARE / count) for passed in range(1, count + 1)]
    return pipeline.id, _Weighted(routes)


def _accounts(session: Session, company_id: int) -> list[_Account]:
    pool = account_pool_rows()
    columns = pool.selected_columns
    # Through the connection: no ORM row processing for a hundred thousand accounts.
    rows = session.connection().execute(pool.with_only_columns(columns.id, columns.owner_id, columns.name)
                                        .where(columns.company_id == company_id).order_by(columns.id)).all()
    return [_Account(account_id, owner_id, name, bool(name) and name[0] >= "\u4e00")
            for account_id, owner_id, name in rows]


def _staff(session: Session, company_id: int) -> _Staff:
    members = list(session.scalars(select(Membership.user_id).where(Membership.company_id == company_id)
                                   .order_by(Membership.user_id)))
    team_of: dict[int, int] = {}
    for user_id, team_id in session.execute(select(TeamMember.user_id, TeamMember.team_id).join(Team)
                                            .where(Team.company_id == company_id).order_by(Team.id, TeamMember.user_id)):
        team_of.setdefault(user_id, team_id)
    return _Staff([user_id for user_id in members if user_id in team_of] or members, team_of)


def _people() -> tuple[list[str], list[str]]:
    """Every English and every Chinese name the leads are drawn from."""
    english = [f"{first} {last}" for first in FIRST + MORE_FIRST for last in LAST + MORE_LAST]
    chinese = [surname + given for surname in SURNAMES + MORE_SURNAMES for given in GIVEN + MORE_GIVEN]
    return english, chinese


def _organisations() -> tuple[list[str], list[str]]:
    english = [*ORGS, *(f"{word} {kind}" for word in ORG_WORDS for kind in ORG_KINDS)]
    chinese = [*ORGS_ZH, *(f"{city}{kind}有限公司" for city in CITIES_ZH for kind in ORG_KINDS_ZH)]
    return english, chinese


# -- leads ------------------------------------------------------------------------------------------------


def _lead_rows(rng: random.Random, company_id: int, count: int, staff: _Staff, grades: list[str],
               accounts: list[_Account], now: datetime) -> Iterator[dict[str, Any]]:
    """The leads, one row at a time: a third Chinese, created over the last year, a tenth in
    the pool, followed up unless new, converted ones with the account they became.
    ``updated_at`` is left to the load's time: when the row was written."""
    rand = rng.random
    names, names_zh = _people()
    organisations, organisations_zh = _organisations()
    sources, statuses = _Weighted(SOURCES), _Weighted(LEAD_STATUSES)
    owners, team_of = staff.owner_ids, staff.team_of
    year = 365 * DAY
    for number in range(count):
        if number % 3 == 0:
            name, organisation = names_zh[int(rand() * len(names_zh))], organisations_zh[int(rand() * len(organisations_zh))]
            title, region = TITLES_ZH[int(rand() * len(TITLES_ZH))], REGIONS_ZH[int(rand() * len(REGIONS_ZH))]
            email = f"lead{number}@{DOMAINS_ZH[number % len(DOMAINS_ZH)]}"
            phone = f"+86 13{number % 10} {number // 10_000 % 10_000:04d} {number % 10_000:04d}"
        else:
            name, organisation = names[int(rand() * len(names))], organisations[int(rand() * len(organisations))]
            title, region = TITLES[int(rand() * len(TITLES))], REGIONS[int(rand() * len(REGIONS))]
            email = f"{name.replace(' ', '.').lower()}.{number}@{DOMAINS[number % len(DOMAINS)]}"
            phone = f"+1 555 {number // 10_000 % 1000:03d} {number % 10_000:04d}"
        source, status = sources.draw(rand()), statuses.draw(rand())
        utm = UTM[int(rand() * len(UTM))] if source == "Web" else ("", "", "")
        owner_id = None if rand() < UNOWNED_SHARE else owners[int(rand() * len(owners))]
        start, width = SCORE_RANGES[status]
        score = start + int(rand() * width)
        age = 60 + int(rand() * year)
        created = now - timedelta(0, age)
        followed = None if status == "new" else now - timedelta(0, int(age * rand() * rand()))
        converted = status == "converted"
        values = {
            "company_id": company_id, "owner_id": owner_id, "team_id": team_of.get(owner_id),  # type: ignore[arg-type]
            "name": name, "title": title, "organisation": organisation,
            "email": email, "email_normalized": normalize_email(email),
            "phone": phone, "phone_normalized": normalize_phone(phone),
            "region": region, "industry": INDUSTRIES[int(rand() * len(INDUSTRIES))], "source": source,
            "utm_source": utm[0], "utm_medium": utm[1], "utm_campaign": utm[2],
            "status": status, "score": score, "grade": grades[score],
            "notes": LEAD_NOTES[int(rand() * len(LEAD_NOTES))] if rand() < 0.3 else "",
            "converted_at": followed if converted else None,
            "converted_account_id": accounts[int(rand() * len(accounts))].id if converted and accounts else None,
            "created_at": created, "last_follow_up_at": followed,
        }
        values["search_text"] = lead_search_text(values)
        yield values


# -- opportunities -----------------------------------------------------------------------------------------


def _deal_rows(rng: random.Random, company_id: int, ids: Sequence[int], pipeline_id: int, routes: _Weighted,
               reason_ids: list[int], staff: _Staff, accounts: list[_Account], contacts: dict[int, list[int]],
               now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The deals with the ids ``ids``, their stage history and their contacts.

    A deal spent a day to a month in each stage of its route, entered its current one between
    an hour and ten months ago, and was created the route's length before. Its owner is the
    account's (four times out of five) or any rep. ``updated_at`` is left to the load's time:
    when the row was written."""
    rand = rng.random
    sources = _Weighted(SOURCES)
    amounts = [_amount(rng) for _ in range(AMOUNTS)]
    close_days = [now.date() + timedelta(days=days) for days in range(CLOSE_FROM, CLOSE_TO + 1)]
    owners, team_of = staff.owner_ids, staff.team_of
    deals: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for deal_id in ids:
        route = routes.draw(rand())
        steps = [DAY + int(rand() * STEP_SPAN) for _ in route.moves]
        ago = HOUR + int(rand() * ENTERED_SPAN) + sum(steps)  # when it was created, in seconds before now
        account = accounts[int(rand() * len(accounts))] if accounts else None
        owner_id = account.owner_id if account is not None and account.owner_id and rand() < 0.8 \
            else owners[int(rand() * len(owners))]
        created = moment = now - timedelta(0, ago)
        history.append({"company_id": company_id, "opportunity_id": deal_id, "from_stage_id": None,
                        "to_stage_id": route.first_id, "changed_at": created, "changed_by_id": owner_id,
                        "seconds_in_from_stage": None})
        for (from_id, to_id), spent in zip(route.moves, steps, strict=True):
            ago -= spent
            moment = now - timedelta(0, ago)
            history.append({"company_id": company_id, "opportunity_id": deal_id, "from_stage_id": from_id,
                            "to_stage_id": to_id, "changed_at": moment, "changed_by_id": owner_id,
                            "seconds_in_from_stage": spent})
        if account is None:
            name = f"Deal {deal_id}"
        else:
            words = DEAL_WORDS_ZH if account.chinese else DEAL_WORDS
            name = f"{account.name[:170]} {words[int(rand() * len(words))]}"
        closed = route.closed
        deals.append({
            "id": deal_id, "company_id": company_id, "owner_id": owner_id, "team_id": team_of.get(owner_id),
            "name": name, "account_id": account.id if account is not None else None,
            "pipeline_id": pipeline_id, "stage_id": route.stage_id, "furthest_stage_id": route.furthest_id,
            "amount": amounts[int(rand() * AMOUNTS)], "currency": DEFAULT_CURRENCY,
            "expected_close_date": moment.date() if closed else close_days[int(rand() * len(close_days))],
            "probability": route.probability, "source": sources.draw(rand()),
            "lost_reason_id": reason_ids[int(rand() * len(reason_ids))] if route.lost and reason_ids else None,
            "stage_entered_at": moment, "closed_at": moment if closed else None, "created_at": created,
        })
        people = contacts.get(account.id) if account is not None and rand() < LINKED_SHARE else None
        if people:
            links.append({"opportunity_id": deal_id, "contact_id": people[int(rand() * len(people))]})
    return deals, history, links
