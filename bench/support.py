"""What the page benchmarks share: the server time of a request, measured in-process."""

from __future__ import annotations

import statistics
import time
from typing import Any


def measure(client: Any, path: str, runs: int) -> float:
    """The median time in milliseconds of ``runs`` GET requests to ``path`` through the test
    client (the whole Flask stack in this process, no network), after one to warm the caches
    and the templates. Every answer must be 200."""
    client.get(path)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)
