"""Customers at scale for ``crm demo --size medium|large``: what the benchmarks in ``bench/``
measure (``large``: 100,000 accounts, 200,000 contacts, 2,000,000 interactions).

Seeded (``random.Random(seed)``): the same seed writes the same records; dates are counted from
the start of the current day (UTC). Written with :mod:`core.bulk` (Core inserts, indexes built
once at the end), so the rows get no audit entries and no events, as the hand-made demo's.

Fast because the work per row is small: a choice is an index into a pool made beforehand
(names, dates, texts), not a ``random.choice`` nor a new ``datetime``; the columns the models
derive from a record (normalised phone and email, ``search_text``, ``name_key``, the contact
points) come from the plugin's own normalisers, applied once to the values the generator knows
(a test compares them with :func:`plugins.customers.services.derived_columns` and
:func:`~plugins.customers.services.contact_point_rows` on every generated record); and the
interactions are written in an order that keeps the foreign keys' checks in the cache
(:meth:`Skeleton.order`).

The account dates the follow-up services keep in step (``last_follow_up_at``: its latest
interaction; ``next_follow_up_at``: its earliest open task) are worked out from the generated
interactions and tasks before the accounts are written, rather than by an ``UPDATE`` afterwards.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate, product
from math import gcd
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bulk import bulk_loading, insert_rows, reserve_ids
from core.db import utcnow
from core.models import Company, Membership, Team, TeamMember
from plugins.customers.demo import (
    CHINESE_GIVEN,
    CHINESE_SURNAMES,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    REGIONS_EN,
    REGIONS_ZH,
    SOURCES,
    TAGS,
    TITLES,
    TITLES_ZH,
)
from plugins.customers.followups import ACCOUNT_TYPE, CONTACT_TYPE
from plugins.customers.models import (
    ACCOUNT_SIZES,
    INTERACTION_KINDS,
    Account,
    AccountTag,
    Contact,
    ContactPoint,
    FollowUpTask,
    Interaction,
    Tag,
)
from plugins.customers.normalize import normalize_email, normalize_phone, search_text
from plugins.customers.similar import name_key

ACCOUNTS = {"medium": 10_000, "large": 100_000}
SEED = 2026
CONTACTS_PER_ACCOUNT = 2
INTERACTIONS_PER_ACCOUNT = 20
TASK_SHARE = 0.2  # of the accounts have follow-up tasks
TAGGED_SHARE = 0.1
INDIVIDUAL_SHARE = 0.05  # accounts that are a person, not an organisation
UNOWNED_SHARE = 0.07
REPEATED_SHARE = 0.02  # records that give the phone and email of an earlier one, as real data does
CONTACT_SUBJECT_SHARE = 0.25  # interactions logged on a contact's page rather than the account's
ORPHAN_CONTACT_SHARE = 0.01  # contacts at no account
MAX_CONTACTS = 4

# Organisation names as people type them: Chinese (city, trade name, trade, legal form) and
# English (stem + ending, sector, form). The benchmarks search for a fragment inside a word,
# "htwav" ("Bright" + "wave": about one account in 400) and a Chinese trade name, "明达"
# (about one in 40); the pools' sizes keep those shares.
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "南京", "武汉", "苏州", "西安", "重庆", "天津"]
TRADE_NAMES = ["明达", "华信", "金盛", "瑞丰", "恒通", "宏图", "新源", "博远", "嘉禾", "鼎盛", "星辰", "安泰",
               "汇丰", "东方", "创远", "中科", "联创", "海岳", "卓越", "天成"]
TRADES = ["科技", "贸易", "物流", "电子", "食品", "机械", "医药", "建材", "文化", "软件"]
STEMS = ["Bright", "Silver", "North", "Blue", "Green", "Iron", "Golden", "Red", "Swift", "Clear", "Stone", "Oak",
         "Pine", "River", "Summit", "Harbor", "Maple", "Cedar", "Falcon", "Crystal"]
ENDINGS = ["wave", "field", "bridge", "point", "stone", "gate", "line", "works", "light", "path"]
SECTORS = ["Logistics", "Foods", "Software", "Trading", "Electronics", "Machinery", "Pharma", "Media", "Retail",
           "Energy"]
FORMS = ["Ltd", "Inc", "Co"]
# More people than the hand-made demo needs: 200,000 contacts.
MORE_FIRST_NAMES = ["Olivia", "Noah", "Sophia", "Liam", "Mia", "Lucas", "Amelia", "Ethan", "Ava", "Mateo", "Zoe",
                    "Omar", "Nina", "Paul", "Rita", "Sam", "Tara", "Victor", "Yara", "Leo"]
MORE_LAST_NAMES = ["Brown", "Fischer", "Moreau", "Silva", "Tanaka", "Nowak", "Jensen", "Murphy", "Costa", "Weber"]
MORE_CHINESE_SURNAMES = ["徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗"]
MORE_CHINESE_GIVEN = ["晓明", "丽华", "建国", "海燕", "志强", "秀英", "文博", "雨婷", "子涵", "浩然"]
DEPARTMENTS = ["Purchasing", "Operations", "Finance", "IT", "Management", ""]
DEPARTMENTS_ZH = ["采购部", "运营部", "财务部", "信息部", "总经办", ""]
PERSONAL_DOMAIN = "mail.example"
CONSENT_SOURCES = ["web form", "call", "trade show", "import"]

STATUS_WEIGHTS = {"prospect": 35, "active": 40, "inactive": 15, "churned": 10}
# How much history an account of each status has, relative to the others.
STATUS_ACTIVITY = {"prospect": 0.6, "active": 1.6, "inactive": 0.7, "churned": 0.4}
TIER_WEIGHTS = {"A": 15, "B": 35, "C": 50}
SIZE_WEIGHTS = dict(zip(ACCOUNT_SIZES, (35, 30, 20, 10, 5), strict=True))  # small companies are the many
# call, email, meeting, visit, note, other
KIND_WEIGHTS = dict(zip(INTERACTION_KINDS, (30, 30, 12, 8, 15, 5), strict=True))

SUMMARIES_EN = [
    "Discussed the renewal and next year's volume.", "Sent the product brochure and prices.",
    "Visited the site; they want a demo for the team.", "Asked about delivery times.",
    "Followed up on the open quote.", "They are comparing us with two other suppliers.",
    "Introduced the new service plan.", "Complaint about a late delivery, sorted out.",
    "Budget approved for the second half of the year.", "Left a voicemail, will try again.",
    "Meeting with purchasing about the framework contract.", "Sent the revised offer with the discount.",
]
SUMMARIES_ZH = [
    "客户询问了批量采购的价格。", "电话沟通了合同细节，下周再跟进。", "拜访客户，对方希望安排产品演示。",
    "发送了报价单和产品手册。", "客户反馈交货延迟，已协调解决。", "客户正在比较三家供应商。",
    "介绍了新的服务方案。", "下半年预算已经批准。", "未接通，留言后再联系。", "与采购部讨论框架协议。",
]
OUTCOMES_EN = ["Interested", "Wants a quote", "Not now", "Order expected next month", "Needs approval"]
OUTCOMES_ZH = ["有意向", "需要报价", "暂不考虑", "预计下月下单", "等待领导审批"]
NEXT_STEPS_EN = ["Send the quote", "Call back next week", "Book a demo", "Visit the plant"]
NEXT_STEPS_ZH = ["发送报价", "下周回电", "安排演示", "上门拜访"]
TASK_TITLES_EN = ["Call back about the offer", "Send the revised quote", "Check the delivery date",
                  "Prepare the renewal", "Book a meeting with purchasing"]
TASK_TITLES_ZH = ["回访客户", "发送新报价", "确认交货日期", "准备续约", "约采购部开会"]

YEARS_OF_ACCOUNTS = 3
YEARS_OF_HISTORY = 2
STEP = timedelta(minutes=10)  # the resolution of generated dates
INTERLEAVED = 10_000  # interactions, of about 500 accounts (see Skeleton.order)


@dataclass(frozen=True)
class Staff:
    """Who owns the generated records: the reps (the company's members who are not
    administrators, or every member when there are no others) and each one's team."""

    owners: list[int]
    team_of: dict[int, int]

    def pick(self, rng: random.Random) -> int:
        return self.owners[int(rng.random() * len(self.owners))]


@dataclass
class Plan:
    """What is decided about every account before any row is written: the rows of the other
    tables point at the accounts, and the accounts carry dates that come from those rows."""

    count: int
    chinese: list[bool]
    status: list[str]
    owner: list[int | None]
    created: array  # index into the pool of dates
    contacts: array  # how many contacts each account has
    first_contact: array  # index of its first contact
    last_follow_up: array  # pool index of its latest interaction, -1 without
    next_follow_up: dict[int, datetime]  # earliest due date of its open tasks
    domains: list[str] = field(default_factory=list)  # its mail domain, once its row is made


def add_customers_at_scale(session: Session, company: Company, *, accounts: int, seed: int = SEED) -> None:
    """Add ``accounts`` accounts to ``company`` with twice as many contacts, twenty times as
    many interactions, follow-up tasks for a fifth of them and tags on a tenth, owned by the
    company's members. In the session's transaction; the caller commits."""
    rng = random.Random(seed)
    connection = session.connection()
    today = datetime.combine(utcnow().date(), time(), tzinfo=UTC)
    dates = _date_pool(today, aware=connection.dialect.name != "sqlite")
    staff = _staff(session, company.id)
    plan = _plan(rng, accounts, staff, len(dates))
    interactions = _interaction_skeleton(rng, plan, len(dates))
    tasks = _tasks(rng, plan, staff, today)
    tag_ids = _tag_ids(session, company.id)
    tables = [model.__table__ for model in (Account, Contact, ContactPoint, Interaction, FollowUpTask, AccountTag)]
    account_ids = reserve_ids(connection, Account.__table__, accounts)
    contact_ids = reserve_ids(connection, Contact.__table__, accounts * CONTACTS_PER_ACCOUNT)
    points: list[Point] = []
    with bulk_loading(connection, *tables):
        insert_rows(connection, Account.__table__,
                    _account_rows(rng, company.id, plan, staff, account_ids, dates, points))
        insert_rows(connection, Contact.__table__,
                    _contact_rows(rng, company.id, plan, staff, account_ids, contact_ids, dates, points))
        insert_rows(connection, ContactPoint.__table__, _point_rows(company.id, points))
        del points[:]
        insert_rows(connection, AccountTag.__table__, _tag_rows(rng, account_ids, tag_ids))
        insert_rows(connection, Interaction.__table__,
                    _interaction_rows(rng, company.id, plan, staff, interactions, account_ids, contact_ids, dates))
        insert_rows(connection, FollowUpTask.__table__, _task_rows(company.id, tasks, account_ids, contact_ids))


# -- who and when ---------------------------------------------------------------------------------


def _staff(session: Session, company_id: int) -> Staff:
    members = session.execute(select(Membership.user_id, Membership.is_admin)
                              .where(Membership.company_id == company_id).order_by(Membership.user_id)).all()
    reps = [user_id for user_id, is_admin in members if not is_admin] or [user_id for user_id, _ in members]
    team_of: dict[int, int] = {}
    for user_id, team_id in session.execute(
            select(TeamMember.user_id, TeamMember.team_id).join(Team, Team.id == TeamMember.team_id)
            .where(Team.company_id == company_id).order_by(TeamMember.team_id)):
        team_of.setdefault(user_id, team_id)  # someone in two teams: the first one
    return Staff(reps, team_of)


def _date_pool(today: datetime, *, aware: bool) -> list[datetime]:
    """Every ``STEP`` of the last ``YEARS_OF_ACCOUNTS`` years, oldest first: a generated date is
    an index into this list, so a later index is a later date and no row makes a datetime.

    Without their time zone (UTC) unless ``aware``: SQLite stores datetimes without it anyway
    (:mod:`core.bulk`), and a naive one is written in half the time, millions of times."""
    steps = int(timedelta(days=365 * YEARS_OF_ACCOUNTS) / STEP)
    start = today - steps * STEP
    if not aware:
        start = start.replace(tzinfo=None)
    return [start + STEP * number for number in range(steps)]


def _weighted(rng: random.Random, weights: dict[str, float], count: int) -> list[str]:
    """``count`` keys of ``weights`` drawn with their weights (one C call for all of them)."""
    return rng.choices(list(weights), weights=list(weights.values()), k=count)


def _history_start(dates: int) -> int:
    """The index of the oldest date an interaction may have."""
    return dates - int(timedelta(days=365 * YEARS_OF_HISTORY) / STEP)


def _plan(rng: random.Random, count: int, staff: Staff, dates: int) -> Plan:
    """Each account's language, owner, status, creation date and number of contacts."""
    owners = [None if rng.random() < UNOWNED_SHARE else staff.pick(rng) for _ in range(count)]
    # Odd accounts Chinese, even ones English, as the benchmarks' shares are counted.
    chinese = [bool(number % 2) for number in range(count)]
    contacts = array("i", [1] * count)
    orphans = int(count * CONTACTS_PER_ACCOUNT * ORPHAN_CONTACT_SHARE)
    extra = count * CONTACTS_PER_ACCOUNT - orphans - count
    while extra > 0:  # one to MAX_CONTACTS each, the total exactly what was asked
        number = int(rng.random() * count)
        if contacts[number] < MAX_CONTACTS:
            contacts[number] += 1
            extra -= 1
    return Plan(count=count, chinese=chinese, status=_weighted(rng, STATUS_WEIGHTS, count), owner=owners,
                created=array("i", (int(rng.random() * dates) for _ in range(count))),
                contacts=contacts, first_contact=array("i", accumulate(contacts, initial=0)),
                last_follow_up=array("i", [-1] * count), next_follow_up={})


@dataclass(frozen=True)
class Skeleton:
    """The interactions, grouped by account: the ``j``-th is with the account numbered
    ``account[j]`` at ``dates[when[j]]``. Written in the :meth:`order` that spreads them."""

    account: array
    when: array

    def order(self) -> Iterator[int]:
        """Every ``j`` once, the accounts interleaved as in real life (an account's interactions
        are not next to each other in the table) within blocks of :data:`INTERLEAVED` rows: the
        accounts and contacts a block points at are then few enough for the database's cache,
        and checking the foreign keys reads no page twice (2,000,000 interactions are written
        in half the time it takes interleaved over the whole table, on SQLite)."""
        count = len(self.account)
        for start in range(0, count, INTERLEAVED):
            size = min(INTERLEAVED, count - start)
            stride = int(size * 0.618) | 1  # prime to the size, near its golden section
            while gcd(stride, size) != 1:
                stride += 2
            yield from (start + position * stride % size for position in range(size))


def _interaction_skeleton(rng: random.Random, plan: Plan, dates: int) -> Skeleton:
    """How many interactions each account has (busy ones more, twenty on average) and when
    (none before the account was created nor older than the history). Notes each account's
    latest interaction in the plan."""
    history_start = _history_start(dates)
    activity = [STATUS_ACTIVITY[status] * rng.random() ** 2 for status in plan.status]  # a few busy, many quiet
    total, scale = plan.count * INTERACTIONS_PER_ACCOUNT, plan.count * INTERACTIONS_PER_ACCOUNT / sum(activity)
    counts = [int(weight * scale) for weight in activity]
    for number in rng.sample(range(plan.count), total - sum(counts)):
        counts[number] += 1
    random_ = rng.random
    skeleton = Skeleton(array("i"), array("i"))
    for number, count in enumerate(counts):
        if count:
            first = max(plan.created[number], history_start)
            moments = array("i", (first + int(random_() * (dates - first)) for _ in range(count)))
            plan.last_follow_up[number] = max(moments)
            skeleton.account.extend(array("i", [number]) * count)
            skeleton.when.extend(moments)
    return skeleton


def _tasks(rng: random.Random, plan: Plan, staff: Staff, today: datetime) -> list[dict[str, Any]]:
    """Open and done follow-up tasks for a share of the accounts, due around today; notes each
    account's earliest open task in the plan. ``account`` is the account's number and
    ``contact`` the contact's (or ``None``), for ids given when written."""
    tasks = []
    for number in sorted(rng.sample(range(plan.count), int(plan.count * TASK_SHARE))):
        titles = TASK_TITLES_ZH if plan.chinese[number] else TASK_TITLES_EN
        for _ in range(1 + (rng.random() < 0.3)):
            done = rng.random() < 0.4
            due = today + timedelta(days=rng.randrange(-60, 0) if done else rng.randrange(-10, 30),
                                    hours=rng.randrange(9, 18))
            remind = due - timedelta(days=1) if not done and rng.random() < 0.5 else None
            contact = None
            if rng.random() < 0.2:
                contact = plan.first_contact[number] + int(rng.random() * plan.contacts[number])
            tasks.append({
                "title": titles[int(rng.random() * len(titles))], "due_at": due, "remind_at": remind,
                # A reminder whose time has passed went out (the reminder job would send them all at once).
                "reminded_at": remind if remind is not None and remind < today else None,
                "assignee_id": plan.owner[number] or staff.pick(rng),
                "done_at": due + timedelta(hours=rng.randrange(-48, 4)) if done else None,
                "subject_type": CONTACT_TYPE if contact is not None else ACCOUNT_TYPE,
                "account": number, "contact": contact,
            })
            if not done and (number not in plan.next_follow_up or due < plan.next_follow_up[number]):
                plan.next_follow_up[number] = due
    return tasks


def _task_rows(company_id: int, tasks: list[dict[str, Any]], account_ids: Sequence[int],
               contact_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    """The tasks' rows: about a contact or the account, ``account_id`` set either way (as
    :func:`plugins.customers.followups.create_task` stores them)."""
    for task in tasks:
        row = {key: value for key, value in task.items() if key not in ("account", "contact")}
        account_id = account_ids[task["account"]]
        subject_id = contact_ids[task["contact"]] if task["contact"] is not None else account_id
        yield {**row, "company_id": company_id, "account_id": account_id, "subject_id": str(subject_id)}


def _tag_ids(session: Session, company_id: int) -> list[int]:
    """The ids of the demo's tags, made when missing (the hand-made demo makes them first)."""
    existing = {tag.name: tag for tag in session.scalars(select(Tag).where(Tag.company_id == company_id))}
    missing = [Tag(company_id=company_id, name=name) for name in TAGS if name not in existing]
    session.add_all(missing)
    session.flush()
    return [tag.id for tag in (*(existing[name] for name in TAGS if name in existing), *missing)]


def _tag_rows(rng: random.Random, account_ids: Sequence[int], tag_ids: list[int]) -> Iterator[dict[str, int]]:
    for number in sorted(rng.sample(range(len(account_ids)), int(len(account_ids) * TAGGED_SHARE))):
        for tag_id in rng.sample(tag_ids, 1 + (rng.random() < 0.25)):
            yield {"account_id": account_ids[number], "tag_id": tag_id}


# -- accounts and contacts -------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _name_key(name: str) -> str:
    return name_key(name)  # names repeat (a few thousand organisations), keys are costly


# A contact point before it is written: account id, contact id, kind, value, normalised, position.
Point = tuple[int | None, int | None, str, str, str, int]


def _reachable(name: str, phone: str, email: str, other_emails: Sequence[str], points: list[Point],
               account_id: int | None, contact_id: int | None) -> dict[str, Any]:
    """The columns derived from a record's name, phone and emails (what the models' mapper
    events would fill); its contact points are added to ``points``."""
    phone_normalized, email_normalized = normalize_phone(phone), normalize_email(email)
    points.append((account_id, contact_id, "phone", phone, phone_normalized, 0))
    points.append((account_id, contact_id, "email", email, email_normalized, 0))
    points.extend((account_id, contact_id, "email", other, normalize_email(other), position)
                  for position, other in enumerate(other_emails, start=1))
    return {"phone": phone, "email": email, "phone_normalized": phone_normalized,
            "email_normalized": email_normalized, "name_key": _name_key(name),
            "search_text": search_text(name, [phone], [email, *other_emails])}


def _point_rows(company_id: int, points: list[Point]) -> Iterator[dict[str, Any]]:
    for account_id, contact_id, kind, value, normalized, position in points:
        yield {"company_id": company_id, "account_id": account_id, "contact_id": contact_id, "kind": kind,
               "value": value, "normalized": normalized, "position": position}


def _person(rng: random.Random, chinese: bool) -> tuple[str, str]:
    """A person's name and the ASCII handle their email address is made of."""
    random_ = rng.random
    if chinese:
        surname = int(random_() * len(CHINESE_SURNAMES_ALL))
        given = int(random_() * len(CHINESE_GIVEN_ALL))
        return f"{CHINESE_SURNAMES_ALL[surname]}{CHINESE_GIVEN_ALL[given]}", f"zh{surname:02d}{given:02d}."
    first = FIRST_NAMES_ALL[int(random_() * len(FIRST_NAMES_ALL))]
    last = LAST_NAMES_ALL[int(random_() * len(LAST_NAMES_ALL))]
    return f"{first} {last}", f"{first}.{last}".lower()


FIRST_NAMES_ALL = [*FIRST_NAMES, *MORE_FIRST_NAMES]
LAST_NAMES_ALL = [*LAST_NAMES, *MORE_LAST_NAMES]
CHINESE_SURNAMES_ALL = [*CHINESE_SURNAMES, *MORE_CHINESE_SURNAMES]
CHINESE_GIVEN_ALL = [*CHINESE_GIVEN, *MORE_CHINESE_GIVEN]


def _pick(rng: random.Random, values: Sequence[Any]) -> Any:
    return values[int(rng.random() * len(values))]


def _organisation(rng: random.Random, chinese: bool, number: int) -> tuple[str, str]:
    """An organisation's name and its web domain."""
    if chinese:
        name = f"{_pick(rng, CITIES)}{_pick(rng, TRADE_NAMES)}{_pick(rng, TRADES)}有限公司"
        return name, f"company{number}.cn.example"
    stem, ending = _pick(rng, STEMS), _pick(rng, ENDINGS)
    return f"{stem}{ending} {_pick(rng, SECTORS)} {_pick(rng, FORMS)}", f"{stem}{ending}{number}.example".lower()


def _phone(chinese: bool, number: int, mobile: bool) -> str:
    """A phone number unique to ``number`` (for a fixed kind): digits spread by a multiplier."""
    digits = (number * 7919 + (4_000_000 if mobile else 0)) % 100_000_000
    if chinese:
        return f"+86 13{8 + mobile} {digits // 10_000:04d} {digits % 10_000:04d}"
    return f"+1 {555 + mobile} {digits // 10_000 % 1000:03d} {digits % 10_000:04d}"


def _repeated(rng: random.Random, seen: list[tuple[str, str]], phone: str, email: str) -> tuple[str, str]:
    """Now and then the phone and email of an earlier record (entered twice, shared lines)."""
    if seen and rng.random() < REPEATED_SHARE:
        return seen[int(rng.random() * len(seen))]
    seen.append((phone, email))
    return phone, email


def _account_rows(rng: random.Random, company_id: int, plan: Plan, staff: Staff, account_ids: Sequence[int],
                  dates: list[datetime], points: list[Point]) -> Iterator[dict[str, Any]]:
    sizes = _weighted(rng, SIZE_WEIGHTS, plan.count)
    tiers = _weighted(rng, TIER_WEIGHTS, plan.count)
    seen: list[tuple[str, str]] = []
    for number, account_id in enumerate(account_ids):
        chinese = plan.chinese[number]
        individual = rng.random() < INDIVIDUAL_SHARE
        if individual:
            name, handle = _person(rng, chinese)
            domain = PERSONAL_DOMAIN
            website, phone, email = "", _phone(chinese, number, True), f"{handle}{number}@{domain}"
        else:
            name, domain = _organisation(rng, chinese, number)
            website, phone, email = f"https://www.{domain}", _phone(chinese, number, False), f"info@{domain}"
        plan.domains.append(domain)
        phone, email = _repeated(rng, seen, phone, email)
        other_emails = [f"sales@{domain}"] if not individual and rng.random() < 0.1 else []
        reachable = _reachable(name, phone, email, other_emails, points, account_id, None)
        owner = plan.owner[number]
        created = dates[plan.created[number]]
        last = plan.last_follow_up[number]
        yield {
            "id": account_id, "company_id": company_id, "owner_id": owner, "name": name,
            "kind": "individual" if individual else "organisation",
            "industry": "" if individual else _pick(rng, INDUSTRIES), "size": "" if individual else sizes[number],
            "region": _pick(rng, REGIONS_ZH if chinese else REGIONS_EN), "website": website,
            "other_emails": "\n".join(other_emails), "source": _pick(rng, SOURCES), "tier": tiers[number],
            "status": plan.status[number], "team_id": staff.team_of.get(owner) if owner else None,
            "last_follow_up_at": dates[last] if last >= 0 else None,
            "next_follow_up_at": plan.next_follow_up.get(number), "created_at": created, "updated_at": created,
            **reachable,
        }


def _contact_rows(rng: random.Random, company_id: int, plan: Plan, staff: Staff, account_ids: Sequence[int],
                  contact_ids: Sequence[int], dates: list[datetime],
                  points: list[Point]) -> Iterator[dict[str, Any]]:
    attached = plan.first_contact[-1]
    seen: list[tuple[str, str]] = []
    number = 0
    for position, contact_id in enumerate(contact_ids):
        if position < attached:
            while plan.first_contact[number + 1] <= position:
                number += 1
            account_number: int | None = number
            chinese = plan.chinese[number]
        else:
            account_number, chinese = None, rng.random() < 0.5
        name, handle = _person(rng, chinese)
        if account_number is None:
            owner, domain, created = staff.pick(rng), PERSONAL_DOMAIN, dates[int(rng.random() * len(dates))]
        else:
            owner, created = plan.owner[account_number], dates[plan.created[account_number]]
            domain = plan.domains[account_number]
        phone, email = _repeated(rng, seen, _phone(chinese, position, True), f"{handle}{position}@{domain}")
        reachable = _reachable(name, phone, email, (), points, None, contact_id)
        consent = (rng.random() < 0.6, rng.random() < 0.4, rng.random() < 0.2)
        yield {
            "id": contact_id, "company_id": company_id, "owner_id": owner, "name": name,
            "account_id": account_ids[account_number] if account_number is not None else None,
            "title": _pick(rng, TITLES_ZH if chinese else TITLES),
            "department": _pick(rng, DEPARTMENTS_ZH if chinese else DEPARTMENTS),
            "consent_email": consent[0], "consent_phone": consent[1], "consent_sms": consent[2],
            "consent_changed_at": created if any(consent) else None,
            "consent_source": _pick(rng, CONSENT_SOURCES) if any(consent) else "",
            "created_at": created, "updated_at": created, **reachable,
        }


# -- interactions ---------------------------------------------------------------------------------


def _interaction_rows(rng: random.Random, company_id: int, plan: Plan, staff: Staff, skeleton: Skeleton,
                      account_ids: Sequence[int], contact_ids: Sequence[int],
                      dates: list[datetime]) -> Iterator[dict[str, Any]]:
    """The interactions of the skeleton. About a contact as :func:`plugins.customers.followups.
    log_interaction` stores one: the contact is the subject, ``account_id`` and ``contact_id``
    both set; about the account: the account is the subject, ``account_id`` set."""
    kinds = [kind for kind, weight in KIND_WEIGHTS.items() for _ in range(weight)]
    # Every (summary, outcome, next step) of a language: one pick per row for the three.
    texts = {chinese: list(product(summaries, _sometimes(outcomes, 0.3), _sometimes(next_steps, 0.2)))
             for chinese, summaries, outcomes, next_steps in ((False, SUMMARIES_EN, OUTCOMES_EN, NEXT_STEPS_EN),
                                                              (True, SUMMARIES_ZH, OUTCOMES_ZH, NEXT_STEPS_ZH))}
    # What every interaction with an account takes from it, looked up once per row.
    about = [(texts[plan.chinese[number]], plan.owner[number], str(account_id), account_id,
              plan.first_contact[number], plan.contacts[number]) for number, account_id in enumerate(account_ids)]
    random_, pick, accounts, when = rng.random, staff.pick, skeleton.account, skeleton.when
    for position in skeleton.order():
        texts_, owner, key, account_id, first, count = about[accounts[position]]
        if owner is None or random_() < 0.15:
            owner = pick(rng)
        if random_() < CONTACT_SUBJECT_SHARE:
            contact_id = contact_ids[first + int(random_() * count)]
            subject_type, subject_id = CONTACT_TYPE, str(contact_id)
        else:
            subject_type, subject_id, contact_id = ACCOUNT_TYPE, key, None
        summary, outcome, next_step = texts_[int(random_() * len(texts_))]
        yield {
            "company_id": company_id, "owner_id": owner, "kind": kinds[int(random_() * len(kinds))],
            "occurred_at": dates[when[position]], "summary": summary, "outcome": outcome, "next_step": next_step,
            "subject_type": subject_type, "subject_id": subject_id, "account_id": account_id,
            "contact_id": contact_id,
        }


def _sometimes(values: Sequence[str], share: float) -> list[str]:
    """``values`` and enough empty texts that one pick gives a value about ``share`` of the time."""
    return [*values, *[""] * round(len(values) * (1 - share) / share)]
