"""Fixture: jobs with progress (see jobs.py), a page that starts one, and periodic tasks.

POST /fx-jobs/start/<n>?outcome=ok|invalid starts the counting job in the request's
transaction, then answers 200 or 422.
"""
from flask import Blueprint, request

from core import PeriodicTask, hookimpl
from core.auth import signed_in

blueprint = Blueprint("fx_jobs_a", __name__, url_prefix="/fx-jobs")

ran = []  # periodic runs: (task, company the session is scoped to, current company id)


@blueprint.post("/start/<int:n>")
@signed_in
def start(n):
    from core.jobs import start_job
    from fx_jobs_a.jobs import count_to

    job_id = start_job(count_to, n, params={"n": n})
    return {"job": job_id}, 200 if request.args.get("outcome", "ok") == "ok" else 422


@hookimpl
def register_blueprints(app):
    return [blueprint]


def _note(name):
    from core.db import get_session
    from core.scoping import COMPANY_KEY
    from core.tenancy import current_company

    company = current_company()
    ran.append((name, get_session().info.get(COMPANY_KEY), company.id if company else None))
    return company


def tick():
    from core.events import emit

    _note("fx_jobs_a.tick")
    emit("fx_jobs_a.ticked", {})


def nightly():
    _note("fx_jobs_a.nightly")


def flaky():
    company = _note("fx_jobs_a.flaky")
    if company.slug == "beta":
        raise RuntimeError("beta's data is broken")


@hookimpl
def periodic_tasks():
    return [
        PeriodicTask("fx_jobs_a.tick", "* * * * *", tick, per_company=True),
        PeriodicTask("fx_jobs_a.nightly", "0 3 * * *", nightly, per_company=False),
        PeriodicTask("fx_jobs_a.flaky", "*/15 4-5 * * 1-5", flaky, per_company=True),
    ]
