"""Jobs: one transaction each, progress in core_job, periodic tasks; immediate in tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import huey
import pytest
from sqlalchemy import select

from core import create_app
from core.errors import StartupError
from core.jobs import (
    JobTask,
    PeriodicTaskFailed,
    get_jobs,
    parse_schedule,
    report_progress,
    run_in_transaction,
    run_periodic,
    start_job,
    task,
)
from core.models import Event, Job
from core.scoping import company_scope
from core.testing import base_test_config, make_company

PLUGINS = ["fx_jobs_a"]


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def fx_jobs(app):
    import fx_jobs_a.jobs

    return fx_jobs_a.jobs


def job_row(db_session, job_id):
    db_session.rollback()
    db_session.expire_all()
    return db_session.get(Job, job_id)


def event_rows(db_session):
    db_session.rollback()
    db_session.expire_all()
    return db_session.execute(select(Event.name, Event.company_id).order_by(Event.id)).all()


def test_tasks_run_immediately_in_testing(app):
    jobs = get_jobs(app)
    assert jobs.backend == "immediate"
    assert jobs.huey.immediate


def test_a_job_is_queued_when_its_transaction_commits_and_reports_its_progress(app, company, db_session, fx_jobs):
    with company_scope(db_session, company.id):
        job_id = start_job(fx_jobs.count_to, 3, params={"n": 3})
        row = db_session.get(Job, job_id)
        assert (row.name, row.status, row.total, row.company_id) == ("fx_jobs_a.count", "queued", 3, company.id)
        db_session.commit()

    row = job_row(db_session, job_id)
    assert (row.status, row.done, row.total, row.message, row.error) == ("done", 3, 3, "counted to 3", None)
    assert row.started_at is not None and row.finished_at is not None


def test_a_job_started_in_a_rolled_back_transaction_is_never_queued(app, company, db_session, fx_jobs, monkeypatch):
    jobs = get_jobs(app)
    queued = []
    enqueue = jobs.enqueue
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: (queued.append(args), enqueue(*args, **kwargs)))
    with company_scope(db_session, company.id):
        job_id = start_job(fx_jobs.whoami)
        db_session.rollback()
        kept = start_job(fx_jobs.whoami)
        db_session.commit()

    assert [args[1] for args in queued] == [kept]
    assert job_row(db_session, job_id) is None
    assert [entry[3] for entry in fx_jobs.seen] == [kept]


def test_a_job_commits_its_work_in_one_transaction_for_its_company_and_user(app, company, db_session, fx_jobs):
    with company_scope(db_session, company.id):
        start_job(fx_jobs.count_to, 2, params={"n": 2})
        whoami = start_job(fx_jobs.whoami)
        db_session.commit()

    assert event_rows(db_session) == [("fx_jobs_a.counted", company.id)]
    # Scoped to the job's company, which is the company in context; no user outside a request.
    assert fx_jobs.seen == [(company.id, company.id, None, whoami)]


def test_a_failing_job_is_rolled_back_and_marked_failed_with_its_error(app, company, db_session, fx_jobs):
    with company_scope(db_session, company.id):
        job_id = start_job("fx_jobs_a.jobs:fail_after_writing")  # by path, as the worker finds it
        db_session.commit()

    row = job_row(db_session, job_id)
    assert (row.status, row.done, row.total, row.error) == ("failed", 1, 2, "RuntimeError: the disk is full")
    assert row.finished_at is not None
    assert event_rows(db_session) == []  # the event it emitted went with the rollback


def test_a_job_started_from_a_request_runs_after_the_response_commits(app, client, company, login_as, db_session):
    company.enable("fx_jobs_a")
    login_as(company.admin)

    response = client.post("/fx-jobs/start/4")

    assert response.status_code == 200
    job_id = response.get_json()["job"]
    row = job_row(db_session, job_id)
    assert (row.status, row.done, row.user_id, row.company_id) == ("done", 4, company.admin.id, company.id)


def test_a_request_that_fails_starts_no_job(app, client, company, login_as, db_session):
    company.enable("fx_jobs_a")
    login_as(company.admin)

    assert client.post("/fx-jobs/start/4?outcome=invalid").status_code == 422

    assert db_session.scalar(select(Job.id)) is None
    assert event_rows(db_session) == []


def start_counting_job(app, company_id, n):
    """Start (and, in immediate mode, run) a job in an application context of its own."""
    from core.db import get_session

    with app.app_context():
        session = get_session()
        with company_scope(session, company_id):
            job_id = start_job("fx_jobs_a.jobs:count_to", n, params={"n": n})
            session.commit()
    return job_id


def test_the_progress_endpoint_answers_the_signed_in_users_of_the_jobs_company(app, client, company, login_as):
    job_id = start_counting_job(app, company.id, 5)
    login_as(company.admin)

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert {key: body[key] for key in ("id", "name", "status", "done", "total", "percent", "message", "finished")} == {
        "id": job_id, "name": "fx_jobs_a.count", "status": "done", "done": 5, "total": 5, "percent": 100,
        "message": "counted to 5", "finished": True,
    }
    assert datetime.fromisoformat(body["finished_at"]).tzinfo is not None
    assert client.get("/jobs/no-such-job").status_code == 404


def test_the_progress_endpoint_hides_a_job_from_other_companies(app, client, company, login_as):
    other = make_company(app, "Beta", "beta")
    job_id = start_counting_job(app, company.id, 2)
    login_as(other.admin)

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 404
    assert response.get_json() == {"error": "not found"}


def test_the_progress_endpoint_sends_anonymous_visitors_to_sign_in(app, client, company):
    job_id = start_counting_job(app, company.id, 2)

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_progress_endpoint_shows_a_running_job_part_way(app, client, company, login_as, db_session):
    job = Job(id="half", company_id=company.id, name="import", status="running", done=25, total=200,
              message="row 25")
    db_session.add(job)
    db_session.commit()
    login_as(company.admin)

    body = client.get("/jobs/half").get_json()

    assert (body["status"], body["percent"], body["finished"], body["message"]) == ("running", 12, False, "row 25")


def test_a_progress_bar_asked_to_go_opens_its_page_once_the_job_finished(app, client, company, login_as,
                                                                         db_session):
    db_session.add(Job(id="busy", company_id=company.id, name="import", status="running", done=1, total=2))
    db_session.commit()
    job_id = start_counting_job(app, company.id, 2)
    login_as(company.admin)
    htmx = {"HX-Request": "true"}

    running = client.get("/jobs/busy/progress", query_string={"next": "/imports/1", "go": "1"}, headers=htmx)
    assert "HX-Redirect" not in running.headers and 'hx-trigger="every 1s"' in running.text
    assert "go=1" in running.text  # the next poll still asks to go
    done = client.get(f"/jobs/{job_id}/progress", query_string={"next": "/imports/1", "go": "1"}, headers=htmx)
    assert done.headers["HX-Redirect"] == "/imports/1"
    shown = client.get(f"/jobs/{job_id}/progress", query_string={"next": "/imports/1"}, headers=htmx)
    assert "HX-Redirect" not in shown.headers and 'href="/imports/1"' in shown.text
    elsewhere = client.get(f"/jobs/{job_id}/progress", query_string={"next": "https://evil.example/", "go": "1"},
                           headers=htmx)
    assert "HX-Redirect" not in elsewhere.headers


def test_report_progress_outside_a_job_does_nothing(app, db_session):
    report_progress(1, 2, "nobody listens")  # no error, no row
    assert db_session.scalar(select(Job.id)) is None


def test_run_in_transaction_commits_on_success_and_rolls_back_on_failure(app, company, db_session):
    from core.events import emit

    def write_then_fail():
        emit("fx_jobs_a.lost", {})
        raise RuntimeError("failed after writing")

    run_in_transaction(app, lambda: emit("fx_jobs_a.kept", {}), company_id=company.id)
    with pytest.raises(RuntimeError, match="failed after writing"):
        run_in_transaction(app, write_then_fail)

    assert event_rows(db_session) == [("fx_jobs_a.kept", company.id)]


def _not_a_job():
    pass


def test_run_in_transaction_shares_nothing_with_the_request_it_is_called_from(app, client, company, login_as):
    from flask import has_request_context

    from core.auth import public
    from core.db import get_session

    seen = {}

    @public
    def probe():
        outer = get_session()
        seen["inner"] = run_in_transaction(app, lambda: (has_request_context(), get_session() is outer))
        return "ok"

    app.add_url_rule("/_test/probe", view_func=probe)
    login_as(company.admin)

    assert client.get("/_test/probe").status_code == 200
    assert seen["inner"] == (False, False)


def test_a_job_must_be_a_top_level_function():
    def nested():
        pass

    with pytest.raises(ValueError, match="top level of a module"):
        task(nested)
    with pytest.raises(TypeError, match="is not a job"):
        start_job("tests.core.test_jobs:_not_a_job")


def test_task_names_default_to_the_module_and_function(fx_jobs):
    assert isinstance(fx_jobs.whoami, JobTask)
    assert (fx_jobs.whoami.name, fx_jobs.whoami.path) == ("fx_jobs_a.jobs.whoami", "fx_jobs_a.jobs:whoami")
    assert fx_jobs.count_to.name == "fx_jobs_a.count"


# -- periodic tasks ------------------------------------------------------------------------------


def test_a_per_company_periodic_task_runs_once_for_each_company_that_enabled_the_plugin(app, company, db_session):
    import fx_jobs_a

    beta = make_company(app, "Beta", "beta")
    make_company(app, "Gamma", "gamma")  # has not enabled the plugin
    company.enable("fx_jobs_a")
    beta.enable("fx_jobs_a")

    assert run_periodic("fx_jobs_a.tick", app) == 2

    assert sorted(fx_jobs_a.ran) == sorted([("fx_jobs_a.tick", company.id, company.id),
                                            ("fx_jobs_a.tick", beta.id, beta.id)])
    assert sorted(event_rows(db_session)) == sorted([("fx_jobs_a.ticked", company.id), ("fx_jobs_a.ticked", beta.id)])


def test_a_system_periodic_task_runs_once_unscoped_when_any_company_enabled_the_plugin(app, company):
    import fx_jobs_a

    assert run_periodic("fx_jobs_a.nightly", app) == 0
    company.enable("fx_jobs_a")
    make_company(app, "Beta", "beta").enable("fx_jobs_a")

    assert run_periodic("fx_jobs_a.nightly", app) == 1
    assert fx_jobs_a.ran == [("fx_jobs_a.nightly", None, None)]


def test_a_periodic_task_failing_for_one_company_still_runs_for_the_others(app, company, caplog):
    import fx_jobs_a

    beta = make_company(app, "Beta", "beta")
    zeta = make_company(app, "Zeta", "zeta")
    for each in (company, beta, zeta):
        each.enable("fx_jobs_a")

    with pytest.raises(PeriodicTaskFailed, match=f"failed for companies \\[{beta.id}\\]"):
        run_periodic("fx_jobs_a.flaky", app)

    assert [entry[2] for entry in fx_jobs_a.ran] == [company.id, beta.id, zeta.id]
    assert f"periodic task fx_jobs_a.flaky failed for company #{beta.id}" in caplog.text


def test_periodic_tasks_are_scheduled_on_the_queue_by_their_crontab(app):
    jobs = get_jobs(app)
    by_name = {type(entry).__name__: entry for entry in jobs.huey._registry.periodic_tasks}

    assert {"crm.outbox.sweep", "crm.periodic.fx_jobs_a.tick", "crm.periodic.fx_jobs_a.nightly"} <= set(by_name)
    nightly = by_name["crm.periodic.fx_jobs_a.nightly"]
    assert nightly.validate_datetime(datetime(2030, 1, 7, 3, 0))
    assert not nightly.validate_datetime(datetime(2030, 1, 7, 3, 1))
    flaky = by_name["crm.periodic.fx_jobs_a.flaky"]  # "*/15 4-5 * * 1-5"
    assert flaky.validate_datetime(datetime(2030, 1, 7, 5, 45))  # a Monday
    assert not flaky.validate_datetime(datetime(2030, 1, 6, 5, 45))  # a Sunday


@pytest.mark.parametrize("expression", ["* * * *", "every minute", "61 * * * *", "* * * * mon"])
def test_a_schedule_must_be_a_five_field_crontab(expression):
    with pytest.raises(ValueError):
        parse_schedule(expression)


def test_invalid_periodic_tasks_stop_start_up_with_every_problem(tmp_path, fixture_plugins_path):
    config = base_test_config(tmp_path, f"sqlite:///{tmp_path}/x.sqlite3", ["fx_jobs_bad"])
    config.update(CRM_PLUGIN_MODULES=["fx_jobs_bad"], CRM_CHECK_SCHEMA=False)

    with pytest.raises(StartupError) as caught:
        create_app(config)

    problems = "\n".join(caught.value.problems)
    for expected in [
        "periodic task 'elsewhere.task': the name must start with 'fx_jobs_bad.'",
        "'fx_jobs_bad.words': schedule 'every minute' is not a crontab expression",
        "'fx_jobs_bad.range': schedule '61 * * * *' is not a crontab expression",
        "'fx_jobs_bad.lazy': run is not callable",
        "'fx_jobs_bad.flag': per_company must be True or False",
        "'fx_jobs_bad.twice': the name is taken (by plugin 'fx_jobs_bad')",
        "returned 42 from periodic_tasks, not a PeriodicTask",
    ]:
        assert expected in problems


# -- where the queue lives -----------------------------------------------------------------------


def queue_app(tmp_path, **changes):
    config = base_test_config(tmp_path, f"sqlite:///{tmp_path}/x.sqlite3", [])
    config.update(CRM_CHECK_SCHEMA=False, **changes)
    return create_app(config)


def test_outside_testing_the_queue_is_a_sqlite_file_in_the_instance_folder(tmp_path):
    jobs = get_jobs(queue_app(tmp_path, CRM_JOBS_IMMEDIATE=False))

    assert jobs.backend == "sqlite"
    assert isinstance(jobs.huey, huey.SqliteHuey) and not jobs.huey.immediate
    assert Path(jobs.huey.storage.filename) == tmp_path / "instance" / "jobs.sqlite3"
    assert jobs.huey.name == "atrium"


def test_with_a_redis_url_the_queue_is_in_redis(tmp_path):
    jobs = get_jobs(queue_app(tmp_path, CRM_ENV="production", CRM_BASE_URL="https://crm.example.com", CRM_REDIS_URL="redis://127.0.0.1:6379/3",
                              CRM_JOBS_QUEUE="crm-test"))

    assert jobs.backend == "redis"
    assert isinstance(jobs.huey, huey.RedisHuey) and not jobs.huey.immediate
    assert "Redis redis://127.0.0.1:6379/3, queue 'crm-test'" in jobs.describe()


def test_immediate_mode_can_be_switched_on_outside_testing(tmp_path):
    assert get_jobs(queue_app(tmp_path, CRM_ENV="development", CRM_JOBS_IMMEDIATE=True)).backend == "immediate"


@pytest.mark.parametrize(("key", "value"), [("CRM_JOBS_QUEUE", "two words"), ("CRM_OUTBOX_MAX_ATTEMPTS", 0),
                                            ("CRM_JOBS_IMMEDIATE", "perhaps")])
def test_bad_job_settings_stop_start_up(tmp_path, key, value):
    with pytest.raises(StartupError, match=key):
        queue_app(tmp_path, **{key: value})
