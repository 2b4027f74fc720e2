"""Sales at scale: the board of one pipeline, the lead list with a filter and the funnel report
over all opportunities, each under 100 ms of server time at the median, with 200,000 leads and
500,000 opportunities (and their stage history) in SQLite.

Run: python bench/sales_pages.py [--leads N] [--opportunities N] [--runs N]
The data (``sales_data.py``) is written once with Core inserts into a database in a temporary
folder. Server time is measured around the test client's request, which runs the whole Flask
stack in this process without a network, signed in as the company's administrator (who sees
every deal). Exits 1 over budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import measure  # noqa: E402  (after the path is set)

BUDGET_MS = 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--opportunities", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=21)
    options = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("CRM_")]:
        del os.environ[key]
    with tempfile.TemporaryDirectory() as instance:
        os.environ["CRM_INSTANCE_PATH"] = instance
        from bench import sales_data
        from core import create_app, migrate

        app = create_app({"CRM_CHECK_SCHEMA": False, "WTF_CSRF_ENABLED": False})
        migrate.upgrade(app)
        started = time.perf_counter()
        with app.app_context():
            world = sales_data.populate(app, leads_count=options.leads, opportunities_count=options.opportunities,
                                        accounts_count=max(1000, options.opportunities // 10))
        print(f"data written in {time.perf_counter() - started:.0f} s")
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        cases = {
            "board of one pipeline": f"/sales/opportunities/board?pipeline={world.pipeline_id}",
            "lead list, filter": "/sales/leads/?status=qualified",
            "funnel report, all deals": "/sales/reports/funnel?period=all",
        }
        informational = {
            "board, one owner": f"/sales/opportunities/board?pipeline={world.pipeline_id}&owner={world.rep_ids[3]}",
            "lead list, filter + search": "/sales/leads/?status=new&q=prospect12",
            "opportunity list": "/sales/opportunities/",
            "funnel report, by owner": "/sales/reports/funnel?period=all&group=owner",
        }
        failed = False
        for label, path in cases.items():
            median = measure(client, path, options.runs)
            over = median > BUDGET_MS
            failed |= over
            print(f"{label:30} median {median:6.1f} ms  (budget {BUDGET_MS:.0f} ms)  {'OVER' if over else 'ok'}")
        for label, path in informational.items():
            print(f"{label:30} median {measure(client, path, options.runs):6.1f} ms  (for information)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
