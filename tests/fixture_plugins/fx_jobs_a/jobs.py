"""Fixture jobs."""
from core.events import emit
from core.jobs import current_job_id, report_progress, task

seen = []  # whoami: (company the session is scoped to, current company id, acting user, job id)


@task("fx_jobs_a.count")
def count_to(n):
    """Count to n, reporting each step, then record an event in the job's transaction."""
    for i in range(1, n + 1):
        report_progress(i, n, f"counted to {i}")
    emit("fx_jobs_a.counted", {"n": n})


@task("fx_jobs_a.fail")
def fail_after_writing():
    report_progress(1, 2, "half way")
    emit("fx_jobs_a.lost", {})
    raise RuntimeError("the disk is full")


@task
def whoami():
    from core.db import get_session
    from core.events import acting_user_id
    from core.scoping import COMPANY_KEY
    from core.tenancy import current_company

    company = current_company()
    seen.append((get_session().info.get(COMPANY_KEY), company.id if company else None,
                 acting_user_id(), current_job_id()))
