"""The board of a pipeline: its stages as columns, each with how many deals it holds, their
total and weighted total, and the first cards; and the filters it shares with the list.

Queries, whatever the number of deals (every one carries ``company_id`` and the record
visibility of the user, through :func:`core.access.visible`):

* the column figures: ONE grouped statement (``COUNT``, ``SUM(amount)``,
  ``SUM(amount * probability / 100)`` per stage), read from the board index
  ``ix_sales_opportunity_board`` alone (company, pipeline, stage, closed_at, close date, id,
  then the columns summed and filtered). Open stages are its ``closed_at IS NULL`` range;
  closed (won or lost) stages show only the deals closed in the last
  :data:`RECENTLY_CLOSED_DAYS` days, a ``closed_at`` range: a pipeline keeps every deal it
  ever closed, and the board would otherwise sum them all;
* the cards: ONE statement, a ``UNION ALL`` of one small index range per column (two for an
  open column: dated deals, soonest close first, then the undated ones), each cut at
  :data:`CARDS_PER_COLUMN` + 1 rows. A window function (``ROW_NUMBER() OVER (PARTITION BY
  stage_id ...)``) would number every deal of the pipeline first: measured on SQLite with
  500,000 deals it was an order of magnitude slower (see docs/sales.md, "The board");
* the account names and the owner names of the cards shown: one query each.

"Load more" reads the next cards of one column after a keyset cursor: ``(close date, id)``
with undated deals last for an open column, ``(closed_at, id)`` newest first for a closed
one.

Amounts are summed as stored, whatever their currency: the totals are shown in the company's
default currency (:data:`plugins.sales.opportunities.DEFAULT_CURRENCY`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from core.access import member_choices, team_choices, visible
from core.db import utcnow
from core.listing import DateRangeFilter, Filter
from core.models import Team, TeamMember
from core.textsearch import text_matches
from plugins.customers.services import account_names
from plugins.sales.models import BoardOpen, Opportunity, Stage
from plugins.sales.scope import OPPORTUNITY_TYPE, Scope

CARDS_PER_COLUMN = 20
RECENTLY_CLOSED_DAYS = 30
MAX_TEXT = 200  # characters of a filter value read


# -- the filters the board and the list share ------------------------------------------------------


def _today() -> date:
    return utcnow().date()


def _month_start(day: date, months_later: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def close_period(period: str, today: date | None = None) -> tuple[date | None, date | None] | None:
    """The first and last day of a named close period (``None`` for an unknown name);
    ``overdue`` is everything before today."""
    today = today or _today()
    if period == "this_month":
        return _month_start(today), _month_start(today, 1) - timedelta(days=1)
    if period == "next_month":
        return _month_start(today, 1), _month_start(today, 2) - timedelta(days=1)
    if period == "this_quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return start, _month_start(start, 3) - timedelta(days=1)
    if period == "overdue":
        return None, today - timedelta(days=1)
    return None


@dataclass(frozen=True)
class ClosePeriodFilter(Filter):
    """``?close=this_month|next_month|this_quarter|overdue``: the expected close date falls in
    that period (UTC days); ``overdue`` keeps the open deals whose date has passed."""

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        raw = (args.get(self.key) or "").strip()[:MAX_TEXT]
        if not raw:
            return {}, {}, []
        bounds = close_period(raw)
        if bounds is None:
            return {}, {self.key: raw}, []
        start, end = bounds
        conditions = [self.expression <= end]
        if start is not None:
            conditions.append(self.expression >= start)
        if raw == "overdue":
            conditions.append(Opportunity.closed_at.is_(None))
        return {self.key: raw}, {}, conditions


@dataclass(frozen=True)
class AmountFilter(Filter):
    """``?key=1000``: the amount is at least (``upper=False``) or at most that number."""

    upper: bool = False

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        raw = (args.get(self.key) or "").strip()[:MAX_TEXT]
        if not raw:
            return {}, {}, []
        try:
            value = Decimal(raw.replace(",", "").replace(" ", ""))
        except (InvalidOperation, ValueError):
            return {}, {self.key: raw}, []
        if not value.is_finite():
            return {}, {self.key: raw}, []
        return {self.key: raw}, {}, [self.expression <= value if self.upper else self.expression >= value]


@dataclass(frozen=True)
class TeamFilter(Filter):
    """``?team=<id>``: deals of the team, or owned by one of its members or its manager."""

    kind: ClassVar[str] = "choice"

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        raw = (args.get(self.key) or "").strip()[:MAX_TEXT]
        if not raw:
            return {}, {}, []
        team_id = next((value for value, _label in options if str(value) == raw), None)
        if team_id is None:
            return {}, {self.key: raw}, []
        people = select(TeamMember.user_id).where(TeamMember.team_id == team_id).union(
            select(Team.manager_id).where(Team.id == team_id, Team.manager_id.is_not(None)))
        return {self.key: raw}, {}, [or_(Opportunity.team_id == team_id, Opportunity.owner_id.in_(people))]


CLOSE_PERIODS = [("this_month", _l("This month")), ("next_month", _l("Next month")),
                 ("this_quarter", _l("This quarter")), ("overdue", _l("Overdue"))]

# The board and the list (plugins.sales.opportunities_views.OPPORTUNITIES) read these same
# filters, so a link from one to the other keeps what the user chose.
SHARED_FILTERS: list[Filter] = [
    Filter("owner", _l("Owner"), Opportunity.owner_id, choices=member_choices),
    TeamFilter("team", _l("Team"), Opportunity.team_id, choices=team_choices),
    ClosePeriodFilter("close", _l("Close period"), Opportunity.expected_close_date, choices=CLOSE_PERIODS),
    DateRangeFilter("close", _l("Expected close"), Opportunity.expected_close_date),
    AmountFilter("min_amount", _l("Amount from"), Opportunity.amount),
    AmountFilter("max_amount", _l("Amount up to"), Opportunity.amount, upper=True),
]
FILTER_PARAMS = ("q", *(param for filter_ in SHARED_FILTERS for param in filter_.params()))


@dataclass
class BoardFilters:
    """The filters a request set: the values in use (for links), the ignored ones (to say
    so), the SQL conditions they give, and each filter's options (for the controls)."""

    values: dict[str, str] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    conditions: list[Any] = field(default_factory=list)
    options: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)

    @property
    def dated_only(self) -> bool:
        """Whether a close period or date range is in use: undated deals are then left out."""
        return any(key in self.values for key in ("close", "close_from", "close_to"))


def parse_filters(args: Mapping[str, Any]) -> BoardFilters:
    """Read the shared filters and the search ``q`` from a query string (or a form): the
    same parsing as the list's (each filter's own ``parse``). Callable choices (owners,
    teams) are read once each."""
    result = BoardFilters()
    for filter_ in SHARED_FILTERS:
        options = filter_.options()
        result.options[filter_.key + ":" + filter_.kind] = options
        values, invalid, conditions = filter_.parse(args, options)
        result.values.update(values)
        result.invalid.update(invalid)
        result.conditions.extend(conditions)
    q = (args.get("q") or "").strip()[:MAX_TEXT]
    if q:
        result.values["q"] = q
        result.conditions.append(text_matches(Opportunity.name, q.split()))  # the name's text index
    return result


# -- the board ---------------------------------------------------------------------------------------


@dataclass
class Card:
    """One deal on the board."""

    id: int
    name: str
    stage_id: int
    account_id: int | None
    amount: Decimal
    currency: str
    expected_close_date: date | None
    closed_at: datetime | None
    owner_id: int | None
    next_follow_up_at: datetime | None
    account_name: str | None = None
    owner_name: str | None = None
    overdue: bool = False
    follow_up_overdue: bool = False


@dataclass
class BoardColumn:
    """One stage: its figures, its first cards and the cursor of the next ones."""

    stage: Stage
    count: int = 0
    total: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")
    cards: list[Card] = field(default_factory=list)
    after: str | None = None  # the "load more" cursor, when there are more cards

    @property
    def closed(self) -> bool:
        return bool(self.stage.is_won or self.stage.is_lost)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def pipeline_stages(session: Session, pipeline_id: int) -> list[Stage]:
    return list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id)
                                .order_by(Stage.position, Stage.id)))


def closed_since(now: datetime | None = None) -> datetime:
    """Closed columns show the deals closed from this moment on."""
    return (now or utcnow()) - timedelta(days=RECENTLY_CLOSED_DAYS)


def _matching(statement: Any, pipeline_id: int, filters: BoardFilters) -> Any:
    statement = statement.where(Opportunity.pipeline_id == pipeline_id, *filters.conditions)
    return visible(statement, Opportunity, OPPORTUNITY_TYPE)


def _tallied(filters: BoardFilters, scope: Scope | None) -> bool:
    """Whether the open columns' figures may come from the tally kept per stage and owner:
    when the reader's visibility is known as owners and no filter but the owner is set."""
    return scope is not None and set(filters.values) <= {"owner"}


def _open_figures_from_tally(pipeline_id: int, open_ids: list[int], filters: BoardFilters,
                             scope: Scope) -> Select[Any]:
    tally = BoardOpen
    statement = (select(tally.stage_id, func.sum(tally.n).label("count"),
                        func.coalesce(func.sum(tally.amount), 0).label("total"),
                        func.coalesce(func.sum(tally.weighted), 0).label("weighted"))
                 .where(tally.company_id == scope.company_id, tally.pipeline_id == pipeline_id,
                        tally.stage_id.in_(open_ids))
                 .group_by(tally.stage_id).having(func.sum(tally.n) != 0))
    if "owner" in filters.values:
        statement = statement.where(tally.owner_id == int(filters.values["owner"]))
    return scope.restrict(statement, tally.owner_id)


def column_figures(session: Session, pipeline_id: int, stages: Sequence[Stage], filters: BoardFilters,
                   since: datetime, scope: Scope | None = None) -> dict[int, tuple[int, Decimal, Decimal]]:
    """``{stage id: (count, total, weighted total)}`` of the deals on the board: one statement.

    The open columns read :class:`~plugins.sales.models.BoardOpen` (a few rows per stage)
    when ``scope`` (the reader's visibility as owners) is given and no filter but the owner is
    set; else they add up the deals themselves, which takes SQLite some 50 ms per 350,000
    open deals. Closed columns show recent deals only: few rows, read from the deals."""
    open_ids = [stage.id for stage in stages if not (stage.is_won or stage.is_lost)]
    closed_ids = [stage.id for stage in stages if stage.is_won or stage.is_lost]
    weighted = Opportunity.amount * Opportunity.probability / 100
    figures = select(Opportunity.stage_id, func.count().label("count"),
                     func.coalesce(func.sum(Opportunity.amount), 0).label("total"),
                     func.coalesce(func.sum(weighted), 0).label("weighted"))
    parts = []
    if open_ids and _tallied(filters, scope):
        parts.append(_open_figures_from_tally(pipeline_id, open_ids, filters, scope))  # type: ignore[arg-type]
    elif open_ids:
        parts.append(_matching(figures, pipeline_id, filters)
                     .where(Opportunity.stage_id.in_(open_ids), Opportunity.closed_at.is_(None))
                     .group_by(Opportunity.stage_id))
    if closed_ids:
        parts.append(_matching(figures, pipeline_id, filters)
                     .where(Opportunity.stage_id.in_(closed_ids), Opportunity.closed_at >= since)
                     .group_by(Opportunity.stage_id))
    if not parts:
        return {}
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    return {stage_id: (int(count), _money(total), _money(weighted_total))
            for stage_id, count, total, weighted_total in session.execute(statement)}


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


_CARD_COLUMNS = (Opportunity.id, Opportunity.name, Opportunity.stage_id, Opportunity.account_id, Opportunity.amount,
                 Opportunity.currency, Opportunity.expected_close_date, Opportunity.closed_at, Opportunity.owner_id,
                 Opportunity.next_follow_up_at)


def encode_cursor(stage: Stage, card: Card) -> str:
    value = card.closed_at if stage.is_won or stage.is_lost else card.expected_close_date
    return f"{value.isoformat() if value is not None else ''}_{card.id}"


def decode_cursor(stage: Stage, raw: str) -> tuple[date | datetime | None, int] | None:
    """The ``(value, id)`` of a cursor, or ``None`` when it is not one."""
    value, _sep, ident = (raw or "").strip().rpartition("_")
    try:
        card_id = int(ident)
        if not value:
            return (None, card_id) if not (stage.is_won or stage.is_lost) else None
        if stage.is_won or stage.is_lost:
            return _aware(datetime.fromisoformat(value)), card_id
        return date.fromisoformat(value), card_id
    except ValueError:
        return None


def _open_parts(base: Any, stage_id: int, after: tuple[Any, int] | None, limit: int,
                dated_only: bool) -> list[Any]:
    """Dated deals soonest first, then undated ones by id: each an index range of the board
    index (an ``ORDER BY`` with NULLs last could not use it)."""
    date_col, id_col = Opportunity.expected_close_date, Opportunity.id
    # An open deal has no closed_at: saying so lets the board index serve both ranges.
    dated = base.where(Opportunity.stage_id == stage_id, Opportunity.closed_at.is_(None), date_col.is_not(None))
    undated = base.where(Opportunity.stage_id == stage_id, Opportunity.closed_at.is_(None), date_col.is_(None))
    if after is not None:
        value, card_id = after
        if value is None:
            dated = None
            undated = undated.where(id_col > card_id)
        else:
            dated = dated.where(or_(date_col > value, and_(date_col == value, id_col > card_id)))
    parts = []
    if dated is not None:
        parts.append(dated.order_by(date_col, id_col).limit(limit))
    # Ordered as the index is (the dates are all NULL): the planner then keeps to the board index.
    if not dated_only:  # (asked anyway, the planner would read every open deal to find none)
        parts.append(undated.order_by(date_col, id_col).limit(limit))
    return parts


def _closed_part(base: Any, stage_id: int, since: datetime, after: tuple[Any, int] | None, limit: int) -> Any:
    """The recently closed deals of a won or lost stage, last closed first."""
    closed_col, id_col = Opportunity.closed_at, Opportunity.id
    statement = base.where(Opportunity.stage_id == stage_id, closed_col >= since)
    if after is not None:
        value, card_id = after
        statement = statement.where(or_(closed_col < value, and_(closed_col == value, id_col < card_id)))
    return statement.order_by(closed_col.desc(), id_col.desc()).limit(limit)


def _card_sort_key(stage: Stage) -> Any:
    if stage.is_won or stage.is_lost:
        return lambda card: (-(_aware(card.closed_at).timestamp() if card.closed_at else 0), -card.id)
    return lambda card: (card.expected_close_date is None, card.expected_close_date or date.min, card.id)


def column_cards(session: Session, pipeline_id: int, stages: Sequence[Stage], filters: BoardFilters,
                 since: datetime, *, after: Mapping[int, tuple[Any, int]] | None = None,
                 limit: int = CARDS_PER_COLUMN) -> dict[int, tuple[list[Card], bool]]:
    """``{stage id: (its first `limit` cards, whether there are more)}``: one statement."""
    base = _matching(select(*_CARD_COLUMNS), pipeline_id, filters)
    parts: list[Any] = []
    for stage in stages:
        cursor = (after or {}).get(stage.id)
        if stage.is_won or stage.is_lost:
            parts.append(_closed_part(base, stage.id, since, cursor, limit + 1))
        else:
            parts.extend(_open_parts(base, stage.id, cursor, limit + 1, filters.dated_only))
    if not parts:
        return {}
    # SQLite takes ORDER BY and LIMIT inside a compound select only in a subquery.
    wrapped = [select(*part.subquery().c) for part in parts]
    statement = wrapped[0] if len(wrapped) == 1 else union_all(*wrapped)
    by_stage: dict[int, list[Card]] = {stage.id: [] for stage in stages}
    for row in session.execute(statement):
        by_stage[row.stage_id].append(Card(**row._asdict()))
    result = {}
    for stage in stages:
        cards = sorted(by_stage[stage.id], key=_card_sort_key(stage))
        result[stage.id] = (cards[:limit], len(cards) > limit)
    return result


def decorate(session: Session, cards: Iterable[Card], stages: Mapping[int, Stage], now: datetime | None = None) -> None:
    """Fill the cards' account and owner names (one query each) and their overdue markers:
    an open deal whose close date has passed, or whose next follow-up is late."""
    from core.models import User

    cards = list(cards)
    now = _aware(now or utcnow())
    today = now.date()
    accounts = account_names(session, {card.account_id for card in cards if card.account_id})
    owner_ids = {card.owner_id for card in cards if card.owner_id}
    owners = dict(session.execute(select(User.id, User.name).where(User.id.in_(owner_ids))).all()) if owner_ids else {}
    for card in cards:
        stage = stages.get(card.stage_id)
        is_open = stage is not None and not (stage.is_won or stage.is_lost)
        card.account_name = accounts.get(card.account_id)
        card.owner_name = owners.get(card.owner_id)
        card.amount = _money(card.amount)
        card.follow_up_overdue = is_open and card.next_follow_up_at is not None \
            and _aware(card.next_follow_up_at) < now
        card.overdue = card.follow_up_overdue or (
            is_open and card.expected_close_date is not None and card.expected_close_date < today)


def board_columns(session: Session, pipeline_id: int, filters: BoardFilters,
                  only: Iterable[int] | None = None, scope: Scope | None = None) -> list[BoardColumn]:
    """The columns of the pipeline's board (or only the stages ``only``): figures and first
    cards. Four queries whatever the number of deals or stages, plus the stages' one.
    ``scope``: the reader's visibility as owners (:func:`plugins.sales.scope.reader_scope`),
    which lets the figures come from the tally."""
    stages = pipeline_stages(session, pipeline_id)
    if only is not None:
        wanted = set(only)
        stages = [stage for stage in stages if stage.id in wanted]
    since = closed_since()
    figures = column_figures(session, pipeline_id, stages, filters, since, scope)
    cards = column_cards(session, pipeline_id, stages, filters, since)
    decorate(session, (card for shown, _more in cards.values() for card in shown), {s.id: s for s in stages})
    columns = []
    for stage in stages:
        count, total, weighted = figures.get(stage.id, (0, Decimal("0"), Decimal("0")))
        shown, more = cards.get(stage.id, ([], False))
        columns.append(BoardColumn(stage, count, total, weighted, shown,
                                   encode_cursor(stage, shown[-1]) if more and shown else None))
    return columns


def more_cards(session: Session, pipeline_id: int, stage: Stage, filters: BoardFilters,
               after: tuple[Any, int]) -> BoardColumn:
    """The next cards of one column after the cursor ``after``."""
    cards = column_cards(session, pipeline_id, [stage], filters, closed_since(), after={stage.id: after})
    shown, more = cards.get(stage.id, ([], False))
    decorate(session, shown, {stage.id: stage})
    return BoardColumn(stage, cards=shown, after=encode_cursor(stage, shown[-1]) if more and shown else None)
