"""Start-up budget: `crm --help` and `create_app()` with every built-in plugin, under 1 s.

Run: python bench/startup.py [--runs N]
Each measurement is a fresh interpreter (what a user waits for). Prints the median of N
runs per case and exits 1 when one is over its budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 1.0
CRM = str(Path(sys.executable).parent / "crm")
CREATE_APP = (
    "from core import create_app, migrate\n"
    "app = create_app({'CRM_CHECK_SCHEMA': False})\n"
    "migrate.upgrade(app)\n"
)


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as instance:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env["CRM_INSTANCE_PATH"] = instance
        # Prepare a migrated database so create_app() below includes the schema check.
        subprocess.run([sys.executable, "-c", CREATE_APP], env=env, check=True)
        cases = {
            "crm --help": [CRM, "--help"],
            "create_app()": [sys.executable, "-c", "from core import create_app; create_app()"],
        }
        failed = False
        for label, args in cases.items():
            times = [timed(args, env) for _ in range(options.runs)]
            median = statistics.median(times)
            verdict = "ok" if median <= BUDGET_SECONDS else "OVER BUDGET"
            failed |= median > BUDGET_SECONDS
            print(f"{label:14} median {median:.3f}s  (min {min(times):.3f}s, budget {BUDGET_SECONDS:.1f}s)  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
