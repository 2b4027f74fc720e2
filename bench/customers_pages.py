"""Customers at scale: the account list (a filter and a search term) and an account's page,
each under 50 ms of server time at the median, with 100,000 accounts, 200,000 contacts and
2,000,000 interactions in SQLite.

Run: python bench/customers_pages.py [--accounts N] [--runs N]
The data is written once with Core inserts into a database in a temporary folder (the
scale can be lowered with --accounts for a quick look: contacts are twice and interactions
twenty times the accounts). Server time is measured around the test client's request, which
runs the whole Flask stack in this process without a network. Exits 1 over budget.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_MS = 50.0
BATCH = 20_000


def populate(app, accounts: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Write the data set; returns (company id, the id of an account with history)."""
    from sqlalchemy import insert

    from core.access import seed_roles
    from core.db import get_session, utcnow
    from core.enablement import enable
    from core.models import Company, Membership, User
    from plugins.customers.models import Account, Contact, Interaction
    from plugins.customers.normalize import normalize_email, normalize_phone

    rng = random.Random(7)
    session = get_session()
    company = Company(name="Bench", slug="bench")
    user = User(email="bench@example.com", name="Bench Admin")
    user.set_password("bench-password")
    user.memberships.append(Membership(company=company, is_admin=True))
    session.add_all([company, user])
    session.flush()
    seed_roles(session, company)
    enable(session, app.extensions["crm.plugins"], company, "customers")
    session.commit()
    now = utcnow()
    statuses, regions = ["prospect", "active", "inactive", "churned"], ["North", "South", "East", "West"]
    connection = session.connection()

    def rows(count, make):  # type: ignore[no-untyped-def]
        for start in range(0, count, BATCH):
            yield [make(number) for number in range(start, min(count, start + BATCH))]

    def account(number):  # type: ignore[no-untyped-def]
        phone = f"+86 138 {number:08d}"
        email = f"info@account{number}.example"
        return {"company_id": company.id, "owner_id": user.id, "name": f"Account {number:06d}",
                "kind": "organisation", "industry": rng.choice(["Retail", "Food", "Software"]), "size": "",
                "region": rng.choice(regions), "address": "", "website": "", "phone": phone, "email": email,
                "phone_normalized": normalize_phone(phone), "email_normalized": normalize_email(email),
                "source": "", "tier": rng.choice("ABC"), "status": rng.choice(statuses), "notes": "",
                "created_at": now, "updated_at": now}

    for batch in rows(accounts, account):
        connection.execute(insert(Account), batch)
    for batch in rows(accounts * 2, lambda n: {
            "company_id": company.id, "owner_id": user.id, "name": f"Contact {n:07d}", "title": "",
            "department": "", "account_id": n // 2 + 1, "phone": "", "email": "", "phone_normalized": "",
            "email_normalized": "", "im_handle": "", "address": "", "consent_email": False,
            "consent_phone": False, "consent_sms": False, "consent_source": "", "created_at": now,
            "updated_at": now}):
        connection.execute(insert(Contact), batch)
    for batch in rows(accounts * 20, lambda n: {
            "company_id": company.id, "owner_id": user.id, "kind": "call",
            "occurred_at": now - timedelta(minutes=n), "summary": "Called", "participants": "", "outcome": "",
            "next_step": "", "subject_type": "customers_account", "subject_id": str(n // 20 + 1),
            "account_id": n // 20 + 1, "created_at": now, "updated_at": now}):
        connection.execute(insert(Interaction), batch)
    session.commit()
    return company.id, accounts // 2


def measure(client, path: str, runs: int) -> float:  # type: ignore[no-untyped-def]
    client.get(path)  # warm the caches and the templates
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=21)
    options = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("CRM_")]:
        del os.environ[key]
    with tempfile.TemporaryDirectory() as instance:
        os.environ["CRM_INSTANCE_PATH"] = instance
        from core import create_app, migrate

        app = create_app({"CRM_CHECK_SCHEMA": False, "WTF_CSRF_ENABLED": False})
        migrate.upgrade(app)
        started = time.perf_counter()
        with app.app_context():
            _company_id, account_id = populate(app, options.accounts)
        print(f"data written in {time.perf_counter() - started:.0f} s")
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
        cases = {
            "account list, filter + search": "/customers/accounts/?status=active&q=Account 0123",
            "account list, first page": "/customers/accounts/",
            "account page": f"/customers/accounts/{account_id}",
            "account timeline panel": f"/customers/follow-ups/panels/timeline/customers_account/{account_id}",
        }
        failed = False
        for label, path in cases.items():
            median = measure(client, path, options.runs)
            over = median > BUDGET_MS
            failed |= over
            print(f"{label:32} median {median:6.1f} ms  (budget {BUDGET_MS:.0f} ms)  {'OVER' if over else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
