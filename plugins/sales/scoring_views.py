"""Lead scoring pages: the rules (add, change, delete), the grade bands, "Recalculate all
scores" with its progress, and the "Score" card on a lead's page (a record panel).

The rules of scoring live in :mod:`plugins.sales.scoring`; every change there is audited and
scores the company's open leads again (inline when they are few, else as a job).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from core.access import require_permission
from core.db import get_session
from core.forms import Form, confirmation_required, form_data
from core.hooks import RecordPanel
from core.tenancy import current_company
from plugins.customers.services import INTERACTION_KINDS
from plugins.sales import MANAGE_SCORING, READ_LEADS
from plugins.sales.leads import visible_leads
from plugins.sales.models import (
    SCORING_FIELDS,
    SCORING_OPERATORS,
    SCORING_RULE_KINDS,
    Lead,
    ScoringRule,
)
from plugins.sales.scoring import (
    DEFAULT_BANDS,
    FIELD_LABELS,
    INTERACTION_LABELS,
    LEAD_TYPE,
    MAX_COUNT_LIMIT,
    OPERATOR_LABELS,
    POINTS_LIMIT,
    VALUE_OPERATORS,
    create_rule,
    delete_rule,
    describe,
    grade_bands,
    recalculate,
    rules,
    save_bands,
    update_rule,
)

blueprint = Blueprint("sales_scoring", __name__, url_prefix="/sales/scoring", template_folder="templates")

KIND_CHOICES = {"field": _l("A field of the lead"), "activity": _l("Activity with the lead")}
BAND_ROWS = 8  # grade rows on the form: more grades than this help nobody
GRADE_MAX = 8
SCORE_LIMIT = 100_000


class RuleSchema(Schema):
    """A scoring rule as the form sends it; what does not apply to its kind is ignored."""

    kind = fields.String(required=True, validate=validate.OneOf(SCORING_RULE_KINDS, labels=list(KIND_CHOICES.values())),
                         metadata={"label": _l("The rule looks at")})
    field = fields.String(load_default="", metadata={
        "label": _l("Field"), "widget": "select", "choices": list(FIELD_LABELS.items()), "blank": _l("Choose…")})
    operator = fields.String(load_default="", metadata={
        "label": _l("Condition"), "widget": "select", "choices": list(OPERATOR_LABELS.items()), "blank": _l("Choose…")})
    value = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "label": _l("Value"), "help": _l("Compared without regard to case. For an email domain: contains “@example.com”.")})
    interaction_kind = fields.String(load_default="", metadata={
        "label": _l("Interaction"), "widget": "select", "blank": _l("Choose…"),
        "choices": [(kind, INTERACTION_LABELS.get(kind, kind)) for kind in INTERACTION_KINDS],
        "help": _l("Interactions logged on the lead's page (its follow-up history).")})
    with_outcome = fields.Boolean(load_default=False, metadata={
        "label": _l("Only those with an outcome"),
        "help": _l("An email answered, a meeting that led somewhere: the outcome field was filled in.")})
    per_occurrence = fields.Boolean(load_default=False, metadata={"label": _l("Points for each one")})
    max_count = fields.Integer(load_default=None, allow_none=True, strict=False,
                               validate=validate.Range(1, MAX_COUNT_LIMIT, error=_l("Enter a number from 1 to 100.")),
                               metadata={
                                   "label": _l("Counted at most"), "help": _l("How many interactions give points.")})
    points = fields.Integer(required=True, strict=False, validate=validate.Range(-POINTS_LIMIT, POINTS_LIMIT, error=_l("Enter points from -1000 to 1000.")),
                            error_messages={"required": _l("Enter the points, from -1000 to 1000.")},
                            metadata={"label": _l("Points"), "help": _l("From -1000 to 1000; negative points subtract.")})
    label = fields.String(load_default="", validate=validate.Length(max=120), metadata={
        "label": _l("Label"), "help": _l("Shown in the lead's score explanation; empty: the rule described.")})
    active = fields.Boolean(load_default=False, metadata={"label": _l("Active")})

    @validates_schema(skip_on_field_errors=False)  # every problem at once, not the field errors first
    def _complete(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors: dict[str, str] = {}
        if data.get("kind") == "activity":
            if data.get("interaction_kind") not in INTERACTION_KINDS:
                errors["interaction_kind"] = _("Choose the kind of interaction.")
            if data.get("per_occurrence") and not data.get("max_count"):
                errors["max_count"] = _("Say how many interactions count at most (1 to %(num)s).", num=MAX_COUNT_LIMIT)
        elif data.get("kind") == "field":
            if data.get("field") not in SCORING_FIELDS:
                errors["field"] = _("Choose one of the lead's fields.") if not data.get("field") \
                    else _("“%(name)s” is not a field a rule can look at.", name=data.get("field"))
            if data.get("operator") not in SCORING_OPERATORS:
                errors["operator"] = _("Choose a condition.")
            elif data.get("operator") in VALUE_OPERATORS and not (data.get("value") or "").strip():
                errors["value"] = _("Enter the value to compare with.")
        if errors:
            raise ValidationError(errors)


def _rule_form(initial: Any = None, data: Any = None) -> Form:
    return Form(RuleSchema, initial, data, id_prefix="rule-")


def _rule_or_404(rule_id: int) -> ScoringRule:
    rule = get_session().get(ScoringRule, rule_id)  # scoped: another company's is not found
    if rule is None:
        abort(404)
    return rule


def _after_change() -> Any:
    """Score the leads again; the page shows the job's progress when it went to the queue."""
    job_id = recalculate(get_session(), current_company().id)
    return redirect(url_for("sales_scoring.index", job=job_id) if job_id else url_for("sales_scoring.index"))


# -- the page ----------------------------------------------------------------------------------------


def _band_rows(bands: list[tuple[str, int | None]]) -> list[dict[str, str]]:
    rows = [{"grade": grade, "min_score": "" if minimum is None else str(minimum)} for grade, minimum in bands]
    return rows + [{"grade": "", "min_score": ""}] * max(0, min(2, BAND_ROWS - len(rows)))


def _page(band_rows: list[dict[str, str]] | None = None, band_errors: list[str] | None = None,
          status: int = 200) -> Any:
    session = get_session()
    bands = grade_bands(session)
    return render_template("sales/scoring/index.html", rules=rules(session), describe=describe,
                           bands=bands, is_default=bands == list(DEFAULT_BANDS),
                           band_rows=band_rows if band_rows is not None else _band_rows(bands),
                           band_errors=band_errors or [], job_id=request.args.get("job")), status


@blueprint.get("/")
@require_permission(MANAGE_SCORING)
def index() -> Any:
    """The rules, the grade bands, and "Recalculate all scores"."""
    return _page()


@blueprint.route("/rules/new", methods=["GET", "POST"])
@require_permission(MANAGE_SCORING)
def new_rule() -> Any:
    return _rule_page(None)


@blueprint.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@require_permission(MANAGE_SCORING)
def edit_rule(rule_id: int) -> Any:
    return _rule_page(_rule_or_404(rule_id))


def _rule_page(rule: ScoringRule | None) -> Any:
    if request.method == "GET":
        initial = rule if rule is not None else {"kind": "field", "active": True, "max_count": 5}
        form = _rule_form(initial)
    else:
        form = _rule_form(data=form_data())
        data = form.validate()
        if data is not None:
            session = get_session()
            if rule is None:
                rule = create_rule(session, current_company().id, data)
                flash(_("Scoring rule added: %(rule)s.", rule=describe(rule)), "success")
            else:
                update_rule(session, rule, data)
                flash(_("Scoring rule saved: %(rule)s.", rule=describe(rule)), "success")
            return _after_change()
    return render_template("sales/scoring/rule_form.html", form=form, rule=rule), 422 if form.has_errors else 200


@blueprint.post("/rules/<int:rule_id>/delete")
@require_permission(MANAGE_SCORING)
def remove_rule(rule_id: int) -> Any:
    rule = _rule_or_404(rule_id)
    page = confirmation_required(_("Delete the scoring rule “%(rule)s”? The leads are scored again without it.",
                                   rule=describe(rule)), label=_("Delete rule"))
    if page is not None:
        return page
    text = describe(rule)
    delete_rule(get_session(), rule)
    flash(_("Scoring rule deleted: %(rule)s.", rule=text), "success")
    return _after_change()


# -- grade bands -------------------------------------------------------------------------------------


def _submitted_bands() -> tuple[list[dict[str, str]], list[tuple[str, int | None]], list[str]]:
    """The rows as typed, the bands they make, and what is wrong with them."""
    typed = [{"grade": request.form.get(f"grade-{index}", "").strip(),
              "min_score": request.form.get(f"min-{index}", "").strip()} for index in range(BAND_ROWS)]
    bands, problems, seen = [], [], set()
    for row in typed:
        if not row["grade"] and not row["min_score"]:
            continue
        if not row["grade"]:
            problems.append(_("Give a grade to the minimum score %(score)s.", score=row["min_score"]))
            continue
        if len(row["grade"]) > GRADE_MAX:
            problems.append(_("“%(grade)s”: a grade has at most %(num)s characters.", grade=row["grade"], num=GRADE_MAX))
            continue
        if row["grade"].casefold() in seen:
            problems.append(_("The grade “%(grade)s” appears twice.", grade=row["grade"]))
            continue
        seen.add(row["grade"].casefold())
        minimum: int | None = None
        if row["min_score"]:
            try:
                minimum = int(row["min_score"])
            except ValueError:
                problems.append(_("“%(score)s” (grade %(grade)s) is not a whole number.",
                                  score=row["min_score"], grade=row["grade"]))
                continue
            if abs(minimum) > SCORE_LIMIT:
                problems.append(_("The minimum of grade %(grade)s must lie between -%(num)s and %(num)s.",
                                  grade=row["grade"], num=SCORE_LIMIT))
                continue
        bands.append((row["grade"], minimum))
    if bands and not problems:
        minimums = [minimum for _grade, minimum in bands if minimum is not None]
        if len(minimums) != len(set(minimums)):
            problems.append(_("Two grades have the same minimum score."))
        if sum(1 for _grade, minimum in bands if minimum is None) != 1:
            problems.append(_("Leave the minimum empty for exactly one grade: the one every lower score gets."))
    return typed, bands, problems


@blueprint.post("/grades")
@require_permission(MANAGE_SCORING)
def grades() -> Any:
    """Save the grade bands (all rows empty: the default bands again)."""
    typed, bands, problems = _submitted_bands()
    if problems:
        return _page(typed, problems, 422)
    save_bands(get_session(), current_company().id, bands)
    flash(_("Grades saved.") if bands else _("Grades set back to the defaults."), "success")
    return _after_change()


@blueprint.post("/recalculate")
@require_permission(MANAGE_SCORING)
def recalculate_all() -> Any:
    """Score every open lead again, as a job with a progress bar."""
    job_id = recalculate(get_session(), current_company().id, force_job=True)
    return redirect(url_for("sales_scoring.index", job=job_id))


# -- the "Score" card on a lead's page --------------------------------------------------------------


@blueprint.get("/panel/lead/<int:lead_id>")
@require_permission(READ_LEADS)
def lead_panel(lead_id: int) -> Any:
    """The lead's score and grade, and the rules that gave it (an htmx fragment)."""
    session = get_session()
    row = session.execute(visible_leads(select(Lead.score, Lead.grade, Lead.score_details))
                          .where(Lead.id == lead_id)).first()
    if row is None:
        abort(404)
    return render_template("sales/scoring/_lead_panel.html", score=row.score, grade=row.grade,
                           details=row.score_details or [])


def score_panels(record_type_name: str, record: Any, user: Any) -> list[RecordPanel]:
    """The "Score" card on a lead's page."""
    if record_type_name != LEAD_TYPE or getattr(record, "id", None) is None:
        return []
    return [RecordPanel(key="sales.score", title=_l("Score"), order=5, permission=READ_LEADS,
                        url=url_for("sales_scoring.lead_panel", lead_id=record.id))]
