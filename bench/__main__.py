"""The benchmark suite: ``python -m bench`` (see bench/README.md).

Makes the ``large`` demo data (``crm db upgrade`` and ``crm demo --size large`` in a fresh
instance, timed), then measures start-up, every page and task the enabled plugins name in
their ``benchmarks`` hook (server time in-process, queries per request, the floor of list
pages), the same pages through gunicorn under concurrent load from a second process, and the
tasks. Prints a table, writes ``docs/performance.md``, and exits 1 naming every figure over
its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import startup
from bench.floor import connect, measure_floor
from bench.measure import measure
from bench.report import Row, Section, over_budget, render_markdown, render_text, write_results

ROOT = Path(__file__).resolve().parent.parent
CRM = str(Path(sys.executable).parent / "crm")
# Issue 7: all of ``large`` generated on SQLite in under two minutes.
GENERATION_BUDGET_S = {"large": 120.0}
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "atrium-demo"


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["small", "medium", "large"],
                        help="the demo data to measure on (budgets hold for large)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead of SQLite")
    parser.add_argument("--instance", help="an instance folder to keep the data in, and reuse on the next run "
                                           "(default: a temporary one)")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page, after three to warm up")
    parser.add_argument("--concurrency", type=int, default=4, help="connections of the load test")
    parser.add_argument("--seconds", type=float, default=5.0, help="load test seconds per page")
    parser.add_argument("--skip-load", action="store_true", help="no load test through a WSGI server")
    parser.add_argument("--skip-tasks", action="store_true", help="no tasks (imports, jobs)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"),
                        help="where to write the results (default: docs/performance.md)")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    return parser.parse_args(argv)


def environment(instance: str, database_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRM_")}
    # Start-up is measured as a user's installation has it: with the compiled modules cached
    # (a shell that forbids writing them would make every start compile the whole code).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["CRM_INSTANCE_PATH"] = instance
    if database_url:
        env["CRM_DATABASE_URL"] = database_url
    return env


def has_demo(env: dict[str, str]) -> bool:
    check = ("from core import create_app\nfrom core.db import get_session\nfrom core.demo import demo_company\n"
             "app = create_app({'CRM_CHECK_SCHEMA': False})\n"
             "with app.app_context():\n    print(demo_company(get_session()) is not None)\n")
    subprocess.run([CRM, "db", "upgrade"], env=env, check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-c", check], env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip().endswith("True")


def generate(env: dict[str, str], size: str) -> float:
    """Make the demo data the way a user does; returns the seconds ``crm demo`` took."""
    started = time.perf_counter()
    subprocess.run([CRM, "demo", "--size", size, "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def collect(app: Any) -> tuple[int, list[Any], list[Any]]:
    """The demo company's id and the pages and tasks its enabled plugins name."""
    from core.db import get_session
    from core.demo import demo_company
    from core.enablement import enabled_plugins
    from core.hooks import BenchmarkPage, BenchmarkTask
    from core.scoping import company_scope

    manager = app.extensions["crm.plugins"]
    with app.app_context():
        session = get_session()
        company = demo_company(session)
        if company is None:
            raise SystemExit("no demo company in this database")
        enabled = enabled_plugins(session, manager, company.id)
        with company_scope(session, company.id):
            answers = manager.call_in_order("benchmarks", enabled=enabled, session=session, company=company)
        items = [item for _info, result in answers for item in (result or [])]
        return (company.id, [item for item in items if isinstance(item, BenchmarkPage)],
                [item for item in items if isinstance(item, BenchmarkTask)])


def verdict(label: str, value: float, budget: float | None, unit: str) -> str | None:
    return f"{label} {value:.1f} {unit} > budget {budget:g} {unit}" if budget is not None and value > budget else None


def measure_pages(app: Any, pages: list[Any], runs: int) -> Section:
    from core.db import get_database

    section = Section("Pages: server time in-process",
                      ["page", "median", "p95", "budget", "queries", "floor", "× floor"],
                      note="Through Flask's test client (the whole application, no network), signed in as the "
                           f"demo's administrator: {runs} requests after three to warm up. The floor is the same "
                           "rows fetched with the plain driver and rendered by a minimal template.")
    database = get_database()
    dialect = database.engine.dialect.name
    open_connection = connect(database.engine.url)
    client = app.test_client()
    client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    for page in pages:
        timing = measure(client, page.path, runs)
        floor_sql = page.floor.get(dialect)
        floor, ratio = "", ""
        if floor_sql:
            floor_ms, _rows = measure_floor(open_connection, dialect, floor_sql, page.floor_params, runs)
            floor, ratio = f"{floor_ms:.1f} ms", f"{timing.median_ms / floor_ms:.1f}"
        budget = f"{page.budget_ms:g} ms" if page.budget_ms is not None else "(information)"
        section.rows.append(Row(page.label, [f"{timing.median_ms:.1f} ms", f"{timing.p95_ms:.1f} ms", budget,
                                             str(timing.queries), floor, ratio],
                                verdict("median", timing.median_ms, page.budget_ms, "ms")))
        print(f"  {page.label}: {timing.median_ms:.1f} ms", flush=True)
    return section


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """``crm serve`` (gunicorn) on a free port, until the block ends."""
    port = free_port()
    process = subprocess.Popen([CRM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"crm serve did not start: {process.stderr.read().decode() if process.stderr else ''}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def load_test(env: dict[str, str], pages: list[Any], concurrency: int, seconds: float) -> Section:
    section = Section("Pages under load: gunicorn, 2 workers",
                      ["page", "requests/s", "p50", "p99", "errors"],
                      note=f"`crm serve --workers 2` on this machine; a second process keeps {concurrency} "
                           f"connections busy on each page for {seconds:g} s (`python -m bench.load`).")
    with server(env) as base:
        command = [sys.executable, "-m", "bench.load", base, *(page.path for page in pages),
                   "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD,
                   "--concurrency", str(concurrency), "--seconds", str(seconds)]
        result = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    by_path = {line["path"]: line for line in map(json.loads, result.stdout.splitlines())}
    for page in pages:
        figures = by_path[page.path]
        section.rows.append(Row(page.label, [f"{figures['rps']:.1f}", f"{figures['p50_ms']:.0f} ms",
                                             f"{figures['p99_ms']:.0f} ms", str(figures["errors"])],
                                f"{figures['errors']} errors" if figures["errors"] else None))
    return section


def run_tasks(app: Any, company_id: int, tasks: list[Any]) -> Section:
    section = Section("Imports and jobs", ["task", "time", "budget", "what it did"])
    for task in tasks:
        with app.app_context():
            started = time.perf_counter()
            summary = task.run(app, company_id)
            seconds = time.perf_counter() - started
        budget = f"{task.budget_s:g} s" if task.budget_s is not None else "(information)"
        section.rows.append(Row(task.label, [f"{seconds:.2f} s", budget, summary],
                                verdict("time", seconds, task.budget_s, "s")))
        print(f"  {task.label}: {seconds:.2f} s", flush=True)
    return section


def database_description(app: Any) -> str:
    from core.db import get_database

    engine = get_database().engine
    if engine.dialect.name == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL), in a file"
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SHOW server_version").scalar()
    return f"PostgreSQL {version}"


def main(argv: list[str] | None = None) -> int:
    chosen = options(argv)
    with tempfile.TemporaryDirectory() as temporary:
        instance = chosen.instance or temporary
        env = environment(instance, chosen.database_url)
        sections: list[Section] = []
        setup = Section("Data and start-up", ["measure", "time", "budget"])
        sections.append(setup)
        print(f"data: crm demo --size {chosen.size}", flush=True)
        if has_demo(env):
            print("  (reusing the demo data already there: its generation is not timed)")
        else:
            seconds = generate(env, chosen.size)
            budget = GENERATION_BUDGET_S.get(chosen.size) if not chosen.database_url else None
            setup.rows.append(Row(f"crm demo --size {chosen.size}", [f"{seconds:.1f} s",
                                                                       f"{budget:g} s" if budget else "(information)"],
                                  verdict("time", seconds, budget, "s")))
        print("start-up", flush=True)
        for label, times in startup.startup_times(env, runs=5).items():
            median = statistics.median(times)
            setup.rows.append(Row(label, [f"{median:.2f} s", f"{startup.BUDGET_S:g} s"],
                                  verdict("median", median, startup.BUDGET_S, "s")))

        os.environ.update({key: value for key, value in env.items() if key.startswith("CRM_")})
        from core import create_app
        from core.db import get_database

        app = create_app({"WTF_CSRF_ENABLED": False})
        company_id, pages, tasks = collect(app)
        print("pages", flush=True)
        with app.app_context():
            sections.append(measure_pages(app, pages, chosen.runs))
            database = database_description(app)
            dialect = get_database().engine.dialect.name
        if not chosen.skip_load:
            print("load", flush=True)
            sections.append(load_test(env, pages, chosen.concurrency, chosen.seconds))
        if not chosen.skip_tasks:
            print("tasks", flush=True)
            sections.append(run_tasks(app, company_id, tasks))

    print(render_text(sections))
    if not chosen.no_write:
        command = "python -m bench" + (f" --size {chosen.size}" if chosen.size != "large" else "") + (
            " --database-url URL" if chosen.database_url else "")
        write_results(Path(chosen.output), dialect, render_markdown(sections, database=database, size=chosen.size,
                                                                    command=command))
        print(f"\nwritten to {chosen.output}")
    problems = over_budget(sections)
    for problem in problems:
        print(f"OVER BUDGET: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
