"""Possible duplicates and the merge screen, for accounts and for contacts.

``/customers/duplicates/<accounts|contacts>/?reason=email|phone|name`` lists groups of
possible duplicates (:mod:`plugins.customers.duplicates`), a page at a time; each group links
to ``.../merge?ids=…``, which shows the records side by side (stacked on a phone), asks for
the surviving value of each field that differs and the survivor, says what will move, and
merges on a confirmed POST (:func:`plugins.customers.merge.merge_customers`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select

from core.access import require_permission
from core.db import get_session
from core.forms import confirmation_required
from core.merging import MergeError
from core.models import Team, User
from core.textsearch import text_matches
from plugins.customers import MERGE_ACCOUNTS, MERGE_CONTACTS
from plugins.customers.duplicates import KINDS, REASONS, BadCursor, Kind, find_duplicates
from plugins.customers.merge import fields_to_choose, merge_customers, what_moves
from plugins.customers.models import ContactPoint
from plugins.customers.normalize import phone_spelling
from plugins.customers.schemas import KIND_LABELS, STATUS_LABELS, AccountSchema, ContactSchema
from plugins.customers.services import account_names as visible_account_names

blueprint = Blueprint("customers_duplicates", __name__, url_prefix="/customers/duplicates",
                      template_folder="templates")

MAX_MERGED = 10  # records merged at once
MERGE_WITH_RESULTS = 20  # records offered on the "Merge with…" page
REASON_LABELS = {"email": _l("Same email"), "phone": _l("Same phone"), "name": _l("Similar name")}
SCHEMAS = {"accounts": AccountSchema, "contacts": ContactSchema}
# Columns without a form field of their own.
EXTRA_LABELS = {"team_id": _l("Team"), "consent_changed_at": _l("Consent changed")}


# -- the list of possible duplicates ---------------------------------------------------------------


def _groups_page(kind: Kind) -> str:
    reason = request.args.get("reason", "email")
    if reason not in REASONS:
        abort(400, description=_("Unknown reason “%(reason)s”: use email, phone or name.", reason=reason[:20]))
    try:
        page = find_duplicates(get_session(), kind, reason, request.args.get("after") or None)
    except BadCursor:
        abort(400, description=_("This page address is out of date: start again from the first page."))
    account_names = _account_names(kind, [r for group in page.groups for r in group.records])
    return render_template("customers/duplicates/index.html", kind=kind.key, reason=reason, page=page,
                           reasons=REASON_LABELS, account_names=account_names,
                           first_page=not request.args.get("after"))


def _account_names(kind: Kind, records: list[Any]) -> dict[int, str]:
    """The names of the contacts' accounts the user may see, in one query (accounts show no
    account)."""
    ids = {record.account_id for record in records if getattr(record, "account_id", None)}
    if kind.key != "contacts" or not ids:
        return {}
    return visible_account_names(get_session(), ids)


@blueprint.get("/accounts/")
@require_permission(MERGE_ACCOUNTS)
def accounts() -> str:
    """Groups of accounts that may be one: same email, same phone, similar name in a region."""
    return _groups_page(KINDS["accounts"])


@blueprint.get("/contacts/")
@require_permission(MERGE_CONTACTS)
def contacts() -> str:
    """Groups of contacts that may be one: same email, same phone, similar name at an account."""
    return _groups_page(KINDS["contacts"])


# -- "Merge with…": one record's possible duplicates, or any record found by a search --------------


def _likely_duplicates(kind: Kind, record: Any) -> Any:
    """The condition of the records sharing a phone or email with ``record``, or its name key
    in the same block (its region, or its account), as the finder compares them."""
    model = kind.model
    shared = select(kind.point_owner).where(ContactPoint.normalized.in_(
        select(ContactPoint.normalized).where(kind.point_owner == record.id)))
    conditions = [model.id.in_(shared)]
    if record.name_key:
        block = record.region if kind.key == "accounts" else record.account_id or 0
        conditions.append((model.name_key == record.name_key) & (kind.block == block))
    return or_(*conditions)


def _merge_with(kind: Kind, record_id: int) -> str:
    record = get_session().scalar(kind.visible(select(kind.model).where(kind.model.id == record_id)))
    if record is None:
        abort(404)
    q = " ".join(request.args.get("q", "").split())[:100]
    model = kind.model
    statement = kind.visible(select(model).where(model.id != record.id))
    if q:
        statement = statement.where(text_matches(model.search_text, q.split(),
                                                 *([variant] for variant in phone_spelling(q))))
    else:
        statement = statement.where(_likely_duplicates(kind, record))
    candidates = list(get_session().scalars(statement.order_by(model.name, model.id).limit(MERGE_WITH_RESULTS)))
    return render_template("customers/duplicates/merge_with.html", kind=kind.key, record=record, q=q,
                           candidates=candidates, limit=MERGE_WITH_RESULTS,
                           account_names=_account_names(kind, candidates))


@blueprint.get("/accounts/<int:record_id>/merge-with")
@require_permission(MERGE_ACCOUNTS)
def merge_account_with(record_id: int) -> str:
    """The accounts this one may be merged with: its likely duplicates, or those a search finds."""
    return _merge_with(KINDS["accounts"], record_id)


@blueprint.get("/contacts/<int:record_id>/merge-with")
@require_permission(MERGE_CONTACTS)
def merge_contact_with(record_id: int) -> str:
    """The contacts this one may be merged with: its likely duplicates, or those a search finds."""
    return _merge_with(KINDS["contacts"], record_id)


# -- the merge screen ------------------------------------------------------------------------------


def _ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                abort(400, description=_("“%(value)s” is not a record id.", value=part[:40]))
            if int(part) not in ids:
                ids.append(int(part))
    return ids


def _records(kind: Kind, ids: list[int]) -> list[Any]:
    """The records ``ids`` the user may see, in the order asked; 4xx naming what is wrong."""
    if len(ids) < 2:
        abort(400, description=_("Choose at least two records to merge."))
    if len(ids) > MAX_MERGED:
        abort(400, description=_("Merge at most %(num)s records at a time.", num=MAX_MERGED))
    found = {record.id: record for record in get_session().scalars(
        kind.visible(select(kind.model).where(kind.model.id.in_(ids))))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        abort(404, description=_("No record you can see has the id %(ids)s.", ids=", ".join(missing)))
    return [found[i] for i in ids]


def _completeness(record: Any, names: list[str]) -> int:
    return sum(1 for name in names if getattr(record, name) not in (None, "", False))


def default_survivor(records: list[Any]) -> Any:
    """The record that stays unless the user picks another: the most complete, then the oldest."""
    names = fields_to_choose(records) or ["name"]
    return min(records, key=lambda r: (-_completeness(r, names), r.created_at, r.id))


def _labels(kind: Kind) -> dict[str, Any]:
    schema_fields = SCHEMAS[kind.key]._declared_fields
    labels = {name: f.metadata.get("label", name) for name, f in schema_fields.items()}
    return {**labels, **EXTRA_LABELS}


def _display(kind: Kind, records: list[Any], names: list[str]) -> Callable[[Any, str], str]:
    """How a value reads on the merge screen: labels for codes, names for ids (one query each)."""
    session = get_session()
    people = dict(session.execute(select(User.id, User.name).where(
        User.id.in_({r.owner_id for r in records if r.owner_id})).order_by(User.id)).all())
    teams = {}
    if "team_id" in names:
        teams = dict(session.execute(select(Team.id, Team.name).where(
            Team.id.in_({r.team_id for r in records if r.team_id}))).all())
    accounts = _account_names(kind, records) if "account_id" in names else {}
    lookups = {"owner_id": people, "team_id": teams, "account_id": accounts, "kind": KIND_LABELS,
               "status": STATUS_LABELS}

    def show(record: Any, name: str) -> str:
        value = getattr(record, name)
        if value in (None, ""):
            return ""
        if name in lookups:
            return str(lookups[name].get(value, value))
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if isinstance(value, datetime):
            return format_datetime(value, "short")
        if isinstance(value, date):
            return format_date(value)
        return str(value)

    return show


def _merge_screen(kind: Kind, records: list[Any], survivor: Any) -> str:
    names = fields_to_choose(records)
    show = _display(kind, records, names + ["name", "owner_id"])
    chosen = {name: _default_choice(records, survivor, name) for name in names}
    moves = what_moves(get_session(), _record_type(kind), [r.id for r in records if r.id != survivor.id])
    return render_template("customers/duplicates/merge.html", kind=kind.key, records=records, survivor=survivor,
                           names=names, labels=_labels(kind), show=show, chosen=chosen, moves=moves)


def _default_choice(records: list[Any], survivor: Any, name: str) -> int:
    """The record whose value is offered first: the survivor's, unless it is empty."""
    if getattr(survivor, name) not in (None, ""):
        return survivor.id
    return next((r.id for r in records if getattr(r, name) not in (None, "")), survivor.id)


def _record_type(kind: Kind) -> str:
    from core.audit import record_type

    return record_type(kind.model)


def _merge(kind: Kind) -> Any:
    if request.method == "GET":
        records = _records(kind, _ids(request.args.getlist("ids")))
        return _merge_screen(kind, records, default_survivor(records))
    records = _records(kind, _ids(request.form.getlist("ids")))
    by_id = {record.id: record for record in records}
    survivor = by_id.get(request.form.get("survivor", type=int) or 0)
    if survivor is None:
        abort(400, description=_("Choose the record that stays among the records merged."))
    values = {}
    for name in fields_to_choose(records):
        source = by_id.get(request.form.get(f"field-{name}", type=int) or 0)
        if source is None:
            abort(400, description=_("Choose which value of “%(field)s” to keep.", field=_labels(kind).get(name, name)))
        values[name] = getattr(source, name)
    merged = [record for record in records if record.id != survivor.id]
    page = confirmation_required(
        _("Merge %(num)s records into “%(name)s”? The others go to the trash; their contacts, history and "
          "tasks move to “%(name)s”.", num=len(merged), name=survivor.name),
        title=_("Merge records"), label=_("Merge"), danger=False)
    if page is not None:  # asked without JavaScript: the page asks, then posts again
        return page
    try:
        merge_customers(get_session(), survivor, merged, values, current_user.id)
    except MergeError as error:
        abort(400, description=str(error))
    flash(_("Merged %(num)s records into “%(name)s”; the others are in the trash.", num=len(merged),
            name=survivor.name), "success")
    endpoint = "customers_accounts.detail" if kind.key == "accounts" else "customers_contacts.detail"
    key = "account_id" if kind.key == "accounts" else "contact_id"
    return redirect(url_for(endpoint, **{key: survivor.id}))


@blueprint.route("/accounts/merge", methods=["GET", "POST"])
@require_permission(MERGE_ACCOUNTS)
def merge_accounts() -> Any:
    """Merge accounts: choose the survivor and each field's value, then confirm."""
    return _merge(KINDS["accounts"])


@blueprint.route("/contacts/merge", methods=["GET", "POST"])
@require_permission(MERGE_CONTACTS)
def merge_contacts() -> Any:
    """Merge contacts: choose the survivor and each field's value, then confirm."""
    return _merge(KINDS["contacts"])
