"""Default deny: every route says who may use it (public, any signed-in user, or a permission).

The walk over the URL map (``core.access.route_access_problems``) is what plugin authors run
in their own suites too.
"""

from __future__ import annotations

import pytest

from core.access import require_permission, route_access_problems
from core.auth import public, signed_in
from tests.core.test_roles import PLUGIN, role_plugins_folder  # noqa: F401  (a fixture)


def new_problems(app, add_route) -> list[str]:
    """The problems ``add_route(app)`` brings (whatever the rest of the app has)."""
    before = set(route_access_problems(app))
    add_route(app)
    return [problem for problem in route_access_problems(app) if problem not in before]


def test_every_route_of_the_core_says_who_may_use_it(app):
    problems = route_access_problems(app)
    assert not problems, "routes that do not say who may use them:\n" + "\n".join(problems)


def test_every_route_of_a_plugin_says_who_may_use_it_too(plugin_app):
    assert any(rule.endpoint.startswith(f"{PLUGIN}.") for rule in plugin_app.url_map.iter_rules())
    assert route_access_problems(plugin_app, blueprints=[PLUGIN]) == []


@pytest.fixture
def plugin_app(tmp_path, role_plugins_folder):
    from core import create_app

    return create_app({
        "CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
        "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CRM_CHECK_SCHEMA": False,
        "CRM_PLUGIN_MODULES": [PLUGIN], "CRM_PLUGINS": [PLUGIN],
    })


def test_a_route_that_says_nothing_is_reported_with_its_rule_and_endpoint(app):
    assert new_problems(app, lambda a: a.add_url_rule("/_test/forgotten", "forgotten", lambda: "ok")) == [
        "/_test/forgotten (forgotten) does not say who may use it: mark the view @public, "
        "@signed_in or @require_permission(code)"
    ]


def test_a_route_requiring_a_permission_nobody_declares_is_reported(app):
    view = require_permission("core.users.invtie")(lambda: "ok")

    assert new_problems(app, lambda a: a.add_url_rule("/_test/typo", "typo", view)) == [
        "/_test/typo (typo) requires permission 'core.users.invtie', which nothing declares"
    ]


def test_a_public_route_that_also_asks_for_a_permission_is_reported(app):
    view = public(require_permission("core.users.invite")(lambda: "ok"))

    assert new_problems(app, lambda a: a.add_url_rule("/_test/both", "both", view)) == [
        "/_test/both (both) is @public and also asks for a signed-in user or a permission"
    ]


@pytest.mark.parametrize("marker", [public, signed_in, require_permission("core.users.invite")])
def test_each_marker_is_enough_to_say_who_may_use_a_route(app, marker):
    view = marker(lambda: "ok")
    assert new_problems(app, lambda a: a.add_url_rule("/_test/marked", "marked", view)) == []


def test_a_class_based_view_may_carry_the_marker_on_its_class(app):
    from flask.views import MethodView

    @signed_in
    class Things(MethodView):
        def get(self):
            return "ok"

    assert new_problems(app, lambda a: a.add_url_rule("/_test/things", view_func=Things.as_view("things"))) == []


def test_a_signed_in_page_needs_sign_in_but_no_permission(app, client, company, login_as):
    from tests.core.test_roles import add_member

    assert client.get("/account/password").status_code == 302
    login_as(add_member(app, company.id, "rita@acme.test"))
    assert client.get("/account/password").status_code == 200


def test_public_pages_open_without_sign_in(client):
    assert client.get("/login").status_code == 200
    assert client.get("/password/reset").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_a_method_view_counts_as_declared_when_every_method_handler_is_marked():
    from flask.views import MethodView

    from core.auth import PERMISSION, view_marker

    class Both(MethodView):
        def get(self): ...
        def post(self): ...

    Both.get._crm_permission = "x.read"  # type: ignore[attr-defined]
    assert view_marker(Both.as_view("both"), PERMISSION) is None  # post is not marked
    Both.post._crm_permission = "x.write"  # type: ignore[attr-defined]
    assert view_marker(Both.as_view("both2"), PERMISSION) == "x.read"
