"""Pipeline set-up pages: the list of pipelines, one pipeline with its stages (add, rename,
reorder, remove, all saved together), and the list of lost reasons.

The stage editor is one form without JavaScript: the up, down, remove and add buttons send
the whole form back and get it again rearranged (nothing saved yet); Save checks the stages
together (one won stage, …) and writes them in one go. The rules live in
:mod:`plugins.sales.services`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.wrappers import Response

from core.access import require_permission
from core.db import get_session
from core.forms import Form, confirmation_required, field_errors, form_data
from core.tenancy import current_company
from plugins.sales import MANAGE_PIPELINES
from plugins.sales.models import STAGE_KINDS, LostReason, Opportunity, Pipeline
from plugins.sales.services import (
    DEFAULT_STAGES,
    PipelineError,
    StageDraft,
    add_lost_reason,
    create_pipeline,
    default_pipeline,
    delete_pipeline,
    lost_reasons,
    move_pipeline,
    opportunity_counts,
    pipelines,
    rename_lost_reason,
    set_default_pipeline,
    set_lost_reason_active,
    stages_of,
    update_pipeline,
)

blueprint = Blueprint("sales_pipelines", __name__, url_prefix="/sales/pipelines", template_folder="templates")

KIND_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
_ROW_FIELD = re.compile(r"^stage-(\d+)-(id|name|probability|kind)$")
MAX_ROWS = 60  # twice the stages a pipeline may have: more is not a person at a form


class PipelineSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, error=_l("Enter a name.")),
                                                  validate.Length(max=120)],
                         error_messages={"required": _l("Enter a name.")}, metadata={"label": _l("Name")})
    is_default = fields.Boolean(load_default=False, metadata={
        "label": _l("Default pipeline"), "help": _l("New opportunities go to the default pipeline.")})


class StageSchema(Schema):
    id = fields.Integer(load_default=None, allow_none=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, error=_l("Enter a name.")),
                                                  validate.Length(max=80)],
                         error_messages={"required": _l("Enter a name.")}, metadata={"label": _l("Stage")})
    probability = fields.Integer(required=True, strict=False, validate=validate.Range(0, 100),
                                 error_messages={"required": _l("Enter a probability from 0 to 100.")},
                                 metadata={"label": _l("Probability")})
    kind = fields.String(load_default="open", validate=validate.OneOf(STAGE_KINDS), metadata={"label": _l("Kind")})


# -- the stage rows of the form ---------------------------------------------------------------------


def _submitted_rows() -> list[dict[str, str]]:
    """The stage rows the form sent, in their order on the page."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        if match := _ROW_FIELD.match(key):
            index = int(match.group(1))
            if index < MAX_ROWS:
                rows.setdefault(index, {})[match.group(2)] = value.strip()
    return [rows[index] for index in sorted(rows)]


def _rows_of(drafts: list[StageDraft]) -> list[dict[str, str]]:
    return [{"id": "" if draft.id is None else str(draft.id), "name": draft.name,
             "probability": str(draft.probability), "kind": draft.kind} for draft in drafts]


def _rearranged(rows: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    """``rows`` after an up, down, remove or add button (``up:2``, ``remove:0``, ``add``)."""
    rows = list(rows)
    if action == "add":  # a new open stage goes after the open ones, before won and lost
        at = next((i for i, row in enumerate(rows) if row.get("kind") in ("won", "lost")), len(rows))
        rows.insert(at, {"id": "", "name": "", "probability": "", "kind": "open"})
        return rows
    verb, _sep, number = action.partition(":")
    if not number.isdigit() or int(number) >= len(rows):
        return rows
    index = int(number)
    if verb == "remove":
        del rows[index]
    elif verb in ("up", "down"):
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(rows):
            rows[index], rows[other] = rows[other], rows[index]
    return rows


def _loaded_rows(rows: list[dict[str, str]]) -> tuple[list[StageDraft], dict[int, dict[str, str]]]:
    """The rows as drafts, and the rows' field errors by row index."""
    schema = StageSchema()
    drafts, errors = [], {}
    for index, row in enumerate(rows):
        payload = {key: value for key, value in row.items() if value != "" or key == "name"}
        try:
            data = schema.load(payload)
        except ValidationError as error:
            errors[index] = field_errors(error, schema)
            continue
        drafts.append(StageDraft(data["id"], data["name"], data["probability"], data["kind"]))
    return drafts, errors


# -- the pipelines ----------------------------------------------------------------------------------


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = get_session().get(Pipeline, pipeline_id)  # scoped: another company's is not found
    if pipeline is None:
        abort(404)
    return pipeline


@blueprint.get("/")
@require_permission(MANAGE_PIPELINES)
def index() -> Any:
    """The company's pipelines with their stages; the first visit creates the default one."""
    session = get_session()
    default_pipeline(session, current_company().id)
    listed = pipelines(session)
    ids = [pipeline.id for pipeline in listed]
    return render_template("sales/pipelines/index.html", pipelines=listed, stages=stages_of(session, ids),
                           counts=opportunity_counts(session, Opportunity.pipeline_id, ids))


def _editor(pipeline: Pipeline | None, rows: list[dict[str, str]], form: Form,
            row_errors: dict[int, dict[str, str]] | None = None, status: int = 200) -> Any:
    stage_ids = [int(row["id"]) for row in rows if row.get("id", "").isdigit()]
    counts = opportunity_counts(get_session(), Opportunity.stage_id, stage_ids)
    return render_template("sales/pipelines/form.html", pipeline=pipeline, form=form, rows=rows,
                           row_errors=row_errors or {}, counts=counts, kinds=KIND_LABELS,
                           max_rows=MAX_ROWS), status


def _handle(pipeline: Pipeline | None) -> Any:
    """GET shows the pipeline (or a new one with the usual stages); a POST either rearranges
    the rows (up, down, remove, add) or saves."""
    session = get_session()
    if request.method == "GET":
        if pipeline is None:
            drafts = [StageDraft(None, name, probability, kind) for name, probability, kind in DEFAULT_STAGES]
        else:
            drafts = [StageDraft.of(stage) for stage in stages_of(session, [pipeline.id])[pipeline.id]]
        initial = {"name": pipeline.name, "is_default": pipeline.is_default} if pipeline else {}
        return _editor(pipeline, _rows_of(drafts), Form(PipelineSchema, initial))
    action = request.form.get("action", "save")
    rows = _submitted_rows()
    values = {key: value for key, value in form_data().items()
              if key in ("name", "is_default")}
    form = Form(PipelineSchema, data=values)
    if action != "save":
        return _editor(pipeline, _rearranged(rows, action), form)
    data = form.validate()
    drafts, row_errors = _loaded_rows(rows)
    if data is None or row_errors:
        if data is not None:
            form.fail(_("Correct the stages marked below."))
        return _editor(pipeline, rows, form, row_errors, 422)
    try:
        if pipeline is None:
            pipeline = create_pipeline(session, current_company().id, data["name"], drafts, data["is_default"])
            flash(_("Pipeline “%(name)s” added.", name=pipeline.name), "success")
        else:
            update_pipeline(session, pipeline, data["name"], drafts)
            if data["is_default"] and not pipeline.is_default:
                set_default_pipeline(session, pipeline)
            flash(_("Pipeline “%(name)s” saved.", name=pipeline.name), "success")
    except PipelineError as error:  # refused before anything was written
        for number, message in enumerate(error.messages):
            form.errors[f"_rule{number}"] = message
        return _editor(pipeline, rows, form, status=422)
    return redirect(url_for("sales_pipelines.index"))


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(MANAGE_PIPELINES)
def new() -> Any:
    return _handle(None)


@blueprint.route("/<int:pipeline_id>", methods=["GET", "POST"])
@require_permission(MANAGE_PIPELINES)
def edit(pipeline_id: int) -> Any:
    return _handle(_pipeline_or_404(pipeline_id))


@blueprint.post("/<int:pipeline_id>/default")
@require_permission(MANAGE_PIPELINES)
def make_default(pipeline_id: int) -> Response:
    pipeline = _pipeline_or_404(pipeline_id)
    set_default_pipeline(get_session(), pipeline)
    flash(_("“%(name)s” is now the default pipeline.", name=pipeline.name), "success")
    return redirect(url_for("sales_pipelines.index"))


@blueprint.post("/<int:pipeline_id>/move")
@require_permission(MANAGE_PIPELINES)
def move(pipeline_id: int) -> Response:
    """Move the pipeline up or down the list (``direction``)."""
    pipeline = _pipeline_or_404(pipeline_id)
    move_pipeline(get_session(), pipeline, -1 if request.form.get("direction") == "up" else 1)
    return redirect(url_for("sales_pipelines.index"))


@blueprint.post("/<int:pipeline_id>/delete")
@require_permission(MANAGE_PIPELINES)
def delete(pipeline_id: int) -> Any:
    pipeline = _pipeline_or_404(pipeline_id)
    page = confirmation_required(_("Delete the pipeline “%(name)s” and its stages?", name=pipeline.name),
                                 label=_("Delete pipeline"))
    if page is not None:
        return page
    try:
        delete_pipeline(get_session(), pipeline)
    except PipelineError as error:  # refused before anything was written
        flash(" ".join(error.messages), "danger")
        return redirect(url_for("sales_pipelines.index"), code=303)
    flash(_("Pipeline “%(name)s” deleted.", name=pipeline.name), "success")
    return redirect(url_for("sales_pipelines.index"))


# -- lost reasons ------------------------------------------------------------------------------------


def _reason_or_404(reason_id: int) -> LostReason:
    reason = get_session().get(LostReason, reason_id)
    if reason is None:
        abort(404)
    return reason


def _reasons_page(error: str | None = None, failed_id: int | None = None, typed: str = "") -> Any:
    return render_template("sales/pipelines/lost_reasons.html", reasons=lost_reasons(get_session()),
                           error=error, failed_id=failed_id, typed=typed), 422 if error else 200


@blueprint.get("/lost-reasons")
@require_permission(MANAGE_PIPELINES)
def reasons() -> Any:
    return _reasons_page()


@blueprint.post("/lost-reasons")
@require_permission(MANAGE_PIPELINES)
def add_reason() -> Any:
    name = request.form.get("name", "")
    try:
        reason = add_lost_reason(get_session(), current_company().id, name)
    except PipelineError as error:
        return _reasons_page(error.messages[0], None, name)
    flash(_("“%(name)s” added to the lost reasons.", name=reason.name), "success")
    return redirect(url_for("sales_pipelines.reasons"))


@blueprint.post("/lost-reasons/<int:reason_id>")
@require_permission(MANAGE_PIPELINES)
def rename_reason(reason_id: int) -> Any:
    reason = _reason_or_404(reason_id)
    name = request.form.get("name", "")
    try:
        rename_lost_reason(get_session(), reason, name)
    except PipelineError as error:
        return _reasons_page(error.messages[0], reason_id, name)
    flash(_("Lost reason saved."), "success")
    return redirect(url_for("sales_pipelines.reasons"))


@blueprint.post("/lost-reasons/<int:reason_id>/active")
@require_permission(MANAGE_PIPELINES)
def toggle_reason(reason_id: int) -> Response:
    """Offer the reason (``active=1``) or no more (``active=0``)."""
    reason = _reason_or_404(reason_id)
    active = request.form.get("active") == "1"
    set_lost_reason_active(get_session(), reason, active)
    flash(_("“%(name)s” is offered again.", name=reason.name) if active
          else _("“%(name)s” is no longer offered; opportunities that name it keep it.", name=reason.name), "success")
    return redirect(url_for("sales_pipelines.reasons"))
