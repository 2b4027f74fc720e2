"""The Teams page of the admin console (``/admin/teams``, company administrators only), and
the team rules that ``crm teams`` shares with it.

A team has a unique name in its company, an optional manager and members; manager and
members must be members of the company. A team's manager sees what its members own where a
role grants ``team`` visibility (:func:`core.access.team_people`). Teams have no audit trail
of their own, so every change is logged at INFO (logger ``core.admin_teams``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from werkzeug.wrappers import Response

from core.access import abort_unless_admin
from core.admin_users import AdminError, company_members, log_change, member_or_none
from core.auth import signed_in
from core.db import get_session
from core.forms import Form, render_form
from core.listing import Column, Listing
from core.models import Company, Team, TeamMember, User
from core.tenancy import current_company

blueprint = Blueprint("core_admin_teams", __name__)
log = logging.getLogger(__name__)

TEAM_NAME_MAX = 120  # core_team.name
NAME_RULE = _l("Give the team a name of 1 to %(max)d characters.", max=TEAM_NAME_MAX)


# -- the rules (shared with ``crm teams``) -------------------------------------------------------


def clean_team_name(session: Session, company: Company, name: str, team: Team | None = None) -> str:
    """``name`` stripped, if it can name a team of ``company`` (other than ``team``).

    Raises :class:`AdminError` on the field ``name``: empty, too long, or taken.
    """
    name = (name or "").strip()
    if not name or len(name) > TEAM_NAME_MAX:
        raise AdminError("name", _("Give the team a name of 1 to %(max)d characters.", max=TEAM_NAME_MAX))
    taken = session.scalar(
        select(Team.id).where(Team.company_id == company.id, func.lower(Team.name) == name.lower())
        .execution_options(crm_unscoped=True))
    if taken is not None and (team is None or taken != team.id):
        raise AdminError("name", _("%(company)s has a team '%(name)s' already.", company=company.name, name=name))
    return name


def create_team(session: Session, company: Company, name: str, manager: User | None = None) -> Team:
    """Add a team to ``company`` (flushed, not committed). ``manager`` must be a member."""
    name = clean_team_name(session, company, name)
    if manager is not None:
        _require_member(session, company, manager, "manager")
    team = Team(company_id=company.id, name=name, manager_id=manager.id if manager else None)
    session.add(team)
    session.flush()
    return team


def add_team_member(session: Session, company: Company, team: Team, user: User) -> bool:
    """Put ``user`` (a member of ``company``) in ``team``; False if they were in it already."""
    _require_member(session, company, user, "user")
    if session.get(TeamMember, (team.id, user.id)) is not None:
        return False
    session.add(TeamMember(team_id=team.id, user_id=user.id))
    session.flush()
    return True


def remove_team_member(session: Session, team: Team, user: User) -> None:
    """Take ``user`` out of ``team``; :class:`AdminError` if they are not in it."""
    membership = session.get(TeamMember, (team.id, user.id))
    if membership is None:
        raise AdminError("user", _("%(email)s is not in %(team)s.", email=user.email, team=team.name))
    session.delete(membership)
    session.flush()


def _require_member(session: Session, company: Company, user: User, field: str) -> None:
    if member_or_none(session, company, user.id) is None:
        raise AdminError(field, _("%(email)s is not a member of %(company)s.",
                                  email=user.email, company=company.name))


# -- the pages -----------------------------------------------------------------------------------


def _member_count() -> Any:
    return (select(func.count()).select_from(TeamMember).where(TeamMember.team_id == Team.id)
            .correlate(Team).scalar_subquery())


_Manager = aliased(User)

TEAMS = Listing(
    select(Team).outerjoin(_Manager, _Manager.id == Team.manager_id),
    columns=[
        Column("name", _l("Team"), Team.name, sortable=True),
        Column("manager", _l("Manager"), _Manager.name, sortable=True),
        Column("members", _l("Members"), _member_count(), sortable=True),
        Column("changed", _l("Last change"), Team.updated_at, sortable=True),
    ],
    search=[Team.name, _Manager.name, _Manager.email],
    default_sort="name",
    extra=[Team.id],
    id="teams",
)


def _require_admin() -> Company:
    abort_unless_admin(_("Only an administrator of this company can manage its teams."))
    company = current_company()
    assert company is not None  # an administrator has a company in context
    return company


def _team_or_404(team_id: int) -> Team:
    team = get_session().get(Team, team_id)  # scoped: another company's team is not found
    if team is None:
        abort(404)
    return team


class TeamSchema(Schema):
    """The team form (new team, and name and manager on the team's page).

    The shape only: the rules that need the database (a free name, a manager who is a member)
    are :func:`clean_team_name` and :func:`_member`, which ``crm teams`` shares.
    """

    name = fields.String(required=True, validate=validate.Length(min=1, max=TEAM_NAME_MAX, error=NAME_RULE),
                         error_messages={"required": NAME_RULE}, metadata={"label": _l("Name")})
    manager = fields.String(load_default=None, metadata={
        "label": _l("Manager"), "widget": "select", "blank": _l("No manager"),
        "help": _l("The manager sees what the members own; they need not be a member themselves."),
    })


def _team_form(company: Company, initial: Any = None) -> Form:
    """The team form, its manager choices being the company's members (known only now)."""
    form = Form.from_request(TeamSchema, initial)
    form["manager"].choices = [(str(m.id), f"{m.name or m.email} ({m.email})")
                               for m in company_members(get_session(), company)]
    return form


def _member(company: Company, field: str, value: str | None, required: bool = True) -> User | None:
    """The member of ``company`` whose id is ``value`` (sent in ``field``); :class:`AdminError` if not."""
    value = (value or "").strip()
    if not value:
        if required:
            raise AdminError(field, _("Choose a person."))
        return None
    user = member_or_none(get_session(), company, int(value)) if value.isdigit() and len(value) <= 9 else None
    if user is None:
        raise AdminError(field, _("Choose one of the members of %(company)s.", company=company.name))
    return user


def _user_from_form(company: Company, field: str, required: bool = True) -> User | None:
    """The member of ``company`` whose id the (hand-written) form sends in ``field``."""
    return _member(company, field, request.form.get(field), required)


@blueprint.get("/admin/teams")
@signed_in
def index() -> Any:
    _require_admin()
    return TEAMS.render("admin/teams/index.html", TEAMS.page())


@blueprint.route("/admin/teams/new", methods=["GET", "POST"])
@signed_in
def new() -> Any:
    company = _require_admin()
    form = _team_form(company)  # not handle_form: the manager's choices are set first
    data = form.validate_on_submit()
    if data is not None:
        try:
            manager = _member(company, "manager", data.get("manager"), required=False)
            team = create_team(get_session(), company, data["name"], manager)
        except AdminError as error:
            form.fail(error.message, error.field)
        else:
            log_change(log, "team %s (id %s) created", team.name, team.id)
            flash(_("The team %(team)s is created. Add its members below.", team=team.name), "success")
            return redirect(url_for("core_admin_teams.detail", team_id=team.id))
    return render_form("admin/teams/new.html", form)


def _render_detail(team: Team, form: Form | None = None, errors: dict[str, str] | None = None,
                   values: Any = None, status: int = 200) -> tuple[str, int]:
    """The team's page: ``form`` is the name and manager form (as saved when ``None``);
    ``errors`` and ``values`` are those of the add-member and delete forms."""
    session = get_session()
    company = current_company()
    assert company is not None
    if form is None:
        form = _team_form(company, {"name": team.name, "manager": team.manager_id})
    members = company_members(session, company)
    in_team = set(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    return render_template(
        "admin/teams/detail.html", team=team, form=form,
        team_members=[m for m in members if m.id in in_team],
        candidates=[m for m in members if m.id not in in_team],
        errors=errors or {}, values=values if values is not None else {},
    ), status


@blueprint.get("/admin/teams/<int(max=2147483647):team_id>")
@signed_in
def detail(team_id: int) -> tuple[str, int]:
    _require_admin()
    return _render_detail(_team_or_404(team_id))


@blueprint.post("/admin/teams/<int(max=2147483647):team_id>")
@signed_in
def update(team_id: int) -> Response | tuple[str, int]:
    """Rename the team and set (or clear) its manager."""
    company = _require_admin()
    team = _team_or_404(team_id)
    form = _team_form(company)
    data = form.validate()
    if data is None:
        return _render_detail(team, form, status=422)
    try:
        name = clean_team_name(get_session(), company, data["name"], team)
        manager = _member(company, "manager", data.get("manager"), required=False)
    except AdminError as error:
        form.fail(error.message, error.field)
        return _render_detail(team, form, status=error.status)
    before = (team.name, team.manager_id)
    team.name, team.manager_id = name, manager.id if manager else None
    if before != (team.name, team.manager_id):
        log_change(log, "team %s (id %s) changed: name %r -> %r, manager id %s -> %s",
                   team.name, team.id, before[0], team.name, before[1], team.manager_id)
    flash(_("The team %(team)s is saved.", team=team.name), "success")
    return redirect(url_for("core_admin_teams.detail", team_id=team.id))


@blueprint.post("/admin/teams/<int(max=2147483647):team_id>/members")
@signed_in
def add_member(team_id: int) -> Response | tuple[str, int]:
    company = _require_admin()
    team = _team_or_404(team_id)
    try:
        user = _user_from_form(company, "user")
        assert user is not None
        added = add_team_member(get_session(), company, team, user)
    except AdminError as error:
        return _render_detail(team, errors=error.errors, values=request.form, status=422)
    if added:
        log_change(log, "user %s (id %s) added to team %s (id %s)", user.email, user.id, team.name, team.id)
        flash(_("%(name)s is in %(team)s now.", name=user.name or user.email, team=team.name), "success")
    else:
        flash(_("%(name)s was in %(team)s already.", name=user.name or user.email, team=team.name), "info")
    return redirect(url_for("core_admin_teams.detail", team_id=team.id) + "#members")


@blueprint.post("/admin/teams/<int(max=2147483647):team_id>/members/<int(max=2147483647):user_id>/remove")
@signed_in
def remove_member(team_id: int, user_id: int) -> Response | tuple[str, int]:
    _require_admin()
    team = _team_or_404(team_id)
    session = get_session()
    user = session.get(User, user_id)
    if user is None or session.get(TeamMember, (team.id, user.id)) is None:
        abort(404)
    remove_team_member(session, team, user)
    log_change(log, "user %s (id %s) removed from team %s (id %s)", user.email, user.id, team.name, team.id)
    flash(_("%(name)s is no longer in %(team)s.", name=user.name or user.email, team=team.name), "success")
    return redirect(url_for("core_admin_teams.detail", team_id=team.id) + "#members")


@blueprint.post("/admin/teams/<int(max=2147483647):team_id>/delete")
@signed_in
def delete(team_id: int) -> Response | tuple[str, int]:
    _require_admin()
    team = _team_or_404(team_id)
    if request.form.get("confirm") != "yes":
        return _render_detail(team, errors={"confirm": _(
            "Tick the box to confirm that the team %(team)s should be deleted.", team=team.name)}, status=422)
    name, ident = team.name, team.id
    get_session().delete(team)
    log_change(log, "team %s (id %s) deleted", name, ident)
    flash(_("The team %(team)s is deleted. Its members keep their accounts and records.", team=name), "success")
    return redirect(url_for("core_admin_teams.index"))



__all__ = ["add_team_member", "blueprint", "clean_team_name", "create_team", "remove_team_member"]
