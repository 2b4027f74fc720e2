"""Demo data: a few hundred customers with English and Chinese names, contacts and history.

Deterministic (seeded by the company id), so every demo looks the same and tests can rely on
it. Written straight to the models: the demo is the plugin's own data, and going through the
services would emit an event per row for nobody to receive.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Company, Membership
from plugins.customers.models import (
    ACCOUNT_SIZES,
    INTERACTION_KINDS,
    Account,
    AccountTag,
    Contact,
    FollowUpTask,
    Interaction,
    Tag,
)

ACCOUNTS = 240  # in all, the planted duplicates included
PLANTED_DUPLICATES = 2
ENGLISH_FIRST = ["Northwind", "Bluebird", "Summit", "Harbor", "Evergreen", "Silverline", "Redwood", "Brightpath",
                 "Ironbridge", "Lakeside", "Oakmont", "Crescent", "Pinecrest", "Riverside", "Stonegate", "Westfield"]
ENGLISH_SECOND = ["Traders", "Logistics", "Foods", "Dental", "Analytics", "Builders", "Outfitters", "Labs",
                  "Consulting", "Media", "Motors", "Pharma", "Textiles", "Energy", "Travel", "Software"]
CHINESE_CITIES = ["上海", "北京", "深圳", "杭州", "成都", "广州", "南京", "武汉", "苏州", "西安"]
CHINESE_NAMES = ["华信", "鼎盛", "恒通", "瑞丰", "嘉禾", "远航", "天成", "宏图", "金桥", "博雅", "新元", "安泰"]
CHINESE_TRADES = ["科技", "贸易", "物流", "食品", "医药", "建材", "传媒", "软件", "电子", "纺织"]
INDUSTRIES = ["Manufacturing", "Retail", "Logistics", "Healthcare", "Software", "Food", "Construction", "Media"]
REGIONS_EN = ["North", "South", "East", "West", "Central"]
REGIONS_ZH = ["华东", "华北", "华南", "西南", "华中"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "Partner", "Advertising"]
TIERS = ["A", "B", "C"]
STATUSES = ["prospect", "prospect", "active", "active", "active", "inactive", "churned"]
TAGS = ["VIP", "Key account", "Newsletter", "Reseller", "重点客户"]
FIRST_NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Henry", "Iris", "Jack", "Laura", "Mark"]
LAST_NAMES = ["Walker", "Chen", "Garcia", "Novak", "Smith", "Okafor", "Larsen", "Rossi", "Kim", "Dubois"]
CHINESE_SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
CHINESE_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "婷"]
TITLES = ["Purchasing manager", "CEO", "Office manager", "CTO", "Head of operations", "Buyer"]
TITLES_ZH = ["采购经理", "总经理", "行政主管", "技术总监", "运营负责人"]
SUMMARIES = ["Discussed the renewal and next year's volume.", "Sent the product brochure and prices.",
             "Visited the site; they want a demo for the team.", "Asked about delivery times.",
             "客户询问了批量采购的价格。", "电话沟通了合同细节，下周再跟进。"]


def add_demo_customers(session: Session, company: Company) -> None:
    """Add the demo customers of ``company`` (owned by its first administrator)."""
    rng = random.Random(company.id)
    owner_id = session.scalar(
        select(Membership.user_id).where(Membership.company_id == company.id)
        .order_by(Membership.is_admin.desc(), Membership.user_id).limit(1)
    )
    now = utcnow()
    tags = [Tag(company_id=company.id, name=name) for name in TAGS]
    session.add_all(tags)
    session.flush()
    # Every name once: drawn without replacement from all the combinations.
    english = [f"{first} {second}" for first in ENGLISH_FIRST for second in ENGLISH_SECOND]
    chinese_names = [f"{city}{name}{trade}有限公司" for city in CHINESE_CITIES for name in CHINESE_NAMES
                     for trade in CHINESE_TRADES]
    rng.shuffle(english)
    rng.shuffle(chinese_names)
    for number in range(ACCOUNTS - PLANTED_DUPLICATES):
        chinese = number % 3 == 0
        if chinese:
            name = chinese_names.pop()
            region = rng.choice(REGIONS_ZH)
        else:
            name = english.pop()
            region = rng.choice(REGIONS_EN)
        domain = f"example{number}.com"
        account = Account(
            company_id=company.id, owner_id=owner_id, name=name, kind="organisation",
            industry=rng.choice(INDUSTRIES), size=rng.choice(ACCOUNT_SIZES), region=region,
            website=f"https://www.{domain}", email=f"info@{domain}",
            phone=f"+86 138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}" if chinese
            else f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            source=rng.choice(SOURCES), tier=rng.choice(TIERS), status=rng.choice(STATUSES),
            # Some have a second line and a sales address.
            other_phones=(f"+86 10 {rng.randrange(6000, 6999)} {rng.randrange(1000, 9999)}" if chinese
                          else f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}")
            if rng.random() < 0.3 else "",
            other_emails=f"sales@{domain}" if rng.random() < 0.3 else "",
        )
        session.add(account)
        session.flush()
        for tag in rng.sample(tags, rng.randrange(0, 3)):
            session.add(AccountTag(account_id=account.id, tag_id=tag.id))
        for _ in range(rng.randrange(1, 4)):
            if chinese:
                person = f"{rng.choice(CHINESE_SURNAMES)}{rng.choice(CHINESE_GIVEN)}"
                title = rng.choice(TITLES_ZH)
            else:
                person = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                title = rng.choice(TITLES)
            session.add(Contact(
                company_id=company.id, owner_id=owner_id, account_id=account.id, name=person, title=title,
                email=f"{person.split()[0].lower() if not chinese else 'contact'}{rng.randrange(100)}@{domain}",
                consent_email=rng.random() < 0.6,
            ))
        last = None
        for _ in range(rng.randrange(0, 5)):
            when = now - timedelta(days=rng.randrange(1, 90), hours=rng.randrange(0, 9))
            last = max(last or when, when)
            session.add(Interaction(
                company_id=company.id, owner_id=owner_id, kind=rng.choice(INTERACTION_KINDS), occurred_at=when,
                summary=rng.choice(SUMMARIES), subject_type="customers_account", subject_id=str(account.id),
                account_id=account.id,
            ))
        account.last_follow_up_at = last
        if rng.random() < 0.3:
            due = now + timedelta(days=rng.randrange(-5, 20))
            session.add(FollowUpTask(
                company_id=company.id, title="Call back about the offer", due_at=due, assignee_id=owner_id,
                subject_type="customers_account", subject_id=str(account.id), account_id=account.id,
            ))
            account.next_follow_up_at = due
    session.flush()
    _plant_duplicates(session, company, owner_id)


def _plant_duplicates(session: Session, company: Company, owner_id: int | None) -> None:
    """Records entered twice, as happens in real data, so "Possible duplicates" has work to
    show: the same address typed in capitals, and a name without its legal form."""
    first_english, first_chinese = (
        session.scalar(select(Account).where(Account.company_id == company.id, Account.name.like(pattern))
                       .order_by(Account.id).limit(1))
        for pattern in ("% %", "%有限公司"))
    for original, name in ((first_english, f"{first_english.name} Inc."),
                           (first_chinese, first_chinese.name.removesuffix("有限公司"))):
        session.add(Account(company_id=company.id, owner_id=owner_id, name=name, kind=original.kind,
                            region=original.region, industry=original.industry, status="prospect",
                            email=original.email.upper(), source="Import"))
    session.flush()
