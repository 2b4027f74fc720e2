"""The sales funnel: how far deals get, how many are won, how big and how fast, and the
"Pipeline summary" of the home page. Pure queries and arithmetic returning dataclasses; the
page (:mod:`plugins.sales.funnel_views`) and the API (:mod:`plugins.sales.funnel_api`) show them.

Definitions (also in ``docs/sales.md``, "The sales funnel report"), for one pipeline and one
period ``[start, end]`` (whole days, UTC):

* **Created**: the deals created in the period. The funnel's stage reach is measured on them
  (a cohort): a deal *reached* an open stage when it has been in that stage or in a later open
  stage (by the pipeline's stage order) at any time: its ``furthest_stage_id``, kept when it
  enters a stage (:mod:`plugins.sales.opportunities`); a won deal reached every open stage.
* **Conversion** from an open stage to the next one: reached(next) / reached(stage); from the
  last open stage to Won: won deals of the cohort / reached(last open stage).
* **Won, lost, win rate, won amount, average deal size, average sales cycle**: measured on the
  deals *closed* in the period (their ``closed_at``), as Salesforce and Zoho do: win rate =
  won / (won + lost); average deal size = mean amount of the won deals; average sales cycle =
  mean of ``closed_at - created_at`` of the won deals, in days.
* Deals in the trash are left out; the caller's :class:`Scope` applies record visibility.
* Amounts are added up as stored, whatever their currency, as the board does; pages show them
  in :data:`plugins.sales.opportunities.DEFAULT_CURRENCY`.

Each figure comes from an aggregate query (``GROUP BY``): never an ORM object per deal. The
whole UTC months of the period are read from the monthly tallies of
:mod:`plugins.sales.funnel_tally` (a few rows per month), only the days at its edges from the
deals, through indexes that cover the columns read. A report is at most seven queries
whatever the number of deals, and reads a bounded slice of the deals (at most two partial
months): under 50 ms over 500,000 deals on SQLite.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, select, union_all
from sqlalchemy.orm import Session

from core.models import Team, User
from plugins.sales.funnel_tally import days_sql, month_sql
from plugins.sales.models import (
    FunnelClosed,
    FunnelCreated,
    Opportunity,
    Pipeline,
    Stage,
)
from plugins.sales.scope import Scope

PERIODS: tuple[str, ...] = ("this_month", "last_month", "this_quarter", "last_quarter", "this_year",
                            "last_12_months", "all", "custom")
DEFAULT_PERIOD = "last_12_months"
GROUPS: tuple[str, ...] = ("owner", "team", "source", "month")
DEFAULT_GROUP = "owner"
EARLIEST = date(1970, 1, 1)  # a custom period without a start

Restrict = Callable[[Select[Any]], Select[Any]]


class FunnelError(ValueError):
    """Filters that cannot make a report; ``errors`` maps each faulty parameter to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


# -- periods and filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days from ``first`` to ``last``, both included (UTC)."""

    key: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The moment after the period (exclusive bound)."""
        after = self.last + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=UTC)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period_of(key: str, today: date, first: date | None = None, last: date | None = None) -> Period:
    """The period ``key`` (one of :data:`PERIODS`) as seen on ``today``. ``custom`` takes
    ``first`` (default: no lower limit) and ``last`` (default: today)."""
    month_start = today.replace(day=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if key == "this_month":
        return Period(key, month_start, _add_months(month_start, 1) - timedelta(days=1))
    if key == "last_month":
        return Period(key, _add_months(month_start, -1), month_start - timedelta(days=1))
    if key == "this_quarter":
        return Period(key, quarter_start, _add_months(quarter_start, 3) - timedelta(days=1))
    if key == "last_quarter":
        return Period(key, _add_months(quarter_start, -3), quarter_start - timedelta(days=1))
    if key == "this_year":
        return Period(key, date(today.year, 1, 1), date(today.year, 12, 31))
    if key == "last_12_months":
        return Period(key, _add_months(today, -12) + timedelta(days=1), today)
    if key == "all":
        return Period(key, EARLIEST, today)
    if key == "custom":
        return Period(key, first or EARLIEST, last or today)
    raise FunnelError({"period": _("Unknown period “%(period)s”: use one of %(known)s.",
                                    period=key[:40], known=", ".join(PERIODS))})


@dataclass(frozen=True)
class FunnelQuery:
    """What a report is about: a pipeline, a period, optional owner, team and source, and how
    the breakdown table is grouped (``owner``, ``team`` or ``source``)."""

    pipeline_id: int
    period: Period
    owner_id: int | None = None
    team_id: int | None = None
    source: str | None = None
    group_by: str = DEFAULT_GROUP

    def params(self) -> dict[str, str]:
        """The query-string parameters that ask for this report again (for links and exports)."""
        params = {"pipeline": str(self.pipeline_id), "period": self.period.key, "group": self.group_by}
        if self.period.key == "custom":
            params["from"] = "" if self.period.first == EARLIEST else self.period.first.isoformat()
            params["to"] = self.period.last.isoformat()
        for name, value in (("owner", self.owner_id), ("team", self.team_id), ("source", self.source)):
            if value is not None:
                params[name] = str(value)
        return params


def _integer(args: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return None
    if raw.isdigit() and len(raw) < 19:
        return int(raw)
    errors[name] = _("“%(value)s” is not an id (a whole number).", value=raw[:40])
    return None


def _day(args: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("“%(value)s” is not a date: use YYYY-MM-DD.", value=raw[:40])
        return None


def parse_query(args: Mapping[str, Any], today: date, default_pipeline_id: int,
                pipeline_ids: Iterable[int]) -> FunnelQuery:
    """The :class:`FunnelQuery` of request parameters ``pipeline``, ``period``, ``from``,
    ``to``, ``owner``, ``team``, ``source`` and ``group``; raises :class:`FunnelError`
    naming every faulty parameter. ``from``/``to`` given without ``period`` mean ``custom``."""
    errors: dict[str, str] = {}
    pipeline_id = _integer(args, "pipeline", errors) or default_pipeline_id
    if "pipeline" not in errors and pipeline_id not in set(pipeline_ids):
        errors["pipeline"] = _("There is no such pipeline.")
    first, last = _day(args, "from", errors), _day(args, "to", errors)
    key = str(args.get("period") or "").strip() or ("custom" if first or last else DEFAULT_PERIOD)
    period = None
    if key not in PERIODS:
        errors["period"] = _("Unknown period “%(period)s”: use one of %(known)s.", period=key[:40],
                             known=", ".join(PERIODS))
    elif first and last and first > last:
        errors["to"] = _("The end of the period comes before its start.")
    else:
        period = period_of(key, today, first, last)
    group = str(args.get("group") or "").strip() or DEFAULT_GROUP
    if group not in GROUPS:
        errors["group"] = _("Unknown grouping “%(group)s”: use one of %(known)s.", group=group[:40],
                            known=", ".join(GROUPS))
    owner_id, team_id = _integer(args, "owner", errors), _integer(args, "team", errors)
    source = str(args.get("source") or "").strip()[:60] or None
    if errors or period is None:
        raise FunnelError(errors)
    return FunnelQuery(pipeline_id, period, owner_id, team_id, source, group)


# -- the report ------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass
class StageFigure:
    """One row of the funnel: an open stage, or the won stage last. ``conversion`` is to the
    next row (``None`` for the last row or when nothing reached this one); ``of_first`` the
    share of the first stage's reach."""

    id: int
    name: str
    probability: int
    won: bool
    reached: int
    conversion: float | None = None
    of_first: float | None = None


@dataclass
class Outcome:
    """The figures of a group of deals (a row of the breakdown, or the whole report)."""

    key: Any
    label: str
    created: int = 0
    won: int = 0
    lost: int = 0
    won_amount: Decimal = Decimal(0)
    won_days: float = 0.0

    @property
    def win_rate(self) -> float | None:
        return _rate(self.won, self.won + self.lost)

    @property
    def average_size(self) -> Decimal | None:
        return (self.won_amount / self.won).quantize(Decimal("0.01")) if self.won else None

    @property
    def average_cycle(self) -> float | None:
        """Mean days from creation to closing of the won deals, one decimal."""
        return round(self.won_days / self.won, 1) if self.won else None

    def as_dict(self) -> dict[str, Any]:
        key = self.key.isoformat() if isinstance(self.key, date) else self.key  # a month: "2026-11-01"
        return {"key": key, "label": self.label, "created": self.created, "won": self.won, "lost": self.lost,
                "win_rate": self.win_rate, "won_amount": self.won_amount, "average_size": self.average_size,
                "average_cycle_days": self.average_cycle}


@dataclass
class FunnelReport:
    query: FunnelQuery
    pipeline_name: str
    stages: list[StageFigure]
    total: Outcome
    groups: list[Outcome]

    @property
    def empty(self) -> bool:
        """No deal created nor closed in the period: nothing to show."""
        return not (self.total.created or self.total.won or self.total.lost)



def month_start(day: date) -> date:
    return day.replace(day=1)


def whole_months(period: Period) -> tuple[date, date] | None:
    """The whole UTC months ``[first, after)`` inside ``period`` (first days of months), or
    ``None`` when it holds no whole month. The days before and after are its edges."""
    first = period.first if period.first.day == 1 else _add_months(month_start(period.first), 1)
    after = month_start(period.last + timedelta(days=1))
    return (first, after) if first < after else None


def _edges(period: Period, months: tuple[date, date] | None) -> list[tuple[datetime, datetime]]:
    """The moments ``[from, to)`` of the period outside its whole months: none, one or two
    ranges (empty ones left out)."""
    if months is None:
        return [(period.start, period.end)]
    first, after = (datetime(day.year, day.month, day.day, tzinfo=UTC) for day in months)
    return [(low, high) for low, high in ((period.start, first), (after, period.end)) if low < high]


def _each_edge(session: Session, column: Any, edges: list[tuple[datetime, datetime]],
               grouped: Callable[[Any], Select[Any]]) -> list[Any]:
    """The rows of ``grouped(condition)`` for every edge, in one statement (``UNION ALL``):
    one plain range per SELECT is what lets the database read just that slice of a covering
    index (an ``OR`` of two ranges makes SQLite scan the company's whole index)."""
    statements = [grouped(and_(column >= low, column < high)) for low, high in edges]
    if not statements:
        return []
    return list(session.execute(statements[0] if len(statements) == 1 else union_all(*statements)))


def _filtered(statement: Select[Any], query: FunnelQuery, scope: Scope, model: Any = Opportunity) -> Select[Any]:
    """``statement`` on deals or on a tally table (``model``) limited to the query's pipeline
    and filters and to the scope. The tallies write 0 for "no owner/team": a filter by id never
    matches them, as it never matches a deal's NULL."""
    statement = scope.restrict(statement.where(model.company_id == scope.company_id,
                                               model.pipeline_id == query.pipeline_id), model.owner_id)
    if model is Opportunity:
        # Said here although the session adds it: the edges' UNION ALL must not depend on
        # how the ORM's automatic criteria reach into compound statements.
        statement = statement.where(Opportunity.deleted_at.is_(None))
    if query.owner_id is not None:
        statement = statement.where(model.owner_id == query.owner_id)
    if query.team_id is not None:
        statement = statement.where(model.team_id == query.team_id)
    if query.source is not None:
        statement = statement.where(model.source == query.source)
    return statement


def _group_column(group_by: str, model: Any = Opportunity, moment: Any = None, dialect: str = "") -> Any:
    """The breakdown's key on the tallies (``model``) or the deals: for ``month``, the tally's
    month or the UTC month of the deals' ``moment`` (created or closed) in SQL of ``dialect``."""
    if group_by == "month":
        return model.month if moment is None else month_sql(dialect, moment)
    return {"owner": model.owner_id, "team": model.team_id, "source": model.source}[group_by]


def _key(group_by: str, key: Any) -> Any:
    """The tallies' "none" (0, "") as the deals have it (None for owner and team); a month as
    a date (SQLite gives the deals' month as text)."""
    if group_by == "month":
        return date.fromisoformat(key[:10]) if isinstance(key, str) else key
    return None if group_by != "source" and key in (0, None) else key


def _created_rows(session: Session, query: FunnelQuery, scope: Scope, months: tuple[date, date] | None) -> list[Any]:
    """(group key, furthest open stage id, current stage id, deals) of the deals created in the
    period: summed from the tallies for the whole months, counted on the deals for the edges."""
    rows: list[Any] = []
    if months is not None:
        tally = FunnelCreated
        rows += session.execute(_filtered(
            select(_group_column(query.group_by, tally), tally.furthest_stage_id, tally.stage_id, func.sum(tally.n))
            .where(tally.month >= months[0], tally.month < months[1]), query, scope, tally
        ).group_by(_group_column(query.group_by, tally), tally.furthest_stage_id, tally.stage_id)
            .having(func.sum(tally.n) != 0)).all()  # rows that fell back to 0 stay in the table
    group = _group_column(query.group_by, moment=Opportunity.created_at, dialect=session.get_bind().dialect.name)
    return rows + _each_edge(session, Opportunity.created_at, _edges(query.period, months), lambda edge: _filtered(
        select(group, Opportunity.furthest_stage_id, Opportunity.stage_id, func.count()).where(edge), query, scope
    ).group_by(group, Opportunity.furthest_stage_id, Opportunity.stage_id))


def _closed_rows(session: Session, query: FunnelQuery, scope: Scope, months: tuple[date, date] | None,
                 closing_ids: list[int]) -> list[Any]:
    """(group key, stage id, deals, amount, days) of the deals closed in the period in a won or
    lost stage: tallies for the whole months, the deals for the edges."""
    rows: list[Any] = []
    if months is not None:
        tally = FunnelClosed
        key = _group_column(query.group_by, tally)
        rows += session.execute(_filtered(
            select(key, tally.stage_id, func.sum(tally.n), func.coalesce(func.sum(tally.amount), 0),
                   func.coalesce(func.sum(tally.days), 0))
            .where(tally.month >= months[0], tally.month < months[1], tally.stage_id.in_(closing_ids)),
            query, scope, tally
        ).group_by(key, tally.stage_id).having(func.sum(tally.n) != 0)).all()
    group = _group_column(query.group_by, moment=Opportunity.closed_at, dialect=session.get_bind().dialect.name)
    return rows + _each_edge(session, Opportunity.closed_at, _edges(query.period, months), lambda edge: _filtered(
        select(group, Opportunity.stage_id, func.count(), func.coalesce(func.sum(Opportunity.amount), 0),
               func.coalesce(func.sum(days_sql(session.get_bind().dialect.name, Opportunity.closed_at, Opportunity.created_at)), 0))
        .where(edge, Opportunity.stage_id.in_(closing_ids)), query, scope
    ).group_by(group, Opportunity.stage_id))


def _labels(session: Session, group_by: str, keys: set[Any]) -> dict[Any, str]:
    """Names of the owners or teams ``keys`` (one query), the sources themselves, or the
    months as the reader's language writes them ("Nov 2026")."""
    if group_by == "source":
        return {key: key for key in keys if key}
    if group_by == "month":
        from flask_babel import format_date

        return {key: format_date(key, "MMM y") for key in keys if key is not None}
    ids = [key for key in keys if key is not None]
    if not ids:
        return {}
    if group_by == "owner":
        rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
        return {row.id: row.name or row.email for row in rows}
    return {team_id: name for team_id, name in session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))}


def funnel_report(session: Session, query: FunnelQuery, scope: Scope,
                  no_value: Mapping[str, str] | None = None) -> FunnelReport:
    """The report ``query`` asks for, over the deals of ``scope`` (record visibility).
    ``no_value`` labels the group of deals without an owner, team or source
    (``{"owner": "No owner", ...}``, translated by the caller). Seven queries at most: the
    whole months of the period read the tallies, the days at its edges the deals."""
    pipeline_name = session.scalar(select(Pipeline.name).where(Pipeline.id == query.pipeline_id)) or ""
    stages = list(session.execute(select(Stage.id, Stage.name, Stage.probability, Stage.is_won, Stage.is_lost)
                                  .where(Stage.pipeline_id == query.pipeline_id)
                                  .order_by(Stage.position, Stage.id)))
    open_stages = [stage for stage in stages if not stage.is_won and not stage.is_lost]
    won_stage = next((stage for stage in stages if stage.is_won), None)
    closing_ids = [stage.id for stage in stages if stage.is_won or stage.is_lost]
    open_ranks = {stage.id: rank for rank, stage in enumerate(open_stages)}
    won_id = won_stage.id if won_stage is not None else None
    months = whole_months(query.period)
    outcomes: dict[Any, Outcome] = {}

    def outcome(key: Any) -> Outcome:
        return outcomes.setdefault(_key(query.group_by, key), Outcome(_key(query.group_by, key), ""))

    # 1. The cohort: deals created in the period, by group, furthest open stage and current
    # stage. A won deal reached every open stage; a deal never in an open stage none.
    reach_by_rank: dict[int, int] = {}
    if open_ranks:
        for key, furthest_id, stage_id, count in _created_rows(session, query, scope, months):
            outcome(key).created += count
            rank = len(open_ranks) if stage_id == won_id else open_ranks.get(furthest_id)
            if rank is not None:
                reach_by_rank[rank] = reach_by_rank.get(rank, 0) + count

    # 2. The deals closed in the period, by group and stage.
    if closing_ids:
        for key, stage_id, count, amount, days in _closed_rows(session, query, scope, months, closing_ids):
            row = outcome(key)
            if stage_id == won_id:
                row.won += count
                row.won_amount += Decimal(str(amount)).quantize(Decimal("0.01"))
                row.won_days += float(days)
            else:
                row.lost += count

    # 3. The funnel rows: reach of each open stage is the deals whose furthest rank is at or past it.
    figures: list[StageFigure] = []
    won_reach = reach_by_rank.get(len(open_stages), 0)
    for rank, stage in enumerate(open_stages):
        reached = sum(count for at, count in reach_by_rank.items() if at >= rank)
        figures.append(StageFigure(stage.id, stage.name, stage.probability, False, reached))
    if won_stage is not None:
        figures.append(StageFigure(won_stage.id, won_stage.name, won_stage.probability, True, won_reach))
    first = figures[0].reached if figures else 0
    for index, figure in enumerate(figures):
        figure.of_first = _rate(figure.reached, first)
        if index + 1 < len(figures):
            figure.conversion = _rate(figures[index + 1].reached, figure.reached)

    # 4. Labels, totals, and the breakdown sorted by won amount, then deals created.
    labels = _labels(session, query.group_by, set(outcomes))
    none_label = (no_value or {}).get(query.group_by, "—")
    total = Outcome(None, "")
    for key, row in outcomes.items():
        row.label = labels.get(key) or (none_label if key in (None, "") else f"#{key}")
        total.created += row.created
        total.won += row.won
        total.lost += row.lost
        total.won_amount += row.won_amount
        total.won_days += row.won_days
    if query.group_by == "month":  # a time series: in order, latest first
        groups = sorted(outcomes.values(), key=lambda row: row.key or date.min, reverse=True)
    else:
        groups = sorted(outcomes.values(), key=lambda row: (-row.won_amount, -row.created, row.label.lower()))
    return FunnelReport(query, pipeline_name, figures, total, groups)


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def report_as_dict(report: FunnelReport) -> dict[str, Any]:
    """The report as JSON-ready data (the API's body): amounts as text with two decimals,
    rates as fractions (0.25), days with one decimal, ``None`` where nothing divides."""
    query = report.query

    def outcome(row: Outcome) -> dict[str, Any]:
        return {**row.as_dict(), "won_amount": _money(row.won_amount), "average_size": _money(row.average_size)}

    return {
        "pipeline": {"id": query.pipeline_id, "name": report.pipeline_name},
        "period": {"key": query.period.key, "from": query.period.first.isoformat(),
                   "to": query.period.last.isoformat()},
        "filters": {"owner_id": query.owner_id, "team_id": query.team_id, "source": query.source},
        "group_by": query.group_by,
        "empty": report.empty,
        "stages": [{"id": s.id, "name": s.name, "probability": s.probability, "won": s.won, "reached": s.reached,
                    "conversion": s.conversion, "of_first": s.of_first} for s in report.stages],
        "total": outcome(report.total),
        "groups": [outcome(row) for row in report.groups],
    }


# -- the pipeline summary (home page) --------------------------------------------------------------


@dataclass
class SummaryStage:
    name: str
    count: int = 0
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


@dataclass
class PipelineSummary:
    """The open deals of a pipeline per open stage, and what was won this month."""

    pipeline_name: str
    stages: list[SummaryStage]
    won_count: int = 0
    won_amount: Decimal = Decimal(0)

    @property
    def open_count(self) -> int:
        return sum(stage.count for stage in self.stages)

    @property
    def open_amount(self) -> Decimal:
        return sum((stage.amount for stage in self.stages), Decimal(0))

    @property
    def weighted_amount(self) -> Decimal:
        return sum((stage.weighted for stage in self.stages), Decimal(0))


def pipeline_summary(session: Session, restrict: Restrict, today: date) -> PipelineSummary | None:
    """The company's default pipeline: per open stage the number of open deals, their amount
    and their amount weighted by each deal's probability; and the deals won since the first
    of ``today``'s month. ``None`` when the company has no pipeline yet. Three queries; the
    grouped one is answered from ``ix_sales_opportunity_board`` alone (it covers the columns)."""
    pipeline = session.execute(select(Pipeline.id, Pipeline.name)
                               .order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id).limit(1)).first()
    if pipeline is None:
        return None
    stages = list(session.execute(select(Stage.id, Stage.name, Stage.is_won, Stage.is_lost)
                                  .where(Stage.pipeline_id == pipeline.id).order_by(Stage.position, Stage.id)))
    rows = {stage.id: SummaryStage(stage.name) for stage in stages if not stage.is_won and not stage.is_lost}
    won_ids = [stage.id for stage in stages if stage.is_won]
    month_start = datetime(today.year, today.month, 1, tzinfo=UTC)
    summary = PipelineSummary(pipeline.name, list(rows.values()))
    wanted = list(rows) + won_ids
    if not wanted:
        return summary
    # Open deals have no closed_at; a won deal counts when it closed this month.
    statement = restrict(
        select(Opportunity.stage_id, func.count(),
               func.coalesce(func.sum(Opportunity.amount), 0),
               func.coalesce(func.sum(Opportunity.amount * Opportunity.probability), 0))
        .where(Opportunity.pipeline_id == pipeline.id, Opportunity.stage_id.in_(wanted))
        .where((Opportunity.closed_at.is_(None)) | (Opportunity.closed_at >= month_start))
    ).group_by(Opportunity.stage_id)
    for stage_id, count, amount, weighted in session.execute(statement):
        if stage_id in rows:
            row = rows[stage_id]
            row.count += count
            row.amount += Decimal(str(amount))
            row.weighted += (Decimal(str(weighted)) / 100).quantize(Decimal("0.01"))
        else:
            summary.won_count += count
            summary.won_amount += Decimal(str(amount))
    return summary
