"""Start-up time: ``crm --help`` and ``create_app()`` with every built-in plugin and the schema
check against the benchmark's database, each in a fresh interpreter (what a user waits for)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 1.0
CRM = str(Path(sys.executable).parent / "crm")
CASES = {
    "crm --help": [CRM, "--help"],
    "create_app()": [sys.executable, "-c", "from core import create_app; create_app()"],
}


def _timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def startup_times(env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Seconds of each case, ``runs`` times, in the environment ``env``, after one run that
    is not counted (it compiles the modules, once, as a first start after installing does)."""
    times = {}
    for label, args in CASES.items():
        _timed(args, env)
        times[label] = [_timed(args, env) for _ in range(runs)]
    return times

