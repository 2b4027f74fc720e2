"""Follow-up history and tasks: the two record panels (on any plugin's record page), their
forms (htmx swaps the panel; without JavaScript an ordinary POST comes back to the page), a
task's edit page and the "My follow-ups" page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from core import RecordPanel
from core.access import has_permission, require_permission, visible
from core.db import get_session, utcnow
from core.forms import Form, form_data, handle_form
from core.models import Membership, User
from core.tenancy import current_company
from core.timeline import Cursor, contributions
from core.ui import flash_undo, safe_next
from plugins.customers.followups import (
    ACCOUNT_TYPE,
    CONTACT_TYPE,
    KIND_ICONS,
    KIND_LABELS,
    TIMELINE_PAGE_SIZE,
    VISIBILITY_TYPES,
    mapped_model,
    InteractionSchema,
    TaskSchema,
    aware,
    complete_task,
    create_task,
    find_subject,
    log_interaction,
    my_follow_ups,
    open_tasks,
    reopen_task,
    subject_endpoint,
    timeline,
    update_task,
)
from plugins.customers.models import INTERACTION_KINDS, Account, Contact, FollowUpTask

READ = "customers.account.read"
WRITE = "customers.follow_up.write"
NEXT_FIELD = "next"
PANEL_FIELD = "panel"  # sent by the panels' own forms: answer with the panel, not a redirect

blueprint = Blueprint("customers_followups", __name__, url_prefix="/customers/follow-ups",
                      template_folder="templates")


def panels(record_type: str, record: Any, user: Any) -> list[RecordPanel]:
    """The "Follow-up history" and "Follow-up tasks" cards for any record with an ``id``.

    Seeing them needs ``customers.account.read``; their forms also need
    ``customers.follow_up.write`` (checked when they are drawn and when they post).
    """
    record_id = getattr(record, "id", None)
    if record_id is None or user is None or not has_permission(user, READ):
        return []
    where = {"record_type": record_type, "record_id": str(record_id)}
    return [
        RecordPanel(key="customers.timeline", title=_l("Follow-up history"), order=20, permission=READ,
                    url=url_for("customers_followups.timeline_panel", **where)),
        RecordPanel(key="customers.tasks", title=_l("Follow-up tasks"), order=21, permission=READ,
                    url=url_for("customers_followups.tasks_panel", **where)),
    ]


# -- helpers ------------------------------------------------------------------------------------


def _subject_or_404(record_type: str, record_id: str) -> Any:
    subject = find_subject(record_type, record_id)
    if subject is None:
        abort(404, description=_("There is no such record in this company, or you may not see it."))
    return subject


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _back_to() -> str:
    """The page a form of a panel came from: its ``next`` field, else the referring page."""
    return safe_next(request.form.get(NEXT_FIELD) or request.referrer, url_for("customers_followups.mine"))


def _submitted() -> dict[str, str]:
    """The form without the fields the schemas do not know (where to go back, panel flag)."""
    return {key: value for key, value in form_data().items() if key not in (NEXT_FIELD, PANEL_FIELD)}


def _page_url() -> str:
    """The page the panel is shown in (htmx names it, as a full URL of this site), for the
    forms' way back without htmx; else this panel's own URL (opened without JavaScript)."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path and current.netloc == request.host:
        return safe_next(urlunsplit(("", "", current.path, current.query, "")), request.full_path)
    return request.full_path


def _members() -> list[tuple[str, str]]:
    """``(id, name)`` of the company's people, for choosing a task's assignee."""
    company = current_company()
    rows = get_session().execute(
        select(User.id, User.name, User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company.id).order_by(User.name, User.email)
    ).all()
    return [(str(row.id), row.name or row.email) for row in rows]


def _task_form(data: dict[str, str] | None = None) -> Form:
    form = Form(TaskSchema, data=data, id_prefix="task-")
    form["assignee_id"].choices = _members()
    return form


def _cursor() -> Cursor | None:
    """Where the timeline page starts (``before`` and ``key``), or None for the newest."""
    try:
        return Cursor.parse(request.args.get("before", "").strip(), request.args.get("key", "")[:200])
    except ValueError:
        abort(400, description=_("“%(value)s” is not a date and time: the history pages by “before”, "
                                 "as in 2025-06-02T09:00:00+00:00.", value=request.args.get("before", "")[:40]))


def _render_timeline(record_type: str, record_id: str, form: Form | None = None, status: int = 200,
                     logged: bool = False, subject: Any = None) -> Response:
    cursor = _cursor() if request.method == "GET" else None
    subject = subject if subject is not None else find_subject(record_type, record_id)
    contributed = contributions(record_type, subject, current_user, cursor=cursor, limit=TIMELINE_PAGE_SIZE + 1)
    page = timeline(get_session(), record_type, record_id, subject=subject, cursor=cursor, contributed=contributed)
    if form is None and has_permission(current_user, WRITE):
        form = Form(InteractionSchema, id_prefix="log-")
    here = url_for("customers_followups.timeline_panel", record_type=record_type, record_id=record_id)
    older = url_for("customers_followups.timeline_panel", record_type=record_type, record_id=record_id,
                    **page.next_cursor.params()) if page.next_cursor else None
    body = render_template(
        "customers/followups/_timeline.html", items=page.items, older=older, newest=here if cursor else None,
        record_type=record_type, record_id=record_id, form=form, kinds=INTERACTION_KINDS,
        kind_labels=KIND_LABELS, kind_icons=KIND_ICONS, logged=logged, page_url=_page_url(),
    )
    return Response(body, status=status, mimetype="text/html")


def _render_tasks(record_type: str, record_id: str, form: Form | None = None, status: int = 200,
                  done_task: FollowUpTask | None = None) -> Response:
    if form is None and has_permission(current_user, WRITE):
        form = _task_form()
    body = render_template(
        "customers/followups/_tasks.html", entries=open_tasks(get_session(), record_type, record_id),
        record_type=record_type, record_id=record_id, form=form, done_task=done_task, page_url=_page_url(),
    )
    return Response(body, status=status, mimetype="text/html")


def _refused_page(title: str, panel: Response) -> Response:
    """A refused form posted without JavaScript: the panel on a page of its own, status 422."""
    body = render_template("customers/followups/refused.html", title=title, panel=panel.get_data(as_text=True),
                           back=_back_to())
    return Response(body, status=422, mimetype="text/html")


# -- the history panel --------------------------------------------------------------------------


@blueprint.get("/panels/timeline/<record_type>/<record_id>")
@require_permission(READ)
def timeline_panel(record_type: str, record_id: str) -> Response:
    """The body of the "Follow-up history" panel: a quick log form and the interactions, 20 a page."""
    subject = _subject_or_404(record_type, record_id)
    return _render_timeline(record_type, record_id, subject=subject)


@blueprint.post("/log/<record_type>/<record_id>")
@require_permission(WRITE)
def log(record_type: str, record_id: str) -> Response:
    """Log an interaction about the record; htmx gets the panel back, a browser its page."""
    subject = _subject_or_404(record_type, record_id)
    form = Form(InteractionSchema, data=_submitted(), id_prefix="log-")
    data = form.validate()
    if data is None:
        panel = _render_timeline(record_type, record_id, form=form, status=422, subject=subject)
        return panel if _is_htmx() else _refused_page(_("Log an interaction"), panel)
    log_interaction(get_session(), subject_type=record_type, subject_id=record_id, owner_id=current_user.id, **data)
    if _is_htmx():
        return _render_timeline(record_type, record_id, logged=True, subject=subject)
    flash(_("Interaction logged."), "success")
    return redirect(_back_to())


# -- the tasks panel ----------------------------------------------------------------------------


@blueprint.get("/panels/tasks/<record_type>/<record_id>")
@require_permission(READ)
def tasks_panel(record_type: str, record_id: str) -> Response:
    """The body of the "Follow-up tasks" panel: the open tasks and a form to add one."""
    _subject_or_404(record_type, record_id)
    return _render_tasks(record_type, record_id)


@blueprint.post("/tasks/<record_type>/<record_id>")
@require_permission(WRITE)
def add_task(record_type: str, record_id: str) -> Response:
    """Add a follow-up task about the record (assigned to the signed-in user by default)."""
    _subject_or_404(record_type, record_id)
    form = _task_form(_submitted())
    data = form.validate()
    if data is not None and data["assignee_id"] is not None \
            and str(data["assignee_id"]) not in {value for value, _label in form["assignee_id"].choices}:
        form.fail(_("Choose someone of this company."), "assignee_id")
        data = None
    if data is None:
        panel = _render_tasks(record_type, record_id, form=form, status=422)
        return panel if _is_htmx() else _refused_page(_("Add a follow-up task"), panel)
    create_task(get_session(), subject_type=record_type, subject_id=record_id, title=data["title"],
                due_at=data["due_at"], remind_at=data["remind_at"],
                assignee_id=data["assignee_id"] or current_user.id)
    if _is_htmx():
        return _render_tasks(record_type, record_id)
    flash(_("Task added."), "success")
    return redirect(_back_to())


def _task_or_404(task_id: int) -> FollowUpTask:
    """A task of the company that is the user's own, or about a record the user may see."""
    task = get_session().get(FollowUpTask, task_id)  # company-scoped: another company's is None
    if task is None or (task.assignee_id != current_user.id
                        and find_subject(task.subject_type, task.subject_id) is None):
        abort(404, description=_("There is no such task in this company, or you may not see it."))
    return task


@blueprint.post("/tasks/<int:task_id>/done")
@require_permission(WRITE)
def complete(task_id: int) -> Response:
    """Mark a task done; the panel (htmx) or the page offers to undo it."""
    task = _task_or_404(task_id)
    complete_task(get_session(), task)
    if _is_htmx() and request.form.get(PANEL_FIELD):
        return _render_tasks(task.subject_type, task.subject_id, done_task=task)
    flash_undo(_("Task “%(title)s” done.", title=task.title),
               url_for("customers_followups.reopen", task_id=task.id))
    return redirect(_back_to())


@blueprint.post("/tasks/<int:task_id>/reopen")
@require_permission(WRITE)
def reopen(task_id: int) -> Response:
    """Open a done task again (the Undo of "Done")."""
    task = _task_or_404(task_id)
    reopen_task(get_session(), task)
    if _is_htmx() and request.form.get(PANEL_FIELD):
        return _render_tasks(task.subject_type, task.subject_id)
    flash(_("Task “%(title)s” is open again.", title=task.title), "success")
    return redirect(_back_to())


# -- changing a task ----------------------------------------------------------------------------


def _edit_schema(task: FollowUpTask, members: list[tuple[str, str]]) -> TaskSchema:
    """:class:`TaskSchema` with ``members`` as the assignee's choices, and the task's own
    assignee among them even when no longer a member: the select must not show "Me" for
    them, or saving an unrelated change would take the task over silently."""
    schema = TaskSchema()
    choices = list(members)
    if task.assignee_id is not None and str(task.assignee_id) not in {value for value, _label in members}:
        user = get_session().get(User, task.assignee_id)
        choices.append((str(task.assignee_id), (user.name or user.email) if user else f"#{task.assignee_id}"))
    assignee = schema.fields["assignee_id"]
    assignee.metadata = {**assignee.metadata, "choices": choices}
    return schema


def _task_values(task: FollowUpTask) -> dict[str, Any]:
    """What the edit form shows first, its dates in UTC (the time zone dates are shown in)."""
    def utc(moment: datetime | None) -> datetime | None:
        return aware(moment).astimezone(UTC) if moment is not None else None

    return {"title": task.title, "due_at": utc(task.due_at), "remind_at": utc(task.remind_at),
            "assignee_id": task.assignee_id}


@blueprint.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@require_permission(WRITE)
def edit_task(task_id: int) -> Any:
    """Change a task's title, due date, assignee or reminder, then go back to ``next`` (the
    page the Edit link was on; else the task's record, else My follow-ups)."""
    task = _task_or_404(task_id)
    subject_link = subject_url(task)
    back = safe_next(request.args.get(NEXT_FIELD), subject_link or url_for("customers_followups.mine"))
    members = _members()

    def save(data: dict[str, Any], form: Form) -> Response | None:
        assignee_id = data["assignee_id"] or current_user.id
        # A new assignee must be a member; the one the task has may stay (see _edit_schema).
        if assignee_id != task.assignee_id and str(assignee_id) not in {value for value, _label in members}:
            form.fail(_("Choose someone of this company."), "assignee_id")
            return None
        update_task(get_session(), task, {**data, "assignee_id": assignee_id})
        flash(_("Task “%(title)s” saved.", title=task.title), "success")
        return redirect(back)

    return handle_form(_edit_schema(task, members), "customers/followups/task_form.html", save,
                       initial=_task_values(task), task=task, back=back, subject_link=subject_link,
                       subject_name=subject_names([task]).get((task.subject_type, task.subject_id)))


# -- My follow-ups ------------------------------------------------------------------------------


def subject_url(task: FollowUpTask) -> str | None:
    """The page of the task's subject when it is an account or a contact (else none)."""
    endpoint = subject_endpoint(task)
    if endpoint is None:
        return None
    try:
        return url_for(endpoint[0], **endpoint[1])
    except BuildError:
        return None


def subject_names(tasks: list[FollowUpTask]) -> dict[tuple[str, str], str]:
    """The names of the records the tasks are about (accounts, contacts, and named records of
    other plugins): one query per kind, and only the ones the user may see."""
    names: dict[tuple[str, str], str] = {}
    for record_type, model in ((ACCOUNT_TYPE, Account), (CONTACT_TYPE, Contact)):
        ids = {int(t.subject_id) for t in tasks if t.subject_type == record_type and t.subject_id.isdigit()}
        if ids:
            statement = visible(select(model.id, model.name).where(model.id.in_(ids)), model,
                                VISIBILITY_TYPES[record_type])
            names.update({(record_type, str(row.id)): row.name for row in get_session().execute(statement)})
    # Records of other plugins (a deal, a lead) with a name, through their own visibility.
    for record_type in {t.subject_type for t in tasks} - set(VISIBILITY_TYPES):
        model = mapped_model(record_type)
        ids = {int(t.subject_id) for t in tasks if t.subject_type == record_type and t.subject_id.isdigit()}
        if model is None or not ids or not hasattr(model, "name") or not hasattr(model, "owner_id") \
                or not getattr(model, "__permission_prefix__", None):
            continue
        statement = visible(select(model.id, model.name).where(model.id.in_(ids)), model,
                            model.__permission_prefix__)
        names.update({(record_type, str(row.id)): row.name for row in get_session().execute(statement)})
    return names


@blueprint.get("/")
@require_permission(WRITE)
def mine() -> str:
    """The signed-in user's open tasks: overdue, today, the next two weeks, and how many later."""
    follow_ups = my_follow_ups(get_session(), current_user.id)
    tasks = follow_ups.overdue + follow_ups.today + follow_ups.upcoming
    return render_template("customers/followups/mine.html", follow_ups=follow_ups, subject_url=subject_url,
                           names=subject_names(tasks), now=aware(utcnow()), aware=aware)
