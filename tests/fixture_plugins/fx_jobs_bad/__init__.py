"""Fixture: every kind of invalid periodic task."""
from core import PeriodicTask, hookimpl


def run():
    pass


@hookimpl
def periodic_tasks():
    return [
        PeriodicTask("elsewhere.task", "* * * * *", run, per_company=True),
        PeriodicTask("fx_jobs_bad.words", "every minute", run, per_company=True),
        PeriodicTask("fx_jobs_bad.range", "61 * * * *", run, per_company=True),
        PeriodicTask("fx_jobs_bad.lazy", "* * * * *", "not callable", per_company=True),
        PeriodicTask("fx_jobs_bad.flag", "* * * * *", run, per_company="yes"),
        PeriodicTask("fx_jobs_bad.twice", "* * * * *", run, per_company=False),
        PeriodicTask("fx_jobs_bad.twice", "0 * * * *", run, per_company=False),
        42,
    ]
