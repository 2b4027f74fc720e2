"""Whose deals a reader may count, as owners: record visibility translated to an owner
restriction that applies alike to deals and to the tallies kept per owner (the funnel's,
the board's column headers; :mod:`plugins.sales.funnel_tally`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_login import current_user
from sqlalchemy import Select, false

from core.access import ALL, NOTHING, OWN, team_people, visibility_level
from core.db import get_session
from core.tenancy import current_company
from plugins.sales.models import Opportunity

OPPORTUNITY_TYPE = "sales.opportunity"  # the record type in roles (visibility)


@dataclass(frozen=True)
class Scope:
    """Whose deals a report counts: the company's, and among them, when ``owners`` is set,
    only those whose owner is in it (a list of ids, or SQL selecting them; record visibility
    translated to owners, see :func:`reader_scope`). One restriction that
    applies to the deals and to the tallies alike (both have an ``owner_id``)."""

    company_id: int
    owners: Any = None
    nothing: bool = False  # the reader sees no deal at all

    def clause(self, owner_column: Any) -> Any:
        """SQL condition on ``owner_column``, or ``None`` when every owner is in scope."""
        if self.nothing:
            return false()
        if self.owners is None:
            return None
        return owner_column.in_(self.owners)

    def restrict(self, statement: Select[Any], owner_column: Any = None) -> Select[Any]:
        condition = self.clause(Opportunity.owner_id if owner_column is None else owner_column)
        return statement if condition is None else statement.where(condition)



def reader_scope() -> Scope:
    """The signed-in user's record visibility on deals as owners, for the deals and the
    tallies alike: all, their own, or their teams' people and themselves (as :func:`visible`)."""
    company_id = current_company().id
    if not current_user.is_authenticated:
        return Scope(company_id, nothing=True)
    level = visibility_level(current_user, OPPORTUNITY_TYPE, company_id)
    if level == ALL:
        return Scope(company_id)
    if level == NOTHING:
        return Scope(company_id, nothing=True)
    if level == OWN:
        return Scope(company_id, [current_user.id])
    people = set(get_session().scalars(team_people(current_user.id, company_id)))
    return Scope(company_id, sorted(people | {current_user.id}))
