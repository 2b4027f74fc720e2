"""The opportunities and pipelines REST API, served under ``/api/v1/sales/``.

``GET|POST /opportunities``, ``GET|PATCH|DELETE /opportunities/<id>``,
``POST /opportunities/<id>/stage`` (``{"stage_id": ..., "lost_reason_id": ...}``) and
``GET /pipelines`` (with their stages). Validation is the form's
(:mod:`plugins.sales.opportunity_schemas`, with the request's choices), rules and events are
:mod:`plugins.sales.opportunities`; a deal the token's user may not see answers 404.
A separate blueprint from the leads API (:mod:`plugins.sales.api`), same ``/api/v1/sales/`` space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields

from core.api import (
    ApiBlueprint,
    FilterSchema,
    Problem,
    flatten_messages,
    require_permission,
)
from core.db import get_session
from core.tenancy import current_company
from plugins.sales import DELETE_OPPORTUNITIES, READ_OPPORTUNITIES, WRITE_OPPORTUNITIES
from plugins.sales.models import Opportunity
from plugins.sales.opportunities import (
    OpportunityError,
    change_stage,
    create_opportunity,
    delete_opportunity,
    update_opportunity,
)
from plugins.sales.opportunities_views import _visible, move_schema, opportunity_schema
from plugins.sales.opportunity_schemas import OpportunitySchema, StageMoveSchema
from plugins.sales.services import default_pipeline, pipelines, stages_of

blp = ApiBlueprint("sales_opportunities_api", __name__, description="Opportunities and pipelines")


class OpportunityOut(Schema):
    id = fields.Integer()
    name = fields.String()
    account_id = fields.Integer(allow_none=True)
    pipeline_id = fields.Integer()
    stage_id = fields.Integer()
    amount = fields.Decimal(as_string=True)
    currency = fields.String()
    expected_close_date = fields.Date(allow_none=True)
    probability = fields.Integer()
    probability_set_by_rep = fields.Boolean()
    source = fields.String()
    lost_reason_id = fields.Integer(allow_none=True)
    note = fields.String()
    owner_id = fields.Integer(allow_none=True)
    stage_entered_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OpportunityFilters(FilterSchema):
    pipeline_id = fields.Integer()
    stage_id = fields.Integer()
    owner_id = fields.Integer()
    account_id = fields.Integer()


class StageOut(Schema):
    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    probability = fields.Integer()
    kind = fields.String()


class PipelineOut(Schema):
    id = fields.Integer()
    name = fields.String()
    is_default = fields.Boolean()
    stages = fields.List(fields.Nested(StageOut))


class OpportunityChanges(OpportunitySchema):
    """The fields of a PATCH (its own name in the OpenAPI document)."""


def _invalid(errors: Mapping[str, list[str]]) -> Problem:
    return Problem(422, "Check these fields: " + ", ".join(errors) + ".", type="validation",
                   title="Invalid input", errors=errors)


def _check(schema: Schema, *, partial: bool = False) -> None:
    """Validate the body again with the choices known only now (accounts the user sees,
    pipelines, stages, reasons, members): the same schema the form uses."""
    try:
        schema.load(request.get_json(silent=True) or {}, partial=partial)
    except ValidationError as error:
        raise _invalid(flatten_messages(error.messages, by_location=False)) from None


def _refused(error: OpportunityError) -> Problem:
    return _invalid({error.field: [error.message]})


def _opportunity_or_404(opportunity_id: int) -> Opportunity:
    opportunity = get_session().scalar(_visible().where(Opportunity.id == opportunity_id))
    if opportunity is None:
        raise Problem(404, "There is no such opportunity in this company, or you may not see it.")
    return opportunity


@blp.route("/opportunities")
class Opportunities(MethodView):
    @blp.arguments(OpportunityFilters, location="query")
    @blp.response(200, OpportunityOut(many=True))
    @blp.paginate(keyset=(Opportunity.id,))
    @require_permission(READ_OPPORTUNITIES)
    def get(self, filters: dict[str, Any]) -> Any:
        """The opportunities the user may see, oldest first."""
        return OpportunityFilters.apply(_visible(), filters)

    @blp.arguments(OpportunitySchema)
    @blp.response(201, OpportunityOut)
    @require_permission(WRITE_OPPORTUNITIES)
    def post(self, data: dict[str, Any]) -> Any:
        """Add an opportunity (default pipeline and its first open stage unless given; owned
        by the token's user unless ``owner_id`` says otherwise)."""
        _check(opportunity_schema())
        try:
            return create_opportunity(get_session(), current_company().id, data, current_user.id)
        except OpportunityError as error:
            raise _refused(error) from None


@blp.route("/opportunities/<int:opportunity_id>")
class OpportunityItem(MethodView):
    @blp.response(200, OpportunityOut)
    @require_permission(READ_OPPORTUNITIES)
    def get(self, opportunity_id: int) -> Any:
        """One opportunity."""
        return _opportunity_or_404(opportunity_id)

    @blp.arguments(OpportunityChanges(partial=True))
    @blp.response(200, OpportunityOut)
    @require_permission(WRITE_OPPORTUNITIES)
    def patch(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Change an opportunity: the fields sent. ``probability: null`` follows the stage again;
        ``pipeline_id`` without ``stage_id`` moves it to that pipeline's first open stage."""
        opportunity = _opportunity_or_404(opportunity_id)
        _check(opportunity_schema(opportunity.account_id), partial=True)
        try:
            return update_opportunity(get_session(), opportunity, data, current_user.id)
        except OpportunityError as error:
            raise _refused(error) from None

    @blp.response(204)
    @require_permission(DELETE_OPPORTUNITIES)
    def delete(self, opportunity_id: int) -> Any:
        """Move an opportunity to the trash (it can be restored from there)."""
        delete_opportunity(get_session(), _opportunity_or_404(opportunity_id), current_user.id)
        return None


@blp.route("/opportunities/<int:opportunity_id>/stage")
class OpportunityStage(MethodView):
    @blp.arguments(StageMoveSchema)
    @blp.response(200, OpportunityOut)
    @require_permission(WRITE_OPPORTUNITIES)
    def post(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Move to a stage of the opportunity's pipeline (a lost stage needs ``lost_reason_id``)."""
        opportunity = _opportunity_or_404(opportunity_id)
        _check(move_schema())
        try:
            change_stage(get_session(), opportunity, data["stage_id"], current_user.id, data.get("lost_reason_id"))
        except OpportunityError as error:
            raise _refused(error) from None
        return opportunity


@blp.route("/pipelines")
class Pipelines(MethodView):
    @blp.response(200, PipelineOut(many=True))
    @require_permission(READ_OPPORTUNITIES)
    def get(self) -> Any:
        """The company's pipelines in order, each with its stages in order."""
        session = get_session()
        default_pipeline(session, current_company().id)  # a company's first pipeline, on first use
        found = pipelines(session)
        stages = stages_of(session, [pipeline.id for pipeline in found])
        return [{"id": p.id, "name": p.name, "is_default": p.is_default, "stages": stages[p.id]} for p in found]
