"""In-app notifications: a message for one person, shown under the bell in the top bar.

Any plugin tells someone about something with :func:`notify`::

    from core.notifications import notify

    notify(task.assignee_id, _("Reminder: %(title)s", title=task.title),
           url=url_for("customers_followups.mine"), mail=True)

A notification belongs to the company the session is scoped to (the request's company, or
the company a job or per-company periodic task runs for), so people see under the bell the
notifications of the company they are working in. ``mail=True`` also sends it by mail,
once the transaction commits (nothing is mailed for a change that is rolled back).

The page ``/notifications`` lists a person's notifications, newest first; opening one marks
it read. The bell's unread count costs one indexed query per full page, none for htmx
fragments and none when signed out. Read notifications older than
:data:`KEEP_READ_DAYS` days are deleted by :func:`prune` (the core's daily periodic task).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from flask import Blueprint, Flask, abort, current_app, g, has_request_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import DateTime, ForeignKey, Index, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.wrappers import Response

from core.auth import signed_in
from core.db import Base, CompanyMixin, get_session, utcnow
from core.events import on_commit
from core.models import User
from core.scoping import COMPANY_KEY, NO_COMPANY
from core.ui import safe_next

logger = logging.getLogger(__name__)

TITLE_MAX = 200
URL_MAX = 500
PAGE_SIZE = 25
# The bell counts at most this many (and shows "99+"): the count stays one short index read
# however many notifications pile up.
COUNT_CAP = 100
KEEP_READ_DAYS = 90
PRUNE_BATCH = 5000
PRUNE_SCHEDULE = "17 3 * * *"  # daily, at a quiet minute
PRUNE_TASK = "crm.notifications.prune"
_COUNT_KEY = "crm_unread_notifications"


class Notification(CompanyMixin, Base):
    """A message for one user in one company; ``read_at`` is set when they open it."""

    __tablename__ = "core_notification"
    __table_args__ = (
        # The bell: a user's unread notifications in the company in context.
        Index("ix_core_notification_unread", "user_id", "company_id", "read_at"),
        # The page: a user's notifications, newest first, paged by id.
        Index("ix_core_notification_user", "user_id", "company_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(URL_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


# -- telling someone -----------------------------------------------------------------------------


def notify(
    user_id: int,
    title: str,
    *,
    url: str | None = None,
    body: str = "",
    mail: bool = False,
    session: Session | None = None,
) -> Notification:
    """Add a notification for ``user_id`` in the company ``session`` is scoped to; return it.

    ``title`` is one line (cut at 200 characters), ``body`` optional plain text; ``url`` a
    path on this site (``url_for(...)``) that opening the notification leads to; anything
    else (another host, a scheme) is refused with ``ValueError``. With ``mail=True`` the
    notification is also mailed to the user's address once the transaction commits; a mail
    that cannot be sent is logged, the notification stays. ``session`` defaults to
    :func:`core.db.get_session`; it must be scoped to a company (a request, a job, a
    per-company periodic task, or :func:`core.scoping.company_scope`), else ``ValueError``.
    """
    session = session if session is not None else get_session()
    company_id = session.info.get(COMPANY_KEY)
    if not company_id:
        raise ValueError("notify() needs a session scoped to a company (see core.scoping.company_scope)")
    if url is not None and (len(url) > URL_MAX or safe_next(url, "") != url):
        raise ValueError(f"notification url {url!r} must be a path on this site, at most {URL_MAX} characters")
    title = " ".join(str(title).split())[:TITLE_MAX]
    notification = Notification(company_id=company_id, user_id=user_id, title=title, body=str(body or ""),
                                url=url, created_at=utcnow())
    session.add(notification)
    session.flush()
    if mail:
        address = session.scalar(select(User.email).where(User.id == user_id, User.active.is_(True)))
        if address:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            text = _mail_body(notification.title, notification.body, _absolute(app, url))
            on_commit(lambda: _send(app, address, notification.title, text), session=session)
    return notification


def link(endpoint: str, **values: Any) -> str:
    """The path of ``endpoint`` on this site, for a notification's ``url``: ``url_for`` in a
    request, and the same path in a job or periodic task, where Flask has no request to build
    URLs from."""
    if has_request_context():
        return url_for(endpoint, **values)
    app = current_app
    adapter = app.url_map.bind("localhost", script_name=app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)


def _absolute(app: Flask, path: str | None) -> str | None:
    """A link for the mail: ``CRM_BASE_URL`` plus the path, else the request's host; a job
    without ``CRM_BASE_URL`` has no host to name, so the mail has no link."""
    if path is None:
        return None
    base = app.config.get("CRM_BASE_URL")
    if base:
        return base.rstrip("/") + path
    if has_request_context():
        return request.host_url.rstrip("/") + path
    return None


def _mail_body(title: str, body: str, link: str | None) -> str:
    parts = [title]
    if body:
        parts.append(body)
    if link:
        parts.append(_("Open it: %(link)s", link=link))
    parts.append(_("You get this mail because Atrium CRM notified you; your notifications are listed under "
                   "the bell at the top of every page."))
    return "\n\n".join(parts)


def _send(app: Flask, address: str, subject: str, text: str) -> None:
    from core.mail import MailError, send_mail

    with app.app_context():
        try:
            send_mail(address, subject, text)
        except MailError:
            logger.warning("notification mail to %s not sent; the notification is kept", address)


# -- reading -------------------------------------------------------------------------------------


def unread_count(user_id: int, session: Session | None = None) -> int:
    """How many unread notifications ``user_id`` has in the session's company, up to
    :data:`COUNT_CAP` (one indexed query)."""
    session = session if session is not None else get_session()
    capped = (select(Notification.id)
              .where(Notification.user_id == user_id, Notification.read_at.is_(None))
              .limit(COUNT_CAP).subquery())
    return session.scalar(select(func.count()).select_from(capped)) or 0


def _company_in_context() -> int | None:
    company_id = get_session().info.get(COMPANY_KEY)
    return None if company_id in (None, NO_COMPANY) else company_id


def bell_count() -> int:
    """The bell's badge: the signed-in user's unread count, once per request; 0 (and no
    query) when signed out or outside a company."""
    if not has_request_context() or not current_user.is_authenticated:
        return 0
    if _COUNT_KEY not in g:
        company_id = _company_in_context()
        setattr(g, _COUNT_KEY, unread_count(current_user.id) if company_id else 0)
    return g.get(_COUNT_KEY)


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or, with no id, every) unread notification of ``user_id`` in the session's
    company read; return how many changed."""
    company_id = session.info.get(COMPANY_KEY)
    statement = (update(Notification)
                 .where(Notification.user_id == user_id, Notification.company_id == company_id,
                        Notification.read_at.is_(None))
                 .values(read_at=utcnow())
                 .execution_options(synchronize_session=False))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return session.execute(statement).rowcount or 0


def prune(session: Session, *, now: datetime | None = None, keep_days: int = KEEP_READ_DAYS) -> int:
    """Delete up to :data:`PRUNE_BATCH` notifications read more than ``keep_days`` ago (every
    company); return how many. Unread ones are kept however old."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    ids = select(Notification.id).where(Notification.read_at < cutoff).limit(PRUNE_BATCH)
    ids = ids.execution_options(crm_unscoped=True)
    found = list(session.scalars(ids))
    if not found:
        return 0
    return session.execute(delete(Notification).where(Notification.id.in_(found))
                           .execution_options(synchronize_session=False)).rowcount or 0


# -- pages ---------------------------------------------------------------------------------------

blueprint = Blueprint("core_notifications", __name__, url_prefix="/notifications")
blueprint.add_app_template_global(bell_count, "unread_notifications")


@blueprint.get("/")
@signed_in
def index() -> str:
    """The signed-in user's notifications in the company in context, newest first,
    :data:`PAGE_SIZE` a page (``?before=<id>`` for older ones)."""
    before = request.args.get("before", type=int)
    items: list[Notification] = []
    has_more = False
    if _company_in_context():
        statement = select(Notification).where(Notification.user_id == current_user.id)
        if before:
            statement = statement.where(Notification.id < before)
        rows = list(get_session().scalars(statement.order_by(Notification.id.desc()).limit(PAGE_SIZE + 1)))
        items, has_more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    return render_template("notifications/index.html", items=items, has_more=has_more, before=before,
                           unread=bell_count())


@blueprint.post("/<int:notification_id>/open")
@signed_in
def open_notification(notification_id: int) -> Response:
    """Mark the notification read and go where it leads (or back to the list)."""
    notification = get_session().scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == current_user.id))
    if notification is None:
        abort(404, description=_("There is no such notification for you in this company."))
    mark_read(get_session(), current_user.id, notification.id)
    return redirect(safe_next(notification.url, url_for("core_notifications.index")))


@blueprint.post("/read")
@signed_in
def read_all() -> Response:
    """Mark every notification of the signed-in user in this company read."""
    if _company_in_context():
        mark_read(get_session(), current_user.id)
    return redirect(safe_next(request.form.get("next"), url_for("core_notifications.index")))


def run_prune(app: Flask) -> None:
    """The core's daily periodic task: :func:`prune` in a transaction of its own."""
    from core.jobs import run_in_transaction

    run_in_transaction(app, lambda: prune(get_session()))
