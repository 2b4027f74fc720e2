"""The floor of a list page: the same rows fetched with the plain database driver (``sqlite3``
or psycopg, no SQLAlchemy, no Flask) and rendered by a minimal template. What no framework
can beat; a page's time is reported as a multiple of it."""

from __future__ import annotations

import re
import sqlite3
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Template

TEMPLATE = Template(
    "<!doctype html><title>floor</title><table>"
    "{% for row in rows %}<tr>{% for value in row %}<td>{{ value }}</td>{% endfor %}</tr>{% endfor %}"
    "</table>")
_NAMED = re.compile(r"(?<!:):([A-Za-z_]\w*)")


def connect(url: Any, cache_mb: int = 64) -> Callable[[], Any]:
    """A function opening a plain driver connection to the database of ``url`` (a SQLAlchemy
    URL), with the settings the application uses that matter for reading."""
    if url.get_backend_name() == "sqlite":
        def open_sqlite() -> sqlite3.Connection:
            connection = sqlite3.connect(url.database)
            connection.execute(f"PRAGMA cache_size={-1024 * cache_mb}")  # as core.db sets it
            return connection

        return open_sqlite
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return lambda: psycopg.connect(conninfo)


def measure_floor(open_connection: Callable[[], Any], dialect: str, sql: str, params: Mapping[str, Any],
                  runs: int, warm_up: int = 3) -> tuple[float, int]:
    """The median milliseconds of fetching and rendering the rows, and how many rows."""
    statement = sql if dialect == "sqlite" else _NAMED.sub(r"%(\1)s", sql)
    connection = open_connection()
    try:
        def once() -> int:
            cursor = connection.cursor()
            cursor.execute(statement, dict(params))
            rows = cursor.fetchall()
            TEMPLATE.render(rows=rows)
            return len(rows)

        for _ in range(warm_up):
            count = once()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            once()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times), count
    finally:
        connection.close()
