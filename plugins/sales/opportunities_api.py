"""The opportunities and pipelines REST API, served under ``/api/v1/sales/``.

``GET|POST /opportunities``, ``GET|PATCH|DELETE /opportunities/<id>``,
``POST /opportunities/<id>/stage`` (``{"stage_id": ..., "lost_reason_id": ...}``),
``GET|POST /pipelines`` (with their stages), ``GET|PATCH|DELETE /pipelines/<id>``,
``GET /pipelines/<id>/stages``, ``GET /stages/<id>`` and ``GET /lost-reasons``: writes to
pipelines need ``sales.pipeline.manage`` and keep the rules of
:mod:`plugins.sales.services` (a refusal is a 422 with the :class:`PipelineError` messages,
deleting a pipeline that holds deals a 409). Validation is the form's
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
from plugins.sales import (
    DELETE_OPPORTUNITIES,
    MANAGE_PIPELINES,
    READ_OPPORTUNITIES,
    WRITE_OPPORTUNITIES,
)
from plugins.sales.models import LostReason, Opportunity, Pipeline, Stage
from plugins.sales.opportunities import (
    OpportunityError,
    change_stage,
    contact_ids_of,
    create_opportunity,
    delete_opportunity,
    update_opportunity,
)
from plugins.sales.opportunities_views import _visible, move_schema, opportunity_schema
from plugins.sales.opportunity_schemas import OpportunitySchema, StageMoveSchema
from plugins.sales.pipelines_views import PipelineSchema, StageSchema
from plugins.sales.services import (
    PipelineError,
    StageDraft,
    create_pipeline,
    default_pipeline,
    delete_pipeline,
    lost_reasons,
    opportunity_counts,
    pipelines,
    set_default_pipeline,
    stage_problems,
    stages_of,
    update_pipeline,
)

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


class OpportunityItemOut(OpportunityOut):
    """One opportunity, with its contacts (the list leaves them out: one query per deal)."""

    contact_ids = fields.Function(lambda opportunity: contact_ids_of(get_session(), opportunity),
                                  metadata={"description": "The linked contacts (of the deal's account)."})


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
    @blp.response(201, OpportunityItemOut)
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
    @blp.response(200, OpportunityItemOut)
    @require_permission(READ_OPPORTUNITIES)
    def get(self, opportunity_id: int) -> Any:
        """One opportunity."""
        return _opportunity_or_404(opportunity_id)

    @blp.arguments(OpportunityChanges(partial=True))
    @blp.response(200, OpportunityItemOut)
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


# -- pipelines, stages and lost reasons --------------------------------------------------------------


class PipelineIn(PipelineSchema):
    """A new pipeline: its name, whether it is the default, and its stages in order (each
    ``{"name", "probability", "kind"}``; ``id`` of an existing stage when changing one)."""

    stages = fields.List(fields.Nested(StageSchema), required=True,
                         error_messages={"required": "Give the pipeline's stages."})


class PipelineChanges(PipelineIn):
    """The fields of a PATCH: those sent change; ``stages`` replaces the whole list."""


class LostReasonOut(Schema):
    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    active = fields.Boolean()


class StageItemOut(StageOut):
    pipeline_id = fields.Integer()


def _pipeline_out(pipeline: Pipeline) -> dict[str, Any]:
    stages = stages_of(get_session(), [pipeline.id])[pipeline.id]
    return {"id": pipeline.id, "name": pipeline.name, "is_default": pipeline.is_default, "stages": stages}


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = get_session().get(Pipeline, pipeline_id)  # scoped: another company's is not found
    if pipeline is None:
        raise Problem(404, "There is no such pipeline in this company.")
    return pipeline


def _drafts(rows: list[dict[str, Any]]) -> list[StageDraft]:
    return [StageDraft(row.get("id"), row["name"], row["probability"], row.get("kind", "open")) for row in rows]


def _broken(error: PipelineError, field: str = "stages") -> Problem:
    """A rule of pipelines refused the change: 422 with the rule's own messages."""
    return Problem(422, " ".join(error.messages), type="validation", title="Invalid input",
                   errors={field: error.messages})


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

    @blp.arguments(PipelineIn)
    @blp.response(201, PipelineOut)
    @require_permission(MANAGE_PIPELINES)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a pipeline with its stages (one won, at least one open and one lost...)."""
        session = get_session()
        if any(row.get("id") is not None for row in data["stages"]):
            raise _invalid({"stages": ["A new pipeline's stages have no id."]})
        drafts = _drafts(data["stages"])
        if problems := stage_problems(drafts):
            raise _broken(PipelineError(problems))
        try:  # the stages are fine: what is left to refuse is the name
            pipeline = create_pipeline(session, current_company().id, data["name"], drafts,
                                       data.get("is_default", False))
        except PipelineError as error:
            raise _broken(error, "name") from None
        return _pipeline_out(pipeline)


@blp.route("/pipelines/<int:pipeline_id>")
class PipelineItem(MethodView):
    @blp.response(200, PipelineOut)
    @require_permission(READ_OPPORTUNITIES)
    def get(self, pipeline_id: int) -> Any:
        """One pipeline with its stages."""
        return _pipeline_out(_pipeline_or_404(pipeline_id))

    @blp.arguments(PipelineChanges(partial=True))
    @blp.response(200, PipelineOut)
    @require_permission(MANAGE_PIPELINES)
    def patch(self, data: dict[str, Any], pipeline_id: int) -> Any:
        """Rename, make default (``is_default: true``; a default stays one until another
        takes its place), or replace the stage list: stages sent with their ``id`` change,
        without one are added, those left out are removed (refused while they hold deals)."""
        session = get_session()
        pipeline = _pipeline_or_404(pipeline_id)
        if data.get("is_default") is False and pipeline.is_default:
            raise _invalid({"is_default": ["Make another pipeline the default instead."]})
        if "name" in data or "stages" in data:
            drafts = (_drafts(data["stages"]) if "stages" in data
                      else [StageDraft.of(stage) for stage in stages_of(session, [pipeline.id])[pipeline.id]])
            if problems := stage_problems(drafts):
                raise _broken(PipelineError(problems))
            renamed = data.get("name", pipeline.name).strip().casefold() != pipeline.name.casefold()
            try:  # the service checks a new name first, then the stages that hold deals
                update_pipeline(session, pipeline, data.get("name", pipeline.name), drafts)
            except PipelineError as error:
                raise _broken(error, "name" if renamed else "stages") from None
        if data.get("is_default") and not pipeline.is_default:
            set_default_pipeline(session, pipeline)
        return _pipeline_out(pipeline)

    @blp.response(204)
    @require_permission(MANAGE_PIPELINES)
    def delete(self, pipeline_id: int) -> Any:
        """Delete a pipeline and its stages: 409 while it holds opportunities (those in the
        trash too) or when it is the company's only pipeline."""
        session = get_session()
        pipeline = _pipeline_or_404(pipeline_id)
        try:
            delete_pipeline(session, pipeline)
        except PipelineError as error:
            raise Problem(409, " ".join(error.messages), title="Conflict") from None
        return None


@blp.route("/pipelines/<int:pipeline_id>/stages")
class PipelineStages(MethodView):
    @blp.response(200, StageItemOut(many=True))
    @require_permission(READ_OPPORTUNITIES)
    def get(self, pipeline_id: int) -> Any:
        """A pipeline's stages, in order."""
        pipeline = _pipeline_or_404(pipeline_id)
        return stages_of(get_session(), [pipeline.id])[pipeline.id]


class StageDetailOut(StageItemOut):
    opportunities = fields.Integer(metadata={"description": "How many deals are in it (those in the trash too)."})


@blp.route("/stages/<int:stage_id>")
class StageItem(MethodView):
    @blp.response(200, StageDetailOut)
    @require_permission(READ_OPPORTUNITIES)
    def get(self, stage_id: int) -> Any:
        """One stage, with how many opportunities it holds."""
        session = get_session()
        stage = session.get(Stage, stage_id)
        if stage is None:
            raise Problem(404, "There is no such stage in this company.")
        held = opportunity_counts(session, Opportunity.stage_id, [stage.id]).get(stage.id, 0)
        return {**{name: getattr(stage, name) for name in ("id", "name", "position", "probability", "kind",
                                                           "pipeline_id")}, "opportunities": held}


class LostReasonFilters(Schema):
    active = fields.Boolean(metadata={"description": "Only the reasons offered (true) or no more (false)."})


@blp.route("/lost-reasons")
class LostReasons(MethodView):
    @blp.arguments(LostReasonFilters, location="query")
    @blp.response(200, LostReasonOut(many=True))
    @require_permission(READ_OPPORTUNITIES)
    def get(self, filters: dict[str, Any]) -> Any:
        """The company's lost reasons in their order (``lost_reason_id`` of a lost deal)."""
        found: list[LostReason] = lost_reasons(get_session())
        if "active" in filters:
            found = [reason for reason in found if reason.active is filters["active"]]
        return found
