"""Server time and queries of one request, measured in-process through Flask's test client (the
whole stack, no network)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.report import percentile
from core.testing import counting_queries


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p95_ms: float
    queries: int


def measure(client: Any, path: str, runs: int, warm_up: int = 3) -> Timing:
    """GET ``path`` ``warm_up`` times (caches, templates), then ``runs`` times, timing each; and
    count the queries of one more. Every answer must be 200."""
    for _ in range(warm_up):
        _get(client, path)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        _get(client, path)
        times.append((time.perf_counter() - start) * 1000)
    with counting_queries(client.application) as statements:
        _get(client, path)
    return Timing(statistics.median(times), percentile(times, 0.95), len(statements))


def _get(client: Any, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
