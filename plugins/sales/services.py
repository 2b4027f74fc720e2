"""Business rules of the sales plugin: the one module other plugins may import.

This first part sets up the sales process: pipelines with their ordered stages, and the
lost reasons. The rules a pipeline keeps (checked by :func:`stage_problems` before anything is
written, each refusal a :class:`PipelineError` with messages for people):

* at least one open stage (neither won nor lost), exactly one won stage, at least one lost
  stage; a won stage's probability is 100 %, a lost stage's 0 %;
* stage names are unique within the pipeline (compared case-insensitively), pipeline names
  within the company;
* a stage that holds opportunities (those in the trash included) cannot be removed, nor turn
  from open to won or lost or back: that would close or reopen deals behind their owners'
  backs; a pipeline that holds opportunities cannot be deleted; the company's last pipeline
  neither;
* exactly one pipeline of a company is its default.

A company gets its first pipeline ("Sales", :data:`DEFAULT_STAGES`) from
:func:`default_pipeline` the first time anything asks for it (the pipelines page, the demo),
so a company that enables sales without demo data finds one ready: no enable hook needed.

Changes emit ``sales.pipeline.created``, ``.updated`` and ``.deleted`` (payload ``id`` and
``name``) in the same transaction; the audit trail records the columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.events import emit
from plugins.sales.models import STAGE_KINDS, LostReason, Opportunity, Pipeline, Stage

# name, probability, kind: the stages of a company's first pipeline (data, kept in English).
DEFAULT_PIPELINE_NAME = "Sales"
DEFAULT_STAGES: tuple[tuple[str, int, str], ...] = (
    ("Qualification", 10, "open"),
    ("Needs analysis", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)
DEFAULT_LOST_REASONS = ("Price too high", "Chose a competitor", "No budget", "No decision made", "Bad timing")
MAX_STAGES = 30


class PipelineError(Exception):
    """A change that would break a rule of pipelines, stages or lost reasons; ``messages``
    say why, for people."""

    def __init__(self, messages: str | Sequence[str]) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


@dataclass
class StageDraft:
    """A stage as a form or the API gives it: ``id`` of an existing stage, or ``None`` for a
    new one; ``kind`` is ``open``, ``won`` or ``lost``."""

    id: int | None
    name: str
    probability: int
    kind: str = "open"

    @classmethod
    def of(cls, stage: Stage) -> StageDraft:
        return cls(stage.id, stage.name, stage.probability, stage.kind)


def _event(action: str, pipeline: Pipeline, session: Session) -> None:
    emit(f"sales.pipeline.{action}", {"id": pipeline.id, "name": pipeline.name}, session=session)


# -- reading ---------------------------------------------------------------------------------------


def pipelines(session: Session) -> list[Pipeline]:
    """The company's pipelines, in their order."""
    return list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.name, Pipeline.id)))


def stages_of(session: Session, pipeline_ids: Iterable[int]) -> dict[int, list[Stage]]:
    """The stages of each pipeline, in order (one query)."""
    ids = list(pipeline_ids)
    found: dict[int, list[Stage]] = {pipeline_id: [] for pipeline_id in ids}
    if ids:
        for stage in session.scalars(select(Stage).where(Stage.pipeline_id.in_(ids))
                                     .order_by(Stage.pipeline_id, Stage.position, Stage.id)):
            found[stage.pipeline_id].append(stage)
    return found


def opportunity_counts(session: Session, column: object, ids: Iterable[int]) -> dict[int, int]:
    """How many opportunities (those in the trash included) each of ``ids`` holds, by
    ``column`` (``Opportunity.stage_id`` or ``Opportunity.pipeline_id``): one grouped query."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(select(column, func.count()).where(column.in_(wanted)).group_by(column),  # type: ignore[attr-defined]
                           execution_options={"include_deleted": True})
    return {key: count for key, count in rows}


def default_pipeline(session: Session, company_id: int) -> Pipeline:
    """The company's default pipeline; the first time, "Sales" with :data:`DEFAULT_STAGES`.

    A company whose pipelines lost their default flag gets its first pipeline as default."""
    pipeline = session.scalar(select(Pipeline).where(Pipeline.company_id == company_id)
                              .order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id).limit(1))
    if pipeline is None:
        drafts = [StageDraft(None, name, probability, kind) for name, probability, kind in DEFAULT_STAGES]
        return create_pipeline(session, company_id, DEFAULT_PIPELINE_NAME, drafts)
    if not pipeline.is_default:
        pipeline.is_default = True
        session.flush()
    return pipeline


# -- rules -----------------------------------------------------------------------------------------


def stage_problems(stages: Sequence[StageDraft]) -> list[str]:
    """What is wrong with a pipeline having ``stages`` (in order): empty when nothing is."""
    problems: list[str] = []
    kinds = [stage.kind for stage in stages]
    if len(stages) > MAX_STAGES:
        problems.append(_("A pipeline has at most %(num)s stages.", num=MAX_STAGES))
    if any(kind not in STAGE_KINDS for kind in kinds):
        problems.append(_("A stage is open, won or lost."))
    if "open" not in kinds:
        problems.append(_("A pipeline needs at least one open stage (neither won nor lost)."))
    won = kinds.count("won")
    if won != 1:
        problems.append(_("A pipeline needs exactly one won stage; this one has %(num)s.", num=won))
    if "lost" not in kinds:
        problems.append(_("A pipeline needs at least one lost stage."))
    seen: set[str] = set()
    for stage in stages:
        key = stage.name.strip().casefold()
        if not key:
            problems.append(_("Every stage needs a name."))
        elif key in seen:
            problems.append(_("Two stages are named “%(name)s”: give each stage its own name.", name=stage.name.strip()))
        seen.add(key)
        if not 0 <= stage.probability <= 100:
            problems.append(_("The probability of “%(name)s” is between 0 and 100 %%.", name=stage.name))
        elif stage.kind == "won" and stage.probability != 100:
            problems.append(_("The won stage “%(name)s” has a probability of 100 %%.", name=stage.name))
        elif stage.kind == "lost" and stage.probability != 0:
            problems.append(_("The lost stage “%(name)s” has a probability of 0 %%.", name=stage.name))
    return problems


def _check_pipeline_name(session: Session, company_id: int, name: str, pipeline_id: int | None) -> str:
    name = name.strip()
    if not name:
        raise PipelineError(_("Enter a name."))
    taken = session.scalar(select(Pipeline.id).where(Pipeline.company_id == company_id,
                                                     func.lower(Pipeline.name) == name.lower(),
                                                     Pipeline.id != (pipeline_id or 0)))
    if taken is not None:
        raise PipelineError(_("A pipeline named “%(name)s” already exists.", name=name))
    return name


def _check_held_stages(session: Session, existing: dict[int, Stage], drafts: Sequence[StageDraft]) -> None:
    """Refuse to remove, or to open or close, a stage that holds opportunities."""
    kept = {draft.id: draft for draft in drafts if draft.id is not None}
    changing = [stage for stage_id, stage in existing.items()
                if stage_id not in kept or kept[stage_id].kind != stage.kind]
    counts = opportunity_counts(session, Opportunity.stage_id, [stage.id for stage in changing])
    problems = []
    for stage in changing:
        count = counts.get(stage.id, 0)
        if not count:
            continue
        if stage.id not in kept:
            problems.append(ngettext(
                "The stage “%(name)s” holds %(num)s opportunity: move it to another stage before removing the stage.",
                "The stage “%(name)s” holds %(num)s opportunities: move them to another stage before removing the stage.",
                count, name=stage.name))
        else:
            problems.append(ngettext(
                "The stage “%(name)s” holds %(num)s opportunity: it cannot become won, lost or open.",
                "The stage “%(name)s” holds %(num)s opportunities: it cannot become won, lost or open.",
                count, name=stage.name))
    if problems:
        raise PipelineError(problems)


# -- writing ---------------------------------------------------------------------------------------


def _apply(stage: Stage, draft: StageDraft, position: int) -> None:
    stage.name = draft.name.strip()
    stage.probability = draft.probability
    stage.is_won = draft.kind == "won"
    stage.is_lost = draft.kind == "lost"
    stage.position = position


def create_pipeline(session: Session, company_id: int, name: str, stages: Sequence[StageDraft],
                    is_default: bool = False) -> Pipeline:
    """Add a pipeline with ``stages`` (in order), last in the company's order. The company's
    first pipeline is its default whatever ``is_default`` says."""
    name = _check_pipeline_name(session, company_id, name, None)
    if problems := stage_problems(stages):
        raise PipelineError(problems)
    last = session.scalar(select(func.max(Pipeline.position)).where(Pipeline.company_id == company_id))
    first = last is None
    pipeline = Pipeline(company_id=company_id, name=name, position=(last or 0) + (0 if first else 1),
                        is_default=False)
    session.add(pipeline)
    session.flush()
    for position, draft in enumerate(stages):
        stage = Stage(company_id=company_id, pipeline_id=pipeline.id)
        _apply(stage, draft, position)
        session.add(stage)
    session.flush()
    if first or is_default:
        set_default_pipeline(session, pipeline, emit_event=False)
    _event("created", pipeline, session)
    return pipeline


def update_pipeline(session: Session, pipeline: Pipeline, name: str, stages: Sequence[StageDraft]) -> Pipeline:
    """Rename ``pipeline`` and give it exactly ``stages``, in that order: drafts with an id
    change that stage, drafts without one add a stage, and the pipeline's stages left out are
    removed. Nothing is written when a rule would break."""
    name = _check_pipeline_name(session, pipeline.company_id, name, pipeline.id)
    if problems := stage_problems(stages):
        raise PipelineError(problems)
    existing = {stage.id: stage for stage in stages_of(session, [pipeline.id])[pipeline.id]}
    unknown = [draft.id for draft in stages if draft.id is not None and draft.id not in existing]
    if unknown:
        raise PipelineError(_("A stage of the form is not a stage of this pipeline any more; reload the page."))
    _check_held_stages(session, existing, stages)
    pipeline.name = name
    kept = {draft.id for draft in stages if draft.id is not None}
    for stage_id, stage in existing.items():
        if stage_id not in kept:
            session.delete(stage)
    session.flush()  # removed names are free before others take them
    # Two stages swapping names would break the unique name for a moment: free them first.
    renamed = [existing[draft.id] for draft in stages
               if draft.id is not None and existing[draft.id].name != draft.name.strip()]
    if renamed:
        for stage in renamed:
            stage.name = f"…{stage.id}"
        session.flush()
    for position, draft in enumerate(stages):
        stage = existing[draft.id] if draft.id is not None else Stage(company_id=pipeline.company_id,
                                                                         pipeline_id=pipeline.id)
        _apply(stage, draft, position)
        session.add(stage)
    session.flush()
    _event("updated", pipeline, session)
    return pipeline


def set_default_pipeline(session: Session, pipeline: Pipeline, emit_event: bool = True) -> Pipeline:
    """Make ``pipeline`` the company's default (and no other)."""
    for other in session.scalars(select(Pipeline).where(Pipeline.company_id == pipeline.company_id,
                                                        Pipeline.is_default.is_(True), Pipeline.id != pipeline.id)):
        other.is_default = False
    pipeline.is_default = True
    session.flush()
    if emit_event:
        _event("updated", pipeline, session)
    return pipeline


def delete_pipeline(session: Session, pipeline: Pipeline) -> None:
    """Delete ``pipeline`` and its stages for good; refused while it holds opportunities, and
    for the company's last pipeline. The next pipeline becomes the default if it was."""
    held = opportunity_counts(session, Opportunity.pipeline_id, [pipeline.id]).get(pipeline.id, 0)
    if held:
        raise PipelineError(ngettext(
            "The pipeline “%(name)s” holds %(num)s opportunity: move it to another pipeline first.",
            "The pipeline “%(name)s” holds %(num)s opportunities: move them to another pipeline first.",
            held, name=pipeline.name))
    others = [other for other in pipelines(session) if other.id != pipeline.id]
    if not others:
        raise PipelineError(_("“%(name)s” is the only pipeline: add another before deleting it.", name=pipeline.name))
    was_default = pipeline.is_default
    _event("deleted", pipeline, session)
    session.delete(pipeline)  # its stages go with it (ON DELETE CASCADE, and the ORM below)
    for stage in session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)):
        session.delete(stage)
    session.flush()
    if was_default:
        set_default_pipeline(session, others[0])


def move_in_order(session: Session, ordered: Sequence[Any], item: Any, offset: int) -> None:
    """Move ``item`` up (-1) or down (+1) among ``ordered`` (records with an ``id`` and a
    ``position``, in their current order) and number them all again from 0; at either end,
    nothing moves."""
    ordered = list(ordered)
    index = next(i for i, other in enumerate(ordered) if other.id == item.id)
    target = index + offset
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
        for position, other in enumerate(ordered):
            other.position = position
        session.flush()


def move_pipeline(session: Session, pipeline: Pipeline, offset: int) -> None:
    """Move ``pipeline`` up (-1) or down (+1) in the company's order."""
    move_in_order(session, pipelines(session), pipeline, offset)


# -- lost reasons ----------------------------------------------------------------------------------


def lost_reasons(session: Session, active_only: bool = False) -> list[LostReason]:
    """The company's lost reasons in their order (only the active ones when asked)."""
    statement = select(LostReason).order_by(LostReason.position, LostReason.id)
    if active_only:
        statement = statement.where(LostReason.active.is_(True))
    return list(session.scalars(statement))


def _check_reason_name(session: Session, company_id: int, name: str, reason_id: int | None) -> str:
    name = name.strip()
    if not name:
        raise PipelineError(_("Enter a reason."))
    if len(name) > 120:
        raise PipelineError(_("A reason has at most %(num)s characters.", num=120))
    taken = session.scalar(select(LostReason.id).where(LostReason.company_id == company_id,
                                                       func.lower(LostReason.name) == name.lower(),
                                                       LostReason.id != (reason_id or 0)))
    if taken is not None:
        raise PipelineError(_("The reason “%(name)s” is already on the list.", name=name))
    return name


def add_lost_reason(session: Session, company_id: int, name: str) -> LostReason:
    """Add a reason at the end of the list."""
    name = _check_reason_name(session, company_id, name, None)
    last = session.scalar(select(func.max(LostReason.position)).where(LostReason.company_id == company_id))
    reason = LostReason(company_id=company_id, name=name, position=0 if last is None else last + 1, active=True)
    session.add(reason)
    session.flush()
    return reason


def rename_lost_reason(session: Session, reason: LostReason, name: str) -> LostReason:
    reason.name = _check_reason_name(session, reason.company_id, name, reason.id)
    session.flush()
    return reason


def set_lost_reason_active(session: Session, reason: LostReason, active: bool) -> LostReason:
    """Offer the reason again, or no more (opportunities that name it keep it)."""
    reason.active = active
    session.flush()
    return reason


__all__ = ["DEFAULT_LOST_REASONS", "DEFAULT_STAGES", "PipelineError", "StageDraft", "add_lost_reason",
           "create_pipeline", "default_pipeline", "delete_pipeline", "lost_reasons", "move_pipeline",
           "opportunity_counts", "pipelines", "rename_lost_reason", "set_default_pipeline",
           "set_lost_reason_active", "stage_problems", "stages_of", "update_pipeline"]
