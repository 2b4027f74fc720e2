"""The board pages: a pipeline's stages as columns of cards, "load more" in a column, and
moving a card to another stage (dragged, or with its "Move to…" menu).

Queries live in :mod:`plugins.sales.board`, the rules of a stage change in
:func:`plugins.sales.opportunities.change_stage` and its validation in the "Move to stage"
schema of the detail page (a lost stage needs a lost reason), so a move from the board obeys
the same rules as one from the deal's page or the API.

A move sent by the board's script (``HX-Request``) is answered with the two columns it
changed, re-drawn as out-of-band swaps, and a toast with an Undo button; a refused move with
422 and the reason (``X-Board-Needs-Lost-Reason`` when a lost reason is what is missing) so
the script puts the card back, or asks for the reason and tries again. A move sent by the
plain form (no JavaScript) redirects to the board with an Undo message, or shows the deal's
page with the error next to its "Move to stage" control.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from core.access import has_permission, require_permission
from core.db import get_session
from core.tenancy import current_company
from core.ui import flash_undo, safe_next
from plugins.sales import READ_OPPORTUNITIES, WRITE_OPPORTUNITIES
from plugins.sales.board import (
    CLOSE_PERIODS,
    FILTER_PARAMS,
    RECENTLY_CLOSED_DAYS,
    BoardFilters,
    board_columns,
    decode_cursor,
    more_cards,
    parse_filters,
)
from plugins.sales.models import Pipeline, Stage
from plugins.sales.opportunities import DEFAULT_CURRENCY, OpportunityError, change_stage
from plugins.sales.opportunities_views import (
    detail_page,
    move_schema,
    opportunity_or_404,
    pipeline_choices,
    reason_choices,
)
from plugins.sales.scope import reader_scope
from plugins.sales.services import default_pipeline

blueprint = Blueprint("sales_board", __name__, url_prefix="/sales/opportunities", template_folder="templates",
                      static_folder="static", static_url_path="/board/static")

NEEDS_LOST_REASON = "X-Board-Needs-Lost-Reason"


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _pipeline(raw: Any) -> Pipeline:
    """The pipeline asked for, or the default one; 404 when there is no such pipeline."""
    session = get_session()
    if raw in (None, ""):
        return default_pipeline(session, current_company().id)
    try:
        pipeline = session.get(Pipeline, int(raw))
    except (TypeError, ValueError):
        pipeline = None
    if pipeline is None:
        abort(404, description=_("There is no such pipeline."))
    return pipeline


def filter_query(filters: BoardFilters) -> dict[str, str]:
    """The filters in use as query-string values (links, "load more", moves)."""
    return {key: value for key, value in filters.values.items() if key in FILTER_PARAMS}


def _context(pipeline: Pipeline, filters: BoardFilters) -> dict[str, Any]:
    return {"pipeline": pipeline, "filters": filters, "filter_query": filter_query(filters),
            "closed_days": RECENTLY_CLOSED_DAYS, "currency": DEFAULT_CURRENCY,
            "may_write": has_permission(current_user, WRITE_OPPORTUNITIES)}


@blueprint.get("/board")
@require_permission(READ_OPPORTUNITIES)
def board() -> Any:
    """The board of one pipeline (``?pipeline=``, the default one otherwise), with the list's
    filters: owner, team, close period or dates, amount range, and a search by name."""
    session = get_session()
    pipeline = _pipeline(request.args.get("pipeline"))
    filters = parse_filters(request.args)
    columns = board_columns(session, pipeline.id, filters, scope=reader_scope())
    return render_template("sales/board/index.html", columns=columns, pipelines=pipeline_choices(),
                           stages=[column.stage for column in columns], reasons=reason_choices(),
                           close_periods=CLOSE_PERIODS, **_context(pipeline, filters))


@blueprint.get("/board/column/<int:stage_id>")
@require_permission(READ_OPPORTUNITIES)
def column(stage_id: int) -> Any:
    """The next cards of a column after the cursor ``after`` (an htmx fragment appended to
    the column, with its own "load more" button when there are more still)."""
    session = get_session()
    stage = session.get(Stage, stage_id)
    if stage is None:
        abort(404, description=_("There is no such stage."))
    after = decode_cursor(stage, request.args.get("after", ""))
    if after is None:
        abort(400, description=_("The “after” value is not a cursor of this column."))
    pipeline = session.get(Pipeline, stage.pipeline_id)
    filters = parse_filters(request.args)
    loaded = more_cards(session, pipeline.id, stage, filters, after)
    stages = session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)
                             .order_by(Stage.position, Stage.id)).all()
    return render_template("sales/board/_more.html", column=loaded, stages=stages, **_context(pipeline, filters))


def _board_url(pipeline_id: int, filters: BoardFilters) -> str:
    return url_for("sales_board.board", pipeline=pipeline_id, **filter_query(filters))


@blueprint.post("/<int:opportunity_id>/move")
@require_permission(WRITE_OPPORTUNITIES)
def move(opportunity_id: int) -> Any:
    """Move a card to ``stage_id`` (with ``lost_reason_id`` for a lost stage), from the
    board: the same rules as the deal page's "Move to stage"."""
    session = get_session()
    opportunity = opportunity_or_404(opportunity_id)
    from_stage_id, previous_reason = opportunity.stage_id, opportunity.lost_reason_id
    filters = parse_filters(request.values)
    submitted = {key: request.values.get(key, "") for key in ("stage_id", "lost_reason_id")}
    try:
        data = move_schema().load({key: value for key, value in submitted.items() if value != ""})
        change_stage(session, opportunity, data["stage_id"], current_user.id, data.get("lost_reason_id"))
    except ValidationError as error:
        messages = error.normalized_messages()
        field = "lost_reason_id" if "lost_reason_id" in messages else next(iter(messages), "stage_id")
        text = " ".join(str(message) for message in _flatten(messages))
        return _refused(opportunity, field, text)
    except OpportunityError as error:
        return _refused(opportunity, error.field, error.message)
    stage = session.get(Stage, opportunity.stage_id)
    message = _("“%(name)s” moved to “%(stage)s”.", name=opportunity.name, stage=stage.name)
    undo = {"stage_id": from_stage_id, "lost_reason_id": previous_reason or ""}
    if not _is_htmx():
        flash_undo(message, url_for("sales_board.move", opportunity_id=opportunity.id, **undo,
                                    next=_board_url(opportunity.pipeline_id, filters), **filter_query(filters)))
        return redirect(safe_next(request.values.get("next"), _board_url(opportunity.pipeline_id, filters)))
    pipeline = session.get(Pipeline, opportunity.pipeline_id)
    columns = board_columns(session, pipeline.id, filters, only={from_stage_id, opportunity.stage_id},
                            scope=reader_scope())
    stages = session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)
                             .order_by(Stage.position, Stage.id)).all()
    return render_template("sales/board/_moved.html", columns=columns, stages=stages, message=message,
                           opportunity=opportunity, undo=urlencode({**undo, **filter_query(filters)}),
                           **_context(pipeline, filters))


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [text for value in messages for text in _flatten(value)]
    return [str(messages)]


def _refused(opportunity: Any, field: str, text: str) -> Any:
    """A move refused: 422 with the reason (the board's script puts the card back, or asks
    for a lost reason); without the script, the deal's page with the error at its control."""
    if not _is_htmx():
        return detail_page(opportunity, {field: text}, 422)
    headers = {NEEDS_LOST_REASON: "1"} if field == "lost_reason_id" else {}
    return render_template("sales/board/_refused.html", message=text), 422, headers
