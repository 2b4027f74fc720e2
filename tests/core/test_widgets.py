"""Ready-made dashboard widget bodies (core.widgets): a number, a list, a chart."""

from __future__ import annotations

import json
import re

import pytest

from core.widgets import chart

PLUGINS = ["fx_widget_kinds"]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def signed_in(client, company, login_as):
    company.enable(*PLUGINS)
    login_as(company.admin)
    return client


def body(client, key):
    response = client.get(f"/dashboard/widgets/fx_widget_kinds.{key}", headers=HTMX)
    return response.status_code, response.text


def test_a_number_widget_shows_the_figure_its_caption_link_and_change(signed_in):
    status, html = body(signed_in, "number")
    assert status == 200
    assert '<a href="/search?q=open" class="widget-number-value">42</a>' in html
    assert "open items" in html and "+3 this week" in html


def test_a_list_widget_escapes_labels_and_shows_notes(signed_in):
    status, html = body(signed_in, "list")
    assert status == 200
    assert '<a href="/first">First &lt;item&gt;</a>' in html
    assert "Second" in html and "yesterday" in html
    assert "Nothing recent" not in html


def test_an_empty_list_widget_says_so(signed_in):
    assert "Nothing recent" in body(signed_in, "empty")[1]


def test_a_chart_widget_carries_its_data_for_chartjs_and_a_table_for_screen_readers(signed_in):
    status, html = body(signed_in, "chart")
    assert status == 200
    canvas_id = re.search(r'<canvas id="([^"]+)" data-chart role="img" aria-label="Items opened and closed per month">', html).group(1)
    config = json.loads(re.search(rf'<script type="application/json" data-chart-config="{canvas_id}">(.*?)</script>', html, re.S).group(1))
    assert config["type"] == "bar"
    assert config["data"]["labels"] == ["Jan", "Feb", "Mar"]
    assert config["data"]["datasets"] == [{"label": "Opened", "data": [3, 5, 2]}, {"label": "Closed", "data": [1, 4, 6]}]
    table_rows = re.findall(r"<tr><th scope=\"row\">(\w+)</th><td>(\d+)</td><td>(\d+)</td></tr>", html)
    assert table_rows == [("Jan", "3", "1"), ("Feb", "5", "4"), ("Mar", "2", "6")]


def test_a_chart_with_a_series_of_the_wrong_length_fails_in_its_own_card(signed_in):
    status, html = body(signed_in, "bad_chart")
    assert status == 500
    assert "could not load" in html


def test_the_home_page_loads_chartjs_only_when_it_has_widgets(signed_in, company):
    assert "chart.umd.min.js" in signed_in.get("/").text
    company.disable("fx_widget_kinds")
    assert "chart.umd.min.js" not in signed_in.get("/").text


def test_chart_refuses_an_unknown_kind(app):
    with app.test_request_context(), pytest.raises(ValueError, match="chart kind must be one of"):
        chart("radar-ish", ["a"], {"x": [1]}, caption="c")


def test_chart_data_cannot_break_out_of_its_script_element(app):
    with app.test_request_context():
        html = chart("pie", ["</script><script>alert(1)</script>"], {"s": [1]}, caption="c")
    assert "</script><script>alert(1)" not in html
