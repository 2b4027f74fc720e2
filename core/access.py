"""Who may do what, and who sees which records, in the company in context.

**Permissions.** A company administrator holds every declared permission; anyone else holds
the permissions of the role given by their membership (none without a role). Plugins declare
codes through the ``permissions`` hook; the core declares its own (:data:`CORE_PERMISSIONS`).
Views demand one with :func:`require_permission`.

**Roles.** Plugins offer role templates through the ``default_roles`` hook, and may extend
the templates of plugins they depend on (``RoleExtension``); :func:`seed_roles` makes a
company's roles from the templates, extensions included, and :func:`apply_role_extensions`
brings existing roles the extensions of a plugin a company enables for the first time.

**Visibility.** A role gives a level per record type (``core_role_visibility``):

* ``own``: records the user owns (``owner_id`` is the user);
* ``team``: records owned by the user or by anyone in one of "their teams": the teams they
  manage *or* belong to. A team's people are its members and its manager. So a manager sees
  the records of everyone in the teams they manage, and a member sees their teammates' and
  their manager's;
* ``all``: every record of the company.

Administrators see every record. A role without a row for a record type, and a member
without a role, see ``own``. Someone who is not a member of the company sees nothing. Records
without an owner are seen at the ``all`` level only. :func:`visible` applies this to a query.

**Default deny.** Every route declares who may use it (see ``core.auth``);
:func:`route_access_problems` lists the routes that do not.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, has_request_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, false, or_, select, union
from sqlalchemy.orm import Session, selectinload

from core.auth import PERMISSION, PUBLIC, SIGNED_IN, view_marker
from core.db import get_session
from core.hooks import Permission, RoleExtension
from core.models import (
    Company,
    Membership,
    Role,
    RolePermission,
    RoleVisibility,
    Team,
    TeamMember,
    User,
)

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

INVITE_PERMISSION = "core.users.invite"
# Permissions of the core itself, declared as if by a plugin named "core".
CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission(INVITE_PERMISSION, "Invite people to the company"),
)

OWN, TEAM, ALL = "own", "team", "all"
NOTHING = "none"  # not a member of the company: sees no record


# -- permissions ---------------------------------------------------------------------------------


def membership_of(user: User, company_id: int) -> Membership | None:
    return get_session().get(Membership, (user.id, company_id))


def _request_cache(name: str) -> dict[Any, Any]:
    return g.setdefault(name, {}) if has_request_context() else {}


def permissions_of(user: User, company_id: int) -> frozenset[str]:
    """Every permission code ``user`` holds in ``company_id`` (cached for the request)."""
    cache: dict[tuple[int, int], frozenset[str]] = _request_cache("_crm_permissions")
    key = (user.id, company_id)
    if key not in cache:
        membership = membership_of(user, company_id)
        if membership is None:
            codes: frozenset[str] = frozenset()
        elif membership.is_admin:
            codes = frozenset(current_app.extensions["crm.declarations"].permissions)
        elif membership.role_id is None:
            codes = frozenset()
        else:
            codes = frozenset(get_session().scalars(
                select(RolePermission.code).where(RolePermission.role_id == membership.role_id)
            ))
        cache[key] = codes
    return cache[key]


def _company_id_in_context() -> int | None:
    from core.tenancy import current_company

    company = current_company() if has_request_context() else None
    return company.id if company is not None else None


def member_choices() -> list[tuple[int, str]]:
    """The current company's members as ``(user_id, name)`` by name (the email when a person
    has no name): the choices of an owner or assignee field and of an owner filter."""
    company_id = _company_id_in_context()
    if company_id is None:
        return []
    rows = get_session().execute(
        select(User.id, User.name, User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company_id).order_by(User.name, User.id))
    return [(row.id, row.name or row.email) for row in rows]


def team_choices() -> list[tuple[int, str]]:
    """The current company's teams as ``(team_id, name)`` by name: the choices of a team field
    or filter."""
    company_id = _company_id_in_context()
    if company_id is None:
        return []
    return [(row.id, row.name) for row in get_session().execute(
        select(Team.id, Team.name).where(Team.company_id == company_id).order_by(Team.name, Team.id))]


def has_permission(user: User | None, code: str, company_id: int | None = None) -> bool:
    """Whether ``user`` holds ``code`` in ``company_id`` (default: the company in context)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if company_id is None:
        company_id = _company_id_in_context()
        if company_id is None:
            return False
    return code in permissions_of(user, company_id)


def abort_unless_admin(message: str) -> None:
    """Answer 403 with ``message`` unless the signed-in user administers the company in
    context. For pages no permission code grants (settings, apps, purging the trash); the
    view is marked ``@signed_in`` for the default-deny walk."""
    if not is_admin(current_user):
        abort(403, description=message)


def is_admin(user: User | None, company_id: int | None = None) -> bool:
    """Whether ``user`` administers ``company_id`` (default: the company in context)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    company_id = company_id if company_id is not None else _company_id_in_context()
    if company_id is None:
        return False
    membership = membership_of(user, company_id)
    return membership is not None and membership.is_admin


def permission_label(code: str) -> str:
    """The declared label of ``code``, or the code itself."""
    declared = current_app.extensions["crm.declarations"].permissions.get(code)
    return declared.label if declared is not None else code


def require_permission(code: str) -> Callable[[F], F]:
    """Let only users holding ``code`` in the company in context use the view; others get 403.

    The view counts as declaring its access (default deny): ``view._crm_permission == code``.
    Anonymous visitors are sent to the sign-in page first, as for any non-public view.
    Put it below the route decorator::

        @blueprint.get("/")
        @require_permission("notes.note.read")
        def index(): ...
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_permission(current_user, code):
                abort(403, description=_(
                    "You need the permission “%(permission)s” (%(code)s) for this page. "
                    "Ask an administrator of your company to give it to your role.",
                    permission=permission_label(code), code=code,
                ))
            return view(*args, **kwargs)

        setattr(wrapper, PERMISSION, code)
        return wrapper  # type: ignore[return-value]

    return decorator


# -- default deny --------------------------------------------------------------------------------


def route_access_problems(app: Flask, blueprints: Collection[str] | None = None) -> list[str]:
    """Every route whose view does not say who may use it, or demands an undeclared permission.

    A view must be :func:`core.auth.public`, :func:`core.auth.signed_in`, or wrapped in
    :func:`require_permission` with a code some plugin (or the core) declares. Static-file
    routes are public by nature. ``blueprints`` limits the walk to the routes of those
    blueprints: a plugin author's test passes the plugin's own.
    """
    declared = app.extensions["crm.declarations"].permissions
    problems = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        endpoint = rule.endpoint
        if endpoint == "static" or endpoint.endswith(".static"):
            continue
        if blueprints is not None and endpoint.rpartition(".")[0] not in blueprints:
            continue
        view = app.view_functions.get(endpoint)
        public, everyone = bool(view_marker(view, PUBLIC)), bool(view_marker(view, SIGNED_IN))
        code = view_marker(view, PERMISSION)
        where = f"{rule.rule} ({endpoint})"
        if not (public or everyone or code):
            problems.append(f"{where} does not say who may use it: mark the view @public, "
                            "@signed_in or @require_permission(code)")
        elif code and code not in declared:
            problems.append(f"{where} requires permission '{code}', which nothing declares")
        elif public and (everyone or code):
            problems.append(f"{where} is @public and also asks for a signed-in user or a permission")
    return problems


# -- roles ---------------------------------------------------------------------------------------


def seed_roles(session: Session, company: Company) -> list[Role]:
    """Create ``company``'s roles from every loaded plugin's ``default_roles`` templates.

    Idempotent: a template that already has a role in the company (made from it, or a role
    of the same name) is skipped, and existing roles are left as an administrator changed
    them. Returns the roles created (added and flushed, not committed).
    """
    templates = current_app.extensions["crm.declarations"].roles
    if not templates:
        return []
    existing = session.execute(
        select(Role.template, Role.name).where(Role.company_id == company.id)
        .execution_options(crm_unscoped=True)
    ).all()
    taken_templates = {template for template, _name in existing if template}
    taken_names = {name.strip().lower() for _template, name in existing}
    created = []
    for template in templates.values():
        name = template.name.strip()
        if template.key in taken_templates or name.lower() in taken_names:
            continue
        role = Role(company_id=company.id, name=name, description=template.description,
                    template=template.key)
        role.permissions = [RolePermission(code=code) for code in sorted(set(template.permissions))]
        role.visibilities = [RoleVisibility(record_type=record_type, level=level)
                             for record_type, level in sorted(template.visibility.items())]
        session.add(role)
        created.append(role)
        taken_names.add(name.lower())
    session.flush()
    return created


def apply_role_extensions(session: Session, company: Company, plugins: Collection[str]) -> list[Role]:
    """Give ``company``'s roles made from a template the extensions (``RoleExtension``) that
    ``plugins`` offer for it; return the roles changed (flushed, not committed).

    Runs when a company enables ``plugins`` for the first time (:func:`core.enablement.enable`):
    roles made before that lack the extensions that new roles get from the merged template.
    A role that already shows a decision about an extension is left alone: it holds one of
    the extension's permissions, or has a level for one of its record types (the role page
    saves a level for every record type it shows). So an administrator's change is kept.
    """
    offered = current_app.extensions["crm.declarations"].role_extensions
    extensions = [(plugin, extension) for plugin in sorted(plugins) for extension in offered.get(plugin, ())]
    if not extensions:
        return []
    roles = session.scalars(
        select(Role).where(Role.company_id == company.id,
                           Role.template.in_({extension.extends for _plugin, extension in extensions}))
        .options(selectinload(Role.permissions), selectinload(Role.visibilities))
        .order_by(Role.id).execution_options(crm_unscoped=True)
    ).all()
    changed = []
    for role in roles:
        applied = [(plugin, extension) for plugin, extension in extensions
                   if extension.extends == role.template and not _decided(role, extension)]
        for _plugin, extension in applied:
            # Two extensions applied together may share codes and (at the same level) record types.
            codes = {p.code for p in role.permissions}
            record_types = {v.record_type for v in role.visibilities}
            role.permissions += [RolePermission(code=code) for code in sorted(set(extension.permissions) - codes)]
            role.visibilities += [RoleVisibility(record_type=record_type, level=level)
                                  for record_type, level in sorted(extension.visibility.items())
                                  if record_type not in record_types]
        if applied:
            log.info("role %s (id %s) of company %s gained the permissions and visibility that %s "
                     "add to its template %s", role.name, role.id, company.id,
                     ", ".join(plugin for plugin, _extension in applied), role.template)
            changed.append(role)
    session.flush()
    return changed


def _decided(role: Role, extension: RoleExtension) -> bool:
    """Whether ``role`` holds any of ``extension``'s codes or record types already."""
    return (any(p.code in extension.permissions for p in role.permissions)
            or any(v.record_type in extension.visibility for v in role.visibilities))


# -- visibility ----------------------------------------------------------------------------------


def visibility_level(user: User, record_type: str, company_id: int) -> str:
    """``all``, ``team`` or ``own`` for ``user``'s records of ``record_type``; ``none`` for a
    non-member (cached for the request)."""
    cache: dict[tuple[int, int, str], str] = _request_cache("_crm_visibility")
    key = (user.id, company_id, record_type)
    if key not in cache:
        membership = membership_of(user, company_id)
        if membership is None:
            level = NOTHING
        elif membership.is_admin:
            level = ALL
        elif membership.role_id is None:
            level = OWN
        else:
            level = get_session().scalar(
                select(RoleVisibility.level).where(
                    RoleVisibility.role_id == membership.role_id,
                    RoleVisibility.record_type == record_type,
                )
            ) or OWN
        cache[key] = level
    return cache[key]


def team_people(user_id: int, company_id: int) -> Select[Any]:
    """The ids of everyone in a team ``user_id`` manages or belongs to (members and managers)."""
    teams = select(Team.id).where(
        Team.company_id == company_id,
        or_(Team.manager_id == user_id,
            Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == user_id))),
    )
    return union(
        select(TeamMember.user_id).where(TeamMember.team_id.in_(teams)),
        select(Team.manager_id).where(Team.id.in_(teams), Team.manager_id.is_not(None)),
    )


def visible(
    statement: Select[Any],
    model: type,
    record_type: str,
    user: User | None = None,
    company_id: int | None = None,
) -> Select[Any]:
    """``statement`` limited to the ``model`` rows that ``user`` may see.

    ``model`` has :class:`core.db.OwnerMixin`; ``record_type`` names it in roles (e.g.
    ``notes.note``). ``user`` defaults to the signed-in user and ``company_id`` to the
    company in context (company scoping itself is automatic). Anonymous users see nothing.
    """
    if not hasattr(model, "owner_id"):
        raise TypeError(f"{getattr(model, '__name__', model)!s} has no owner_id: visible() needs a "
                        "model with core.db.OwnerMixin")
    if user is None:
        user = current_user if has_request_context() and current_user.is_authenticated else None
    if user is None or not getattr(user, "is_authenticated", False):
        return statement.where(false())
    if company_id is None:
        company_id = _company_id_in_context()
        if company_id is None:
            return statement.where(false())
    level = visibility_level(user, record_type, company_id)
    if level == ALL:
        return statement
    if level == NOTHING:
        return statement.where(false())
    owner = model.owner_id  # type: ignore[attr-defined]
    if level == TEAM:
        return statement.where(or_(owner == user.id, owner.in_(team_people(user.id, company_id))))
    return statement.where(owner == user.id)
