"""Fixture: dashboard widgets with tied orders, a permission, a wide one, and a badly named key."""
from core import DashboardWidget, Permission, hookimpl


def _response():
    from flask import make_response

    return make_response("<p>Wide chart body</p>")


@hookimpl
def permissions():
    return [Permission("fx_widgets_a.secret.read", "See secret figures")]


@hookimpl
def dashboard_widgets(user):
    return [
        DashboardWidget(key="fx_widgets_a.zeta", title="Zeta figures", render=lambda: "<p>Zeta body</p>", order=10),
        DashboardWidget(key="fx_widgets_a.alpha", title="Alpha figures", render=lambda: "<p>Alpha body</p>", order=10),
        DashboardWidget(key="fx_widgets_a.secret", title="Secret figures", render=lambda: "<p>Secret body</p>",
                        order=5, permission="fx_widgets_a.secret.read"),
        DashboardWidget(key="fx_widgets_a.wide", title="Wide chart", render=_response, order=50, size="wide"),
        DashboardWidget(key="other.sneaky", title="Sneaky widget", render=lambda: "<p>Sneaky</p>"),
    ]
