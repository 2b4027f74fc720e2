"""The benchmark suite's pieces (bench/), on the small demo: every page a plugin names answers
and its floor runs, the tasks run, the load test counts what it sees, and the report names what
is over budget. (The suite itself, on the large data, is run by hand: ``python -m bench``.)"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from bench.__main__ import ADMIN_EMAIL, ADMIN_PASSWORD, collect, verdict
from bench.floor import connect, measure_floor
from bench.load import hammer, sign_in
from bench.measure import measure
from bench.report import Row, Section, over_budget, percentile, render_markdown, render_text, write_results
from core.cli import create_user
from core.db import get_database, get_session
from core.demo import SIZES, create_demo


@pytest.fixture
def crm_plugins():
    return ["customers", "sales"]


@pytest.fixture
def demo(app):
    with app.app_context():
        session = get_session()
        company, _plugins = create_demo(session, app.extensions["crm.plugins"], SIZES["small"], lambda company: (
            create_user(ADMIN_EMAIL, "Demo Administrator", ADMIN_PASSWORD, company, admin=True)))
        session.commit()
        return company.id


@pytest.fixture
def benchmarked(app, demo):
    company_id, pages, tasks = collect(app)
    assert company_id == demo
    return pages, tasks


def test_the_plugins_name_the_pages_the_issues_give_budgets_to(benchmarked):
    pages, tasks = benchmarked
    budgets = {page.label: page.budget_ms for page in pages if page.budget_ms is not None}
    assert budgets == {"account list, filter + search": 50, "account page": 50, "account timeline panel": 50,
                       "board of one pipeline": 100, "lead list, filter": 100, "funnel report, all deals": 100}
    assert {task.label: task.budget_s for task in tasks} == {
        "customers: import 100,000 accounts (CSV)": 15, "sales: pool recycling, first run": 10,
        "sales: pool recycling, next day": 10, "sales: pool recycling, a month later": 10}


def test_every_benchmarked_page_answers_and_is_measured_with_its_queries(app, client, benchmarked):
    pages, _tasks = benchmarked
    client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    for page in pages:
        timing = measure(client, page.path, runs=2, warm_up=1)
        assert timing.median_ms > 0 and timing.p95_ms >= timing.median_ms, page.label
        assert 0 < timing.queries < 30, (page.label, timing.queries)


def test_each_floor_runs_with_the_plain_driver_and_returns_at_most_a_page(app, benchmarked):
    pages, _tasks = benchmarked
    with app.app_context():
        engine = get_database().engine
        floors = [page for page in pages if page.floor]
        assert {page.label for page in floors} >= {"account list, filter + search", "lead list, filter"}
        for page in floors:
            milliseconds, rows = measure_floor(connect(engine.url), engine.dialect.name,
                                               page.floor[engine.dialect.name], page.floor_params, runs=1, warm_up=1)
            assert milliseconds > 0 and 0 <= rows <= 25, page.label
        first_page = next(page for page in floors if page.label == "account list, first page")
        _ms, rows = measure_floor(connect(engine.url), engine.dialect.name, first_page.floor[engine.dialect.name],
                                  first_page.floor_params, runs=1, warm_up=1)
        assert rows == 25  # the demo has more accounts than a page


def test_the_tasks_run_and_say_what_they_did(app, demo, benchmarked):
    from plugins.customers.benchmarking import import_accounts

    _pages, tasks = benchmarked
    with app.app_context():
        assert import_accounts(app, demo, rows=40).startswith("40 rows: ")
    for task in tasks:
        if task.label.startswith("sales:"):
            with app.app_context():
                summary = task.run(app, demo)
            assert "leads" in summary and "accounts" in summary


def test_the_load_test_signs_in_and_counts_requests_and_errors(app, demo):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        cookie = sign_in(base, ADMIN_EMAIL, ADMIN_PASSWORD)
        served = hammer(base, cookie, "/customers/accounts/?q=明达", concurrency=2, seconds=0.5)
        assert served["requests"] > 0 and served["errors"] == 0 and served["p99_ms"] >= served["p50_ms"] > 0
        missing = hammer(base, cookie, "/customers/accounts/999999", concurrency=1, seconds=0.2)
        assert missing["requests"] == 0 and missing["errors"] > 0
    finally:
        server.shutdown()


def test_a_figure_over_its_budget_is_named_with_the_page_and_the_figure():
    assert verdict("median", 120.0, 100.0, "ms") == "median 120.0 ms > budget 100 ms"
    assert verdict("median", 80.0, 100.0, "ms") is None
    assert verdict("median", 800.0, None, "ms") is None  # for information only
    pages = Section("Pages", ["page", "median"], [Row("board of one pipeline", ["120.0 ms"], "median 120.0 ms > budget 100 ms"),
                                                  Row("lead list", ["20.0 ms"])])
    assert over_budget([pages]) == ["board of one pipeline: median 120.0 ms > budget 100 ms"]
    text = render_text([pages])
    assert "board of one pipeline" in text and text.count("OVER BUDGET") == 1
    markdown = render_markdown([pages], database="SQLite 3.40", size="large", command="python -m bench")
    assert "- Machine: " in markdown and "CPUs" in markdown and "- Database: SQLite 3.40" in markdown
    assert "| board of one pipeline **over budget: median 120.0 ms > budget 100 ms** | 120.0 ms |" in markdown
    assert "| lead list | 20.0 ms |" in markdown


def test_each_database_keeps_its_own_part_of_the_performance_page(tmp_path):
    page = tmp_path / "performance.md"
    write_results(page, "sqlite", "## SQLite\n\nfirst run")
    write_results(page, "postgresql", "## PostgreSQL\n\nits run")
    write_results(page, "sqlite", "## SQLite\n\nsecond run")
    text = page.read_text()
    assert text.startswith("# Performance") and text.count("# Performance") == 1
    assert "second run" in text and "first run" not in text and "its run" in text
    assert text.index("## SQLite") < text.index("## PostgreSQL")


def test_percentiles_take_the_nearest_rank():
    values = [float(number) for number in range(1, 101)]
    assert percentile(values, 0.95) == 95.0 and percentile(values, 0.5) == 50.0 and percentile([3.0], 0.95) == 3.0
