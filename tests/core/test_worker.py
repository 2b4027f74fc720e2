"""``crm worker``: a real huey consumer runs jobs, outbox deliveries and periodic tasks.

These tests start ``crm worker`` in a subprocess against the test database, once with the
SQLite queue and once with Redis (127.0.0.1:6379, skipped when no server answers), and
wait (bounded) for the work to be done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cli import cli
from core.db import get_database, get_session
from core.events import emit
from core.jobs import get_jobs, start_job
from core.models import Event, EventDelivery, Job
from core.scoping import company_scope

CRM = str(Path(sys.executable).parent / "crm")
PLUGINS = ["fx_events_a", "fx_jobs_a"]
REDIS_URL = "redis://127.0.0.1:6379/0"
WAIT_SECONDS = 60


def redis_unreachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as error:
        return f"no Redis server answers at {REDIS_URL} ({type(error).__name__}: {error})"
    return None


@pytest.fixture
def queue_settings():
    return {}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def app_config(fixture_plugins_path, queue_settings):
    return {"CRM_PLUGIN_MODULES": PLUGINS, **queue_settings}


def test_the_worker_refuses_to_start_when_jobs_run_immediately(app):
    result = app.test_cli_runner().invoke(cli, ["worker"])

    assert result.exit_code == 1
    assert "jobs run immediately" in result.output
    assert "CRM_JOBS_IMMEDIATE=false" in result.output


@pytest.mark.parametrize("queue_settings", [{"CRM_JOBS_IMMEDIATE": False, "CRM_REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_the_worker_says_clearly_when_redis_is_unreachable(app):
    result = app.test_cli_runner().invoke(cli, ["worker"])

    assert result.exit_code == 1
    assert "the job queue is unreachable: Redis redis://127.0.0.1:1/0" in result.output
    assert "Start Redis or correct CRM_REDIS_URL" in result.output


def worker_environment(app, fixture_plugins_path: Path, queue_settings: dict) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRM_")}
    env.update(
        CRM_ENV="development",
        CRM_SECRET_KEY="worker-test",
        CRM_INSTANCE_PATH=app.instance_path,  # the SQLite queue file is shared through it
        CRM_DATABASE_URL=get_database(app).url,
        CRM_PLUGINS=",".join(PLUGINS),
        CRM_PLUGIN_MODULES=",".join(PLUGINS),
        CRM_JOBS_IMMEDIATE="false",
        CRM_JOBS_QUEUE=app.config["CRM_JOBS_QUEUE"],
        PYTHONPATH=os.pathsep.join(filter(None, [str(fixture_plugins_path), env.get("PYTHONPATH")])),
    )
    if queue_settings.get("CRM_REDIS_URL"):
        env["CRM_REDIS_URL"] = queue_settings["CRM_REDIS_URL"]
    return env


def queue_work(app, company_id):
    """A job, an event for the outbox, both committed; returns their ids."""
    with app.app_context():
        session = get_session()
        with company_scope(session, company_id):
            job_id = start_job("fx_jobs_a.jobs:count_to", 3, params={"n": 3})
            event = emit("fx_events_a.created", {"id": 1})
            session.commit()
    return job_id, event.id


def state(app, job_id, event_id):
    with app.app_context():
        session = get_session()
        job = session.get(Job, job_id)
        delivery = session.scalar(select(EventDelivery).where(EventDelivery.event_id == event_id))
        ticks = session.scalars(select(Event.company_id).where(Event.name == "fx_jobs_a.ticked")).all()
        return (job.status, job.done, job.message), delivery.status, ticks


@pytest.mark.slow
@pytest.mark.parametrize(
    "queue_settings",
    [
        pytest.param({"CRM_JOBS_IMMEDIATE": False, "CRM_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}"}, id="sqlite"),
        pytest.param(
            {"CRM_JOBS_IMMEDIATE": False, "CRM_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}", "CRM_REDIS_URL": REDIS_URL},
            id="redis",
            marks=pytest.mark.skipif(bool(redis_unreachable()), reason=redis_unreachable() or ""),
        ),
    ],
)
def test_a_worker_runs_jobs_deliveries_and_periodic_tasks_from_the_queue(
    app, company, fixture_plugins_path, queue_settings, tmp_path
):
    company.enable("fx_events_a", "fx_jobs_a")
    jobs = get_jobs(app)
    assert jobs.backend == ("redis" if "CRM_REDIS_URL" in queue_settings else "sqlite")
    job_id, event_id = queue_work(app, company.id)
    # Queued, not run: nothing runs in this process.
    assert state(app, job_id, event_id) == (("queued", 0, ""), "pending", [])

    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [CRM, "worker", "--workers", "2", "-d", "0.1", "-m", "1", "--periodic"],
            env=worker_environment(app, fixture_plugins_path, queue_settings),
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        expected = (("done", 3, "counted to 3"), "delivered", [company.id])
        while time.monotonic() < deadline and worker.poll() is None:
            if state(app, job_id, event_id) == expected:
                break
            time.sleep(0.2)
        assert state(app, job_id, event_id) == expected, log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGTERM)  # graceful: running jobs finish
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if "CRM_REDIS_URL" in queue_settings:
            jobs.huey.flush()  # leave nothing of this test's queue in Redis

    output = log.read_text()
    assert f"Atrium CRM worker on {jobs.describe()}: 2 thread(s), periodic tasks on" in output
    # The counting job recorded its event in its own transaction, for its company.
    with app.app_context():
        assert get_session().scalar(select(Event.company_id).where(Event.name == "fx_jobs_a.counted")) == company.id
