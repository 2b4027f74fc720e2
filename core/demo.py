"""The demo company (``crm demo``), in three sizes.

``small`` is a company to look around in: every plugin's hand-made demo records. ``medium`` and
``large`` add a staff of reps in teams and ask each plugin for data at scale (the plugins say
how much in their ``demo_data`` hook: ``large`` is what the benchmarks in ``bench/`` measure),
written with :mod:`core.bulk`. Everything is seeded, so a size always makes the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import seed_roles
from core.enablement import enable
from core.models import Company, Membership, Team, TeamMember, User
from core.plugin_manager import PluginInfo, PluginManager

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoSize:
    """How big a demo is: its name (what the ``demo_data`` hook receives) and the staff the
    core adds before the plugins' data, so that records at scale have owners and teams."""

    name: str
    reps: int
    teams: int


SIZES = {size.name: size for size in (DemoSize("small", 0, 0), DemoSize("medium", 8, 2), DemoSize("large", 20, 4))}

# The reps of a demo at scale, English and Chinese names; a team is named after a region.
REP_NAMES = ["Emily Carter", "王磊", "Daniel Novak", "李静", "Grace Okafor", "陈浩", "Lucas Meyer", "刘洋",
             "Sofia Rossi", "赵敏", "Ethan Brooks", "孙丽", "Hannah Kim", "周杰", "Oliver Dubois", "吴婷",
             "Mia Larsen", "郑强", "Noah Fischer", "黄梅"]
TEAM_NAMES = ["Team North", "Team South", "Team East", "Team West"]


def demo_company(session: Session) -> Company | None:
    return session.scalar(select(Company).where(Company.slug == DEMO_SLUG))


def create_demo(session: Session, manager: PluginManager, size: DemoSize,
                add_admin: Callable[[Company], User]) -> tuple[Company, list[PluginInfo]]:
    """Make the demo company, its administrator (``add_admin`` adds them as a member of the
    company), every plugin enabled, the staff of ``size`` and every plugin's demo data; returns
    the company and the plugins that added data. Not committed: the caller commits (one
    transaction for the whole demo)."""
    company = Company(name="Demo Company", slug=DEMO_SLUG)
    session.add(company)
    session.flush()
    admin = add_admin(company)
    session.flush()
    for info in manager:
        enable(session, manager, company, info.name)
    session.flush()
    seed_roles(session, company)  # before demo data, which may give people roles
    add_staff(session, company, admin, size)
    answered = manager.call_in_order("demo_data", session=session, company=company, size=size.name)
    return company, [info for info, _ in answered]


def add_staff(session: Session, company: Company, admin: User, size: DemoSize) -> list[User]:
    """``size.reps`` members of ``company`` in ``size.teams`` teams (the first member of each
    team manages it), who sign in with the administrator's password."""
    reps = []
    for number in range(size.reps):
        name = REP_NAMES[number % len(REP_NAMES)]
        rep = User(email=f"rep{number + 1:02d}@demo.example", name=name)
        rep.password_hash = admin.password_hash  # one password hash is enough (each takes 0.1 s)
        rep.memberships.append(Membership(company=company))
        reps.append(rep)
    session.add_all(reps)
    session.flush()
    for number in range(size.teams):
        members = reps[number::size.teams]
        team = Team(company_id=company.id, name=TEAM_NAMES[number % len(TEAM_NAMES)], manager_id=members[0].id)
        team.members = [TeamMember(user_id=rep.id) for rep in members]
        session.add(team)
    session.flush()
    return reps
