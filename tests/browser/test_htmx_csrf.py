"""htmx requests from any element of the shell carry the CSRF token: a real browser clicks
an hx-post button and the protected endpoint answers."""

from __future__ import annotations

import pytest
from flask import render_template_string
from playwright.sync_api import expect

from core.auth import signed_in
from core.testing import TEST_PASSWORD

PAGE = """{% extends "base.html" %}{% block content %}
<button hx-post="/_test/htmx/hello" hx-target="#answer">Say hello</button>
<p id="answer"></p>{% endblock %}"""


@pytest.fixture
def app(app):
    @signed_in
    def page():
        return render_template_string(PAGE)

    @signed_in
    def hello():
        return "Hello from the server"

    app.add_url_rule("/_test/htmx", view_func=page)
    app.add_url_rule("/_test/htmx/hello", view_func=hello, methods=["POST"])
    return app


def test_an_htmx_post_passes_csrf_protection(page, live_server, company):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/_test/htmx")
    page.get_by_role("button", name="Say hello").click()
    expect(page.locator("#answer")).to_have_text("Hello from the server")
