"""Fixture: a widget that runs a query when rendered, and one whose render raises."""
from core import DashboardWidget, hookimpl


def _team_count():
    from sqlalchemy import func, select

    from core.db import get_session
    from core.models import Team

    return f"<p>{get_session().scalar(select(func.count()).select_from(Team))} teams</p>"


def _broken():
    raise RuntimeError("chart service unavailable")


@hookimpl
def dashboard_widgets():  # an implementation may take none of the arguments
    return [
        DashboardWidget(key="fx_widgets_b.teams", title="Team count", render=_team_count, order=20),
        DashboardWidget(key="fx_widgets_b.broken", title="Broken chart", render=_broken, order=30),
    ]
