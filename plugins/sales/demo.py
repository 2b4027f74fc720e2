"""Demo data of the sales plugin: the default pipeline and the usual lost reasons, a small
sales team, about 120 leads and 150 opportunities with a consistent stage history, a customer
pool for the unowned leads and accounts, and a few lead scoring rules.

Deterministic (``random.Random`` seeded by the company id), so every demo looks the same and
tests can rely on it. The set-up (pipeline, lost reasons) goes through the services; leads and
deals are written straight to the models like the customers demo, with the history rows an
opportunity would have collected (first stage, each move with the time spent, ``closed_at``),
so the funnel and the board have something true to show. Runs once: a company that already
has leads or deals gets no more.
"""

from __future__ import annotations

import math
import random
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Company, Membership, Role, Team, TeamMember, User
from core.scoping import company_scope
from plugins.customers.services import (
    account_pool_rows,
    contact_names,
    create_task,
    log_interaction,
)
from plugins.sales.models import (
    Lead,
    Opportunity,
    OpportunityContact,
    Pool,
    ScoringRule,
    Stage,
    StageChange,
)
from plugins.sales.opportunities import DEFAULT_CURRENCY
from plugins.sales.scoring import rescore_leads
from plugins.sales.services import (
    DEFAULT_LOST_REASONS,
    add_lost_reason,
    default_pipeline,
    lost_reasons,
)

LEADS, DEALS = 120, 150
DAY = 86400
# The sales team the demo's leads and deals belong to: (name, email local part, role template).
PEOPLE = (("Lin Wei", "lin.wei", "customers.sales_manager"), ("Sarah Miller", "sarah.miller", "customers.sales_rep"),
          ("Zhang Min", "zhang.min", "customers.sales_rep"), ("Tom Becker", "tom.becker", "customers.sales_rep"))
TEAM = "Sales East"
FIRST = ["Olivia", "Liam", "Sophie", "Noah", "Mia", "Lucas", "Hannah", "Ethan", "Chloe", "Oscar", "Ava", "Leo"]
LAST = ["Turner", "Fischer", "Moreau", "Hughes", "Nakamura", "Brennan", "Silva", "Kowalski", "Lund", "Patel"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"]
GIVEN = ["晓明", "丽华", "建国", "思远", "雨萱", "子涵", "浩然", "佳怡", "志强", "欣怡"]
ORGS = ["Bright Harbor Hotels", "Northgate Clinics", "Cobalt Robotics", "Fjord Seafood", "Maple Schools",
        "Quartz Retail", "Vista Architects", "Helix Biotech", "Orbit Freight", "Lumen Studios", "Atlas Farms",
        "Nimbus Cloud"]
ORGS_ZH = ["上海云启科技有限公司", "深圳华创电子有限公司", "杭州绿源食品有限公司", "成都天府物流有限公司",
           "北京博学教育科技有限公司", "广州海纳贸易有限公司", "南京金陵医药有限公司", "苏州锦程纺织有限公司"]
TITLES = ["Purchasing manager", "Owner", "IT director", "Operations lead", "CFO", "Office manager"]
TITLES_ZH = ["采购经理", "总经理", "信息部主管", "运营总监", "财务总监"]
INDUSTRIES = ["Hospitality", "Healthcare", "Manufacturing", "Food", "Education", "Retail", "Logistics", "Software"]
REGIONS = ["North", "South", "East", "West"]
REGIONS_ZH = ["华东", "华南", "华北", "西南"]
# (source, weight): the web brings most, partners least.
SOURCES = (("Web", 35), ("Trade fair", 20), ("Referral", 18), ("Cold call", 15), ("Partner", 12))
UTM = (("google", "cpc", "spring-search"), ("linkedin", "social", "decision-makers"),
       ("newsletter", "email", "monthly-digest"), ("baidu", "cpc", "china-launch"))
STATUSES = (("new", 35), ("contacted", 30), ("qualified", 20), ("unqualified", 15))
DEAL_WORDS = ["renewal", "expansion", "pilot", "rollout", "upgrade", "annual licence", "support contract",
              "new site", "training package", "hardware refresh"]
DEAL_WORDS_ZH = ["年度采购", "系统升级", "试点项目", "扩容", "培训服务"]
LEAD_NOTES = ["Asked for a price list after the webinar.", "Met at the booth; wants a call next week.",
              "Left a voicemail, will try again.", "客户对价格很感兴趣，约了下周演示。"]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _weight in pairs], [weight for _value, weight in pairs])[0]


def add_demo_sales(session: Session, company: Company) -> None:
    """The "Sales" pipeline with its six stages and the usual lost reasons; the first time,
    a sales team with leads and deals too."""
    with company_scope(session, company.id):
        pipeline = default_pipeline(session, company.id)
        if not lost_reasons(session):
            for name in DEFAULT_LOST_REASONS:
                add_lost_reason(session, company.id, name)
        if session.scalar(select(Lead.id).limit(1)) is not None or \
                session.scalar(select(Opportunity.id).limit(1)) is not None:
            return
        rng = random.Random(company.id)
        team, reps = _sales_team(session, company)
        _add_leads(session, company, rng, reps, team)
        _add_deals(session, company, rng, pipeline.id, reps, team)
        _add_pool(session, company)
        _add_scoring(session, company)


# kind, field or interaction kind, operator, value, points, per occurrence (up to), label
_SCORING_RULES: tuple[tuple[str, str, str, str, int, int | None, str], ...] = (
    ("field", "source", "equals", "referral", 20, None, "Referred by a customer"),
    ("field", "title", "contains", "director", 15, None, "Decision maker"),
    ("field", "email", "is_empty", "", -10, None, "No email address"),
    ("activity", "meeting", "", "", 15, 2, "Meeting held"),
    ("activity", "call", "", "", 5, 3, "Call logged"),
)


def _add_scoring(session: Session, company: Company) -> None:
    """A few scoring rules, and the leads scored by them."""
    for position, (kind, subject, operator, value, points, up_to, label) in enumerate(_SCORING_RULES):
        session.add(ScoringRule(company_id=company.id, position=position, kind=kind,
                                field=subject if kind == "field" else "", operator=operator, value=value,
                                interaction_kind=subject if kind == "activity" else "",
                                per_occurrence=up_to is not None, max_count=up_to, points=points, label=label))
    session.flush()
    rescore_leads(session, session.scalars(select(Lead.id)).all())


def _add_pool(session: Session, company: Company) -> None:
    """One pool for every unowned lead and account, with the rules a sales team starts from:
    back to the pool after 30 days without a follow-up or 90 without a conversion or a won
    deal, owners warned 3 days before."""
    session.add(Pool(company_id=company.id, name="Public pool", follow_up_days=30, close_days=90, warn_days=3,
                     protect_days=3, cooldown_days=7, daily_claim_limit=20, holding_cap=300))
    session.flush()


# -- people ----------------------------------------------------------------------------------------


def _sales_team(session: Session, company: Company) -> tuple[Team, list[int]]:
    """The demo's manager and reps (members holding the sales roles) in one team; their ids,
    the manager's first. They cannot sign in (random passwords): they own records."""
    roles = dict(session.execute(select(Role.template, Role.id).where(Role.company_id == company.id)).all())
    team = Team(company_id=company.id, name=TEAM)
    session.add(team)
    ids = []
    for name, local, template in PEOPLE:
        email = f"{local}@{company.slug}.demo.example"
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name)
            user.password_hash = "!" + secrets.token_hex(16)  # no password matches: an owner, not a sign-in
            user.memberships.append(Membership(company=company, is_admin=False, role_id=roles.get(template)))
            session.add(user)
        session.flush()
        ids.append(user.id)
    team.manager_id = ids[0]
    team.members = [TeamMember(user_id=user_id) for user_id in ids]
    session.flush()
    return team, ids


# -- leads -----------------------------------------------------------------------------------------


def _add_leads(session: Session, company: Company, rng: random.Random, reps: list[int], team: Team) -> None:
    now = utcnow()
    leads = []
    for number in range(LEADS):
        chinese = number % 3 == 0
        if chinese:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            organisation, title, region = rng.choice(ORGS_ZH), rng.choice(TITLES_ZH), rng.choice(REGIONS_ZH)
            email = f"lead{number}@example.cn"
            phone = f"+86 138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name, organisation = f"{first} {last}", rng.choice(ORGS)
            title, region = rng.choice(TITLES), rng.choice(REGIONS)
            email = f"{first}.{last}{number}@example.com".lower()
            phone = f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
        source = _weighted(rng, SOURCES)
        utm = rng.choice(UTM) if source == "Web" else ("", "", "")
        owned = rng.random() < 0.75  # a quarter unowned: the customer pool
        owner_id = rng.choice(reps[1:]) if owned else None
        lead = Lead(company_id=company.id, name=name, title=title, organisation=organisation, email=email,
                    phone=phone, region=region, industry=rng.choice(INDUSTRIES), source=source,
                    utm_source=utm[0], utm_medium=utm[1], utm_campaign=utm[2],
                    status=_weighted(rng, STATUSES), owner_id=owner_id, team_id=team.id if owned else None,
                    notes=rng.choice(LEAD_NOTES) if rng.random() < 0.3 else "")
        lead.created_at = now - timedelta(seconds=rng.randrange(DAY, 180 * DAY))
        leads.append(lead)
    session.add_all(leads)
    session.flush()
    # A few follow-ups, through the customers plugin's history (calls, emails, next tasks).
    for lead in [lead for lead in leads if lead.owner_id is not None and lead.status != "new"][:24]:
        occurred = lead.created_at + timedelta(days=rng.randrange(1, 10), hours=rng.randrange(1, 8))
        log_interaction(session, subject_type="sales_lead", subject_id=lead.id,
                        kind=rng.choice(("call", "email", "meeting")), occurred_at=min(occurred, now),
                        summary=rng.choice(LEAD_NOTES), owner_id=lead.owner_id)
        if lead.status in ("contacted", "qualified") and rng.random() < 0.5:
            create_task(session, title=f"Call {lead.name} back", due_at=now + timedelta(days=rng.randrange(1, 14)),
                        subject_type="sales_lead", subject_id=lead.id, assignee_id=lead.owner_id)


# -- deals -----------------------------------------------------------------------------------------


def _final_stages(rng: random.Random, open_stages: list[Stage], won: Stage, lost: Stage) -> list[Stage]:
    """Where each deal stands: about a quarter won, a fifth lost, the rest open, more of them
    in the early stages."""
    weights = [len(open_stages) - index + 1 for index in range(len(open_stages))]
    open_count = DEALS - round(DEALS * 0.25) - round(DEALS * 0.20)
    finals = [won] * round(DEALS * 0.25) + [lost] * round(DEALS * 0.20) + \
        rng.choices(open_stages, weights, k=open_count)
    rng.shuffle(finals)
    return finals


def _amount(rng: random.Random) -> Decimal:
    """Log-normal around 15,000, kept within 1,000–200,000, rounded to the hundred."""
    value = min(200_000.0, max(1_000.0, math.exp(rng.gauss(math.log(15_000), 1.0))))
    return Decimal(round(value / 100) * 100)


def _add_deals(session: Session, company: Company, rng: random.Random, pipeline_id: int, reps: list[int],
               team: Team) -> None:
    now = utcnow()
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)))
    open_stages = [stage for stage in stages if stage.kind == "open"]
    won = next(stage for stage in stages if stage.is_won)
    lost = next(stage for stage in stages if stage.is_lost)
    reasons = [reason.id for reason in lost_reasons(session, active_only=True)]
    pool = account_pool_rows()
    accounts = [(row.id, row.name) for row in session.execute(pool.order_by(pool.selected_columns[0]).limit(80))]
    history: list[dict[str, Any]] = []
    deals: list[tuple[Opportunity, list[tuple[Stage, datetime]]]] = []
    for number, final in enumerate(_final_stages(rng, open_stages, won, lost)):
        account_id, account_name = rng.choice(accounts) if accounts else (None, "")
        chinese = any("\u4e00" <= char <= "\u9fff" for char in account_name)
        words = rng.choice(DEAL_WORDS_ZH if chinese else DEAL_WORDS)
        name = f"{account_name} {words}".strip() if account_name else f"Demo deal {number + 1} – {words}"
        # One currency: the board and the funnel add amounts up as entered (no exchange rates yet).
        currency = DEFAULT_CURRENCY
        path = _path(rng, open_stages, final, now)
        entered = path[-1][1]
        closed = final.kind != "open"
        if closed:
            close_date = entered.date()
        else:  # the next four months, a few already overdue
            close_date = (now + timedelta(days=rng.randrange(-10, 120))).date()
        deal = Opportunity(company_id=company.id, name=name[:200], account_id=account_id, pipeline_id=pipeline_id,
                           stage_id=final.id, amount=_amount(rng), currency=currency, expected_close_date=close_date,
                           probability=final.probability, source=_weighted(rng, SOURCES),
                           lost_reason_id=rng.choice(reasons) if final.is_lost and reasons else None,
                           owner_id=rng.choice(reps), team_id=team.id, stage_entered_at=entered,
                           closed_at=entered if closed else None,
                           furthest_stage_id=next((stage.id for stage, _at in reversed(path)
                                                   if stage.kind == "open"), None))
        deal.created_at = path[0][1]
        deals.append((deal, path))
    session.add_all([deal for deal, _path in deals])
    session.flush()
    for deal, path in deals:
        for index, (stage, at) in enumerate(path):
            previous = path[index - 1] if index else None
            history.append({"company_id": company.id, "opportunity_id": deal.id,
                            "from_stage_id": previous[0].id if previous else None, "to_stage_id": stage.id,
                            "changed_at": at, "changed_by_id": deal.owner_id,
                            "seconds_in_from_stage": int((at - previous[1]).total_seconds()) if previous else None})
    session.execute(StageChange.__table__.insert(), history)
    _link_contacts(session, company, rng, [deal for deal, _path in deals])


def _path(rng: random.Random, open_stages: list[Stage], final: Stage, now: datetime) -> list[tuple[Stage, datetime]]:
    """The stages a deal went through to ``final``, each with when it entered: created up to
    six months ago, a few days to three weeks per stage, never in the future."""
    if final.kind == "open":
        through = open_stages[:open_stages.index(final) + 1]
    elif final.is_won:
        through = [*[stage for stage in open_stages if stage is open_stages[0] or rng.random() < 0.8], final]
    else:
        through = [*open_stages[:rng.randrange(1, len(open_stages) + 1)], final]
    steps = [timedelta(days=rng.uniform(2, 21)) for _ in through[1:]]
    start = now - timedelta(days=rng.uniform(5, 180)) - sum(steps, timedelta()) / 2
    moments, at = [], start
    for stage, step in zip(through, [timedelta(), *steps], strict=True):
        at = min(at + step, now - timedelta(hours=1))
        moments.append((stage, at))
    return moments


def _link_contacts(session: Session, company: Company, rng: random.Random, deals: list[Opportunity]) -> None:
    """One or two of the account's contacts on a deal out of three (as its administrator sees them)."""
    admin = session.scalar(select(User).join(Membership).where(Membership.company_id == company.id,
                                                                Membership.is_admin.is_(True)).order_by(User.id))
    if admin is None:
        return
    links = []
    for deal in deals[::3]:
        if deal.account_id is None:
            continue
        found = list(contact_names(session, deal.account_id, limit=5, user=admin, company_id=company.id))
        links += [{"opportunity_id": deal.id, "contact_id": contact_id}
                  for contact_id in rng.sample(found, min(len(found), rng.randint(1, 2)))]
    if links:
        session.execute(OpportunityContact.__table__.insert(), links)
