"""Background jobs on huey: the queue, one transaction per job, progress, periodic tasks.

Each application builds its own huey instance in :func:`init_app` and keeps it in
``app.extensions["crm.jobs"]`` (no module-level queue):

* ``CRM_JOBS_IMMEDIATE`` (default: on when ``CRM_ENV=testing``): tasks run at once in
  the process that queues them, so tests are deterministic;
* ``CRM_REDIS_URL`` set: Redis, shared by every web process and worker;
* otherwise: SQLite, the file ``jobs.sqlite3`` in the instance folder.

``CRM_JOBS_QUEUE`` names the queue. ``crm worker`` (``core.cli_jobs``) runs a consumer.

Every task runs through :func:`run_in_transaction`: a fresh application context (none of
the caller's request, user or session leaks in) with its own session, scoped to the
job's company, committed when the task returns and rolled back when it raises.

Plugins write jobs with :func:`task` and start them with :func:`start_job` (a
``core_job`` row the UI polls at ``GET /jobs/<id>``); inside, :func:`report_progress`
updates that row. Periodic work comes from the ``periodic_tasks`` hook.
"""

from __future__ import annotations

import contextvars
import json
import logging
import pkgutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from flask import Blueprint, Flask, abort, current_app, g, has_app_context, render_template, request
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from core import events, notifications
from core.auth import signed_in
from core.db import get_database, get_session, utcnow
from core.hooks import PeriodicTask
from core.models import Company, Job, PluginState
from core.scoping import COMPANY_KEY, set_company

if TYPE_CHECKING:
    import huey

logger = logging.getLogger(__name__)

EXTENSION_KEY = "crm.jobs"
JOB_RUN_KEY = "crm_job_run"
QUEUE_FILE = "jobs.sqlite3"
RUN_JOB_TASK = "crm.run_job"
PERIODIC_PREFIX = "crm.periodic."
SWEEP_SCHEDULE = "* * * * *"
# While a job's own transaction holds SQLite's write lock, a progress update cannot be
# written; it waits this long, then is kept and written with the next one.
PROGRESS_BUSY_TIMEOUT_MS = 50
MESSAGE_MAX = 500
NAME_MAX = 200

T = TypeVar("T")


# -- running code in its own context and transaction ---------------------------------------------


def run_in_transaction(
    app: Flask,
    function: Callable[[], T],
    *,
    company_id: int | None = None,
    user_id: int | None = None,
    _run: _JobRun | None = None,
) -> T:
    """Call ``function()`` in a fresh application context, inside one transaction.

    The context shares nothing with the caller's (no request, no signed-in user, no
    session), also when called from inside a request in immediate mode. Its session,
    :func:`core.db.get_session`, is scoped to ``company_id`` (system-wide when None),
    and :func:`core.tenancy.current_company` and :func:`core.tenancy.hooks` answer for
    that company. ``user_id`` is the user events emitted here are attributed to. The
    session is committed when ``function`` returns (its after-commit actions run then)
    and rolled back when it raises; the exception propagates.
    """
    return contextvars.Context().run(_in_transaction, app, function, company_id, user_id, _run)


def _in_transaction(
    app: Flask, function: Callable[[], T], company_id: int | None, user_id: int | None, run: _JobRun | None
) -> T:
    with app.app_context():
        g.setdefault(events.ACTING_USER_KEY, user_id)
        if run is not None:
            g.setdefault(JOB_RUN_KEY, run)
        session = get_session()
        try:
            if company_id is not None:
                _enter_company(app, company_id)
            result = function()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result


def _enter_company(app: Flask, company_id: int) -> None:
    """Scope the context's session to the company, and set the company in context."""
    from core.enablement import enabled_plugins

    session = get_session()
    set_company(session, company_id)
    # The names core.tenancy reads, so current_company() and hooks() work in jobs too.
    g.crm_company = session.get(Company, company_id)
    g.crm_enabled = enabled_plugins(session, app.extensions["crm.plugins"], company_id)


# -- the queue of one application ----------------------------------------------------------------


@dataclass
class Jobs:
    """The job queue of one application (``app.extensions["crm.jobs"]``).

    The huey instance is built on first use, not at start-up: importing huey (and the
    Redis client it pulls in) costs a fifth of a second that ``crm --help`` and every
    web process that never queues a job need not pay.
    """

    app: Flask
    backend: str  # "immediate", "redis" or "sqlite"
    # name -> (function, crontab expression or None), turned into huey tasks on first use
    registered: dict[str, tuple[Callable[..., None], str | None]] = field(default_factory=dict)
    periodic: dict[str, tuple[str, PeriodicTask]] = field(default_factory=dict)  # name -> (plugin, task)
    _huey: Any = None
    _tasks: dict[str, Any] = field(default_factory=dict)  # name -> huey TaskWrapper

    @property
    def huey(self) -> huey.Huey:
        if self._huey is None:
            self._huey = _build_queue(self.app, self.backend)
            for task_name, (function, schedule) in self.registered.items():
                if schedule is None:
                    self._tasks[task_name] = self._huey.task(name=task_name)(function)
                else:
                    self._tasks[task_name] = self._huey.periodic_task(
                        parse_schedule(schedule), name=task_name)(function)
        return self._huey

    @property
    def tasks(self) -> dict[str, Any]:
        self.huey  # noqa: B018  (builds the queue and its tasks)
        return self._tasks

    def enqueue(self, name: str, *args: Any, delay: float | None = None) -> None:
        """Queue the core task ``name`` with ``args`` (after ``delay`` seconds)."""
        wrapper = self.tasks[name]
        if delay:
            wrapper.schedule(args=args, delay=delay)
        else:
            wrapper(*args)

    def describe(self) -> str:
        """Where the queue lives, for messages (no password)."""
        if self.backend == "redis":
            from core.db import safe_url

            return f"Redis {safe_url(self.app.config['CRM_REDIS_URL'])}, queue '{self.huey.name}'"
        if self.backend == "sqlite":
            return f"SQLite {self.huey.storage.filename}, queue '{self.huey.name}'"
        return "immediate mode (no queue: jobs run in the process that starts them)"


def get_jobs(app: Flask | None = None) -> Jobs:
    return (app or current_app).extensions[EXTENSION_KEY]


def immediate_mode(config: Mapping[str, Any]) -> bool:
    setting = config.get("CRM_JOBS_IMMEDIATE")
    return config.get("CRM_ENV") == "testing" if setting is None else bool(setting)


def init_app(app: Flask) -> list[str]:
    """Set up the application's job queue and register the tasks; return the problems."""
    problems: list[str] = []
    if immediate_mode(app.config):
        backend = "immediate"
    elif app.config.get("CRM_REDIS_URL"):
        backend = "redis"
    else:
        backend = "sqlite"
    jobs = Jobs(app, backend)
    app.extensions[EXTENSION_KEY] = jobs

    def register(task_name: str, function: Callable[..., None], schedule: str | None = None) -> None:
        jobs.registered[task_name] = (function, schedule)

    register(RUN_JOB_TASK, lambda job_id, target, params: _run_job(app, job_id, target, params))
    register(events.DELIVER_TASK, lambda delivery_id: events.deliver(delivery_id, app))
    register(events.SWEEP_TASK, lambda: events.sweep(app), schedule=SWEEP_SCHEDULE)
    register(notifications.PRUNE_TASK, lambda: notifications.run_prune(app), schedule=notifications.PRUNE_SCHEDULE)

    manager = app.extensions["crm.plugins"]
    for info, periodic in manager.declared("periodic_tasks", problems):
        problem = _periodic_problem(info.name, periodic, jobs)
        if problem:
            problems.append(problem)
            continue
        jobs.periodic[periodic.name] = (info.name, periodic)
        register(PERIODIC_PREFIX + periodic.name,
                 lambda task_name=periodic.name: run_periodic(task_name, app), schedule=periodic.schedule)
    return problems


def _build_queue(app: Flask, backend: str) -> huey.Huey:
    import huey

    name = app.config["CRM_JOBS_QUEUE"]
    if backend == "immediate":
        return huey.MemoryHuey(name, immediate=True, results=False)
    if backend == "redis":
        return huey.RedisHuey(name, url=app.config["CRM_REDIS_URL"], results=False)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return huey.SqliteHuey(name, filename=str(Path(app.instance_path) / QUEUE_FILE), results=False)


def parse_schedule(expression: str) -> Callable[[Any], bool]:
    """huey's test for a five-field crontab expression; ValueError when it is not one."""
    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) != 5:
        raise ValueError("expected five fields: minute hour day-of-month month day-of-week")
    minute, hour, day, month, day_of_week = fields
    from huey import crontab

    return crontab(minute, hour, day, month, day_of_week, strict=True)


def _periodic_problem(plugin: str, periodic: Any, jobs: Jobs) -> str | None:
    if not isinstance(periodic, PeriodicTask):
        return f"plugin '{plugin}' returned {periodic!r} from periodic_tasks, not a PeriodicTask"
    where = f"plugin '{plugin}' periodic task '{periodic.name}'"
    if not isinstance(periodic.name, str) or not periodic.name.startswith(f"{plugin}."):
        return f"{where}: the name must start with '{plugin}.'"
    if periodic.name in jobs.periodic:
        return f"{where}: the name is taken (by plugin '{jobs.periodic[periodic.name][0]}')"
    try:
        parse_schedule(periodic.schedule)
    except ValueError as error:
        return f"{where}: schedule {periodic.schedule!r} is not a crontab expression ({error})"
    if not callable(periodic.run):
        return f"{where}: run is not callable"
    if not isinstance(periodic.per_company, bool):
        return f"{where}: per_company must be True or False"
    return None


# -- periodic tasks ------------------------------------------------------------------------------


class PeriodicTaskFailed(Exception):
    """A per-company periodic task failed for some companies (each is logged)."""


def run_periodic(name: str, app: Flask | None = None) -> int:
    """Run the plugin periodic task ``name`` now, as the schedule would; return the runs made.

    Per company: once for each company that has the plugin enabled, each in its own
    transaction scoped to it; a company whose run fails is logged and the others still
    run (then :class:`PeriodicTaskFailed` is raised). Otherwise: once, system-wide, if
    any company has the plugin enabled.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    plugin, periodic = get_jobs(app).periodic[name]
    companies = run_in_transaction(app, lambda: list(get_session().scalars(
        select(PluginState.company_id)
        .where(PluginState.plugin == plugin, PluginState.enabled.is_(True))
        .order_by(PluginState.company_id)
    )))
    if not periodic.per_company:
        if companies:
            run_in_transaction(app, periodic.run)
            return 1
        return 0
    failed = []
    for company_id in companies:
        try:
            run_in_transaction(app, periodic.run, company_id=company_id)
        except Exception:
            logger.exception("periodic task %s failed for company #%s", name, company_id)
            failed.append(company_id)
    if failed:
        raise PeriodicTaskFailed(f"periodic task {name} failed for companies {failed}")
    return len(companies)


# -- jobs with progress --------------------------------------------------------------------------


class JobTask:
    """A function that runs as a job; made by :func:`task`. Calling it runs it here and now."""

    def __init__(self, function: Callable[..., Any], name: str | None = None) -> None:
        qualname = getattr(function, "__qualname__", "")
        if "<" in qualname or not getattr(function, "__module__", None):
            raise ValueError(f"{function!r}: a job must be a function at the top level of a module")
        self.function = function
        self.path = f"{function.__module__}:{qualname}"
        self.name = (name or f"{function.__module__}.{qualname}")[:NAME_MAX]
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def start(self, total: int | None = None, *, params: Mapping[str, Any] | None = None) -> str:
        """Same as ``start_job(this_task, total, params=params)``."""
        return start_job(self, total, params=params)

    def __repr__(self) -> str:
        return f"<JobTask {self.name} ({self.path})>"


@overload
def task(function: Callable[..., Any], /) -> JobTask: ...
@overload
def task(name: str | None = None, /) -> Callable[[Callable[..., Any]], JobTask]: ...


def task(target: Any = None, /) -> Any:
    """Make a module-level function a job: ``@task`` or ``@task("notes.reindex")``.

    The name (default: the function's module and name) is what ``core_job.name`` and the
    UI show. The worker finds the function again by its module and name, so it must be
    defined at the top level of a module that the worker can import.
    """
    if callable(target):
        return JobTask(target)
    return lambda function: JobTask(function, target)


def _resolve_task(target: JobTask | str) -> JobTask:
    if isinstance(target, JobTask):
        return target
    found = pkgutil.resolve_name(target) if isinstance(target, str) else None
    if not isinstance(found, JobTask):
        raise TypeError(f"{target!r} is not a job (decorate a function with core.jobs.task)")
    return found


def start_job(
    target: JobTask | str,
    total: int | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    session: Any = None,
) -> str:
    """Record a job (status ``queued``) and queue it when the transaction commits.

    ``target`` is a function decorated with :func:`task`, or its ``"module:function"``
    path; ``params`` are passed to it as keyword arguments (plain JSON values: ids rather
    than ORM objects); the row keeps both, so that a failed job can be retried. The job
    belongs to the company the session is scoped to and to the signed-in user. Returns the
    job id, for ``GET /jobs/<id>``. Nothing is queued if the transaction rolls back.
    """
    job_task = _resolve_task(target)
    params = dict(params or {})
    try:  # kept on the row (for a retry) and queued: plain values only
        params = json.loads(json.dumps(params))
    except (TypeError, ValueError) as error:
        raise ValueError(f"job {job_task.name}: params must be plain JSON values ({error})") from None
    session = session if session is not None else get_session()
    job = Job(
        id=uuid.uuid4().hex, company_id=session.info.get(COMPANY_KEY) or None,
        user_id=events.acting_user_id(), name=job_task.name, task=job_task.path, params=params,
        status="queued", done=0, total=total,
        message="", created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job_id = job.id
    events.on_commit(lambda: _enqueue_job(app, job_id, job_task.path, params), session=session)
    return job_id


def _enqueue_job(app: Flask, job_id: str, path: str, params: dict[str, Any]) -> None:
    try:
        get_jobs(app).enqueue(RUN_JOB_TASK, job_id, path, params)
    except Exception as error:
        logger.exception("could not queue job %s", job_id)
        _update_job(app, job_id, {
            "status": "failed", "error": f"The job could not be queued: {type(error).__name__}: {error}",
            "finished_at": utcnow(),
        })


@dataclass
class _JobRun:
    app: Flask
    job_id: str
    pending: dict[str, Any] = field(default_factory=dict)


def current_job_id() -> str | None:
    """The id of the job running in this context, if any."""
    run = g.get(JOB_RUN_KEY) if has_app_context() else None
    return run.job_id if run is not None else None


def report_progress(done: int, total: int | None = None, message: str = "") -> None:
    """Record how far the running job is (``done`` of ``total``, and a short message).

    Written at once in a separate short transaction, so the UI sees it while the job's
    own transaction is still open. Outside a job this does nothing. On SQLite, while the
    job's transaction holds the write lock, an update waits briefly and is otherwise
    kept and written with the next one, or when the job ends.
    """
    run: _JobRun | None = g.get(JOB_RUN_KEY) if has_app_context() else None
    if run is None:
        return
    run.pending.update(done=int(done), message=str(message)[:MESSAGE_MAX])
    if total is not None:
        run.pending["total"] = int(total)
    if _update_job(run.app, run.job_id, run.pending, wait=False):
        run.pending.clear()


def commit_batch(done: int, total: int | None = None, message: str = "") -> None:
    """Commit the work done so far, then record the progress (``report_progress``).

    A job is one transaction by default. A job that works through many rows in batches
    calls this after each batch instead: what was committed stays when a later batch
    fails (the job's own rollback then undoes only the batch in progress), the database's
    write lock is released between batches, and the progress is written at once. The
    session stays scoped to the job's company. Outside a job it commits the session of
    the context and records nothing.
    """
    get_session().commit()
    report_progress(done, total, message)


def _update_job(
    app: Flask, job_id: str, values: Mapping[str, Any], *, expect_status: str | None = None, wait: bool = True
) -> bool:
    """Update one core_job row in a transaction of its own; False if no row changed.

    With ``wait=False`` on SQLite, a locked database gives up quickly and returns False.
    """
    engine = get_database(app).engine
    statement = update(Job).where(Job.id == job_id).values(**values)
    if expect_status is not None:
        statement = statement.where(Job.status == expect_status)
    short = engine.dialect.name == "sqlite" and not wait
    with engine.connect() as connection:
        if short:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={PROGRESS_BUSY_TIMEOUT_MS}")
        try:
            changed = connection.execute(statement).rowcount == 1
            connection.commit()
        except OperationalError:
            connection.rollback()
            if wait:
                raise
            logger.debug("job %s: progress not written now (database busy)", job_id)
            return False
        finally:
            if short:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={int(app.config['CRM_SQLITE_BUSY_TIMEOUT_MS'])}")
    return changed


def _run_job(app: Flask, job_id: str, path: str, params: dict[str, Any]) -> None:
    """The queue's task: run one job and keep its core_job row up to date."""
    if not _update_job(app, job_id, {"status": "running", "started_at": utcnow()}, expect_status="queued"):
        logger.warning("job %s is not queued (deleted, or run already); not running it", job_id)
        return
    with get_database(app).engine.connect() as connection:
        company_id, user_id = connection.execute(select(Job.company_id, Job.user_id).where(Job.id == job_id)).one()
    run = _JobRun(app, job_id)
    try:
        job_task = _resolve_task(path)
        run_in_transaction(app, lambda: job_task.function(**params),
                           company_id=company_id, user_id=user_id, _run=run)
    except BaseException as error:  # an interrupted job (worker stopping) failed too
        reason = "interrupted: the worker stopped" if isinstance(error, KeyboardInterrupt) else str(error)
        _update_job(app, job_id, {
            **run.pending, "status": "failed", "error": f"{type(error).__name__}: {reason}",
            "finished_at": utcnow(),
        })
        raise
    _update_job(app, job_id, {**run.pending, "status": "done", "finished_at": utcnow()})


# -- the progress endpoint -----------------------------------------------------------------------

blueprint = Blueprint("core_jobs", __name__)


def job_as_dict(job: Job) -> dict[str, Any]:
    percent = None
    if job.status == "done":
        percent = 100
    elif job.total:
        percent = max(0, min(100, int(job.done * 100 / job.total)))
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "percent": percent,
        "message": job.message,
        "error": job.error,
        "finished": job.status in ("done", "failed"),
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes; they are UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


@blueprint.get("/jobs/<job_id>")
@signed_in
def job_status(job_id: str) -> Any:
    """A job's progress as JSON, for the signed-in users of the job's company."""
    from core.tenancy import current_company

    company = current_company()
    job = None
    if company is not None:
        job = get_session().scalar(select(Job).where(Job.id == job_id, Job.company_id == company.id))
    if job is None:
        return {"error": "not found"}, 404, {"Cache-Control": "no-store"}
    return job_as_dict(job), 200, {"Cache-Control": "no-store"}


@blueprint.get("/jobs/<job_id>/progress")
@signed_in
def job_progress(job_id: str) -> Any:
    """A job's progress bar as HTML, for the users of the job's company (``ui.progress``).

    htmx gets the fragment, which asks to be polled again while the job runs and not once
    it finished; a plain request gets a page that refreshes itself (no JavaScript).
    ``?next=`` (a path on this site) becomes the link shown when the job is done; with
    ``?go=1`` as well, htmx is sent there as soon as the job has finished (done or failed).
    """
    from core.tenancy import current_company  # imports core.jobs itself
    from core.ui import safe_next

    company = current_company()
    job = None
    if company is not None:
        job = get_session().scalar(select(Job).where(Job.id == job_id, Job.company_id == company.id))
    if job is None:
        abort(404)
    follow = safe_next(request.args.get("next"), "") or None
    if getattr(request, "htmx", False) and follow and request.args.get("go") and job.status in ("done", "failed"):
        # The page that started the job shows its outcome: open it again now.
        return "", 200, {"HX-Redirect": follow, "Cache-Control": "no-store"}
    template = "jobs/_progress.html" if getattr(request, "htmx", False) else "jobs/progress.html"
    page = render_template(template, job=job_as_dict(job), next=follow, go=bool(request.args.get("go")))
    return page, 200, {"Cache-Control": "no-store"}


# -- retrying a failed job (the admin console's job monitor) ---------------------------------


class JobRetryError(Exception):
    """A job cannot be retried; the message says why (for the user)."""


class JobNotFound(JobRetryError, LookupError):
    """No such job, or it belongs to another company."""


class JobNotRetryable(JobRetryError):
    """The job is not failed (``status`` says what it is), or its task is not known any more."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def retry_job(job_id: str, *, session: Any = None) -> str:
    """Run a failed job again: the same row goes back to ``queued`` and the same task runs
    with the same params when the transaction commits (as the user who started it).

    Its error, progress and times are cleared (the old error is logged at INFO with the
    user who asked). Idempotent: the row changes only while it is ``failed`` (a conditional
    UPDATE), so a second request, even a concurrent one, raises :class:`JobNotRetryable`
    instead of running the job twice. The job must belong to the company ``session`` is
    scoped to (when it is scoped), else :class:`JobNotFound`. A row from before jobs kept
    their task and params (``core_job.task`` is empty) raises :class:`JobNotRetryable`.
    Returns the job id, for ``GET /jobs/<id>``.
    """
    session = session if session is not None else get_session()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    query = select(Job.name, Job.status, Job.error, Job.company_id, Job.task, Job.params).where(Job.id == job_id)
    scoped = session.info.get(COMPANY_KEY)
    if scoped is not None:
        query = query.where(Job.company_id == scoped)
    row = session.execute(query).one_or_none()
    if row is None:
        raise JobNotFound(f"no job {job_id}")
    if row.status != "failed":
        raise JobNotRetryable(f"job {row.name} is {row.status}, not failed: only a failed job can be retried",
                              row.status)
    if row.task is None:
        raise JobNotRetryable(f"job {row.name} cannot be retried: it was queued before jobs kept their task "
                              "and parameters; start it again from where it was started", row.status)
    changed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "failed")
        .values(status="queued", done=0, message="", error=None, started_at=None, finished_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:  # retried (or deleted) by someone else meanwhile
        raise JobNotRetryable(f"job {row.name} was retried already", "queued")
    for job in [obj for obj in session.identity_map.values() if isinstance(obj, Job) and obj.id == job_id]:
        session.expire(job)
    path, params = row.task, dict(row.params or {})
    first_line = (row.error or "").splitlines()[0] if row.error else ""
    logger.info("job %s (%s, company %s) queued again by user %s; it had failed with: %s",
                job_id, row.name, row.company_id, events.acting_user_id(), first_line)
    events.on_commit(lambda: _enqueue_job(app, job_id, path, params), session=session)
    return job_id
