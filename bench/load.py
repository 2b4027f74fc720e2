"""Concurrent load through a real WSGI server.

The suite starts ``crm serve`` (gunicorn) on the benchmark's data and runs this module in a
second process: ``python -m bench.load BASE_URL --email E --password P --concurrency N
--seconds S PATH...``. It signs in once (a real form post with its CSRF token), then, for each
path in turn, keeps N connections busy for S seconds and prints one JSON line per path:
requests per second, p50 and p99 latency in milliseconds, and the count of errors (any answer
other than 200, or a failed connection).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from bench.report import percentile

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _connection(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)


def sign_in(base: str, email: str, password: str) -> str:
    """The session cookie of a signed-in user."""
    connection = _connection(base)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
    token = _CSRF.search(page)
    form = {"email": email, "password": password, **({"csrf_token": token.group(1)} if token else {})}
    connection.request("POST", "/login", body=urlencode(form),
                       headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = connection.getresponse()
    response.read()
    signed_in = (response.getheader("Set-Cookie") or cookie).split(";")[0]
    if response.status != 302:
        raise SystemExit(f"signing in as {email} answered {response.status}")
    return signed_in


def hammer(base: str, cookie: str, path: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """Keep ``concurrency`` connections requesting ``path`` for ``seconds``."""
    target = quote(path, safe="/?&=%+:")  # http.client sends ASCII only: "q=明达" as UTF-8 escapes
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = _connection(base)
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                connection.request("GET", target, headers={"Cookie": cookie})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):  # a dropped connection: count it, reconnect
                ok = False
                connection.close()
                connection = _connection(base)
            if ok:
                mine.append((time.perf_counter() - start) * 1000)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def at(share: float) -> float:
        return percentile(latencies, share) if latencies else 0.0

    return {"path": path, "requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": at(0.50),
            "p99_ms": at(0.99), "errors": errors[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args(argv)
    cookie = sign_in(options.base, options.email, options.password)
    for path in options.paths:
        print(json.dumps(hammer(options.base, cookie, path, options.concurrency, options.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
