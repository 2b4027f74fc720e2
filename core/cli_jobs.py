"""``crm worker`` (a huey consumer for the application's job queue) and ``crm outbox``
(dead-lettered event deliveries, for administrators)."""

from __future__ import annotations

import logging

import click
from flask import current_app

from core.cli_support import print_table, with_app
from core.jobs import get_jobs


@click.command("worker")
@click.option("-w", "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="How many jobs run at the same time.")
@click.option("-k", "--worker-type", type=click.Choice(["thread", "process"]), default="thread",
              show_default=True, help="Run jobs in threads, or in processes (for CPU-bound jobs).")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Also start scheduled work: plugins' periodic tasks and the outbox sweep. "
              "Exactly one worker of a queue should run with --periodic.")
@click.option("-d", "--delay", default=0.1, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds between polls of an empty SQLite queue at first.")
@click.option("-m", "--max-delay", default=10.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Longest wait, in seconds, between polls of an empty SQLite queue.")
@click.option("-v", "--verbose", is_flag=True, help="Log every job, and debugging details.")
@with_app(check_schema=True)
def worker_command(workers: int, worker_type: str, periodic: bool, delay: float, max_delay: float,
                   verbose: bool) -> None:
    """Run jobs from the queue until stopped (Ctrl+C, or SIGTERM to finish running jobs first).

    The queue is Redis when CRM_REDIS_URL is set, otherwise the SQLite file jobs.sqlite3
    in the instance folder (workers must then run on the same machine as the web
    processes). Run as many workers as you like; give exactly one of them --periodic.
    """
    from huey.consumer_options import ConsumerConfig

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = get_jobs(app)
    if jobs.backend == "immediate":
        raise click.ClickException(
            "jobs run immediately in the process that starts them here "
            "(CRM_ENV=testing or CRM_JOBS_IMMEDIATE=true), so a worker has nothing to do; "
            "set CRM_JOBS_IMMEDIATE=false to use a queue"
        )
    if jobs.backend == "redis":
        try:
            jobs.huey.storage.conn.ping()
        except Exception as error:
            raise click.ClickException(
                f"the job queue is unreachable: {jobs.describe()} ({type(error).__name__}: {error}). "
                "Start Redis or correct CRM_REDIS_URL; without CRM_REDIS_URL the queue is a SQLite "
                "file in the instance folder"
            ) from None
    if max_delay < delay:
        raise click.BadParameter("must not be less than --delay", param_hint="--max-delay")

    config = ConsumerConfig(
        workers=workers, worker_type=worker_type, periodic=periodic, initial_delay=delay,
        max_delay=max_delay, verbose=True if verbose else None,
        # SIGTERM (what service managers send) lets running jobs finish; SIGINT interrupts them.
        graceful_signal="TERM",
    )
    config.validate()
    config.setup_logger()
    logging.getLogger("core").setLevel(config.loglevel)
    if worker_type == "process":
        from core.db import get_database

        @jobs.huey.on_startup()
        def fresh_database_connections() -> None:
            # A forked worker must not share the parent's pooled connections.
            get_database(app).engine.dispose(close=False)

    click.echo(
        f"Atrium CRM worker on {jobs.describe()}: {workers} {worker_type}(s), "
        f"periodic tasks {'on' if periodic else 'off'}"
    )
    consumer = jobs.huey.create_consumer(**config.values)
    consumer.run()


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and retry deliveries of events to out-of-process handlers."""


@outbox_group.command("dead")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="At most this many.")
@with_app(check_schema=True)
def outbox_dead(limit: int) -> None:
    """List dead-lettered deliveries (every attempt failed), newest event first."""
    from core.events import dead_deliveries

    rows = [("DELIVERY", "EVENT", "HANDLER", "ATTEMPTS", "LAST ERROR")]
    for delivery, event in dead_deliveries(limit):
        error = (delivery.last_error or "").strip().splitlines()
        rows.append((str(delivery.id), f"{event.name} #{event.id}", delivery.handler,
                     str(delivery.attempts), error[-1][:80] if error else "-"))
    if len(rows) == 1:
        click.echo("No dead deliveries.")
        return
    print_table(rows)
    click.echo("Retry one with: crm outbox retry DELIVERY")


@outbox_group.command("retry")
@click.argument("delivery_id", type=click.IntRange(min=1))
@with_app(check_schema=True)
def outbox_retry(delivery_id: int) -> None:
    """Queue a dead or waiting delivery again now, with a fresh set of attempts."""
    from core.db import get_session
    from core.events import retry_delivery

    if not retry_delivery(delivery_id):
        raise click.ClickException(f"no delivery {delivery_id} waiting or dead (delivered ones are not retried)")
    get_session().commit()
    click.echo(f"Delivery {delivery_id} is queued again.")
