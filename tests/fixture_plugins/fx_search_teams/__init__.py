"""Fixture: a search hook over core_team, relying on automatic company scoping."""
from core import SearchResult, hookimpl


@hookimpl
def search(query, user, limit):
    from sqlalchemy import select

    from core.db import get_session
    from core.models import Team

    teams = get_session().scalars(select(Team).where(Team.name.ilike(f"%{query}%")).limit(limit))
    return [SearchResult(kind="Teams", title=team.name, url=f"/teams/{team.id}",
                         score=2.0 if team.name.lower().startswith(query.lower()) else 1.0)
            for team in teams]
