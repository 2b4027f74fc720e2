"""``crm teams``: create teams, give them a manager, add and remove members.

A team's manager sees the records its members own wherever a role grants ``team``
visibility (see ``core.access.visible``). Registered under ``crm`` by ``core.cli``.
"""

from __future__ import annotations

import click
from sqlalchemy import func, select

from core.admin_teams import add_team_member, create_team, remove_team_member
from core.admin_users import AdminError
from core.cli_support import company_option, find_company, print_table, with_app
from core.db import get_session
from core.models import Company, Membership, Team, TeamMember, User
from core.scoping import company_scope


def _member(company: Company, email: str, option: str) -> User:
    """The user with ``email``, who must belong to ``company``."""
    session = get_session()
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or session.get(Membership, (user.id, company.id)) is None:
        raise click.BadParameter(f"{email} is not a member of {company.name}", param_hint=option)
    return user


def _refused(error: AdminError, option: str) -> click.BadParameter:
    """The shared rule's refusal as a usage error on ``option``."""
    return click.BadParameter(error.message.rstrip("."), param_hint=option)


def _team(company: Company, name: str) -> Team:
    team = get_session().scalar(select(Team).where(Team.name == name))
    if team is None:
        raise click.BadParameter(f"{company.name} has no team '{name}'", param_hint="--team")
    return team


@click.group("teams")
def teams_group() -> None:
    """Teams: a manager sees the records of the team's members."""


@teams_group.command("list")
@company_option
@with_app(check_schema=True)
def teams_list(company_slug: str | None) -> None:
    """A company's teams with their managers and members."""
    session = get_session()
    company = find_company(company_slug)
    with company_scope(session, company.id):
        teams = session.scalars(select(Team).order_by(func.lower(Team.name))).all()
        if not teams:
            click.echo(f"{company.name} has no teams. Create one with: crm teams create --name NAME "
                       f"--company {company.slug}")
            return
        names = dict(session.execute(select(User.id, User.email)).all())
        members: dict[int, list[str]] = {}
        for team_id, user_id in session.execute(
            select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.team_id.in_([t.id for t in teams]))
        ):
            members.setdefault(team_id, []).append(names[user_id])
        rows = [("TEAM", "MANAGER", "MEMBERS")]
        for team in teams:
            rows.append((team.name, names.get(team.manager_id, "-") if team.manager_id else "-",
                         ", ".join(sorted(members.get(team.id, []))) or "-"))
    print_table(rows)


@teams_group.command("create")
@click.option("--name", required=True, help="The team's name, unique in the company.")
@click.option("--manager", "manager_email", help="Email of the member who manages the team.")
@company_option
@with_app(check_schema=True)
def teams_create(name: str, manager_email: str | None, company_slug: str | None) -> None:
    """Create a team, optionally with its manager."""
    session = get_session()
    company = find_company(company_slug)
    with company_scope(session, company.id):
        manager = _member(company, manager_email, "--manager") if manager_email else None
        try:
            team = create_team(session, company, name, manager)
        except AdminError as error:
            raise _refused(error, "--name") from None
        session.commit()
    click.echo(f"Created team {team.name} in {company.name}" + (f", managed by {manager.email}." if manager else "."))


@teams_group.command("add")
@click.option("--team", "team_name", required=True, help="The team's name.")
@click.option("--email", required=True, help="The member to add.")
@company_option
@with_app(check_schema=True)
def teams_add(team_name: str, email: str, company_slug: str | None) -> None:
    """Add a member of the company to a team."""
    session = get_session()
    company = find_company(company_slug)
    with company_scope(session, company.id):
        team = _team(company, team_name)
        user = _member(company, email, "--email")
        if not add_team_member(session, company, team, user):
            click.echo(f"{user.email} is in {team.name} already.")
            return
        session.commit()
    click.echo(f"Added {user.email} to {team.name}.")


@teams_group.command("remove")
@click.option("--team", "team_name", required=True, help="The team's name.")
@click.option("--email", required=True, help="The member to remove.")
@company_option
@with_app(check_schema=True)
def teams_remove(team_name: str, email: str, company_slug: str | None) -> None:
    """Take a member out of a team."""
    session = get_session()
    company = find_company(company_slug)
    with company_scope(session, company.id):
        team = _team(company, team_name)
        user = _member(company, email, "--email")
        try:
            remove_team_member(session, team, user)
        except AdminError as error:
            raise _refused(error, "--email") from None
        session.commit()
    click.echo(f"Removed {user.email} from {team.name}.")
