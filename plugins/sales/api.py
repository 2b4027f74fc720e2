"""The sales REST API, served under ``/api/v1/sales/``.

Leads: list with filters and pagination, add, read, change, move to the trash. The rules
live where the pages find them: validation in :mod:`plugins.sales.lead_schemas`, changes and
their events in :mod:`plugins.sales.leads`, who sees what in :func:`core.access.visible`. A
lead the token's user may not see answers 404, like one of another company.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from marshmallow import ValidationError, fields, post_load, validate

from core.api import (
    ApiBlueprint,
    FilterSchema,
    Problem,
    flatten_messages,
    require_permission,
)
from core.db import get_session
from core.tenancy import current_company
from plugins.customers.services import normalize_email
from plugins.sales import DELETE_LEADS, READ_LEADS, WRITE_LEADS
from plugins.sales.assignment import has_active_rules
from plugins.sales.lead_schemas import LeadSchema, lead_schema
from plugins.sales.leads import create_lead, delete_lead, update_lead, visible_leads
from plugins.sales.models import LEAD_STATUSES, Lead

blp = ApiBlueprint("sales_api", __name__, description="Leads")


class Moment(fields.DateTime):
    """A date and time always written with its offset (SQLite hands back naive UTC values)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class LeadOut(LeadSchema):
    """A lead as the API shows it."""

    id = fields.Integer(dump_only=True)
    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    score = fields.Integer(dump_only=True)
    grade = fields.String(dump_only=True)
    score_details = fields.List(fields.Dict(), dump_only=True, allow_none=True, metadata={
        "description": "Why the lead has its score: the scoring rules that applied, each with "
                       "rule_id, label, points and times (null: not scored yet)."})
    team_id = fields.Integer(dump_only=True, allow_none=True)
    utm_source = fields.String(dump_only=True)
    utm_medium = fields.String(dump_only=True)
    utm_campaign = fields.String(dump_only=True)
    converted_at = Moment(dump_only=True, allow_none=True)
    converted_account_id = fields.Integer(dump_only=True, allow_none=True)
    converted_contact_id = fields.Integer(dump_only=True, allow_none=True)
    last_follow_up_at = Moment(dump_only=True, allow_none=True)
    next_follow_up_at = Moment(dump_only=True, allow_none=True)
    created_at = Moment(dump_only=True)
    updated_at = Moment(dump_only=True)


class LeadChanges(LeadSchema):
    """The fields of a lead to change (PATCH): any of them; the others stay as they are."""


class LeadFilters(FilterSchema):
    """Newest first, always."""

    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    source = fields.String()
    region = fields.String()
    industry = fields.String()
    owner_id = fields.Integer()
    email = fields.String(metadata={"where": lambda value: Lead.email_normalized == normalize_email(value),
                                    "description": "The email address, whatever the case and spaces."})
    updated_after = fields.AwareDateTime(metadata={"column": "updated_at", "op": "gte"})

    @post_load
    def _moments_in_utc(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        # SQLite compares the stored UTC text: a moment given with another offset must be UTC too.
        return {key: value.astimezone(UTC) if isinstance(value, datetime) else value for key, value in data.items()}


def _invalid(errors: Mapping[str, list[str]]) -> Problem:
    return Problem(422, "Check these fields: " + ", ".join(errors) + ".", type="validation",
                   title="Invalid input", errors=errors)


def _check_with_choices(*, partial: bool = False, current_status: str | None = None) -> None:
    """Validate the body again with what is known only now (the company's members as owners,
    the lead's status): the same schema the form uses, so the rules stay in one place."""
    try:
        lead_schema(current_status=current_status).load(request.get_json(silent=True) or {}, partial=partial)
    except ValidationError as error:
        raise _invalid(flatten_messages(error.messages, by_location=False)) from None


def _lead_or_404(lead_id: int) -> Lead:
    lead = get_session().scalar(visible_leads().where(Lead.id == lead_id))
    if lead is None:
        raise Problem(404, "There is no such lead in this company, or you may not see it.")
    return lead


@blp.route("/leads")
class Leads(MethodView):
    @blp.arguments(LeadFilters, location="query")
    @blp.response(200, LeadOut(many=True))
    @blp.paginate()
    @require_permission(READ_LEADS)
    def get(self, filters: dict[str, Any]) -> Any:
        """The leads the user may see, newest first."""
        return LeadFilters.apply(visible_leads(), filters).order_by(Lead.id.desc())

    @blp.arguments(LeadSchema)
    @blp.response(201, LeadOut)
    @require_permission(WRITE_LEADS)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a lead. Without ``owner_id`` in the body, the assignment rules choose its owner
        when the company has active rules (unowned, in the customer pool, when none gives it to
        anyone); otherwise, and for ``owner_id: null``, it is the token's user's."""
        _check_with_choices()
        session = get_session()
        by_rules = "owner_id" not in (request.get_json(silent=True) or {}) and has_active_rules(session)
        return create_lead(session, current_company().id, data, current_user.id, by_rules=by_rules)


@blp.route("/leads/<int:lead_id>")
class LeadItem(MethodView):
    @blp.response(200, LeadOut)
    @require_permission(READ_LEADS)
    def get(self, lead_id: int) -> Any:
        """One lead."""
        return _lead_or_404(lead_id)

    @blp.arguments(LeadChanges(partial=True))
    @blp.response(200, LeadOut)
    @require_permission(WRITE_LEADS)
    def patch(self, data: dict[str, Any], lead_id: int) -> Any:
        """Change a lead: the fields sent; the others stay as they are. Status ``converted``
        is set by the conversion only; a converted lead stays converted."""
        lead = _lead_or_404(lead_id)
        _check_with_choices(partial=True, current_status=lead.status)
        return update_lead(get_session(), lead, data)

    @blp.response(204)
    @require_permission(DELETE_LEADS)
    def delete(self, lead_id: int) -> Any:
        """Move a lead to the trash (it can be restored from there)."""
        delete_lead(get_session(), _lead_or_404(lead_id), current_user.id)
        return None
