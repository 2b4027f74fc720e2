"""The customers REST API, served under ``/api/v1/customers/``.

Accounts and contacts (list with filters and pagination, create, read, change, move to the
trash), interactions (list, log) and follow-up tasks (list, add, change, complete). Every rule lives
where the pages find it: validation in :mod:`plugins.customers.schemas` and
:mod:`plugins.customers.followups`, changes and their events in
:mod:`plugins.customers.services` and :mod:`plugins.customers.followups`, who sees what in
:func:`core.access.visible`. A record the token's user may not see answers 404, like a record
of another company.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, post_load, pre_dump, validate
from sqlalchemy import Select, String, and_, cast, or_, select

from core.access import member_choices, visible
from core.api import (
    ApiBlueprint,
    FilterSchema,
    Problem,
    flatten_messages,
    require_permission,
)
from core.db import get_session
from core.tenancy import current_company
from plugins.customers import (
    DELETE_ACCOUNTS,
    DELETE_CONTACTS,
    LOG_FOLLOW_UPS,
    READ_ACCOUNTS,
    READ_CONTACTS,
    WRITE_ACCOUNTS,
    WRITE_CONTACTS,
)
from plugins.customers.followups import (
    ACCOUNT_TYPE,
    CONTACT_TYPE,
    InteractionSchema,
    TaskSchema,
    aware,
    complete_task,
    create_task,
    find_subject,
    log_interaction,
    update_task,
)
from plugins.customers.models import (
    ACCOUNT_KINDS,
    ACCOUNT_STATUSES,
    INTERACTION_KINDS,
    Account,
    AccountTag,
    Contact,
    ContactPoint,
    ContactTag,
    FollowUpTask,
    Interaction,
    Tag,
)
from plugins.customers.normalize import normalize_email, normalize_phone
from plugins.customers.schemas import AccountSchema, ContactSchema
from plugins.customers.services import (
    create_account,
    create_contact,
    delete_account,
    delete_contact,
    update_account,
    update_contact,
)

blp = ApiBlueprint("customers_api", __name__,
                   description="Accounts, contacts, interactions and follow-up tasks")

# Visibility record types in roles (core.access.visible).
ACCOUNT_VISIBILITY, CONTACT_VISIBILITY = "customers.account", "customers.contact"
SORTS = ("name", "-name", "id", "-id")


# -- output schemas -------------------------------------------------------------------------------


class Moment(fields.DateTime):
    """A date and time always written with its offset (SQLite hands back naive UTC values)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(aware(value), attr, obj, **kwargs)


def _attach_tags(records: list[Any], model: type) -> None:
    """Give each record ``api_tags``: its tag names, for the whole page in one query."""
    if not records:
        return
    link, owner = (AccountTag, AccountTag.account_id) if model is Account else (ContactTag, ContactTag.contact_id)
    names: dict[int, list[str]] = {record.id: [] for record in records}
    rows = get_session().execute(select(owner, Tag.name).join(Tag, Tag.id == link.tag_id)
                                 .where(owner.in_(list(names))).order_by(Tag.name))
    for record_id, name in rows:
        names[record_id].append(name)
    for record in records:
        record.api_tags = ", ".join(names[record.id])


class _RecordOut:
    """Mixin of the account and contact responses: ids, dates, tags (batch-loaded)."""

    MODEL: type = Account

    id = fields.Integer(dump_only=True)
    created_at = Moment(dump_only=True)
    updated_at = Moment(dump_only=True)
    tags = fields.String(attribute="api_tags", dump_default="",
                         metadata={"description": "Tag names separated by commas."})

    @pre_dump(pass_collection=True)
    def _tags_of_the_page(self, data: Any, many: bool, **_kwargs: Any) -> Any:
        records = [record for record in (data if many else [data]) if not hasattr(record, "api_tags")]
        _attach_tags(records, self.MODEL)
        return data


class AccountOut(_RecordOut, AccountSchema):
    """An account as the API shows it."""

    MODEL = Account
    team_id = fields.Integer(dump_only=True, allow_none=True)
    last_follow_up_at = Moment(dump_only=True, allow_none=True)
    next_follow_up_at = Moment(dump_only=True, allow_none=True)


class ContactOut(_RecordOut, ContactSchema):
    """A contact as the API shows it."""

    MODEL = Contact
    consent_changed_at = Moment(dump_only=True, allow_none=True)


class AccountChanges(AccountSchema):
    """The fields of an account to change (PATCH): any of them; the others stay as they are."""


class ContactChanges(ContactSchema):
    """The fields of a contact to change (PATCH): any of them; the others stay as they are."""


class _Subject(Schema):
    subject_type = fields.String(required=True, validate=validate.Length(min=1, max=120), metadata={
        "description": f"The record's type: {ACCOUNT_TYPE}, {CONTACT_TYPE} or another plugin's record type."})
    subject_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class InteractionIn(_Subject, InteractionSchema):
    """An interaction to log about a record."""


class InteractionOut(InteractionIn):
    """A logged interaction."""

    id = fields.Integer(dump_only=True)
    occurred_at = Moment()
    owner_id = fields.Integer(dump_only=True, allow_none=True)
    account_id = fields.Integer(dump_only=True, allow_none=True)
    contact_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = Moment(dump_only=True)


class TaskIn(_Subject, TaskSchema):
    """A follow-up task to add about a record (assigned to the token's user by default)."""


class TaskChanges(TaskSchema):
    """The fields of a task to change (PATCH): any of them; the others stay as they are.
    ``assignee_id`` null assigns it to the token's user, as when adding."""


class TaskOut(TaskIn):
    """A follow-up task."""

    id = fields.Integer(dump_only=True)
    due_at = Moment()
    remind_at = Moment(allow_none=True)
    done_at = Moment(dump_only=True, allow_none=True)
    account_id = fields.Integer(dump_only=True, allow_none=True)
    done = fields.Function(lambda task: task.done_at is not None, dump_only=True)
    created_at = Moment(dump_only=True)


# -- filters --------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    # SQLite compares the stored UTC text: a moment given with another offset must be UTC too.
    return value.astimezone(UTC)


class _Filters(FilterSchema):
    @post_load
    def _moments_in_utc(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {key: _utc(value) if isinstance(value, datetime) else value for key, value in data.items()}


def _reachable(model: type[Account] | type[Contact], kind: str, value: str) -> Any:
    """The records having ``value`` among their phones or emails (``kind``), normalised."""
    owner = ContactPoint.account_id if model is Account else ContactPoint.contact_id
    normalized = normalize_email(value) if kind == "email" else normalize_phone(value)
    return model.id.in_(select(owner).where(ContactPoint.kind == kind, ContactPoint.normalized == normalized))


class _Sorted(_Filters):
    sort = fields.String(load_default="name", validate=validate.OneOf(SORTS),
                         metadata={"description": "name, -name, id or -id (descending)."})


class AccountFilters(_Sorted):
    name = fields.String(metadata={"op": "contains", "description": "Part of the name."})
    status = fields.String(validate=validate.OneOf(ACCOUNT_STATUSES))
    kind = fields.String(validate=validate.OneOf(ACCOUNT_KINDS))
    industry = fields.String()
    region = fields.String()
    tier = fields.String()
    source = fields.String()
    owner_id = fields.Integer()
    updated_after = fields.AwareDateTime(metadata={"column": "updated_at", "op": "gte"})
    email = fields.String(metadata={"where": lambda value: _reachable(Account, "email", value),
                                    "description": "Any of its email addresses, whatever the case and spaces."})
    phone = fields.String(metadata={"where": lambda value: _reachable(Account, "phone", value),
                                    "description": "Any of its phone numbers, however it is written."})


class ContactFilters(_Sorted):
    name = fields.String(metadata={"op": "contains", "description": "Part of the name."})
    account_id = fields.Integer()
    email = fields.String(metadata={"where": lambda value: _reachable(Contact, "email", value),
                                    "description": "Any of its email addresses, whatever the case and spaces."})
    phone = fields.String(metadata={"where": lambda value: _reachable(Contact, "phone", value),
                                    "description": "Any of its phone numbers, however it is written."})
    owner_id = fields.Integer()
    consent_email = fields.Boolean()
    consent_phone = fields.Boolean()
    consent_sms = fields.Boolean()
    updated_after = fields.AwareDateTime(metadata={"column": "updated_at", "op": "gte"})


class InteractionFilters(_Filters):
    """Newest first, always."""

    subject_type = fields.String()
    subject_id = fields.String()
    account_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(INTERACTION_KINDS))
    occurred_after = fields.AwareDateTime(metadata={"column": "occurred_at", "op": "gte"})
    occurred_before = fields.AwareDateTime(metadata={"column": "occurred_at", "op": "lt"})


class TaskFilters(_Filters):
    """Soonest due first, always."""

    assignee_id = fields.Integer()
    open = fields.Boolean(metadata={"description": "true: not done yet; false: done. (Applied by the view.)"})
    due_before = fields.AwareDateTime(metadata={"column": "due_at", "op": "lt"})
    subject_type = fields.String()
    subject_id = fields.String()


def _sorted(statement: Select[Any], model: Any, sort: str) -> Select[Any]:
    column = model.id if sort.lstrip("-") == "id" else model.name
    return statement.order_by(column.desc() if sort.startswith("-") else column)


# -- shared helpers -------------------------------------------------------------------------------


def _invalid(errors: Mapping[str, list[str]]) -> Problem:
    return Problem(422, "Check these fields: " + ", ".join(errors) + ".", type="validation",
                   title="Invalid input", errors=errors)


def _load_with_choices(schema: Schema, *, partial: bool = False, ignore: Iterable[str] = ()) -> None:
    """Validate the request body again with the choices known only now (the company's members
    as owners): the same schema the pages use, so the rules stay in one place."""
    body = {key: value for key, value in (request.get_json(silent=True) or {}).items() if key not in ignore}
    try:
        schema.load(body, partial=partial)
    except ValidationError as error:
        raise _invalid(flatten_messages(error.messages, by_location=False)) from None


def _members() -> list[tuple[int, str]]:
    return member_choices()


def _check_account_visible(account_id: int | None) -> None:
    """A contact may only be put at an account its user may see."""
    if account_id is None:
        return
    found = get_session().scalar(visible(select(Account.id), Account, ACCOUNT_VISIBILITY)
                                 .where(Account.id == account_id))
    if found is None:
        raise _invalid({"account_id": [str(ContactSchema.CHOICE_ERRORS["account_id"])]})


def _visible_accounts() -> Select[Any]:
    return visible(select(Account), Account, ACCOUNT_VISIBILITY)


def _visible_contacts() -> Select[Any]:
    return visible(select(Contact), Contact, CONTACT_VISIBILITY)


def _account_or_404(account_id: int) -> Account:
    account = get_session().scalar(_visible_accounts().where(Account.id == account_id))
    if account is None:
        raise Problem(404, "There is no such account in this company, or you may not see it.")
    return account


def _contact_or_404(contact_id: int) -> Contact:
    contact = get_session().scalar(_visible_contacts().where(Contact.id == contact_id))
    if contact is None:
        raise Problem(404, "There is no such contact in this company, or you may not see it.")
    return contact


def _about_what_i_see(model: Any) -> Any:
    """Rows about an account or a contact the user may see, or (interactions) logged by the
    user / (tasks) assigned to the user. Rows about another plugin's records are listed only
    when they are the user's own: their visibility cannot be checked in one query."""
    accounts = visible(select(cast(Account.id, String)), Account, ACCOUNT_VISIBILITY)
    contacts = visible(select(cast(Contact.id, String)), Contact, CONTACT_VISIBILITY)
    mine = (model.owner_id if model is Interaction else model.assignee_id) == current_user.id
    return or_(
        mine,
        and_(model.subject_type == ACCOUNT_TYPE, model.subject_id.in_(accounts.scalar_subquery())),
        and_(model.subject_type == CONTACT_TYPE, model.subject_id.in_(contacts.scalar_subquery())),
    )


def _subject_or_422(subject_type: str, subject_id: str) -> Any:
    subject = find_subject(subject_type, subject_id)
    if subject is None:
        raise _invalid({"subject_id": ["There is no such record in this company, or you may not see it."]})
    return subject


# -- accounts -------------------------------------------------------------------------------------


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(AccountFilters, location="query")
    @blp.response(200, AccountOut(many=True))
    @blp.paginate()
    @require_permission(READ_ACCOUNTS)
    def get(self, filters: dict[str, Any]) -> Any:
        """The accounts the user may see."""
        sort = filters.pop("sort")
        return _sorted(AccountFilters.apply(_visible_accounts(), filters), Account, sort)

    @blp.arguments(AccountSchema)
    @blp.response(201, AccountOut)
    @require_permission(WRITE_ACCOUNTS)
    def post(self, data: dict[str, Any]) -> Any:
        """Add an account (owned by the token's user unless ``owner_id`` says otherwise)."""
        _load_with_choices(AccountSchema(choices={"owner_id": _members()}))
        return create_account(get_session(), current_company().id, data, current_user.id)


@blp.route("/accounts/<int:account_id>")
class AccountItem(MethodView):
    @blp.response(200, AccountOut)
    @require_permission(READ_ACCOUNTS)
    def get(self, account_id: int) -> Any:
        """One account."""
        return _account_or_404(account_id)

    @blp.arguments(AccountChanges(partial=True))
    @blp.response(200, AccountOut)
    @require_permission(WRITE_ACCOUNTS)
    def patch(self, data: dict[str, Any], account_id: int) -> Any:
        """Change an account: the fields sent; the others stay as they are."""
        account = _account_or_404(account_id)
        _load_with_choices(AccountSchema(choices={"owner_id": _members()}), partial=True)
        return update_account(get_session(), account, data)

    @blp.response(204)
    @require_permission(DELETE_ACCOUNTS)
    def delete(self, account_id: int) -> Any:
        """Move an account to the trash (it can be restored from there)."""
        delete_account(get_session(), _account_or_404(account_id), current_user.id)
        return None


# -- contacts -------------------------------------------------------------------------------------


@blp.route("/contacts")
class Contacts(MethodView):
    @blp.arguments(ContactFilters, location="query")
    @blp.response(200, ContactOut(many=True))
    @blp.paginate()
    @require_permission(READ_CONTACTS)
    def get(self, filters: dict[str, Any]) -> Any:
        """The contacts the user may see."""
        sort = filters.pop("sort")
        return _sorted(ContactFilters.apply(_visible_contacts(), filters), Contact, sort)

    @blp.arguments(ContactSchema)
    @blp.response(201, ContactOut)
    @require_permission(WRITE_CONTACTS)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a contact (owned by the token's user unless ``owner_id`` says otherwise)."""
        _load_with_choices(ContactSchema(choices={"owner_id": _members()}))
        _check_account_visible(data.get("account_id"))
        return create_contact(get_session(), current_company().id, data, current_user.id)


@blp.route("/contacts/<int:contact_id>")
class ContactItem(MethodView):
    @blp.response(200, ContactOut)
    @require_permission(READ_CONTACTS)
    def get(self, contact_id: int) -> Any:
        """One contact."""
        return _contact_or_404(contact_id)

    @blp.arguments(ContactChanges(partial=True))
    @blp.response(200, ContactOut)
    @require_permission(WRITE_CONTACTS)
    def patch(self, data: dict[str, Any], contact_id: int) -> Any:
        """Change a contact: the fields sent; the others stay as they are."""
        contact = _contact_or_404(contact_id)
        _load_with_choices(ContactSchema(choices={"owner_id": _members()}), partial=True)
        if "account_id" in data and data["account_id"] != contact.account_id:
            _check_account_visible(data["account_id"])
        return update_contact(get_session(), contact, data)

    @blp.response(204)
    @require_permission(DELETE_CONTACTS)
    def delete(self, contact_id: int) -> Any:
        """Move a contact to the trash (it can be restored from there)."""
        delete_contact(get_session(), _contact_or_404(contact_id), current_user.id)
        return None


# -- interactions ---------------------------------------------------------------------------------


@blp.route("/interactions")
class Interactions(MethodView):
    @blp.arguments(InteractionFilters, location="query")
    @blp.response(200, InteractionOut(many=True))
    @blp.paginate()
    @require_permission(READ_ACCOUNTS)
    def get(self, filters: dict[str, Any]) -> Any:
        """Interactions about the accounts and contacts the user may see, and those the user
        logged, newest first."""
        statement = select(Interaction).where(_about_what_i_see(Interaction))
        return InteractionFilters.apply(statement, filters).order_by(Interaction.occurred_at.desc())

    @blp.arguments(InteractionIn)
    @blp.response(201, InteractionOut)
    @require_permission(LOG_FOLLOW_UPS)
    def post(self, data: dict[str, Any]) -> Any:
        """Log an interaction about a record; its account's last follow-up moves forward."""
        _subject_or_422(data["subject_type"], data["subject_id"])
        return log_interaction(get_session(), owner_id=current_user.id, **data)


# -- tasks ----------------------------------------------------------------------------------------


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(TaskFilters, location="query")
    @blp.response(200, TaskOut(many=True))
    @blp.paginate()
    @require_permission(READ_ACCOUNTS)
    def get(self, filters: dict[str, Any]) -> Any:
        """Follow-up tasks about the accounts and contacts the user may see, and the user's
        own, soonest due first."""
        statement = select(FollowUpTask).where(_about_what_i_see(FollowUpTask))
        if "open" in filters:
            statement = statement.where(FollowUpTask.done_at.is_(None) if filters.pop("open")
                                        else FollowUpTask.done_at.is_not(None))
        return TaskFilters.apply(statement, filters).order_by(FollowUpTask.due_at)

    @blp.arguments(TaskIn)
    @blp.response(201, TaskOut)
    @require_permission(LOG_FOLLOW_UPS)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a follow-up task about a record."""
        _subject_or_422(data["subject_type"], data["subject_id"])
        assignee_id = data.pop("assignee_id") or current_user.id
        if assignee_id not in {user_id for user_id, _name in _members()}:
            raise _invalid({"assignee_id": ["Choose someone of this company."]})
        return create_task(get_session(), assignee_id=assignee_id, **data)


def _task_or_404(task_id: int) -> FollowUpTask:
    """A task of the company that is the user's own, or about a record the user may see."""
    task = get_session().get(FollowUpTask, task_id)  # company-scoped: another company's is None
    if task is None or (task.assignee_id != current_user.id
                        and find_subject(task.subject_type, task.subject_id) is None):
        raise Problem(404, "There is no such task in this company, or you may not see it.")
    return task


def _check_task_as_changed(task: FollowUpTask) -> None:
    """The task as it would be once changed must pass :class:`TaskSchema` as a whole: a new
    reminder must still come before the due date it keeps, and the other way round."""
    body = request.get_json(silent=True) or {}
    errors = TaskSchema().validate({**TaskSchema().dump(task), **body})
    if errors:
        raise _invalid(flatten_messages(errors, by_location=False))


@blp.route("/tasks/<int:task_id>")
class TaskItem(MethodView):
    @blp.arguments(TaskChanges(partial=True))
    @blp.response(200, TaskOut)
    @require_permission(LOG_FOLLOW_UPS)
    def patch(self, data: dict[str, Any], task_id: int) -> Any:
        """Change a task: the fields sent; the others stay as they are. A new reminder time
        or assignee arms the reminder again; a new due date moves the account's next follow-up."""
        task = _task_or_404(task_id)
        _check_task_as_changed(task)
        if "assignee_id" in data:
            data["assignee_id"] = data["assignee_id"] or current_user.id
            # A new assignee must be a member; the one the task has may stay.
            if data["assignee_id"] != task.assignee_id \
                    and data["assignee_id"] not in {user_id for user_id, _name in _members()}:
                raise _invalid({"assignee_id": ["Choose someone of this company."]})
        return update_task(get_session(), task, data)


@blp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@blp.response(200, TaskOut)
@require_permission(LOG_FOLLOW_UPS)
def complete(task_id: int) -> Any:
    """Mark a task done (done again is no change); its account's next follow-up moves on."""
    return complete_task(get_session(), _task_or_404(task_id))
