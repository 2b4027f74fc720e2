"""``crm roles``: list a company's roles, give a person a role, create the default roles.

Registered under ``crm`` by ``core.cli``.
"""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func, select

from core.cli_support import company_option, find_company, print_table, with_app


@click.group("roles")
def roles_group() -> None:
    """List roles, give people roles, create the roles plugins offer."""


@roles_group.command("list")
@company_option
@with_app(check_schema=True)
def roles_list(company_slug: str | None) -> None:
    """Every role of a company: its people, permissions and record visibility."""
    from core.admin_roles import people_per_role
    from core.db import get_session
    from core.models import Role, RolePermission, RoleVisibility

    session = get_session()
    company = find_company(company_slug)
    roles = session.scalars(
        select(Role).where(Role.company_id == company.id).order_by(func.lower(Role.name))
        .execution_options(crm_unscoped=True)
    ).all()
    if not roles:
        click.echo(f"{company.name} has no roles. Create the default ones with: "
                   f"crm roles seed --company {company.slug}")
        return
    ids = [role.id for role in roles]
    people = people_per_role(session, company.id, ids)
    codes: dict[int, list[str]] = {}
    for role_id, code in session.execute(
        select(RolePermission.role_id, RolePermission.code)
        .where(RolePermission.role_id.in_(ids)).order_by(RolePermission.code)
    ):
        codes.setdefault(role_id, []).append(code)
    levels: dict[int, list[str]] = {}
    for role_id, record_type, level in session.execute(
        select(RoleVisibility.role_id, RoleVisibility.record_type, RoleVisibility.level)
        .where(RoleVisibility.role_id.in_(ids)).order_by(RoleVisibility.record_type)
    ):
        levels.setdefault(role_id, []).append(f"{record_type}={level}")
    rows = [("ROLE", "TEMPLATE", "PEOPLE", "PERMISSIONS", "VISIBILITY")]
    for role in roles:
        rows.append((role.name, role.template or "-", str(people.get(role.id, 0)),
                     ", ".join(codes.get(role.id, [])) or "-",
                     ", ".join(levels.get(role.id, [])) or "own (default)"))
    print_table(rows)


@roles_group.command("assign")
@click.option("--email", required=True, help="The person's sign-in address.")
@click.option("--role", "role_name", required=True,
              help="The role's name (or the key of the template it came from); 'none' removes the role.")
@company_option
@with_app(check_schema=True)
def roles_assign(email: str, role_name: str, company_slug: str | None) -> None:
    """Give a member of a company a role (replacing the one they had)."""
    from core.admin_roles import find_role
    from core.auth import find_user_by_email
    from core.db import get_session
    from core.models import Membership, Role

    session = get_session()
    company = find_company(company_slug)
    user = find_user_by_email(email)
    if user is None:
        raise click.BadParameter(f"no user with email {email.strip()}", param_hint="--email")
    membership = session.get(Membership, (user.id, company.id))
    if membership is None:
        raise click.BadParameter(f"{user.email} is not a member of {company.name}", param_hint="--email")
    if role_name.strip().lower() == "none":
        membership.role_id = None
        session.commit()
        click.echo(f"{user.email} has no role in {company.name} now.")
        return
    role = find_role(session, company.id, role_name)
    if role is None:
        known = ", ".join(session.scalars(
            select(Role.name).where(Role.company_id == company.id).order_by(func.lower(Role.name))
            .execution_options(crm_unscoped=True))) or "none; run crm roles seed"
        raise click.BadParameter(f"{company.name} has no role '{role_name}' (roles: {known})",
                                 param_hint="--role")
    membership.role_id = role.id
    session.commit()
    note = " (an administrator holds every permission whatever the role)" if membership.is_admin else ""
    click.echo(f"{user.email} is now {role.name} in {company.name}{note}.")


@roles_group.command("seed")
@company_option
@with_app(check_schema=True)
def roles_seed(company_slug: str | None) -> None:
    """Create the roles the installed plugins offer that a company does not have yet.

    New companies get them when they are created; run this after installing a plugin.
    """
    from core.access import seed_roles
    from core.db import get_session

    session = get_session()
    company = find_company(company_slug)
    created = seed_roles(session, company)
    session.commit()
    if created:
        click.echo(f"Created for {company.name}: " + ", ".join(role.name for role in created) + ".")
    elif not current_app.extensions["crm.declarations"].roles:
        click.echo("No installed plugin offers default roles.")
    else:
        click.echo(f"{company.name} has every default role already.")
