"""Sales data at scale, written with Core inserts: leads, opportunities and their stage history.

Used by ``sales_pages.py`` and ``sales_recycling.py``. Reproducible (seeded); the shapes follow
what a sales team's data looks like: most deals in the early stages, about a sixth won and an
eighth lost, amounts spread over two orders of magnitude, close dates from six months ago to
four months ahead, leads from a handful of sources, most of them owned by one of twenty reps in
four teams, some unowned (the customer pool).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

BATCH = 20_000

FIRST_NAMES = ["Wei", "Li", "Fang", "Jun", "Min", "Anna", "James", "Maria", "David", "Sara", "Tom", "Lena"]
LAST_NAMES = ["Wang", "Zhang", "Chen", "Liu", "Smith", "Brown", "Garcia", "Müller", "Rossi", "Kim"]
CHINESE_NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵强", "黄丽", "周杰", "吴芳"]
ORGANISATIONS = ["Brightwave Foods", "North Bridge Logistics", "Silverline Software", "明达科技有限公司",
                 "华信贸易有限公司", "Oakfield Retail", "Summit Pharma", "瑞丰物流有限公司", "Bluegate Media"]
SOURCES = ["web", "fair", "referral", "cold call", "partner"]
REGIONS = ["North", "South", "East", "West"]
INDUSTRIES = ["Retail", "Food", "Software", "Logistics", "Manufacturing"]
LEAD_STATUSES = ["new"] * 5 + ["contacted"] * 3 + ["qualified"] * 2 + ["unqualified", "converted"]
# Where deals stand: index into the default pipeline's six stages (four open, won, lost).
STAGE_WEIGHTS = [30, 20, 12, 8, 17, 13]


@dataclass
class SalesWorld:
    """What the generator made that a benchmark needs to aim its requests."""

    company_id: int
    admin_id: int
    rep_ids: list[int]
    team_ids: list[int]
    pipeline_id: int
    stage_ids: list[int]


def _batches(count: int, make: Any) -> Any:
    for start in range(0, count, BATCH):
        yield [make(number) for number in range(start, min(count, start + BATCH))]


def people(session: Any, app: Any, *, reps: int = 20, teams: int = 4) -> tuple[int, int, list[int], list[int]]:
    """A company with sales enabled, its administrator, ``reps`` reps in ``teams`` teams."""
    from core.access import seed_roles
    from core.enablement import enable
    from core.models import Company, Membership, Team, TeamMember, User

    company = Company(name="Bench", slug="bench")
    admin = User(email="bench@example.com", name="Bench Admin")
    admin.set_password("bench-password")
    admin.memberships.append(Membership(company=company, is_admin=True))
    session.add_all([company, admin])
    session.flush()
    seed_roles(session, company)
    for plugin in ("customers", "sales"):
        enable(session, app.extensions["crm.plugins"], company, plugin)
    rep_ids: list[int] = []
    for number in range(reps):
        rep = User(email=f"rep{number}@example.com", name=f"Rep {number:02d}")
        rep.password_hash = admin.password_hash  # one scrypt hash is enough (0.1 s each)
        rep.memberships.append(Membership(company=company))
        session.add(rep)
        session.flush()
        rep_ids.append(rep.id)
    team_ids: list[int] = []
    for number in range(teams):
        team = Team(company_id=company.id, name=f"Team {number + 1}", manager_id=rep_ids[number * (reps // teams)])
        team.members = [TeamMember(user_id=rep_id) for rep_id in rep_ids[number::teams]]
        session.add(team)
        session.flush()
        team_ids.append(team.id)
    session.commit()
    return company.id, admin.id, rep_ids, team_ids


def accounts(session: Any, company_id: int, owner_ids: list[int], count: int, rng: random.Random) -> None:
    """``count`` accounts, so that deals have someone to be with."""
    from sqlalchemy import insert

    from core.db import utcnow
    from plugins.customers.models import Account
    from plugins.customers.services import derived_columns

    now = utcnow()

    def account(number: int) -> dict[str, Any]:
        values = {"company_id": company_id, "owner_id": rng.choice(owner_ids),
                  "name": f"{rng.choice(ORGANISATIONS)} {number}", "kind": "organisation",
                  "industry": rng.choice(INDUSTRIES), "size": "", "region": rng.choice(REGIONS), "address": "",
                  "website": "", "phone": f"+86 139 {number:08d}", "email": f"sales@account{number}.example",
                  "source": "", "tier": rng.choice("ABC"), "status": "active", "notes": "",
                  "created_at": now, "updated_at": now}
        return {**values, **derived_columns(values)}

    connection = session.connection()
    for batch in _batches(count, account):
        connection.execute(insert(Account), batch)
    session.commit()


def leads(session: Any, company_id: int, rep_ids: list[int], team_ids: list[int], count: int,
          rng: random.Random, *, unowned_share: float = 0.1) -> None:
    """``count`` leads, created over the last year, a tenth of them unowned."""
    from sqlalchemy import insert

    from core.db import utcnow
    from plugins.customers.services import normalize_email, normalize_phone
    from plugins.sales.models import Lead, lead_search_text

    now = utcnow()

    def lead(number: int) -> dict[str, Any]:
        name = rng.choice(CHINESE_NAMES) if number % 3 == 0 else \
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email, phone = f"lead{number}@prospect{number % 5000}.example", f"+86 137 {number:08d}"
        created = now - timedelta(minutes=rng.randrange(0, 525_600))
        owner = None if rng.random() < unowned_share else rng.choice(rep_ids)
        source = rng.choice(SOURCES)
        values = {
            "company_id": company_id, "owner_id": owner, "team_id": rng.choice(team_ids), "name": name,
            "title": "", "organisation": rng.choice(ORGANISATIONS), "email": email,
            "email_normalized": normalize_email(email), "phone": phone, "phone_normalized": normalize_phone(phone),
            "region": rng.choice(REGIONS), "industry": rng.choice(INDUSTRIES), "source": source,
            "campaign": "", "utm_source": "newsletter" if source == "web" else "", "utm_medium": "",
            "utm_campaign": "", "status": rng.choice(LEAD_STATUSES), "score": rng.randrange(0, 100),
            "grade": "", "notes": "", "created_at": created, "updated_at": created,
            "last_follow_up_at": created + timedelta(days=rng.randrange(0, 40)) if rng.random() < 0.7 else None,
        }
        values["search_text"] = lead_search_text(values)
        return values

    connection = session.connection()
    for batch in _batches(count, lead):
        connection.execute(insert(Lead), batch)
    session.commit()


def opportunities(session: Any, company_id: int, rep_ids: list[int], team_ids: list[int], count: int,
                  account_count: int, rng: random.Random) -> tuple[int, list[int]]:
    """``count`` opportunities in the default pipeline, each with the stage history that brought
    it where it is; returns the pipeline's id and its stages' ids in order."""
    from sqlalchemy import insert, select

    from core.db import utcnow
    from core.scoping import company_scope
    from plugins.sales.funnel_tally import rebuild
    from plugins.sales.models import LostReason, Opportunity, Stage, StageChange
    from plugins.sales.services import DEFAULT_LOST_REASONS, default_pipeline

    with company_scope(session, company_id):
        pipeline = default_pipeline(session, company_id)
        stages = list(session.execute(select(Stage.id, Stage.probability, Stage.is_won, Stage.is_lost)
                                      .where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)))
        for position, name in enumerate(DEFAULT_LOST_REASONS):
            session.add(LostReason(company_id=company_id, name=name, position=position))
        session.flush()
        reason_ids = list(session.scalars(select(LostReason.id)))
        pipeline_id = pipeline.id
        session.commit()
    open_stages = [stage for stage in stages if not stage.is_won and not stage.is_lost]
    now = utcnow()
    today = now.date()
    team_of = {rep_id: team_ids[number % len(team_ids)] for number, rep_id in enumerate(rep_ids)}
    history: list[dict[str, Any]] = []

    def opportunity(number: int) -> dict[str, Any]:
        stage = rng.choices(stages, weights=STAGE_WEIGHTS)[0]
        created = now - timedelta(days=rng.randrange(1, 540), minutes=rng.randrange(0, 1440))
        owner = rng.choice(rep_ids)
        closed = stage.is_won or stage.is_lost
        # The open stages it went through: all those before its own, or, when lost, some of them.
        if closed:
            passed = open_stages[:rng.randrange(1, len(open_stages) + 1)] if stage.is_lost else open_stages
        else:
            passed = open_stages[:[s.id for s in open_stages].index(stage.id)]
        path = [*passed, stage]
        moment, previous = created, None
        for step in path:
            if previous is not None:
                spent = rng.randrange(86_400, 40 * 86_400)
                moment = moment + timedelta(seconds=spent)
            history.append({"company_id": company_id, "opportunity_id": number + 1,
                            "from_stage_id": previous.id if previous is not None else None, "to_stage_id": step.id,
                            "changed_at": moment, "changed_by_id": owner,
                            "seconds_in_from_stage": spent if previous is not None else None})
            previous = step
        amount = Decimal(int(round(min(200_000, max(1_000, rng.lognormvariate(9.5, 1.0))), -2)))
        return {
            "company_id": company_id, "owner_id": owner, "team_id": team_of[owner], "name": f"Deal {number:06d}",
            "account_id": rng.randrange(1, account_count + 1), "pipeline_id": pipeline_id, "stage_id": stage.id,
            "amount": amount, "currency": "USD",
            "expected_close_date": today + timedelta(days=rng.randrange(-180, 120)),
            "probability": stage.probability, "probability_set_by_rep": False, "source": rng.choice(SOURCES),
            "lost_reason_id": rng.choice(reason_ids) if stage.is_lost else None, "note": "",
            "stage_entered_at": moment, "closed_at": moment if closed else None,
            "created_at": created, "updated_at": moment,
            "furthest_stage_id": (passed[-1].id if passed else None) if closed else stage.id,
        }

    connection = session.connection()
    for batch in _batches(count, opportunity):
        connection.execute(insert(Opportunity), batch)
        for start in range(0, len(history), BATCH):
            connection.execute(insert(StageChange), history[start:start + BATCH])
        history.clear()
    rebuild(session, company_id)  # Core inserts bypass the ORM listeners that keep the funnel's tallies
    session.commit()
    return pipeline_id, [stage.id for stage in stages]


def populate(app: Any, *, leads_count: int, opportunities_count: int, accounts_count: int,
             seed: int = 11) -> SalesWorld:
    """The whole sales data set in the app's (empty, migrated) database."""
    from core.db import get_session

    rng = random.Random(seed)
    session = get_session()
    company_id, admin_id, rep_ids, team_ids = people(session, app)
    accounts(session, company_id, rep_ids, accounts_count, rng)
    leads(session, company_id, rep_ids, team_ids, leads_count, rng)
    pipeline_id, stage_ids = opportunities(session, company_id, rep_ids, team_ids, opportunities_count,
                                           accounts_count, rng)
    return SalesWorld(company_id, admin_id, rep_ids, team_ids, pipeline_id, stage_ids)
