"""The job monitor of the admin console (``/admin/jobs``): a tab per job state and one for
dead event deliveries, with counts; retrying a failed job or a dead delivery (once, however
often the button is pressed); other companies' jobs and deliveries invisible and 404.

Jobs run immediately in tests. ``flaky`` below is a job that fails while FLAKY["failures"]
is above zero; fx_events_a brings an outbox handler that fails likewise."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select

from core import events
from core.db import get_session, utcnow
from core.events import emit, sweep
from core.jobs import JobNotRetryable, retry_job, start_job, task
from core.models import EventDelivery, Job, Membership, User
from core.scoping import company_scope
from core.testing import counting_queries, make_company

PLUGINS = ["fx_events_a"]
FLAKY: dict = {"failures": 0, "runs": []}


@task("tests.flaky")
def flaky(item):
    """Fails while FLAKY["failures"] > 0 (counting down), else succeeds; records each run."""
    FLAKY["runs"].append(item)
    if FLAKY["failures"] > 0:
        FLAKY["failures"] -= 1
        raise RuntimeError(f"the remote end is down\nwhile sending {item}")


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS, "CRM_OUTBOX_MAX_ATTEMPTS": 1}


@pytest.fixture(autouse=True)
def fresh_flaky():
    FLAKY["failures"] = 0
    FLAKY["runs"] = []


@pytest.fixture
def fx_a(app):
    import fx_events_a

    return fx_events_a


@pytest.fixture
def admin(client, company, login_as):
    login_as(company.admin)
    return company


def start_flaky(app, company_id, item="x", failures=0, user_id=None) -> str:
    """Start (and, in immediate mode, run) a flaky job in an application context of its own."""
    FLAKY["failures"] = failures
    with app.app_context():
        g.setdefault(events.ACTING_USER_KEY, user_id)
        session = get_session()
        with company_scope(session, company_id):
            job_id = start_job(flaky, params={"item": item})
            session.commit()
    return job_id


def job_row(db_session, job_id) -> Job:
    db_session.rollback()
    db_session.expire_all()
    return db_session.get(Job, job_id)


def add_job(db_session, company_id, status, job_id=None, **values) -> str:
    """A core_job row as a job in ``status`` would leave it (not run)."""
    job = Job(id=job_id or f"{status}-{company_id}-{utcnow().timestamp()}", company_id=company_id,
              name=values.pop("name", f"tests.{status}"), status=status, done=values.pop("done", 0),
              message=values.pop("message", ""), created_at=values.pop("created_at", utcnow()), **values)
    db_session.add(job)
    db_session.commit()
    return job.id


def dead_delivery(app, db_session, company, fx_a) -> EventDelivery:
    """An fx_events_a.webhook delivery of company's event, dead after its one attempt."""
    company.enable("fx_events_a")
    fx_a.failures["webhook"] = 1
    with company_scope(db_session, company.id):
        emit("fx_events_a.created", {})
        db_session.commit()
    db_session.expire_all()
    [row] = db_session.scalars(
        select(EventDelivery).where(EventDelivery.handler == "fx_events_a.webhook").order_by(EventDelivery.id.desc())
    ).all()[:1]
    assert row.status == "dead"
    return row


def job_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="job-([^"]+)">', html)


def badge(html: str, label: str) -> int:
    match = re.search(rf"{label}\s*<span class=\"badge[^\"]*\"><span aria-hidden=\"true\">(\d+)<", html)
    assert match, f"no badge for {label}"
    return int(match.group(1))



# -- access and scope -------------------------------------------------------------------------


def test_a_member_who_is_not_an_administrator_gets_403_everywhere(app, client, company, login_as, db_session):
    user = User(email="member@acme.test", name="Member")
    user.set_password("long enough")
    user.memberships.append(Membership(company_id=company.id, is_admin=False))
    db_session.add(user)
    db_session.commit()
    failed = add_job(db_session, company.id, "failed")
    login_as(user)

    assert client.get("/admin/jobs").status_code == 403
    assert client.post(f"/admin/jobs/{failed}/retry").status_code == 403
    assert client.post("/admin/jobs/deliveries/1/retry").status_code == 403
    assert job_row(db_session, failed).status == "failed"


def test_another_companys_jobs_and_deliveries_are_invisible_and_answer_404(app, client, admin, db_session, fx_a):
    beta = make_company(app, "Beta", "beta")
    theirs = start_flaky(app, beta.id, failures=1)
    theirs_running = add_job(db_session, beta.id, "running", name="tests.theirs")
    delivery = dead_delivery(app, db_session, beta, fx_a)
    ours = add_job(db_session, admin.id, "failed", name="tests.ours")

    failed = client.get("/admin/jobs?tab=failed").text
    assert job_ids(failed) == [ours]
    assert badge(failed, "Failed") == 1 and badge(failed, "Running") == 0
    assert badge(failed, "Undelivered events") == 0
    assert "tests.theirs" not in client.get("/admin/jobs?tab=running").text
    assert "fx_events_a.created" not in client.get("/admin/jobs?tab=dead").text

    assert client.post(f"/admin/jobs/{theirs}/retry").status_code == 404
    assert client.post(f"/admin/jobs/{theirs_running}/retry").status_code == 404
    assert client.post(f"/admin/jobs/deliveries/{delivery.id}/retry").status_code == 404
    assert job_row(db_session, theirs).status == "failed"
    assert FLAKY["runs"] == ["x"]
    assert db_session.get(EventDelivery, delivery.id).status == "dead"


def test_unknown_ids_and_tabs_are_refused_clearly(client, admin):
    assert client.post("/admin/jobs/no-such-job/retry").status_code == 404
    assert client.post("/admin/jobs/deliveries/987654/retry").status_code == 404
    response = client.get("/admin/jobs?tab=everything")
    assert response.status_code == 400
    assert "There is no job list “everything”" in response.text


# -- the tabs ---------------------------------------------------------------------------------


def test_each_tab_lists_its_jobs_newest_first_with_counts_on_every_tab(app, client, admin, db_session):
    now = utcnow()
    old = add_job(db_session, admin.id, "done", created_at=now - timedelta(hours=2), finished_at=now)
    new = add_job(db_session, admin.id, "done", created_at=now - timedelta(hours=1), finished_at=now)
    add_job(db_session, admin.id, "queued")
    add_job(db_session, admin.id, "running", started_at=now)
    add_job(db_session, admin.id, "failed", error="ValueError: bad")

    html = client.get("/admin/jobs?tab=done").text

    assert job_ids(html) == [new, old]
    assert [badge(html, label) for label in ("Running", "Queued", "Failed", "Finished", "Undelivered events")] == [
        1, 1, 1, 2, 0]
    assert '<a class="nav-link active" href="/admin/jobs?tab=done" aria-current="page">' in html
    assert '<li class="breadcrumb-item"><a href="/admin">Administration</a></li>' in html


def test_the_running_tab_is_the_default_and_shows_progress_bars(app, client, admin, db_session):
    add_job(db_session, admin.id, "running", name="tests.import", done=40, total=100, message="row 40",
            started_at=utcnow(), user_id=admin.admin.id)
    add_job(db_session, admin.id, "running", name="tests.open_ended", done=7)

    html = client.get("/admin/jobs").text

    assert 'role="progressbar" aria-label="Progress of tests.import" aria-valuenow="40"' in html
    assert "40 of 100 · row 40" in html and "Acme Admin" in html
    # A job whose total is not known yet: a moving bar, no value.
    assert re.search(r'aria-label="Progress of tests.open_ended" aria-valuetext="7 done"', html)
    assert 'hx-trigger="every 5s"' in html  # keeps itself up to date


def test_failed_jobs_show_their_error_in_full_and_a_retry_button(app, client, admin, db_session):
    start_flaky(app, admin.id, item="mail", failures=1, user_id=admin.admin.id)

    html = client.get("/admin/jobs?tab=failed").text

    assert "<summary" in html and "RuntimeError: the remote end is down</summary>" in html
    assert "while sending mail</pre>" in html  # the full text, in the expandable area
    assert re.search(r'<form method="post" action="/admin/jobs/[0-9a-f]+/retry">\s*'
                     r'<input type="hidden" name="csrf_token"', html)


def test_empty_tabs_say_so(client, admin):
    assert "No job is running" in client.get("/admin/jobs").text
    assert "No failed jobs" in client.get("/admin/jobs?tab=failed").text
    assert "Every event was delivered" in client.get("/admin/jobs?tab=dead").text


def test_pages_keep_the_tab_and_run_a_bounded_number_of_queries(app, client, admin, db_session):
    for n in range(3):
        add_job(db_session, admin.id, "done", job_id=f"done-{n:03d}")
    client.get("/admin/jobs?tab=done")  # warm caches that are not per request
    with counting_queries(app) as few:
        assert len(job_ids(client.get("/admin/jobs?tab=done").text)) == 3
    for n in range(3, 60):
        add_job(db_session, admin.id, "done", job_id=f"done-{n:03d}")
    with counting_queries(app) as many:
        html = client.get("/admin/jobs?tab=done").text

    assert len(job_ids(html)) == 25 and "Page 1 of 3" in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1)
    assert "tab=done" in next_link and "page=2" in next_link
    assert job_ids(client.get(next_link.replace("&amp;", "&")).text) == [f"done-{n:03d}" for n in range(34, 9, -1)]
    assert len(few) == len(many)
    assert len([s for s in many if "core_job" in s]) == 3  # the badges, the count, the page


# -- retrying a failed job --------------------------------------------------------------------


def test_retrying_a_failed_job_runs_the_same_task_with_the_same_params_again(app, client, admin, db_session):
    job_id = start_flaky(app, admin.id, item="invoice 7", failures=1)
    assert job_row(db_session, job_id).status == "failed"

    response = client.post(f"/admin/jobs/{job_id}/retry")

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/jobs?tab=failed"
    row = job_row(db_session, job_id)
    assert (row.status, row.error) == ("done", None)
    assert row.finished_at is not None
    assert FLAKY["runs"] == ["invoice 7", "invoice 7"]
    assert "The job is queued again." in client.get(response.headers["Location"]).text


def test_a_second_click_on_retry_does_not_run_the_job_again(app, client, admin, db_session):
    job_id = start_flaky(app, admin.id, failures=1)

    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 302
    again = client.post(f"/admin/jobs/{job_id}/retry")

    assert again.status_code == 409
    assert "This job is Finished, not failed: only a failed job can be retried." in again.text
    assert FLAKY["runs"] == ["x", "x"]


def test_two_retries_in_one_transaction_queue_the_job_once(app, admin, db_session):
    job_id = start_flaky(app, admin.id, failures=1)

    with company_scope(db_session, admin.id):
        retry_job(job_id)
        with pytest.raises(JobNotRetryable) as refused:
            retry_job(job_id)
        assert refused.value.status == "queued"
        assert FLAKY["runs"] == ["x"]  # queued when the transaction commits
        db_session.commit()

    assert FLAKY["runs"] == ["x", "x"]
    assert job_row(db_session, job_id).status == "done"


def test_a_job_that_fails_again_is_failed_again_with_its_new_error(app, client, admin, db_session):
    job_id = start_flaky(app, admin.id, item="a", failures=2)

    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 302

    row = job_row(db_session, job_id)
    assert row.status == "failed" and row.error.startswith("RuntimeError: the remote end is down")
    assert FLAKY["runs"] == ["a", "a"]
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 302  # and can be retried again
    assert job_row(db_session, job_id).status == "done"


@pytest.mark.parametrize("status", ["queued", "running", "done"])
def test_a_job_that_is_not_failed_cannot_be_retried(app, client, admin, db_session, status):
    job_id = add_job(db_session, admin.id, status)

    response = client.post(f"/admin/jobs/{job_id}/retry")

    assert response.status_code == 409
    assert "not failed: only a failed job can be retried" in response.text
    assert job_row(db_session, job_id).status == status


def test_a_failed_job_from_before_jobs_kept_their_task_is_refused(app, client, admin, db_session):
    job_id = add_job(db_session, admin.id, "failed", error="OSError: gone")

    response = client.post(f"/admin/jobs/{job_id}/retry")

    assert response.status_code == 409
    assert "queued before jobs kept their task and parameters" in response.text
    assert job_row(db_session, job_id).status == "failed"


# -- dead event deliveries --------------------------------------------------------------------


def test_dead_deliveries_are_listed_with_their_handler_plugin_attempts_and_error(app, client, admin, db_session, fx_a):
    delivery = dead_delivery(app, db_session, admin, fx_a)

    html = client.get("/admin/jobs?tab=dead").text

    assert badge(html, "Undelivered events") == 1
    row = html.split(f'<tr id="delivery-{delivery.id}">', 1)[1].split("</tr>", 1)[0]
    assert "<code>fx_events_a.created</code>" in row and "<code>fx_events_a.webhook</code>" in row
    assert "Fixture Events A" in row
    assert "<td>1</td>" in row  # attempts
    assert "ConnectionError: the receiver is down</summary>" in row and "Traceback" in row
    assert f'action="/admin/jobs/deliveries/{delivery.id}/retry"' in row


def test_retrying_a_dead_delivery_delivers_it_once(app, client, admin, db_session, fx_a):
    delivery = dead_delivery(app, db_session, admin, fx_a)
    assert fx_a.delivered == []

    response = client.post(f"/admin/jobs/deliveries/{delivery.id}/retry")

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/jobs?tab=dead"
    db_session.expire_all()
    row = db_session.get(EventDelivery, delivery.id)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert [(handler, key) for handler, _event, key in fx_a.delivered] == [
        ("fx_events_a.webhook", row.idempotency_key)]

    again = client.post(f"/admin/jobs/deliveries/{delivery.id}/retry")
    assert again.status_code == 409
    assert "This event was delivered already." in again.text
    assert len(fx_a.delivered) == 1


def test_a_waiting_delivery_is_not_retried_twice(app, client, admin, db_session, fx_a):
    delivery = dead_delivery(app, db_session, admin, fx_a)
    db_session.get(EventDelivery, delivery.id).status = "pending"  # as after a first retry
    db_session.commit()

    response = client.post(f"/admin/jobs/deliveries/{delivery.id}/retry")

    assert response.status_code == 409
    assert "waiting for its next attempt already" in response.text
    assert fx_a.delivered == []
    assert sweep(app) == 1 and len(fx_a.delivered) == 1  # the queue still has it
