"""Lead scoring: admin-defined rules give a lead points, the points a grade.

* :func:`score_lead` is the rule itself, a pure function: a lead's field values and its
  interaction counts in, ``(score, grade, details)`` out. ``details`` is the explanation kept
  on the lead (``score_details``): one ``{"rule_id", "label", "points", "times"}`` per rule
  that applied.
* :func:`rescore_leads` applies it to many leads: the rules and the grade bands loaded once,
  the leads' columns in one query and their interactions in one grouped query (from the
  customers plugin), and only the leads whose score changed written, with one executemany
  Core UPDATE per batch of :data:`BATCH` (derived columns: not in the audit trail, like a
  lead's search text).
* It runs when a lead is added or changed (:mod:`plugins.sales.leads`), when an interaction is
  logged about a lead (the ``on_event`` hook) and when the rules or grades change
  (:func:`recalculate`: inline for a small company, else the job :func:`rescore_company`).
* The rules and grade bands are changed here too (:func:`create_rule`, :func:`update_rule`,
  :func:`delete_rule`, :func:`save_bands`): audited (the models are ``Audited``) and announced
  as events (``sales.scoring_rule.created|updated|deleted``, ``sales.grade_bands.updated``).

Grade bands live in a table of their own rather than a company setting: a band list is rows
with their own rules (grades unique, one catch-all), audited like any other set-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core.audit import record_type
from core.events import emit
from core.jobs import task
from core.scoping import COMPANY_KEY
from plugins.customers.services import InteractionCount, interaction_counts
from plugins.sales.models import SCORING_FIELDS, GradeBand, Lead, ScoringRule

LEAD_TYPE = record_type(Lead)  # "sales_lead": the subject type of interactions about a lead
BATCH = 1000  # leads per query and per committed batch of the job
INLINE_LIMIT = 2000  # up to this many open leads, a rule change rescores them in the request
POINTS_LIMIT = 1000  # a rule gives -1000..1000 points
MAX_COUNT_LIMIT = 100  # a per-occurrence rule counts at most this many interactions

# (grade, minimum score); None: every lower score. Used while a company defines no bands.
DEFAULT_BANDS: tuple[tuple[str, int | None], ...] = (("A", 80), ("B", 50), ("C", 20), ("D", None))

FIELD_LABELS = {
    "source": _l("Source"), "region": _l("Region"), "industry": _l("Industry"), "title": _l("Job title"),
    "status": _l("Status"), "organisation": _l("Organisation"), "email": _l("Email"), "phone": _l("Phone"),
    "campaign": _l("Campaign"), "utm_source": _l("UTM source"), "utm_medium": _l("UTM medium"),
    "utm_campaign": _l("UTM campaign"),
}
OPERATOR_LABELS = {
    "equals": _l("is"), "not_equals": _l("is not"), "contains": _l("contains"),
    "is_set": _l("has a value"), "is_empty": _l("is empty"),
}
# The customers plugin's interaction kinds (plugins.customers.services.INTERACTION_KINDS), in words.
INTERACTION_LABELS = {
    "call": _l("Call"), "email": _l("Email"), "meeting": _l("Meeting"), "visit": _l("Visit"), "note": _l("Note"),
    "other": _l("Other"),
}
VALUE_OPERATORS = frozenset({"equals", "not_equals", "contains"})  # the operators that compare with a value


# -- the rule --------------------------------------------------------------------------------------


def _get(record: Any, name: str) -> Any:
    # A dict (tests, callers) or an object: a Row, a Lead, a ScoringRule. No Mapping ABC check:
    # it runs millions of times when a large company is scored.
    return record.get(name) if isinstance(record, dict) else getattr(record, name, None)


def field_matches(operator: str, actual: str | None, expected: str) -> bool:
    """Whether a lead's value passes ``operator`` against ``expected``, ignoring case and the
    spaces around either."""
    actual_text = (actual or "").strip().casefold()
    expected_text = (expected or "").strip().casefold()
    if operator == "is_set":
        return actual_text != ""
    if operator == "is_empty":
        return actual_text == ""
    if operator == "equals":
        return actual_text == expected_text
    if operator == "not_equals":
        return actual_text != expected_text
    if operator == "contains":
        return expected_text != "" and expected_text in actual_text
    return False


def activity_times(rule: Any, counts: Mapping[str, InteractionCount | tuple[int, int]]) -> int:
    """How many times an activity rule gives its points: 0 or 1, or per occurrence up to its cap."""
    found = counts.get(_get(rule, "interaction_kind") or "")
    if not found:
        return 0
    total, with_outcome = found
    occurred = with_outcome if _get(rule, "with_outcome") else total
    if occurred <= 0:
        return 0
    if not _get(rule, "per_occurrence"):
        return 1
    cap = _get(rule, "max_count")
    return min(occurred, cap) if cap else occurred


def describe(rule: Any) -> str:
    """What a rule looks at, in words (its label when it has one)."""
    label = (_get(rule, "label") or "").strip()
    if label:
        return label
    if _get(rule, "kind") == "activity":
        kind = str(INTERACTION_LABELS.get(_get(rule, "interaction_kind"), _get(rule, "interaction_kind")))
        text = _("%(kind)s with an outcome", kind=kind) if _get(rule, "with_outcome") else _("%(kind)s logged", kind=kind)
        if _get(rule, "per_occurrence"):
            text = _("%(what)s (each, at most %(num)s)", what=text, num=_get(rule, "max_count") or "∞")
        return text
    name = str(FIELD_LABELS.get(_get(rule, "field"), _get(rule, "field")))
    operator = str(OPERATOR_LABELS.get(_get(rule, "operator"), _get(rule, "operator")))
    if _get(rule, "operator") in VALUE_OPERATORS:
        return _("%(field)s %(operator)s “%(value)s”", field=name, operator=operator, value=_get(rule, "value"))
    return _("%(field)s %(operator)s", field=name, operator=operator)


def grade_for(score: int, bands: Sequence[tuple[str, int | None]]) -> str:
    """The grade of the first band (highest minimum first) that ``score`` reaches; the band
    without a minimum takes the rest; "" when no band fits."""
    catch_all = ""
    for grade, minimum in sorted(bands, key=lambda band: -band[1] if band[1] is not None else float("inf")):
        if minimum is None:
            catch_all = catch_all or grade
        elif score >= minimum:
            return grade
    return catch_all


def score_lead(lead: Any, rules: Iterable[Any], activity_counts: Mapping[str, InteractionCount | tuple[int, int]],
               bands: Sequence[tuple[str, int | None]] = DEFAULT_BANDS,
               labels: Mapping[Any, str] | None = None) -> tuple[int, str, list[dict[str, Any]]]:
    """A lead's score, grade and explanation.

    ``lead``: an object (a row) or a dict with the :data:`SCORING_FIELDS`. ``rules``: the
    company's rules (inactive ones are skipped), in their order. ``activity_counts``: the
    lead's interactions by kind, ``{kind: (total, with_outcome)}``. ``bands``: ``(grade,
    minimum)`` pairs. ``labels``: the rules' descriptions by id, when already known (scoring
    many leads describes each rule once). No active rule at all: score 0 and no grade.
    """
    score, details, any_rule = 0, [], False
    for rule in rules:
        if not _get(rule, "active"):
            continue
        any_rule = True
        points = int(_get(rule, "points") or 0)
        if _get(rule, "kind") == "activity":
            times = activity_times(rule, activity_counts)
        else:
            name = _get(rule, "field")
            times = int(name in SCORING_FIELDS and field_matches(_get(rule, "operator") or "", _get(lead, name),
                                                                 _get(rule, "value") or ""))
        if times and points:
            score += points * times
            label = labels.get(_get(rule, "id")) if labels else None
            details.append({"rule_id": _get(rule, "id"), "label": label or describe(rule), "points": points * times,
                            "times": times})
    if not any_rule:
        return 0, "", []
    return score, grade_for(score, bands), details


# -- applying it to leads --------------------------------------------------------------------------


@dataclass
class Scoring:
    """A company's active rules and grade bands, loaded once for many leads."""

    rules: list[Any]  # ScoringRule rows, kept as plain copies
    bands: list[tuple[str, int | None]]
    wants_activity: bool = field(init=False)
    labels: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        # Plain copies: reading a mapped attribute costs far more, times every lead and rule.
        self.rules = [SimpleNamespace(**{name: getattr(rule, name) for name in ("id", *RULE_ATTRIBUTES)})
                      for rule in self.rules]
        self.wants_activity = any(rule.kind == "activity" for rule in self.rules)
        self.labels = {rule.id: describe(rule) for rule in self.rules}


def grade_bands(session: Session) -> list[tuple[str, int | None]]:
    """The company's ``(grade, minimum)`` bands, or the defaults when it defined none."""
    rows = session.execute(select(GradeBand.grade, GradeBand.min_score).order_by(GradeBand.position)).all()
    return [(grade, minimum) for grade, minimum in rows] or list(DEFAULT_BANDS)


def load_scoring(session: Session) -> Scoring:
    """The rules and bands of the company in context (two queries)."""
    rules = list(session.scalars(select(ScoringRule).where(ScoringRule.active.is_(True))
                                 .order_by(ScoringRule.position, ScoringRule.id)))
    return Scoring(rules, grade_bands(session))


_COLUMNS = [Lead.id, Lead.company_id, Lead.score, Lead.grade, Lead.score_details,
            *(getattr(Lead, name) for name in SCORING_FIELDS)]


def rescore_leads(session: Session, lead_ids: Iterable[int], scoring: Scoring | None = None) -> int:
    """Score the leads again (those in the trash are left alone); returns how many changed.

    Per batch of :data:`BATCH` leads: one query for their columns, one grouped query for their
    interactions (only when an activity rule exists) and one executemany UPDATE of the changed
    ones; plus two queries for the rules and bands unless ``scoring`` is given. Leads loaded
    in ``session`` get the new values too, without being marked changed.
    """
    ids = sorted({int(lead_id) for lead_id in lead_ids})
    if not ids:
        return 0
    scoring = scoring if scoring is not None else load_scoring(session)
    table = Lead.__table__
    statement = update(table).where(table.c.id == bindparam("lead_id"), table.c.company_id == bindparam("company")) \
        .values(score=bindparam("new_score"), grade=bindparam("new_grade"), score_details=bindparam("new_details"))
    changed = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = session.execute(select(*_COLUMNS).where(Lead.id.in_(chunk))).all()
        counts = interaction_counts(session, LEAD_TYPE, chunk) if scoring.wants_activity else {}
        updates = []
        for row in rows:
            score, grade, details = score_lead(row, scoring.rules, counts.get(str(row.id), {}), scoring.bands,
                                               scoring.labels)
            if (score, grade, details) != (row.score, row.grade, row.score_details or []) or row.score_details is None:
                updates.append({"lead_id": row.id, "company": row.company_id, "new_score": score,
                                "new_grade": grade, "new_details": details})
        if updates:
            session.execute(statement, updates)
            _refresh_loaded(session, updates)
            changed += len(updates)
    return changed


def _refresh_loaded(session: Session, updates: list[dict[str, Any]]) -> None:
    """Give the Lead objects ``session`` holds their new score, as if loaded so."""
    for values in updates:
        lead = session.identity_map.get(identity_key(Lead, values["lead_id"]))
        if lead is not None:
            set_committed_value(lead, "score", values["new_score"])
            set_committed_value(lead, "grade", values["new_grade"])
            set_committed_value(lead, "score_details", values["new_details"])


def _open_leads() -> Any:
    """The leads a rule change rescores: not converted (their score is history), not in the trash."""
    return select(Lead.id).where(Lead.status != "converted")


@task("sales.rescore_leads")
def rescore_company(company_id: int) -> None:
    """Score every open lead of the company again, in committed batches with progress (a job)."""
    from core.db import get_session
    from core.jobs import commit_batch

    session = get_session()
    if session.info.get(COMPANY_KEY) != company_id:  # a job runs scoped to its own company
        raise RuntimeError(f"rescore_company({company_id}) runs in the scope of company {session.info.get(COMPANY_KEY)}")
    scoring = load_scoring(session)
    total = session.scalar(select(func.count()).select_from(_open_leads().subquery())) or 0
    done, last_id = 0, 0
    commit_batch(0, total, _("Scoring the leads…"))
    while True:
        ids = list(session.scalars(_open_leads().where(Lead.id > last_id).order_by(Lead.id).limit(BATCH)))
        if not ids:
            break
        rescore_leads(session, ids, scoring)
        done, last_id = done + len(ids), ids[-1]
        commit_batch(done, max(total, done), _("%(done)s of %(total)s leads scored.", done=done, total=max(total, done)))


def recalculate(session: Session, company_id: int, *, force_job: bool = False) -> str | None:
    """Score the company's open leads again after a change of the rules or grades.

    A small company's leads (at most :data:`INLINE_LIMIT`) are scored here, in the caller's
    transaction; otherwise (or with ``force_job``) a background job does it in batches and
    its id is returned, for the progress bar.
    """
    if not force_job:
        ids = list(session.scalars(_open_leads().order_by(Lead.id).limit(INLINE_LIMIT + 1)))
        if len(ids) <= INLINE_LIMIT:
            rescore_leads(session, ids)
            return None
    return rescore_company.start(params={"company_id": company_id})


def rescore_after_interaction(event: Any) -> None:
    """The ``on_event`` reaction: an interaction logged about a lead scores it again (in the
    handler's own transaction, scoped to the event's company)."""
    from core.db import get_session

    payload = event.payload
    if event.name != "customers.interaction.logged" or payload.get("subject_type") != LEAD_TYPE:
        return
    subject_id = str(payload.get("subject_id") or "")
    if subject_id.isdigit():
        rescore_leads(get_session(), [int(subject_id)])


# -- changing the rules and the grades -------------------------------------------------------------

RULE_ATTRIBUTES = ("active", "kind", "field", "operator", "value", "interaction_kind", "with_outcome",
                   "per_occurrence", "max_count", "points", "label")


def _normalised(data: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's columns from validated ``data``: what does not apply to its kind is cleared."""
    values = {name: data[name] for name in RULE_ATTRIBUTES if name in data}
    for name in ("value", "label"):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip()
    if values.get("kind") == "activity":
        values.update(field="", operator="", value="")
        if not values.get("per_occurrence"):
            values["max_count"] = None
    else:
        values.update(interaction_kind="", with_outcome=False, per_occurrence=False, max_count=None)
        if values.get("operator") not in VALUE_OPERATORS:
            values["value"] = ""
    return values


def _rule_event(action: str, rule: ScoringRule, session: Session) -> None:
    emit(f"sales.scoring_rule.{action}", {"id": rule.id, "kind": rule.kind, "points": rule.points,
                                          "label": describe(rule)}, session=session)


def create_rule(session: Session, company_id: int, data: Mapping[str, Any]) -> ScoringRule:
    """Add a rule at the end of the list."""
    position = session.scalar(select(func.coalesce(func.max(ScoringRule.position), -1) + 1))
    rule = ScoringRule(company_id=company_id, position=position, **_normalised(data))
    session.add(rule)
    session.flush()
    _rule_event("created", rule, session)
    return rule


def update_rule(session: Session, rule: ScoringRule, data: Mapping[str, Any]) -> ScoringRule:
    for name, value in _normalised(data).items():
        setattr(rule, name, value)
    session.flush()
    _rule_event("updated", rule, session)
    return rule


def delete_rule(session: Session, rule: ScoringRule) -> None:
    _rule_event("deleted", rule, session)
    session.delete(rule)
    session.flush()


def save_bands(session: Session, company_id: int, bands: Sequence[tuple[str, int | None]]) -> None:
    """Replace the company's grade bands (checked by the caller); none: the defaults again."""
    for band in session.scalars(select(GradeBand)):
        session.delete(band)
    session.flush()
    ordered = sorted(bands, key=lambda band: -band[1] if band[1] is not None else float("inf"))
    for position, (grade, minimum) in enumerate(ordered):
        session.add(GradeBand(company_id=company_id, grade=grade, min_score=minimum, position=position))
    session.flush()
    emit("sales.grade_bands.updated", {"bands": [[grade, minimum] for grade, minimum in ordered]}, session=session)


def rules(session: Session) -> list[ScoringRule]:
    """Every rule of the company in context (active or not), in order."""
    return list(session.scalars(select(ScoringRule).order_by(ScoringRule.position, ScoringRule.id)))


__all__ = ["BATCH", "DEFAULT_BANDS", "Scoring", "create_rule", "delete_rule", "describe", "grade_bands",
           "grade_for", "load_scoring", "recalculate", "rescore_company", "rescore_leads", "rules", "save_bands",
           "score_lead", "update_rule"]
