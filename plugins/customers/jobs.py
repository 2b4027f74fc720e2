"""The customers plugin's periodic work: follow-up task reminders.

Every minute, :func:`send_due_reminders` finds the open tasks whose ``remind_at`` has
passed and that were not reminded yet, in every company that has the plugin enabled, and
tells each assignee (an in-app notification and a mail, in their language, linking to the
task's record or to "My follow-ups"). It handles at most :data:`REMINDER_BATCH` tasks a run,
oldest reminder first, so a backlog drains over a few runs instead of one long transaction.

It runs system-wide (one query finds the due tasks of every company, through the index
``ix_customers_task_reminder_due``) rather than once per company, so an idle minute costs one
query however many companies there are; the work of each company is then done inside
:func:`core.scoping.company_scope`. A task is claimed (``reminded_at`` set, only while still
unset) before anyone is notified, so two workers running the task at once never remind twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from core import PeriodicTask
from core.db import get_session, utcnow
from core.i18n import DEFAULT_LOCALE, format_datetime
from core.models import Membership, PluginState, User
from core.notifications import link, notify
from core.scoping import company_scope
from plugins.customers.followups import subject_endpoint
from plugins.customers.models import FollowUpTask

PLUGIN = "customers"
REMINDER_TASK = "customers.task_reminders"
REMINDER_SCHEDULE = "* * * * *"
REMINDER_BATCH = 200


def periodic_tasks() -> list[PeriodicTask]:
    return [PeriodicTask(name=REMINDER_TASK, schedule=REMINDER_SCHEDULE, run=send_due_reminders, per_company=False)]


def send_due_reminders(*, now: datetime | None = None, batch: int = REMINDER_BATCH) -> int:
    """Remind the assignees of up to ``batch`` due tasks; return how many tasks were handled.

    Runs on the system-wide session of a periodic task (no company in context).
    """
    session = get_session()
    now = now or utcnow()
    due = session.execute(
        select(FollowUpTask.id, FollowUpTask.company_id)
        .join(PluginState, and_(PluginState.company_id == FollowUpTask.company_id,
                                PluginState.plugin == PLUGIN, PluginState.enabled.is_(True)))
        .where(FollowUpTask.reminded_at.is_(None), FollowUpTask.done_at.is_(None), FollowUpTask.remind_at <= now)
        .order_by(FollowUpTask.remind_at, FollowUpTask.id)
        .limit(batch)
        .execution_options(crm_unscoped=True)
    ).all()
    by_company: dict[int, list[int]] = defaultdict(list)
    for task_id, company_id in due:
        by_company[company_id].append(task_id)
    handled = 0
    for company_id, task_ids in by_company.items():
        with company_scope(session, company_id):
            handled += _remind(session, company_id, task_ids, now)
    return handled


def _remind(session: Session, company_id: int, task_ids: list[int], now: datetime) -> int:
    """Claim the tasks still unreminded among ``task_ids`` and notify their assignees who are
    still members of the company. Three queries whatever the number of tasks."""
    claimed = list(session.scalars(
        update(FollowUpTask)
        .where(FollowUpTask.id.in_(task_ids), FollowUpTask.company_id == company_id,
               FollowUpTask.reminded_at.is_(None))
        .values(reminded_at=now)
        .returning(FollowUpTask.id)
        .execution_options(synchronize_session=False)
    ))
    if not claimed:
        return 0
    tasks = session.scalars(select(FollowUpTask).where(FollowUpTask.id.in_(claimed))
                            .order_by(FollowUpTask.remind_at, FollowUpTask.id)).all()
    assignees = {task.assignee_id for task in tasks if task.assignee_id is not None}
    locales = dict(session.execute(
        select(User.id, User.locale).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company_id, User.id.in_(assignees), User.active.is_(True))
    ).all()) if assignees else {}
    for task in tasks:
        if task.assignee_id in locales:  # a former member, or nobody: nothing to tell
            _notify(session, task, locales[task.assignee_id])
    return len(claimed)


def _notify(session: Session, task: FollowUpTask, locale: str | None) -> None:
    endpoint = subject_endpoint(task) or ("customers_followups.mine", {})
    with force_locale(locale or DEFAULT_LOCALE):
        title = _("Reminder: %(title)s", title=task.title)
        body = _("Due %(when)s.", when=format_datetime(task.due_at, "short"))
    notify(task.assignee_id, title, body=body, url=link(endpoint[0], **endpoint[1]), mail=True, session=session)
