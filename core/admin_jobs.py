"""The job monitor of the admin console (``/admin/jobs``, company administrators only).

One tab per state of the company's background jobs (running, queued, failed, finished)
and one for its undelivered events (outbox deliveries that are dead after their last
attempt), each with a count badge. Failed jobs show their error and can be retried
(:func:`core.jobs.retry_job`: the same row runs the same task with the same params again);
dead deliveries can be retried (:func:`core.events.retry_delivery`, with a fresh set of
attempts). Both retries are POST, CSRF-protected, idempotent (a second click answers 409
and runs nothing) and logged; another company's job or delivery answers 404.

Each tab is a :class:`core.listing.Listing`: a count and one page of rows, plus one grouped
count for the badges and one for the undelivered events, whatever the number of jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from core.access import abort_unless_admin
from core.auth import signed_in
from core.db import get_session
from core.events import get_registry, retry_delivery
from core.i18n import translate
from core.jobs import JobNotFound, JobNotRetryable, retry_job
from core.listing import Column, Listing, ListPage
from core.models import Event, EventDelivery, Job, User
from core.tenancy import current_company

blueprint = Blueprint("core_admin_jobs", __name__)
log = logging.getLogger(__name__)

PAGE_SIZE = 25
DEAD = "dead"
# Tab key -> label; a job tab's key is the core_job status it lists.
TABS = {
    "running": _l("Running"),
    "queued": _l("Queued"),
    "failed": _l("Failed"),
    "done": _l("Finished"),
    DEAD: _l("Undelivered events"),
}
DEFAULT_TAB = "running"

JOBS = Listing(
    select(Job).outerjoin(User, User.id == Job.user_id),
    columns=[
        Column("name", _l("Job"), Job.name),
        Column("who", _l("Started by"), User.name),
        Column("created", _l("Created"), Job.created_at, sortable=True),
        Column("started", _l("Started"), Job.started_at),
        Column("finished", _l("Finished"), Job.finished_at),
        Column("done", _l("Progress"), Job.done),
        Column("message", _l("Message"), Job.message),
    ],
    default_sort="-created",
    page_size=PAGE_SIZE,
    extra=[Job.id, Job.status, Job.total, Job.error, Job.user_id],
    id="jobs",
)

DEAD_DELIVERIES = Listing(
    select(EventDelivery).join(Event, Event.id == EventDelivery.event_id),
    columns=[
        Column("event", _l("Event"), Event.name),
        Column("handler", _l("Handler"), EventDelivery.handler),
        Column("attempts", _l("Attempts"), EventDelivery.attempts),
        Column("error", _l("Last error"), EventDelivery.last_error),
        # A dead delivery's next_attempt_at is the time of its last failed attempt.
        Column("when", _l("Last attempt"), EventDelivery.next_attempt_at, sortable=True),
    ],
    default_sort="-when",
    page_size=PAGE_SIZE,
    extra=[EventDelivery.id, Event.id.label("event_id"), Event.created_at],
    id="dead-deliveries",
)


def _require_admin() -> None:
    abort_unless_admin(_("Only company administrators can monitor jobs."))


def tab_counts(company_id: int) -> dict[str, int]:
    """How many jobs of the company are in each state, and how many deliveries are dead."""
    session = get_session()
    counts = {key: 0 for key in TABS}
    for status, number in session.execute(
        select(Job.status, func.count()).where(Job.company_id == company_id).group_by(Job.status)
    ):
        if status in counts:
            counts[status] = number
    counts[DEAD] = session.scalar(
        select(func.count()).select_from(EventDelivery).join(Event, Event.id == EventDelivery.event_id)
        .where(EventDelivery.status == DEAD, Event.company_id == company_id)
    ) or 0
    return counts


def percent(row: Any) -> int | None:
    """How far a job is, 0 to 100; None while its total is unknown."""
    if row.status == "done":
        return 100
    if not row.total:
        return None
    return max(0, min(100, int(row.done * 100 / row.total)))


def handler_plugin(handler: str) -> str:
    """The title of the plugin an outbox handler belongs to ('' when none is installed)."""
    plugin = get_registry().owners.get(handler)
    if plugin is None:
        return ""
    manager = current_app.extensions["crm.plugins"]
    return translate(manager[plugin].manifest.title) if plugin in manager else plugin


def _page(tab: str, company_id: int) -> ListPage:
    if tab == DEAD:
        return DEAD_DELIVERIES.page(
            select(EventDelivery).join(Event, Event.id == EventDelivery.event_id)
            .where(EventDelivery.status == DEAD, Event.company_id == company_id)
        )
    return JOBS.page(
        select(Job).outerjoin(User, User.id == Job.user_id).where(Job.company_id == company_id, Job.status == tab)
    )


def _render(tab: str, error: str | None = None, status: int = 200) -> Response:
    company = current_company()
    listing = DEAD_DELIVERIES if tab == DEAD else JOBS
    page = _page(tab, company.id)
    response = listing.render(
        "admin/jobs.html", page, tab=tab, tabs=TABS, counts=tab_counts(company.id), error=error,
        percent=percent, handler_plugin=handler_plugin,
    )
    response.status_code = status
    return response


@blueprint.get("/admin/jobs")
@signed_in
def index() -> Response:
    """One tab of the monitor (``?tab=running|queued|failed|done|dead``; 400 for another)."""
    _require_admin()
    tab = request.args.get("tab") or DEFAULT_TAB
    if tab not in TABS:
        abort(400, description=_("There is no job list “%(tab)s”. Choose one of: %(tabs)s.",
                                 tab=tab[:40], tabs=", ".join(TABS)))
    return _render(tab)


@blueprint.post("/admin/jobs/<job_id>/retry")
@signed_in
def retry(job_id: str) -> Response:
    """Run a failed job of the company again; 404 for another company's, 409 if not failed."""
    _require_admin()
    try:
        retry_job(job_id)
    except JobNotFound:
        abort(404)
    except JobNotRetryable as error:
        if error.status != "failed":
            message = _("This job is %(status)s, not failed: only a failed job can be retried. "
                        "It may have been retried already.", status=translate(TABS.get(error.status, error.status)))
        else:
            message = _("This job cannot be retried: it was queued before jobs kept their task and "
                        "parameters. Start it again from the page where it was started.")
        return _render("failed", message, 409)
    log.info("job %s retried by user %s (id %s) in company %s", job_id, current_user.email,
             current_user.id, current_company().id)
    flash(_("The job is queued again. Follow it under Queued and Running."), "success")
    return redirect(url_for("core_admin_jobs.index", tab="failed"))


@blueprint.post("/admin/jobs/deliveries/<int:delivery_id>/retry")
@signed_in
def retry_event_delivery(delivery_id: int) -> Response:
    """Queue a dead delivery of the company again; 404 for another company's, 409 if not dead."""
    _require_admin()
    company = current_company()
    session = get_session()
    status = session.scalar(
        select(EventDelivery.status).join(Event, Event.id == EventDelivery.event_id)
        .where(EventDelivery.id == delivery_id, Event.company_id == company.id)
        # A concurrent second click waits here for the first to commit, then sees it pending.
        .with_for_update(of=EventDelivery)
    )
    if status is None:
        abort(404)
    if status != DEAD or not retry_delivery(delivery_id, session=session):
        message = (_("This event was delivered already.") if status == "delivered" else
                   _("This delivery is waiting for its next attempt already: it may have been retried."))
        return _render(DEAD, message, 409)
    log.info("outbox delivery #%s retried by user %s (id %s) in company %s", delivery_id,
             current_user.email, current_user.id, company.id)
    flash(_("The event delivery is queued again, with a fresh set of attempts."), "success")
    return redirect(url_for("core_admin_jobs.index", tab=DEAD))
