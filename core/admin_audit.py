"""The audit log of the admin console (``/admin/audit``, company administrators only).

Every ``core_audit_entry`` of the company in context, newest first, with who acted (the
user's name, or "System" when no user did: CLI, jobs without a user, periodic tasks), the
action, the record type (its ``__record_label__`` when the model declares one, else the
type key), the record id and the changed fields. Filters (:mod:`core.listing` filters):
person, record type, action, a day range (UTC) and a record id; all combine, pagination
keeps them, and an invalid value is ignored and shown as such, as on every list.

Scope: an entry shows only when its ``company_id`` is the company in context. Changes made
outside any company (``company_id`` NULL: a system-wide CLI command, say) are not shown to
any company's administrator, since they belong to no company.

Fast by construction: keyset pagination on (``at``, ``id``), so a page is one query of
``PAGE_SIZE`` rows (joined with the user's name, no N+1) however far back it is, plus a count
that stops at ``COUNT_LIMIT``, one query for the members and one loose index scan for the
record types present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import func, select

from core.access import abort_unless_admin
from core.audit import record_type
from core.auth import signed_in
from core.db import Audited, Base, get_session
from core.i18n import translate
from core.listing import Column, DateRangeFilter, Filter, Listing, distinct_values
from core.models import AuditEntry, Membership, User
from core.tenancy import current_company

blueprint = Blueprint("core_admin_audit", __name__)

PAGE_SIZE = 50
COUNT_LIMIT = 1000  # "more than 1,000 entries": counting further would read the whole log
MEMBERS_MAX = 1000
SYSTEM = "system"  # the person filter's value for entries no user made

# The actions core.audit records, in the order the filter offers them.
ACTION_LABELS = {
    "create": lazy_pgettext("audit action", "Created"),  # "Created" alone is a date column
    "update": _l("Changed"),
    "delete": _l("Moved to the trash"),
    "restore": _l("Restored"),
    "purge": _l("Deleted for good"),
    "merge": _l("Merged others into it"),
    "merged_into": _l("Merged into another"),
}
ACTION_BADGES = {
    "create": "text-bg-success",
    "update": "text-bg-primary",
    "delete": "text-bg-warning",
    "restore": "text-bg-info",
    "purge": "text-bg-danger",
    "merge": "text-bg-dark",
    "merged_into": "text-bg-secondary",
}

def record_type_labels() -> dict[str, str]:
    """Record type key -> its human label, for every audited model that declares one."""
    labels = {}
    for mapper in Base.registry.mappers:
        model = mapper.class_
        label = getattr(model, "__record_label__", None)
        if issubclass(model, Audited) and label:
            labels[record_type(model)] = translate(label)
    return labels


def _company_id() -> int:
    company = current_company()
    return company.id if company is not None else 0


def member_choices() -> list[tuple[Any, str]]:
    """"System" and the company's members, by name, for the person filter."""
    rows = get_session().execute(
        select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == _company_id())
        .order_by(func.lower(User.name), User.id)
        .limit(MEMBERS_MAX)
    )
    people = [(row.id, f"{row.name} ({row.email})" if row.name else row.email) for row in rows]
    return [(SYSTEM, _("System (no person)")), *people]


def record_type_choices() -> list[tuple[Any, str]]:
    """The record types of the company's entries, by label."""
    labels = record_type_labels()
    table = AuditEntry.__table__.c  # read through ix_core_audit_entry_record, one probe per type
    present = distinct_values(table.record_type, table.company_id == _company_id())
    return sorted(((key, labels.get(key, key)) for key in present), key=lambda choice: choice[1].lower())


@dataclass(frozen=True)
class PersonFilter(Filter):
    """The person filter: a member's id, or ``system`` for the entries no user made."""

    kind: ClassVar[str] = "choice"

    def parse(self, args: Any, options: list[tuple[Any, str]]) -> tuple[dict[str, str], dict[str, str], list[Any]]:
        values, invalid, conditions = super().parse(args, options)
        if values.get(self.key) == SYSTEM:
            conditions = [self.expression.is_(None)]
        return values, invalid, conditions


ENTRIES = Listing(
    select(AuditEntry).outerjoin(User, User.id == AuditEntry.user_id),
    columns=[
        Column("at", _l("When"), AuditEntry.at, sortable=True),
        Column("who", _l("Who"), User.name),
        Column("action", _l("Action"), AuditEntry.action),
        Column("record_type", _l("Record type"), AuditEntry.record_type),
        Column("record_id", _l("Record"), AuditEntry.record_id),
        Column("changes", _l("Changes"), AuditEntry.changes),
    ],
    filters=[
        PersonFilter("person", _l("Person"), AuditEntry.user_id, choices=member_choices),
        Filter("type", _l("Record type"), AuditEntry.record_type, choices=record_type_choices),
        # "action" is a name the list itself reads (bulk actions): the parameter is "change".
        Filter("change", _l("Action"), AuditEntry.action, choices=list(ACTION_LABELS.items())),
        DateRangeFilter("date", _l("Date (UTC)"), AuditEntry.at),
        Filter("record", _l("Record id"), AuditEntry.record_id),
    ],
    default_sort="-at",
    page_size=PAGE_SIZE,
    pagination="keyset",
    count_limit=COUNT_LIMIT,
    extra=[AuditEntry.id, AuditEntry.user_id],
    export_formats=(),
    id="audit-entries",
)


def value_text(value: Any) -> str:
    """A recorded value as short text: ``None`` as a dash, structures as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@blueprint.get("/admin/audit")
@signed_in
def index() -> Any:
    """The company's audit entries, filtered, newest first, a page at a time."""
    abort_unless_admin(_("Only company administrators can read the audit log."))
    statement = (
        select(AuditEntry).outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.company_id == _company_id())
    )
    page = ENTRIES.page(statement)
    return ENTRIES.render(
        "admin/audit.html", page, type_labels=record_type_labels(), action_labels=ACTION_LABELS,
        action_badges=ACTION_BADGES, value_text=value_text,
    )
