"""Converting a lead through the REST API: ``POST /api/v1/sales/leads/<id>/convert``.

The body chooses the account (``account_id`` of an existing one, else a new one from the lead
unless ``create_account`` is false), the contact (``contact_id``, else a new one) and,
optionally, an ``opportunity`` (``name``, ``pipeline_id``, ``stage_id``, ``amount``,
``currency``, ``expected_close_date``; the default pipeline's first open stage unless given).
200 with the ids; 409 when the lead is converted already; 422 naming the fields at fault;
403 when creating what the token's user may not add. Rules: :mod:`plugins.sales.conversion`.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, fields

from core.access import has_permission
from core.api import ApiBlueprint, Problem, require_permission
from plugins.sales import WRITE_LEADS, WRITE_OPPORTUNITIES
from plugins.sales.conversion import ConversionError, convert_lead, refuse_unconvertible
from plugins.sales.conversion_views import WRITE_ACCOUNTS, WRITE_CONTACTS
from plugins.sales.leads import visible_leads
from plugins.sales.models import Lead
from plugins.sales.opportunity_schemas import OpportunitySchema

blp = ApiBlueprint("sales_conversion_api", __name__, description="Lead conversion")


class ConversionOpportunity(OpportunitySchema):
    """The opportunity a conversion creates (the account and contact are the conversion's)."""

    class Meta:
        fields = ("name", "pipeline_id", "stage_id", "amount", "currency", "expected_close_date")


class ConversionIn(Schema):
    account_id = fields.Integer(load_default=None, allow_none=True,
                                metadata={"description": "An existing account to use."})
    create_account = fields.Boolean(load_default=True, metadata={
        "description": "Without account_id: create an account from the lead (default), or none when false."})
    contact_id = fields.Integer(load_default=None, allow_none=True,
                                metadata={"description": "An existing contact to use; else a new one is created."})
    opportunity = fields.Nested(ConversionOpportunity, load_default=None, allow_none=True,
                                metadata={"description": "Create an opportunity with these values."})


class ConversionOut(Schema):
    lead_id = fields.Integer()
    account_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    opportunity_id = fields.Integer(allow_none=True)
    created_account = fields.Boolean()
    created_contact = fields.Boolean()


def _lead_or_404(lead_id: int) -> Lead:
    from core.db import get_session

    lead = get_session().scalar(visible_leads().where(Lead.id == lead_id))
    if lead is None:
        raise Problem(404, "There is no such lead in this company, or you may not see it.")
    return lead


def _forbidden(data: dict[str, Any]) -> Problem | None:
    missing = []
    if data["account_id"] is None and data["create_account"] and not has_permission(current_user, WRITE_ACCOUNTS):
        missing.append(WRITE_ACCOUNTS)
    if data["contact_id"] is None and not has_permission(current_user, WRITE_CONTACTS):
        missing.append(WRITE_CONTACTS)
    if data["opportunity"] is not None and not has_permission(current_user, WRITE_OPPORTUNITIES):
        missing.append(WRITE_OPPORTUNITIES)
    if not missing:
        return None
    return Problem(403, "Creating what this conversion asks for needs the permission " + ", ".join(missing)
                   + "; choose existing records or ask an administrator.")


@blp.route("/leads/<int:lead_id>/convert")
class LeadConversion(MethodView):
    @blp.arguments(ConversionIn)
    @blp.response(200, ConversionOut)
    @require_permission(WRITE_LEADS)
    def post(self, data: dict[str, Any], lead_id: int) -> Any:
        """Convert a lead into an account and a contact (existing or new), and optionally an
        opportunity, in one step; its interactions and open tasks then show on them too."""
        from core.db import get_session

        lead = _lead_or_404(lead_id)
        try:
            refuse_unconvertible(lead)
        except ConversionError as error:
            raise Problem(409 if error.conflict else 422, error.message) from None
        problem = _forbidden(data)
        if problem is not None:
            raise problem
        try:
            result = convert_lead(get_session(), lead, account_id=data["account_id"],
                                  create_new_account=data["create_account"], contact_id=data["contact_id"],
                                  opportunity=data["opportunity"], user_id=current_user.id)
        except ConversionError as error:
            field = error.field or "lead"
            raise Problem(422, f"Check these fields: {field}.", type="validation", title="Invalid input",
                          errors={field: [error.message]}) from None
        return {"lead_id": lead.id, "account_id": result.account_id, "contact_id": result.contact_id,
                "opportunity_id": result.opportunity_id, "created_account": result.created_account,
                "created_contact": result.created_contact}
