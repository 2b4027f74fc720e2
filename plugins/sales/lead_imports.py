"""Import of leads from CSV and XLSX files (the ``import_targets`` hook, see core.imports).

Rows are checked with the lead form's own :class:`plugins.sales.lead_schemas.LeadSchema`
(plus the UTM fields, which only imports and web forms fill), so an import accepts exactly
what the form accepts. What only a spreadsheet has is read first:

* the status may be given by its code or its label (any case); blank means "new"; "converted"
  is refused, as in the form: only converting a lead makes it converted;
* the owner is given by a member's email or name (``owner``); a row without one goes to whom
  the assignment rules choose when the company has active rules (or to nobody: the customer
  pool), else to the importing user.

Existing leads are recognised by their normalised email or phone (the indexed
``email_normalized`` / ``phone_normalized`` columns; trashed leads do not count). Writes are
Core bulk statements, so they fill what the ORM would: ``email_normalized``,
``phone_normalized``, ``search_text`` (:func:`plugins.sales.models.lead_search_text`), the
owner, the company and the timestamps; then the leads are scored (:mod:`plugins.sales.scoring`).
Imported leads are not one audit entry or one
``sales.lead.created`` event each: the import run is the record of the import.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import bindparam, select, update

from core import ImportContext, ImportField, ImportKey, ImportTarget
from core.db import get_session, utcnow
from core.forms import field_errors, localize_schema
from core.imports import bulk_insert
from core.models import Membership, User
from plugins.customers.services import normalize_email, normalize_phone
from plugins.sales import WRITE_LEADS
from plugins.sales.assignment import assign_unowned, has_active_rules
from plugins.sales.lead_schemas import STATUS_LABELS, LeadSchema
from plugins.sales.models import Lead, lead_search_text
from plugins.sales.scoring import rescore_leads

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
# The columns an import writes (owner_id comes from the ``owner`` field).
LEAD_COLUMNS = ("name", "title", "organisation", "email", "phone", "region", "industry", "source", "campaign",
                *UTM_FIELDS, "status", "owner_id", "notes")


class CapturedLeadSchema(LeadSchema):
    """The lead form's schema and the UTM parameters a lead was captured with (imports and
    web-to-lead forms fill them; the lead form does not show them)."""

    utm_source = fields.String(load_default="", validate=validate.Length(max=120),
                               metadata={"label": _l("UTM source")})
    utm_medium = fields.String(load_default="", validate=validate.Length(max=120),
                               metadata={"label": _l("UTM medium")})
    utm_campaign = fields.String(load_default="", validate=validate.Length(max=120),
                                 metadata={"label": _l("UTM campaign")})


# -- reading cells ---------------------------------------------------------------------------------


def _schema(context: ImportContext) -> Schema:
    """One localised schema per run (building one per row would cost more than the rows)."""
    if "schema" not in context.cache:
        context.cache["schema"] = localize_schema(CapturedLeadSchema())
    return context.cache["schema"]


def _statuses(context: ImportContext) -> dict[str, str]:
    """Status codes by their code or translated label, folded (translated once per run)."""
    if "statuses" not in context.cache:
        context.cache["statuses"] = {**{str(label).casefold(): code for code, label in STATUS_LABELS.items()},
                                     **{code: code for code in STATUS_LABELS}}
    return context.cache["statuses"]


def _members(context: ImportContext) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The company's members by lower-case email and by folded name (one query per run)."""
    if "members" not in context.cache:
        by_email: dict[str, int] = {}
        by_name: dict[str, list[int]] = {}
        rows = get_session().execute(select(User.email, User.name, User.id)
                                     .join(Membership, Membership.user_id == User.id)
                                     .where(Membership.company_id == context.company_id))
        for email, name, user_id in rows:
            by_email[email.lower()] = user_id
            by_name.setdefault((name or "").strip().casefold(), []).append(user_id)
        context.cache["members"] = (by_email, by_name)
    return context.cache["members"]


def _owner(text: str, context: ImportContext) -> tuple[int | None, str | None]:
    """The member an owner cell names (by email, else by name); or the message why not."""
    text = text.strip()
    if not text:
        return None, None
    by_email, by_name = _members(context)
    if text.lower() in by_email:
        return by_email[text.lower()], None
    ids = by_name.get(text.casefold(), [])
    if len(ids) == 1:
        return ids[0], None
    if len(ids) > 1:
        return None, _("Several members are called “%(name)s”: give their email instead.", name=text[:100])
    return None, _("Nobody in this company has the email or name “%(owner)s”.", owner=text[:100])


def _validate(rows: Sequence[Mapping[str, str]], context: ImportContext) -> list[tuple[Any, dict]]:
    schema = _schema(context)
    statuses = _statuses(context)
    results: list[tuple[Any, dict]] = []
    for row in rows:
        data: dict[str, Any] = {name: value for name, value in row.items()
                                if name in schema.fields and name != "owner_id"}
        problems: dict[str, str] = {}
        if "status" in data:
            if data["status"].strip():
                data["status"] = statuses.get(data["status"].strip().casefold(), data["status"].strip())
                if data["status"] == "converted":
                    problems["status"] = _("A lead becomes converted only by converting it; "
                                           "give new, contacted, qualified or unqualified.")
                    del data["status"]
            else:
                del data["status"]  # blank: new
        owner_id, problem = _owner(row.get("owner", ""), context)
        if problem:
            problems["owner"] = problem
        elif owner_id is not None:
            data["owner_id"] = owner_id
        try:
            values, errors = schema.load(data), {}
        except ValidationError as error:
            values = None
            errors = {("" if name.startswith("_") else "owner" if name == "owner_id" else name): message
                      for name, message in field_errors(error, schema).items()}
        if problems:
            values, errors = None, {**errors, **problems}
        results.append((values, errors))
    return results


# -- duplicate keys --------------------------------------------------------------------------------


def _email_key(values: Mapping[str, Any]) -> Hashable | None:
    return normalize_email(values.get("email")) or None


def _phone_key(values: Mapping[str, Any]) -> Hashable | None:
    return normalize_phone(values.get("phone")) or None


def _find_existing(key: str, values: Collection[Hashable], context: ImportContext) -> dict[Hashable, int]:
    """Leads (of the company, not in the trash: the ORM query is scoped) with one of these
    normalised emails or phones; the oldest when several share one. One query per batch."""
    column = Lead.email_normalized if key == "email" else Lead.phone_normalized
    found: dict[Hashable, int] = {}
    rows = get_session().execute(select(column, Lead.id).where(column.in_(sorted(str(v) for v in values)))
                                 .order_by(Lead.id))
    for value, lead_id in rows:
        found.setdefault(value, lead_id)
    return found


# -- writing ---------------------------------------------------------------------------------------


def _derived(row: Mapping[str, Any]) -> dict[str, str]:
    """What the ORM's validators and listeners would set: normalised email, phone, search text."""
    return {"email_normalized": normalize_email(row.get("email")),
            "phone_normalized": normalize_phone(row.get("phone")),
            "search_text": lead_search_text(dict(row))}


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: values[name] for name in LEAD_COLUMNS if name in values}
    return {name: value.strip() if isinstance(value, str) else value for name, value in row.items()}


def _changed(context: ImportContext) -> list[str]:
    """The columns an update changes: the mapped fields (the owner for the ``owner`` field)."""
    changed = {"owner_id" if name == "owner" else name for name in context.fields}
    return sorted(name for name in changed if name in LEAD_COLUMNS)


def _write(creates: list[dict[str, Any]], updates: list[tuple[int, dict[str, Any]]], context: ImportContext) -> None:
    now = utcnow()
    session = get_session()
    # A row without an owner goes to whom the assignment rules choose, when the company has
    # rules; else to the person importing.
    by_rules = has_active_rules(session)
    rows = []
    for values in creates:
        row: dict[str, Any] = {name: "" for name in LEAD_COLUMNS if name != "owner_id"}
        row.update(_columns(values))
        row["status"] = row.get("status") or "new"
        if row.get("owner_id") is None and not by_rules:
            row["owner_id"] = context.user_id
        row.update(_derived(row), company_id=context.company_id, created_at=now, updated_at=now)
        rows.append(row)
    created = bulk_insert(Lead.__table__, rows, return_ids=True)
    if by_rules:
        assign_unowned(session, [lead_id for lead_id, row in zip(created, rows, strict=True)
                                 if row.get("owner_id") is None])
    _update(updates, context, now)
    # Scores follow the rules' fields: imported and updated leads are scored like typed ones.
    rescore_leads(session, [*created, *(lead_id for lead_id, _values in updates)])


def _update(updates: list[tuple[int, dict[str, Any]]], context: ImportContext, now: Any) -> None:
    """Change the mapped columns of existing leads (one read, one executemany UPDATE), then
    their derived columns from what they hold afterwards."""
    changed = _changed(context)
    if not updates or not changed:
        return
    session = get_session()
    table = Lead.__table__
    current = {row.id: dict(row._mapping) for row in session.execute(
        select(table.c.id, table.c.name, table.c.organisation, table.c.email, table.c.phone, table.c.status,
               table.c.owner_id)
        .where(table.c.id.in_(sorted({lead_id for lead_id, _values in updates})),
               table.c.company_id == context.company_id))}
    rows = []
    for lead_id, values in updates:
        if lead_id not in current:
            continue
        new = {name: value for name, value in _columns(values).items() if name in changed}
        if current[lead_id]["status"] == "converted":
            new.pop("status", None)  # a converted lead stays converted
        state = {**current[lead_id], **new}
        new.update(_derived(state), updated_at=now)
        rows.append({"b_id": lead_id, **new})
    if not rows:
        return
    # executemany needs the same columns in every row: fill gaps from the current row.
    keys = set().union(*(row.keys() for row in rows)) - {"b_id"}
    for row in rows:
        for key in keys - row.keys():
            row[key] = current[row["b_id"]].get(key)
        # A blank owner cell leaves the owner as it is.
        if "owner_id" in keys and row["owner_id"] is None:
            row["owner_id"] = current[row["b_id"]]["owner_id"]
    statement = update(table).where(table.c.id == bindparam("b_id")).values(
        **{key: bindparam(key) for key in keys})
    session.execute(statement, rows, execution_options={"synchronize_session": False})


# -- the target ------------------------------------------------------------------------------------

LEADS = ImportTarget(
    key="sales.leads",
    label=_l("Leads"),
    permission=WRITE_LEADS,
    fields=(
        ImportField("name", _l("Name"), required=True,
                    aliases=("full name", "contact", "contact name", "person", "lead", "lead name",
                             "姓名", "名字", "联系人", "联系人姓名", "线索", "线索名称")),
        ImportField("title", _l("Job title"), aliases=("position", "role", "job", "职位", "职务", "头衔")),
        ImportField("organisation", _l("Organisation"),
                    aliases=("organization", "company", "company name", "account", "公司", "公司名称", "单位",
                             "单位名称", "企业名称", "客户名称")),
        ImportField("email", _l("Email"), aliases=("e-mail", "mail", "email address", "邮箱", "电子邮件",
                                                   "电子邮箱", "邮件")),
        ImportField("phone", _l("Phone"), aliases=("telephone", "tel", "mobile", "电话", "手机", "联系电话",
                                                   "手机号", "电话号码")),
        ImportField("region", _l("Region"), aliases=("area", "province", "city", "地区", "区域", "省份", "城市")),
        ImportField("industry", _l("Industry"), aliases=("sector", "行业", "所属行业")),
        ImportField("source", _l("Source"), aliases=("lead source", "channel", "来源", "线索来源", "渠道")),
        ImportField("campaign", _l("Campaign"), aliases=("活动", "市场活动", "营销活动")),
        ImportField("utm_source", _l("UTM source"), aliases=("utm source",)),
        ImportField("utm_medium", _l("UTM medium"), aliases=("utm medium",)),
        ImportField("utm_campaign", _l("UTM campaign"), aliases=("utm campaign",)),
        ImportField("status", _l("Status"), aliases=("lead status", "状态", "线索状态"),
                    help=_l("new, contacted, qualified or unqualified (blank: new).")),
        ImportField("owner", _l("Owner (email or name of a member)"),
                    aliases=("owner email", "owner name", "sales rep", "负责人", "负责人邮箱", "所有者", "销售"),
                    help=_l("Blank: you.")),
        ImportField("notes", _l("Notes"), aliases=("note", "comments", "remarks", "备注", "说明")),
    ),
    keys=(
        ImportKey("email", _l("Email"), ("email",), _email_key),
        ImportKey("phone", _l("Phone"), ("phone",), _phone_key),
    ),
    validate=_validate,
    find_existing=_find_existing,
    write=_write,
    order=20,
)
