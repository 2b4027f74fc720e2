"""Follow-ups: the history of interactions with a customer and the tasks still to do.

Interactions and tasks point at the record they are about through a generic reference
(``subject_type`` = :func:`core.audit.record_type`, ``subject_id`` = its id as text), so a
record of any plugin has a history. When the subject is an account, or a contact at an
account, ``account_id`` is filled too: the account's timeline is then one indexed query and
its ``last_follow_up_at`` / ``next_follow_up_at`` stay in step here, whatever writes. A record
of another plugin whose model has an ``account_id`` fills it the same way (its history shows
on the account's timeline), and one whose model has those two columns has them kept in step
too (:data:`FOLLOW_UP_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.access import visible
from core.audit import Audited
from core.audit import record_type as record_type_of
from core.db import Base, CompanyMixin, utcnow
from core.events import emit
from core.hooks import TimelineEntry
from core.models import User
from core.timeline import AuditEvent, Cursor, TimelinePage, audit_events, merge_pages, padded_key
from plugins.customers.models import (
    INTERACTION_KINDS,
    Account,
    Contact,
    FollowUpTask,
    Interaction,
)
from plugins.customers.schemas import STATUS_LABELS

ACCOUNT_TYPE = record_type_of(Account)  # "customers_account"
CONTACT_TYPE = record_type_of(Contact)  # "customers_contact"
# The visibility record types (roles) of this plugin's own subjects.
VISIBILITY_TYPES = {ACCOUNT_TYPE: "customers.account", CONTACT_TYPE: "customers.contact"}
OWN_MODELS: dict[str, type] = {ACCOUNT_TYPE: Account, CONTACT_TYPE: Contact}

KIND_LABELS = {
    "call": _l("Call"),
    "email": _l("Email"),
    "meeting": _l("Meeting"),
    "visit": _l("Visit"),
    "note": _l("Note"),
    "other": _l("Other"),
}
KIND_ICONS = {"call": "telephone", "email": "envelope", "meeting": "people", "visit": "geo-alt",
              "note": "sticky", "other": "three-dots"}
# Kinds whose whole content is the summary: without it nothing was logged.
SUMMARY_REQUIRED = frozenset({"note", "other"})
TIMELINE_PAGE_SIZE = 20
UPCOMING_DAYS = 14


# -- schemas ------------------------------------------------------------------------------------


class InteractionSchema(Schema):
    """What the user types to log an interaction (form and API alike)."""

    kind = fields.String(required=True,
                         validate=validate.OneOf(INTERACTION_KINDS, labels=[KIND_LABELS[k] for k in INTERACTION_KINDS]),
                         metadata={"label": _l("Kind")})
    summary = fields.String(load_default="", validate=validate.Length(max=10000),
                            metadata={"label": _l("Summary"), "widget": "textarea", "attrs": {"rows": 2}})
    occurred_at = fields.DateTime(load_default=utcnow, metadata={"label": _l("When")})
    participants = fields.String(load_default="", validate=validate.Length(max=400),
                                 metadata={"label": _l("Participants")})
    outcome = fields.String(load_default="", validate=validate.Length(max=400), metadata={"label": _l("Outcome")})
    next_step = fields.String(load_default="", validate=validate.Length(max=400),
                              metadata={"label": _l("Next step")})

    @validates_schema
    def _summary_for_notes(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("kind") in SUMMARY_REQUIRED and not (data.get("summary") or "").strip():
            raise ValidationError(_l("Write what the note says."), "summary")


class TaskSchema(Schema):
    """A follow-up task: what, by when, for whom."""

    title = fields.String(required=True,
                          validate=[validate.Length(max=200),
                                    validate.Regexp(r"\s*\S", error=_l("Write what is to be done."))],
                          metadata={"label": _l("Task")})
    due_at = fields.DateTime(required=True, metadata={"label": _l("Due")})
    assignee_id = fields.Integer(allow_none=True, load_default=None,
                                 metadata={"label": _l("Assigned to"), "widget": "select", "blank": _l("Me")})
    remind_at = fields.DateTime(allow_none=True, load_default=None, metadata={"label": _l("Remind me")})

    @validates_schema
    def _reminder_before_due(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("remind_at") and data.get("due_at") and aware(data["remind_at"]) > aware(data["due_at"]):
            raise ValidationError(_l("The reminder must come before the due date."), "remind_at")


# -- helpers ------------------------------------------------------------------------------------


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` with a time zone: SQLite and datetime-local inputs give naive UTC values."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _account_and_contact(session: Session, subject_type: str, subject_id: str,
                         account_id: int | None, contact_id: int | None) -> tuple[int | None, int | None]:
    """The account and contact a subject stands for: itself, or a contact's account, or, for
    a record of another plugin whose model has an ``account_id`` column (a deal), that account."""
    if subject_type == ACCOUNT_TYPE:
        account_id = int(subject_id)
    elif subject_type == CONTACT_TYPE:
        contact_id = int(subject_id)
    if contact_id is not None and account_id is None:
        account_id = session.scalar(select(Contact.account_id).where(Contact.id == contact_id))
    if account_id is None and subject_type not in OWN_MODELS:
        model, key = _model_and_key(subject_type, subject_id)
        if model is not None and isinstance(getattr(model, "account_id", None), InstrumentedAttribute):
            account_id = session.scalar(select(model.account_id).where(_primary_key(model) == key))  # type: ignore[attr-defined]
    return account_id, contact_id


# A record of any plugin may keep its own follow-up dates: a model with these two columns
# (a lead, a deal) has them kept in step here, like an account's.
FOLLOW_UP_COLUMNS = ("last_follow_up_at", "next_follow_up_at")


def _model_and_key(subject_type: str, subject_id: str | int) -> tuple[type | None, Any]:
    """The mapped model of ``subject_type`` and ``subject_id`` as its primary key's type."""
    model = OWN_MODELS.get(subject_type) or mapped_model(subject_type)
    key = _primary_key(model) if model is not None else None
    if key is None:
        return None, None
    try:
        return model, key.type.python_type(subject_id)
    except (TypeError, ValueError, NotImplementedError):
        return None, None


def _dated_subject(session: Session, subject_type: str, subject_id: str | int) -> Any | None:
    """The subject's row when its model keeps follow-up dates of its own (accounts excepted:
    their dates follow every row that carries their ``account_id``)."""
    if subject_type == ACCOUNT_TYPE:
        return None
    model, key = _model_and_key(subject_type, subject_id)
    if model is None or not all(isinstance(getattr(model, name, None), InstrumentedAttribute)
                                for name in FOLLOW_UP_COLUMNS):
        return None
    return session.get(model, key)


def _subject_last_follow_up(session: Session, subject_type: str, subject_id: str | int, moment: datetime) -> None:
    """Move the subject's last follow-up forward to ``moment`` (never back)."""
    record = _dated_subject(session, subject_type, subject_id)
    if record is not None and (record.last_follow_up_at is None or aware(record.last_follow_up_at) < moment):
        record.last_follow_up_at = moment
        session.flush()


def _subject_next_follow_up(session: Session, subject_type: str, subject_id: str | int) -> None:
    """The subject's next follow-up: the earliest due date of the open tasks about it."""
    record = _dated_subject(session, subject_type, subject_id)
    if record is None:
        return
    session.flush()
    earliest = aware(session.scalar(select(func.min(FollowUpTask.due_at)).where(
        FollowUpTask.subject_type == subject_type, FollowUpTask.subject_id == str(subject_id),
        FollowUpTask.done_at.is_(None))))
    if aware(record.next_follow_up_at) != earliest:
        record.next_follow_up_at = earliest
        session.flush()


def find_subject(record_type: str, record_id: str | int, user: Any = None) -> Any | None:
    """The record ``record_type``/``record_id`` of the company in context, if ``user`` may see it.

    Accounts and contacts go through their record visibility. A record type of another
    plugin is accepted only when a company-scoped model of that record type is mapped, and
    the row is found through the scoped session (and, when the model declares an owner and
    a ``__permission_prefix__``, through that record visibility too). ``None`` otherwise.
    """
    from core.db import get_session

    model = OWN_MODELS.get(record_type) or mapped_model(record_type)
    if model is None:
        return None
    key = _primary_key(model)
    if key is None:
        return None
    try:
        value = key.type.python_type(record_id)
    except (TypeError, ValueError, NotImplementedError):
        return None
    statement = select(model).where(key == value)
    prefix = VISIBILITY_TYPES.get(record_type) or getattr(model, "__permission_prefix__", None)
    if prefix and hasattr(model, "owner_id"):
        statement = visible(statement, model, prefix, user)
    return get_session().scalar(statement)


_MAPPED: dict[str, type] = {}


def mapped_model(record_type: str) -> type | None:
    """The company-scoped model mapped under ``record_type``: rows of another company, or of no
    company at all (users, companies), must never become a subject. Every follow-up written
    asks, so a model once found is remembered (a miss is not: a plugin's models may be
    imported later in the process)."""
    if record_type in _MAPPED:
        return _MAPPED[record_type]
    for mapper in Base.registry.mappers:
        model = mapper.class_
        if issubclass(model, CompanyMixin) and getattr(model, "__tablename__", None) \
                and record_type_of(model) == record_type:
            _MAPPED[record_type] = model
            return model
    return None


def _primary_key(model: type) -> Any:
    columns = model.__mapper__.primary_key  # type: ignore[attr-defined]
    return columns[0] if len(columns) == 1 else None


# -- interactions -------------------------------------------------------------------------------


def log_interaction(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    kind: str,
    occurred_at: datetime,
    summary: str,
    participants: str = "",
    outcome: str = "",
    next_step: str = "",
    owner_id: int | None,
    account_id: int | None = None,
    contact_id: int | None = None,
) -> Interaction:
    """Record an interaction with the subject; move its account's last follow-up forward.

    The caller has checked that the subject exists and may be seen (:func:`find_subject`).
    """
    if kind not in INTERACTION_KINDS:
        raise ValueError(f"unknown interaction kind {kind!r}")
    subject_id = str(subject_id)
    account_id, contact_id = _account_and_contact(session, subject_type, subject_id, account_id, contact_id)
    occurred_at = aware(occurred_at)
    interaction = Interaction(
        kind=kind, occurred_at=occurred_at, summary=summary.strip(), participants=participants.strip(),
        outcome=outcome.strip(), next_step=next_step.strip(), subject_type=subject_type, subject_id=subject_id,
        owner_id=owner_id, account_id=account_id, contact_id=contact_id,
    )
    session.add(interaction)
    session.flush()
    if account_id is not None:
        account = session.get(Account, account_id)
        if account is not None and (account.last_follow_up_at is None
                                    or aware(account.last_follow_up_at) < occurred_at):
            account.last_follow_up_at = occurred_at
            session.flush()
    _subject_last_follow_up(session, subject_type, subject_id, occurred_at)
    emit("customers.interaction.logged", {
        "id": interaction.id, "kind": kind, "subject_type": subject_type, "subject_id": subject_id,
        "account_id": account_id, "contact_id": contact_id, "occurred_at": occurred_at.isoformat(),
    }, session=session)
    return interaction


@dataclass
class HistoryItem:
    """One line of a record's history: an interaction, shown in full, or an event (a task
    done, a change in the record's life, another plugin's entry) as a
    :class:`core.hooks.TimelineEntry`."""

    at: datetime
    key: str
    interaction: Interaction | None = None
    owner_name: str | None = None
    contact_name: str | None = None
    event: TimelineEntry | None = None


def _subject_clause(model: type, subject_type: str, subject_id: str) -> Any:
    """Rows about the subject; for an account, also the rows about its contacts.

    Every row about an account or one of its contacts carries ``account_id`` (the services
    fill it), so for an account that one indexed column says it all; an OR with the subject
    columns would make the database read the whole table.
    """
    if subject_type == ACCOUNT_TYPE and str(subject_id).isdigit():
        return model.account_id == int(subject_id)  # type: ignore[attr-defined]
    if subject_type == CONTACT_TYPE and model is Interaction and str(subject_id).isdigit():
        # Every interaction about a contact carries ``contact_id``, and so do those about
        # another record that became this contact (a converted lead: services.attach_history).
        return Interaction.contact_id == int(subject_id)
    return and_(model.subject_type == subject_type, model.subject_id == str(subject_id))  # type: ignore[attr-defined]


def timeline(session: Session, subject_type: str, subject_id: str | int, *, subject: Any = None,
             cursor: Cursor | None = None, per_page: int = TIMELINE_PAGE_SIZE,
             contributed: Sequence[TimelineEntry] = ()) -> TimelinePage[HistoryItem]:
    """One page of the subject's history, newest first, older than ``cursor``.

    Interleaves its interactions, its tasks done, the events of ``subject``'s own life from
    the audit trail (created, trashed, restored, merged, owner and status changes) and the
    entries other plugins ``contributed`` (:func:`core.timeline.contributions`, asked with the
    same cursor and ``per_page + 1``). For an account, the interactions and tasks of its
    contacts count too. At most four queries whatever the page or the history's length.
    """
    limit = per_page + 1
    sources = [
        _interaction_items(session, subject_type, str(subject_id), cursor, limit),
        _done_task_items(session, subject_type, str(subject_id), cursor, limit),
        _audit_items(session, subject, cursor, limit) if isinstance(subject, Audited) else [],
        [HistoryItem(entry.at, entry.key, event=entry) for entry in contributed],
    ]
    return merge_pages(sources, at=lambda item: item.at, key=lambda item: item.key, limit=per_page)


INTERACTION_KEY, TASK_KEY, AUDIT_KEY = "customers.interaction.", "customers.task_done.", "customers.audit."


def _interaction_items(session: Session, subject_type: str, subject_id: str, cursor: Cursor | None,
                       limit: int) -> list[HistoryItem]:
    """The newest interactions, with the owner's and the contact's names joined in."""
    statement = (
        select(Interaction, User.name, Contact.name)
        .outerjoin(User, User.id == Interaction.owner_id)
        .outerjoin(Contact, Contact.id == Interaction.contact_id)
        .where(_subject_clause(Interaction, subject_type, subject_id))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    if cursor is not None:
        statement = statement.where(cursor.clause(Interaction.occurred_at, Interaction.id, INTERACTION_KEY))
    return [HistoryItem(aware(item.occurred_at), padded_key(INTERACTION_KEY, item.id), interaction=item,
                        owner_name=owner, contact_name=contact)
            for item, owner, contact in session.execute(statement)]


def _done_task_items(session: Session, subject_type: str, subject_id: str, cursor: Cursor | None,
                     limit: int) -> list[HistoryItem]:
    statement = (
        select(FollowUpTask.id, FollowUpTask.title, FollowUpTask.done_at, User.name)
        .outerjoin(User, User.id == FollowUpTask.assignee_id)
        .where(_subject_clause(FollowUpTask, subject_type, subject_id), FollowUpTask.done_at.is_not(None))
        .order_by(FollowUpTask.done_at.desc(), FollowUpTask.id.desc())
        .limit(limit)
    )
    if cursor is not None:
        statement = statement.where(cursor.clause(FollowUpTask.done_at, FollowUpTask.id, TASK_KEY))
    items = []
    for row in session.execute(statement):
        body = _("Assigned to %(name)s", name=row.name) if row.name else ""
        entry = TimelineEntry(key=padded_key(TASK_KEY, row.id), at=aware(row.done_at),
                              title=_("Task done: %(title)s", title=row.title), icon="check2-square", body=body)
        items.append(HistoryItem(entry.at, entry.key, event=entry))
    return items


LIFE_EVENTS = {  # audit action -> (icon, title)
    "create": ("plus-circle", _l("Created")),
    "delete": ("trash3", _l("Moved to the trash")),
    "restore": ("arrow-counterclockwise", _l("Restored from the trash")),
}


def _audit_items(session: Session, subject: Any, cursor: Cursor | None, limit: int) -> list[HistoryItem]:
    """The subject's life from the audit trail; owner names read in one more query, only when
    the page has an owner change."""
    fields = [name for name in ("owner_id", "status") if hasattr(subject, name)]
    events = audit_events(session, subject, fields=fields, cursor=cursor, key_prefix=AUDIT_KEY, limit=limit)
    owner_ids = {value for event in events for value in event.changes.get("owner_id", ()) if isinstance(value, int)}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(owner_ids))).all()) if owner_ids else {}
    items: list[HistoryItem] = []
    for event in events:
        lines = _describe(event, names, subject)
        if lines:  # one item per entry, so that the entry's id pages it
            entry = TimelineEntry(key=padded_key(AUDIT_KEY, event.id), at=event.at, icon=lines[0][0],
                                  title=lines[0][1], body="\n".join(text for _icon, text in lines[1:]),
                                  actor=event.actor)
            items.append(HistoryItem(entry.at, entry.key, event=entry))
    return items


def _describe(event: AuditEvent, names: dict[int, str], subject: Any) -> list[tuple[str, str]]:
    """What an audit entry says on the timeline: one or two lines (icon, text)."""
    if event.action in LIFE_EVENTS:
        icon, title = LIFE_EVENTS[event.action]
        return [(icon, str(title))]
    if event.action == "merge":
        merged = event.changes.get("merged", [None, []])[1] or []
        return [("union", _("Merged %(records)s into this record", records=", ".join(f"#{i}" for i in merged)))]
    if event.action == "merged_into":
        return [("union", _("Merged into #%(id)s", id=event.changes.get("merged_into", [None, ""])[1]))]
    lines = []
    if "owner_id" in event.changes:
        old, new = (names.get(value, f"#{value}") if value is not None else None
                    for value in event.changes["owner_id"])
        if old and new:
            lines.append(("person-check", _("Owner changed from %(old)s to %(new)s", old=old, new=new)))
        elif new:
            lines.append(("person-check", _("Owner set to %(new)s", new=new)))
        else:
            lines.append(("person-dash", _("Owner removed (was %(old)s)", old=old)))
    if "status" in event.changes:
        labels = STATUS_LABELS if isinstance(subject, Account) else {}
        old, new = (str(labels.get(value, value or "—")) for value in event.changes["status"])
        lines.append(("flag", _("Status changed from %(old)s to %(new)s", old=old, new=new)))
    return lines


# -- tasks --------------------------------------------------------------------------------------


def recompute_next_follow_up(session: Session, account_id: int | None) -> None:
    """The account's next follow-up: the earliest due date of its open tasks (or none)."""
    if account_id is None:
        return
    account = session.get(Account, account_id)
    if account is None:
        return
    session.flush()
    earliest = session.scalar(select(func.min(FollowUpTask.due_at))
                              .where(FollowUpTask.account_id == account_id, FollowUpTask.done_at.is_(None)))
    earliest = aware(earliest)
    if aware(account.next_follow_up_at) != earliest:
        account.next_follow_up_at = earliest
        session.flush()


def create_task(
    session: Session,
    *,
    title: str,
    due_at: datetime,
    subject_type: str,
    subject_id: str | int,
    assignee_id: int | None,
    remind_at: datetime | None = None,
    account_id: int | None = None,
) -> FollowUpTask:
    """Add an open task about the subject; the account's next follow-up may move earlier."""
    subject_id = str(subject_id)
    account_id, _contact_id = _account_and_contact(session, subject_type, subject_id, account_id, None)
    task = FollowUpTask(title=title.strip(), due_at=aware(due_at), remind_at=aware(remind_at),
                        assignee_id=assignee_id, subject_type=subject_type, subject_id=subject_id,
                        account_id=account_id)
    session.add(task)
    session.flush()
    recompute_next_follow_up(session, account_id)
    _subject_next_follow_up(session, subject_type, subject_id)
    emit("customers.task.created", _task_payload(task), session=session)
    return task


def complete_task(session: Session, task: FollowUpTask, *, now: datetime | None = None) -> FollowUpTask:
    """Mark the task done (again a no-op when it is); the account's next follow-up moves on."""
    if task.done_at is None:
        task.done_at = now or utcnow()
        session.flush()
        recompute_next_follow_up(session, task.account_id)
        _subject_next_follow_up(session, task.subject_type, task.subject_id)
        emit("customers.task.completed", _task_payload(task), session=session)
    return task


def reopen_task(session: Session, task: FollowUpTask) -> FollowUpTask:
    """Open a done task again (an undo); the account's next follow-up may move back."""
    if task.done_at is not None:
        task.done_at = None
        session.flush()
        recompute_next_follow_up(session, task.account_id)
        _subject_next_follow_up(session, task.subject_type, task.subject_id)
        emit("customers.task.reopened", _task_payload(task), session=session)
    return task


TASK_FIELDS = frozenset({"title", "due_at", "remind_at", "assignee_id"})


def update_task(session: Session, task: FollowUpTask, changes: dict[str, Any]) -> FollowUpTask:
    """Change a task's title, due date, reminder or assignee (keys of :data:`TASK_FIELDS`).

    A new reminder time (or a new assignee) arms the reminder again: ``reminded_at`` is
    cleared, so the reminder job tells the assignee when the new time comes. A new due date
    moves the account's next follow-up.
    """
    unknown = set(changes) - TASK_FIELDS
    if unknown:
        raise ValueError(f"a task has no changeable field {', '.join(sorted(unknown))}")
    values = dict(changes)
    for key in ("due_at", "remind_at"):
        if key in values:
            values[key] = aware(values[key])
    if "title" in values:
        values["title"] = values["title"].strip()
    changed = {key for key, value in values.items()
               if (aware(getattr(task, key)) if key in ("due_at", "remind_at") else getattr(task, key)) != value}
    if not changed:
        return task
    for key in changed:
        setattr(task, key, values[key])
    if changed & {"remind_at", "assignee_id"}:
        task.reminded_at = None
    session.flush()
    if "due_at" in changed:
        recompute_next_follow_up(session, task.account_id)
        _subject_next_follow_up(session, task.subject_type, task.subject_id)
    emit("customers.task.updated", _task_payload(task), session=session)
    return task


def subject_endpoint(task: FollowUpTask) -> tuple[str, dict[str, Any]] | None:
    """The endpoint and arguments of the page of the task's subject, when it is an account,
    a contact or a record whose model declares ``__detail_endpoint__`` (else none): for links
    built in a request or in a job alike."""
    if not str(task.subject_id).isdigit():
        return None
    if task.subject_type == ACCOUNT_TYPE:
        return "customers_accounts.detail", {"account_id": int(task.subject_id)}
    if task.subject_type == CONTACT_TYPE:
        return "customers_contacts.detail", {"contact_id": int(task.subject_id)}
    # A record of another plugin names its page: ``__detail_endpoint__ = (endpoint, argument)``.
    model = mapped_model(task.subject_type)
    declared = getattr(model, "__detail_endpoint__", None) if model is not None else None
    if declared:
        return declared[0], {declared[1]: int(task.subject_id)}
    return None


def _task_payload(task: FollowUpTask) -> dict[str, Any]:
    return {"id": task.id, "title": task.title, "due_at": aware(task.due_at).isoformat(),
            "assignee_id": task.assignee_id, "subject_type": task.subject_type, "subject_id": task.subject_id,
            "account_id": task.account_id, "done": task.done_at is not None}


@dataclass
class TaskEntry:
    """One open task as the lists show it."""

    task: FollowUpTask
    assignee_name: str | None
    overdue: bool


def open_tasks(session: Session, subject_type: str, subject_id: str | int, *,
               now: datetime | None = None) -> list[TaskEntry]:
    """The subject's open tasks (for an account, also its contacts'), soonest first."""
    now = now or utcnow()
    rows = session.execute(
        select(FollowUpTask, User.name)
        .outerjoin(User, User.id == FollowUpTask.assignee_id)
        .where(_subject_clause(FollowUpTask, subject_type, str(subject_id)), FollowUpTask.done_at.is_(None))
        .order_by(FollowUpTask.due_at, FollowUpTask.id)
    ).all()
    return [TaskEntry(task, name, aware(task.due_at) < now) for task, name in rows]


@dataclass
class MyFollowUps:
    """A user's open tasks by when they are due."""

    overdue: list[FollowUpTask] = field(default_factory=list)
    today: list[FollowUpTask] = field(default_factory=list)
    upcoming: list[FollowUpTask] = field(default_factory=list)
    later: int = 0

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.today or self.upcoming or self.later)


def my_follow_ups(session: Session, user_id: int, *, now: datetime | None = None) -> MyFollowUps:
    """``user_id``'s open tasks: overdue (due before today), due today, due in the next
    :data:`UPCOMING_DAYS` days, and how many later.

    Two queries: the tasks up to the horizon, and the count beyond it. Days are UTC days,
    the time zone every date of the application is shown in.
    """
    now = aware(now or utcnow())
    start_of_today = datetime.combine(now.date(), time(), tzinfo=UTC)
    start_of_tomorrow = start_of_today + timedelta(days=1)
    horizon = start_of_tomorrow + timedelta(days=UPCOMING_DAYS)
    mine = and_(FollowUpTask.assignee_id == user_id, FollowUpTask.done_at.is_(None))
    tasks = session.scalars(select(FollowUpTask).where(mine, FollowUpTask.due_at < horizon)
                            .order_by(FollowUpTask.due_at, FollowUpTask.id)).all()
    result = MyFollowUps(later=session.scalar(select(func.count()).select_from(FollowUpTask)
                                              .where(mine, FollowUpTask.due_at >= horizon)) or 0)
    for task in tasks:
        due = aware(task.due_at)
        if due < start_of_today:
            result.overdue.append(task)
        elif due < start_of_tomorrow:
            result.today.append(task)
        else:
            result.upcoming.append(task)
    return result
