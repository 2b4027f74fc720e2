"""The lead assignment rules page (``/sales/assignment/``): the rules in the order they are
tried, with up and down buttons, add, edit, turn on and off, delete; and "Test a lead", which
shows which rule a lead would meet and who would get it, without moving the rotation.

Only for ``sales.assignment.manage``; the rules themselves live in
:mod:`plugins.sales.assignment`, and every change is in the audit trail (the rule is audited).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.access import member_choices, require_permission, team_choices
from core.db import get_session
from core.forms import Form, confirmation_required, form_data
from core.tenancy import current_company
from plugins.sales import MANAGE_ASSIGNMENT
from plugins.sales.assignment import (
    delete_rule,
    move_rule,
    preview,
    save_rule,
    team_members,
)
from plugins.sales.models import AssignmentRule

blueprint = Blueprint("sales_assignment", __name__, url_prefix="/sales/assignment", template_folder="templates")

def _condition(label: Any) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=400), metadata={"label": label})


class RuleSchema(Schema):
    """An assignment rule, as the form sends it. Use :func:`rule_schema` for the choices."""

    name = fields.String(required=True, validate=[validate.Length(min=1, error=_l("Enter a name.")),
                                                  validate.Length(max=120)],
                         error_messages={"required": _l("Enter a name.")}, metadata={"label": _l("Name")})
    region = _condition(_l("Region"))
    industry = _condition(_l("Industry"))
    source = _condition(_l("Source"))
    team_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "label": _l("Team"), "blank": _l("No team"), "help": _l("Its members get the leads in turn.")})
    user_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "label": _l("Or one rep"), "blank": _l("Nobody"), "help": _l("This person gets every lead of the rule.")})
    cap = fields.Integer(load_default=None, allow_none=True, strict=False,
                         validate=validate.Range(min=1, error=_l("Enter a cap of at least 1, or leave it empty.")),
                         metadata={"label": _l("Cap"), "help": _l(
                             "Most open leads and accounts a rep may hold to get more; empty: no cap.")})
    active = fields.Boolean(load_default=False, metadata={"label": _l("Active")})

    def __init__(self, *, teams: list[tuple[int, str]] | None = None, users: list[tuple[int, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, choices, error in (("team_id", teams, _l("Choose one of the company's teams.")),
                                     ("user_id", users, _l("Choose one of the company's members."))):
            if choices is not None:
                target = self.fields[name]
                target.validators = [*target.validators, validate.OneOf(
                    [value for value, _label in choices], labels=[label for _value, label in choices],
                    error=str(error))]
                target.metadata = {**target.metadata, "choices": choices}

    @validates_schema(skip_on_field_errors=False)  # said together with the other fields' errors
    def _one_target(self, data: dict[str, Any], **_kwargs: Any) -> None:
        team_id, user_id = data.get("team_id"), data.get("user_id")
        if team_id is None and user_id is None:
            raise ValidationError(_("Choose a team or one rep to give the leads to."), field_name="team_id")
        if team_id is not None and user_id is not None:
            raise ValidationError(_("Choose a team or one rep, not both."), field_name="user_id")


def rule_schema() -> RuleSchema:
    return RuleSchema(teams=team_choices(), users=member_choices())


def _rule_or_404(rule_id: int) -> AssignmentRule:
    rule = get_session().get(AssignmentRule, rule_id)  # scoped: another company's is not found
    if rule is None:
        abort(404)
    return rule


# -- the list and "Test a lead" ---------------------------------------------------------------------


@blueprint.get("/")
@require_permission(MANAGE_ASSIGNMENT)
def index() -> Any:
    """The rules in order; with ``?test=1`` also what "Test a lead" finds (nothing changes)."""
    session, company_id = get_session(), current_company().id
    rules = list(session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))
    teams, people = dict(team_choices()), dict(member_choices())
    members = team_members(session, company_id, {rule.team_id for rule in rules if rule.team_id is not None})
    test = {name: request.args.get(name, "").strip()[:80] for name in ("region", "industry", "source")}
    outcome = preview(session, company_id, **test) if request.args.get("test") else None
    return render_template("sales/assignment/index.html", rules=rules, teams=teams, people=people,
                           members=members, test=test, outcome=outcome)


# -- add, edit ---------------------------------------------------------------------------------------


def _handle(rule: AssignmentRule | None) -> Any:
    schema = rule_schema()
    if request.method == "GET":
        initial = ({name: getattr(rule, name) for name in schema.load_fields} if rule is not None
                   else {"active": True})
        return render_template("sales/assignment/form.html", rule=rule, form=Form(schema, initial))
    form = Form(schema, data=form_data())
    data = form.validate()
    if data is None:
        return render_template("sales/assignment/form.html", rule=rule, form=form), 422
    session, company_id = get_session(), current_company().id
    saved = save_rule(session, company_id, data, rule)
    flash(_("Rule “%(name)s” saved.", name=saved.name), "success")
    if saved.team_id is not None and not team_members(session, company_id, [saved.team_id]):
        flash(_("The team has no active members yet: the rule gives nobody a lead until it has some."), "warning")
    return redirect(url_for("sales_assignment.index"))


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(MANAGE_ASSIGNMENT)
def new() -> Any:
    return _handle(None)


@blueprint.route("/<int:rule_id>", methods=["GET", "POST"])
@require_permission(MANAGE_ASSIGNMENT)
def edit(rule_id: int) -> Any:
    return _handle(_rule_or_404(rule_id))


# -- order, on and off, delete -----------------------------------------------------------------------


@blueprint.post("/<int:rule_id>/move")
@require_permission(MANAGE_ASSIGNMENT)
def move(rule_id: int) -> Response:
    """Move the rule up or down the order (``direction``): the first matching rule wins."""
    move_rule(get_session(), _rule_or_404(rule_id), -1 if request.form.get("direction") == "up" else 1)
    return redirect(url_for("sales_assignment.index"))


@blueprint.post("/<int:rule_id>/active")
@require_permission(MANAGE_ASSIGNMENT)
def toggle(rule_id: int) -> Response:
    """Turn the rule on (``active=1``) or off (``active=0``)."""
    rule = _rule_or_404(rule_id)
    active = request.form.get("active") == "1"
    save_rule(get_session(), rule.company_id, {"active": active}, rule)
    flash(_("“%(name)s” is on.", name=rule.name) if active
          else _("“%(name)s” is off: new leads skip it.", name=rule.name), "success")
    return redirect(url_for("sales_assignment.index"))


@blueprint.post("/<int:rule_id>/delete")
@require_permission(MANAGE_ASSIGNMENT)
def delete(rule_id: int) -> Any:
    rule = _rule_or_404(rule_id)
    page = confirmation_required(_("Delete the rule “%(name)s”? Leads it gave out keep their owners.",
                                   name=rule.name), label=_("Delete rule"))
    if page is not None:
        return page
    delete_rule(get_session(), rule)
    flash(_("Rule “%(name)s” deleted.", name=rule.name), "success")
    return redirect(url_for("sales_assignment.index"))
