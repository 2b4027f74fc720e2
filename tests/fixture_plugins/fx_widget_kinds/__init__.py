"""Fixture: dashboard widgets built with core.widgets."""
from core import DashboardWidget, hookimpl
from core.widgets import ListEntry, chart, link_list, number


@hookimpl
def dashboard_widgets(user):
    return [
        DashboardWidget(key="fx_widget_kinds.number", title="Open items",
                        render=lambda: number(42, "open items", url="/search?q=open", change="+3 this week")),
        DashboardWidget(key="fx_widget_kinds.list", title="Recent items",
                        render=lambda: link_list([ListEntry("First <item>", "/first"), ListEntry("Second", note="yesterday")],
                                                 empty="Nothing recent")),
        DashboardWidget(key="fx_widget_kinds.empty", title="Quiet items",
                        render=lambda: link_list([], empty="Nothing recent")),
        DashboardWidget(key="fx_widget_kinds.chart", title="Items per month", size="wide",
                        render=lambda: chart("bar", ["Jan", "Feb", "Mar"], {"Opened": [3, 5, 2], "Closed": [1, 4, 6]},
                                             caption="Items opened and closed per month")),
        DashboardWidget(key="fx_widget_kinds.bad_chart", title="Broken chart",
                        render=lambda: chart("bar", ["Jan", "Feb"], {"Opened": [3]}, caption="Broken")),
    ]
