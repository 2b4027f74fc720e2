"""The Roles page of the admin console (``/admin/roles``, company administrators only), and
the role helpers that ``crm roles`` shares with it.

A role's page shows its permission matrix: the permissions every installed plugin declares,
grouped by plugin (those of plugins disabled for the company greyed, with a note: they take
effect once the app is enabled), and a visibility level (own, team, all) for each record type
the plugins' role templates name. Codes a role holds for plugins that are no longer installed
are not shown and are kept when the matrix is saved.

A role that people hold cannot be deleted: give them another role first (the page links to
them). A role made from a plugin's template (``default_roles``) can be reset to it. Roles have
no audit trail of their own: every change is logged at INFO (logger ``core.admin_roles``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core.access import abort_unless_admin, permission_label
from core.admin_users import AdminError, company_role, log_change
from core.auth import signed_in
from core.db import get_session
from core.forms import Form, render_form
from core.hooks import VISIBILITY_LEVELS, RoleTemplate
from core.i18n import translate
from core.listing import Column, Listing
from core.models import Company, Membership, Role, RolePermission, RoleVisibility
from core.tenancy import current_company, enabled_for_request

blueprint = Blueprint("core_admin_roles", __name__)
log = logging.getLogger(__name__)

ROLE_NAME_MAX = 120  # core_role.name
ROLE_DESCRIPTION_MAX = 500  # core_role.description
CORE = "core"  # the "plugin" that declares the core's own permissions


# -- the rules (shared with ``crm roles``) -------------------------------------------------------


def people_per_role(session: Session, company_id: int, role_ids: Iterable[int] | None = None) -> dict[int, int]:
    """How many members of ``company_id`` hold each role (roles nobody holds are left out)."""
    statement = (select(Membership.role_id, func.count()).where(
        Membership.company_id == company_id, Membership.role_id.is_not(None))
        .group_by(Membership.role_id))
    if role_ids is not None:
        statement = statement.where(Membership.role_id.in_(list(role_ids)))
    return dict(session.execute(statement).all())  # type: ignore[arg-type]


def find_role(session: Session, company_id: int, name: str) -> Role | None:
    """``company_id``'s role named ``name``, or made from the template keyed ``name`` (any case)."""
    wanted = name.strip().lower()
    return session.scalar(
        select(Role).where(Role.company_id == company_id,
                           (func.lower(Role.name) == wanted) | (func.lower(Role.template) == wanted))
        .order_by(Role.id).execution_options(crm_unscoped=True))


def clean_role_name(session: Session, company: Company, name: str, role: Role | None = None) -> str:
    """``name`` stripped, if it can name a role of ``company`` (other than ``role``)."""
    name = (name or "").strip()
    if not name or len(name) > ROLE_NAME_MAX:
        raise AdminError("name", _("Give the role a name of 1 to %(max)d characters.", max=ROLE_NAME_MAX))
    taken = session.scalar(
        select(Role.id).where(Role.company_id == company.id, func.lower(Role.name) == name.lower())
        .execution_options(crm_unscoped=True))
    if taken is not None and (role is None or taken != role.id):
        raise AdminError("name", _("%(company)s has a role '%(name)s' already.", company=company.name, name=name))
    return name


def clean_description(value: str) -> str:
    value = (value or "").strip()
    if len(value) > ROLE_DESCRIPTION_MAX:
        raise AdminError("description", _("Describe the role in at most %(max)d characters.",
                                          max=ROLE_DESCRIPTION_MAX))
    return value


def set_role_access(role: Role, codes: Iterable[str], levels: dict[str, str]) -> None:
    """Make ``role`` hold exactly ``codes`` and see records at ``levels`` (record type: level)."""
    codes = set(codes)
    role.permissions = [p for p in role.permissions if p.code in codes] + [
        RolePermission(code=code) for code in sorted(codes - {p.code for p in role.permissions})]
    current = {v.record_type: v for v in role.visibilities}
    kept = []
    for record_type, level in sorted(levels.items()):
        row = current.get(record_type) or RoleVisibility(record_type=record_type, level=level)
        row.level = level
        kept.append(row)
    role.visibilities = kept


def _templates() -> dict[str, RoleTemplate]:
    return current_app.extensions["crm.declarations"].roles


# -- the permission matrix -----------------------------------------------------------------------


@dataclass
class PermissionRow:
    code: str
    label: str
    checked: bool


@dataclass
class RecordTypeRow:
    record_type: str
    level: str

    @property
    def field(self) -> str:
        return f"visibility:{self.record_type}"


@dataclass
class PluginGroup:
    name: str
    title: str
    enabled: bool
    permissions: list[PermissionRow] = field(default_factory=list)
    record_types: list[RecordTypeRow] = field(default_factory=list)


def declared_record_types() -> list[str]:
    """Every record type the installed plugins' role templates give a visibility to."""
    return sorted({record_type for template in _templates().values() for record_type in template.visibility})


def _group_title(name: str) -> str:
    if name == CORE:
        return _("Core")
    manager = current_app.extensions["crm.plugins"]
    return translate(manager[name].manifest.title) if name in manager else name


def matrix(codes: set[str], levels: dict[str, str]) -> list[PluginGroup]:
    """The groups of the matrix, the core first, then the plugins by title."""
    enabled = enabled_for_request()
    groups: dict[str, PluginGroup] = {}

    def group(code: str) -> PluginGroup:
        name = code.split(".", 1)[0]
        if name not in groups:
            groups[name] = PluginGroup(name, _group_title(name), name == CORE or name in enabled)
        return groups[name]

    for code in sorted(current_app.extensions["crm.declarations"].permissions):
        group(code).permissions.append(PermissionRow(code, permission_label(code), code in codes))
    for record_type in declared_record_types():
        group(record_type).record_types.append(RecordTypeRow(record_type, levels.get(record_type, "own")))
    return sorted(groups.values(), key=lambda g: (g.name != CORE, g.title.lower()))


def _matrix_from_form() -> tuple[set[str], dict[str, str]]:
    """The codes and levels the matrix form sends; :class:`AdminError` on unknown values."""
    declared = current_app.extensions["crm.declarations"].permissions
    codes = set(request.form.getlist("permission"))
    unknown = sorted(codes - set(declared))
    if unknown:
        raise AdminError("permission", _("No installed app declares the permission %(code)s.", code=unknown[0]))
    levels = {}
    for record_type in declared_record_types():
        level = request.form.get(f"visibility:{record_type}", "own")
        if level not in VISIBILITY_LEVELS:
            raise AdminError(f"visibility:{record_type}", _(
                "Choose own, team or all as the visibility of %(record_type)s.", record_type=record_type))
        levels[record_type] = level
    return codes, levels


# -- the pages -----------------------------------------------------------------------------------


def _people_count() -> Any:
    return (select(func.count()).select_from(Membership).where(Membership.role_id == Role.id)
            .correlate(Role).scalar_subquery())


ROLES = Listing(
    Role,
    columns=[
        Column("name", _l("Role"), sortable=True),
        Column("description", _l("Description")),
        Column("people", _l("People"), _people_count(), sortable=True),
        Column("changed", _l("Last change"), Role.updated_at, sortable=True),
    ],
    search=[Role.name, Role.description],
    default_sort="name",
    extra=[Role.id, Role.template],
    id="roles",
)


def _require_admin() -> Company:
    abort_unless_admin(_("Only an administrator of this company can manage its roles."))
    company = current_company()
    assert company is not None  # an administrator has a company in context
    return company


def _role_or_404(role_id: int) -> Role:
    role = get_session().get(Role, role_id)  # scoped: another company's role is not found
    if role is None:
        abort(404)
    return role


@blueprint.get("/admin/roles")
@signed_in
def index() -> Any:
    _require_admin()
    return ROLES.render("admin/roles/index.html", ROLES.page())


NAME_RULE = _l("Give the role a name of 1 to %(max)d characters.", max=ROLE_NAME_MAX)


class RoleSchema(Schema):
    """The role form's name and description (the shape only: a free name is
    :func:`clean_role_name`'s rule, which ``crm roles`` shares)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=ROLE_NAME_MAX, error=NAME_RULE),
                         error_messages={"required": NAME_RULE}, metadata={"label": _l("Name")})
    description = fields.String(
        load_default="",
        validate=validate.Length(max=ROLE_DESCRIPTION_MAX, error=_l(
            "Describe the role in at most %(max)d characters.", max=ROLE_DESCRIPTION_MAX)),
        metadata={"label": _l("Description"), "widget": "textarea", "attrs": {"rows": 2}})


class NewRoleSchema(RoleSchema):
    """A new role may start as a copy of another (the ``copy`` select, written by hand in
    the template, as its empty choice says what "no copy" means)."""

    copy = fields.String(load_default="")


def _new_form() -> Form:
    initial = {"copy": request.args.get("copy", "")}
    return Form.from_request(NewRoleSchema, initial, only=("name", "description"))


def _render_new(form: Form) -> tuple[str, int]:
    roles = get_session().scalars(select(Role).order_by(func.lower(Role.name))).all()
    chosen = (form.submitted_data or {}).get("copy") if form.submitted else request.args.get("copy", "")
    return render_form("admin/roles/new.html", form, roles=roles, copy=chosen or "")


def _role_to_copy(session: Session, company: Company, value: str) -> Role | None:
    """The role of ``company`` to copy, or None for no copy; :class:`AdminError` if not one."""
    return company_role(session, value, "copy",
                        _("Choose one of the roles of %(company)s to copy.", company=company.name))


@blueprint.route("/admin/roles/new", methods=["GET", "POST"])
@signed_in
def new() -> Response | tuple[str, int]:
    company = _require_admin()
    form = _new_form()
    data = form.validate_on_submit()
    if data is None:
        return _render_new(form)
    session = get_session()
    try:
        name = clean_role_name(session, company, data["name"])
        description = clean_description(data["description"])
        source = _role_to_copy(session, company, data["copy"])
    except AdminError as error:
        form.fail(error.message, error.field)
        return _render_new(form)
    role = Role(company_id=company.id, name=name, description=description)
    if source is not None:
        set_role_access(role, {p.code for p in source.permissions},
                        {v.record_type: v.level for v in source.visibilities})
    session.add(role)
    session.flush()
    log_change(log, "role %s (id %s) created%s", role.name, role.id,
               f" as a copy of {source.name} (id {source.id})" if source else "")
    flash(_("The role %(role)s is created. Choose what it may do below.", role=role.name), "success")
    return redirect(url_for("core_admin_roles.detail", role_id=role.id))


def _render_detail(role: Role, errors: dict[str, str] | None = None, status: int = 200,
                   codes: set[str] | None = None, levels: dict[str, str] | None = None,
                   form: Form | None = None) -> tuple[str, int]:
    """The role's page: ``form`` is the name and description form (as saved when ``None``);
    ``errors`` those of the matrix, reset and delete forms."""
    company = current_company()
    session = get_session()
    if form is None:
        form = Form(RoleSchema, role)
    if codes is None:
        codes = {p.code for p in role.permissions}
    if levels is None:
        levels = {v.record_type: v.level for v in role.visibilities}
    template = _templates().get(role.template) if role.template else None
    return render_template(
        "admin/roles/detail.html", role=role, form=form, groups=matrix(codes, levels),
        levels=VISIBILITY_LEVELS, template=template,
        people=people_per_role(session, company.id, [role.id]).get(role.id, 0),
        errors=errors or {},
    ), status


@blueprint.get("/admin/roles/<int(max=2147483647):role_id>")
@signed_in
def detail(role_id: int) -> tuple[str, int]:
    _require_admin()
    return _render_detail(_role_or_404(role_id))


@blueprint.post("/admin/roles/<int(max=2147483647):role_id>")
@signed_in
def update(role_id: int) -> Response | tuple[str, int]:
    """Rename the role and change its description."""
    company = _require_admin()
    role = _role_or_404(role_id)
    form = Form.from_request(RoleSchema, role)
    data = form.validate()
    if data is None:
        return _render_detail(role, status=422, form=form)
    try:
        name = clean_role_name(get_session(), company, data["name"], role)
        description = clean_description(data["description"])
    except AdminError as error:
        form.fail(error.message, error.field)
        return _render_detail(role, status=error.status, form=form)
    if (name, description) != (role.name, role.description):
        log_change(log, "role %s (id %s) changed: name %r -> %r, description %r -> %r",
                   name, role.id, role.name, name, role.description, description)
        role.name, role.description = name, description
    flash(_("The role %(role)s is saved.", role=role.name), "success")
    return redirect(url_for("core_admin_roles.detail", role_id=role.id))


@blueprint.post("/admin/roles/<int(max=2147483647):role_id>/access")
@signed_in
def update_access(role_id: int) -> Response | tuple[str, int]:
    """Save the permission matrix and the visibility levels."""
    _require_admin()
    role = _role_or_404(role_id)
    try:
        codes, levels = _matrix_from_form()
    except AdminError as error:
        return _render_detail(role, error.errors, 422,
                              set(request.form.getlist("permission")),
                              {key.split(":", 1)[1]: value for key, value in request.form.items()
                               if key.startswith("visibility:")})
    declared = current_app.extensions["crm.declarations"].permissions
    known = set(declared_record_types())
    before = {p.code for p in role.permissions}
    # Codes and record types of plugins no longer installed are not on the page: keep them.
    codes |= {code for code in before if code not in declared}
    levels.update({v.record_type: v.level for v in role.visibilities if v.record_type not in known})
    before_levels = {v.record_type: v.level for v in role.visibilities}
    set_role_access(role, codes, levels)
    added, removed = sorted(codes - before), sorted(before - codes)
    changed = {k: v for k, v in levels.items() if before_levels.get(k, "own") != v}
    if added or removed or changed:
        log_change(log, "role %s (id %s) access changed: added %s, removed %s, visibility %s",
                   role.name, role.id, added or "-", removed or "-", changed or "-")
    flash(_("What %(role)s may do is saved. It applies to everyone who holds the role from "
            "their next page on.", role=role.name), "success")
    return redirect(url_for("core_admin_roles.detail", role_id=role.id))


@blueprint.post("/admin/roles/<int(max=2147483647):role_id>/reset")
@signed_in
def reset(role_id: int) -> Response | tuple[str, int]:
    """Give the role back the permissions and visibility of the template it was made from."""
    _require_admin()
    role = _role_or_404(role_id)
    template = _templates().get(role.template) if role.template else None
    if template is None:
        return _render_detail(role, {"reset": _(
            "%(role)s was not made from a template of an installed app, so there is nothing to "
            "reset it to.", role=role.name)}, 409)
    if request.form.get("confirm") != "yes":
        return _render_detail(role, {"reset": _(
            "Tick the box to confirm that %(role)s should get the template's permissions back.",
            role=role.name)}, 422)
    set_role_access(role, template.permissions, dict(template.visibility))
    log_change(log, "role %s (id %s) reset to template %s", role.name, role.id, template.key)
    flash(_("%(role)s has the permissions and visibility of its template again.", role=role.name), "success")
    return redirect(url_for("core_admin_roles.detail", role_id=role.id))


@blueprint.post("/admin/roles/<int(max=2147483647):role_id>/delete")
@signed_in
def delete(role_id: int) -> Response | tuple[str, int]:
    company = _require_admin()
    role = _role_or_404(role_id)
    holders = people_per_role(get_session(), company.id, [role.id]).get(role.id, 0)
    if holders:
        return _render_detail(role, {"delete": ngettext(
            "%(role)s cannot be deleted while %(num)d person holds it. Give them another role first.",
            "%(role)s cannot be deleted while %(num)d people hold it. Give them another role first.",
            holders, role=role.name)}, 409)
    if request.form.get("confirm") != "yes":
        return _render_detail(role, {"delete": _(
            "Tick the box to confirm that the role %(role)s should be deleted.", role=role.name)}, 422)
    name, ident = role.name, role.id
    get_session().delete(role)
    log_change(log, "role %s (id %s) deleted", name, ident)
    flash(_("The role %(role)s is deleted.", role=name), "success")
    return redirect(url_for("core_admin_roles.index"))

