"""Imports of accounts, contacts and interactions from CSV and XLSX files (core.imports).

Three targets for the ``import_targets`` hook. Rows are checked with the plugin's own schemas
(``AccountSchema``, ``ContactSchema``, ``InteractionSchema``), so an import accepts exactly
what the forms accept; a few things only a spreadsheet has are read first:

* a phone or email cell may hold several values (separated by ``;``, ``,`` or new lines):
  the first becomes the primary one, the others go to ``other_phones`` / ``other_emails``;
* kinds, statuses and interaction kinds may be given by their code or their label;
* the owner is given by a member's email (``owner_email``); by default the importing user;
* contacts and interactions name their account (by name, compared like duplicates are, or by
  its id).

Writes are SQLAlchemy Core bulk statements (``core.imports.bulk_insert``; the ORM unit of work
is far slower), so they fill what the ORM would: the normalised columns, ``name_key``,
``search_text`` and the contact points (:func:`plugins.customers.services.derived_columns` and
``contact_point_rows``), the owner, the company and the timestamps, and the tags (missing ones
created). Imported records are not one audit entry each: the import run itself is in the
audit trail.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from marshmallow import Schema, ValidationError
from sqlalchemy import bindparam, delete, or_, select, update

from core import ImportContext, ImportField, ImportKey, ImportTarget
from core.db import get_session, utcnow
from core.forms import field_errors, localize_schema
from core.imports import bulk_insert
from core.models import Membership, User
from plugins.customers import LOG_FOLLOW_UPS, WRITE_ACCOUNTS, WRITE_CONTACTS
from plugins.customers.followups import ACCOUNT_TYPE, InteractionSchema, aware
from plugins.customers.followups import KIND_LABELS as INTERACTION_LABELS
from plugins.customers.models import (
    Account,
    AccountTag,
    Contact,
    ContactPoint,
    ContactTag,
    Interaction,
    Tag,
)
from plugins.customers.normalize import normalize_email, normalize_phone, split_values
from plugins.customers.schemas import (
    KIND_LABELS,
    STATUS_LABELS,
    AccountSchema,
    ContactSchema,
    split_tags,
)
from plugins.customers.services import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    contact_point_rows,
    derived_columns,
    find_by_contact_point,
)
from plugins.customers.similar import name_key

TRUE_WORDS = frozenset({"1", "y", "yes", "true", "x", "✓", "是", "有", "同意", "ja", "oui", "vrai"})
FALSE_WORDS = frozenset({"0", "n", "no", "false", "", "否", "无", "不同意", "nein", "non", "faux"})


# -- reading cells ---------------------------------------------------------------------------------


def _choice(value: str, labels: Mapping[str, Any], context: ImportContext) -> str:
    """A code given by itself or by its label (any case): "Active" or "active" -> "active".
    The labels are translated once per run (a lazy string costs a catalog lookup each time)."""
    key = ("choices", id(labels))
    if key not in context.cache:
        context.cache[key] = {**{str(label).casefold(): code for code, label in labels.items()},
                              **{code.casefold(): code for code in labels}}
    return context.cache[key].get(value.strip().casefold(), value.strip())


def _split_several(data: dict[str, Any], primary: str, others: str) -> None:
    """A cell with several phones or emails: the first is the primary one, the rest join the others."""
    if primary not in data:
        return
    values = split_values(data[primary])
    data[primary] = values[0] if values else ""
    if len(values) > 1:
        data[others] = "\n".join(split_values("\n".join([*values[1:], *split_values(data.get(others, ""))])))


def _members(context: ImportContext) -> dict[str, int]:
    """The company's members by lower-case email (read once per run)."""
    if "members" not in context.cache:
        rows = get_session().execute(select(User.email, User.id).join(Membership, Membership.user_id == User.id)
                                     .where(Membership.company_id == context.company_id))
        context.cache["members"] = {email.lower(): user_id for email, user_id in rows}
    return context.cache["members"]


def _schema(context: ImportContext, name: str, schema_class: type[Schema]) -> Schema:
    if name not in context.cache:
        context.cache[name] = localize_schema(schema_class())
    return context.cache[name]


def _load(schema: Schema, data: dict[str, Any], row: Mapping[str, str],
          moved: Mapping[str, str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Load ``data``; errors by the field of the file (``moved``: schema field -> file field)."""
    try:
        return schema.load(data), {}
    except ValidationError as error:
        errors = field_errors(error, schema)
        named = {}
        for name, message in errors.items():
            name = "" if name.startswith("_") else name
            if name and name not in row:
                name = moved.get(name, name)
            named[name] = message
        return None, named


def _owner(row: Mapping[str, str], data: dict[str, Any], context: ImportContext) -> str | None:
    """Set ``owner_id`` from the owner email column; the message when nobody has that email."""
    email = row.get("owner_email", "").strip().lower()
    if not email:
        return None
    owner_id = _members(context).get(email)
    if owner_id is None:
        return _("Nobody in this company has the email “%(email)s”.", email=email[:100])
    data["owner_id"] = owner_id
    return None


def _account_ids_by_name(names: Iterable[str]) -> dict[str, list[int]]:
    """Accounts whose name is written like one of ``names`` (``name_key``): one query."""
    keys = {name_key(name) for name in names if name.strip()}
    found: dict[str, list[int]] = {}
    if keys:
        for key, account_id in get_session().execute(
                select(Account.name_key, Account.id).where(Account.name_key.in_(sorted(keys))).order_by(Account.id)):
            found.setdefault(key, []).append(account_id)
    return found


def _account_ids_that_exist(ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(get_session().scalars(select(Account.id).where(Account.id.in_(wanted))))


def _account_of(text: str, by_name: Mapping[str, list[int]], existing_ids: set[int]) -> tuple[int | None, str | None]:
    """The account a cell names: ``#12`` or ``12`` (an id) or a name; or the message why not."""
    text = text.strip()
    if not text:
        return None, None
    digits = text.lstrip("#")
    if digits.isdigit() and int(digits) in existing_ids:
        return int(digits), None
    ids = by_name.get(name_key(text), [])
    if len(ids) == 1:
        return ids[0], None
    if len(ids) > 1:
        return None, _("Several accounts are called “%(name)s”: give the account's id instead.", name=text[:100])
    return None, _("No account is called “%(name)s”.", name=text[:100])


def _boolean(value: str) -> bool | None:
    folded = value.strip().casefold()
    if folded in TRUE_WORDS:
        return True
    if folded in FALSE_WORDS:
        return False
    return None


# -- writing ---------------------------------------------------------------------------------------


def _tag_ids(names: Iterable[str], context: ImportContext) -> dict[str, int]:
    """Ids of the company's tags by lower-case name, creating the missing ones (one query to
    read them once per run, one INSERT for the new ones)."""
    session = get_session()
    tags: dict[str, int] = context.cache.get("tags") or {}
    if "tags" not in context.cache:
        tags = {name.lower(): tag_id for name, tag_id in session.execute(select(Tag.name, Tag.id))}
        context.cache["tags"] = tags
    missing: dict[str, str] = {}
    for name in names:
        if name.lower() not in tags:
            missing.setdefault(name.lower(), name)
    if missing:
        now = utcnow()
        rows = [{"company_id": context.company_id, "name": name, "created_at": now, "updated_at": now}
                for name in missing.values()]
        ids = bulk_insert(Tag.__table__, rows, return_ids=True)
        tags.update(zip(missing, ids, strict=True))
    return tags


def _link_tags(link: type, owner_key: str, tagged: Sequence[tuple[int, str]], context: ImportContext, *,
               new_records: bool = False) -> None:
    """Give each ``(record id, tags text)`` its tags, keeping those it has (an import adds tags);
    ``new_records``: the records were just inserted, so they have none to read."""
    wanted = [(record_id, split_tags(text)) for record_id, text in tagged if text]
    if not wanted:
        return
    ids = _tag_ids((name for _record_id, names in wanted for name in names), context)
    have: set[tuple[int, int]] = set()
    if not new_records:
        owner_column = link.__table__.c[owner_key]
        have = {(record_id, tag_id) for record_id, tag_id in get_session().execute(
            select(owner_column, link.__table__.c.tag_id)
            .where(owner_column.in_(sorted({record_id for record_id, _names in wanted}))))}
    rows = []
    for record_id, names in wanted:
        for name in names:
            pair = (record_id, ids[name.lower()])
            if pair not in have:
                have.add(pair)
                rows.append({owner_key: pair[0], "tag_id": pair[1]})
    bulk_insert(link.__table__, rows)


def _columns(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    row = {name: values[name] for name in names if name in values}
    for name, value in row.items():
        if isinstance(value, str):
            row[name] = value.strip()
    return row


def _insert_records(model: type, owner_key: str, names: Sequence[str], link: type,
                    creates: list[dict[str, Any]], context: ImportContext,
                    extra: Mapping[str, Any] | None = None) -> list[int]:
    """Insert accounts or contacts with their derived columns, contact points and tags."""
    if not creates:
        return []
    now = utcnow()
    rows = []
    for values in creates:
        row = {**(extra or {}), **_columns(values, names)}
        row.update(derived_columns(row), company_id=context.company_id, created_at=now, updated_at=now)
        if row.get("owner_id") is None:
            row["owner_id"] = context.user_id
        rows.append(row)
    table = model.__table__
    ids = bulk_insert(table, rows, return_ids=True)
    points = [point for record_id, row in zip(ids, rows, strict=True)
              for point in contact_point_rows(context.company_id, owner_key, record_id, row)]
    bulk_insert(ContactPoint.__table__, points)
    _link_tags(link, owner_key, [(record_id, values.get("tags", "")) for record_id, values in
                                 zip(ids, creates, strict=True)], context, new_records=True)
    return ids


def _update_records(model: type, owner_key: str, names: Sequence[str], link: type,
                    updates: list[tuple[int, dict[str, Any]]], context: ImportContext,
                    changed: Sequence[str]) -> None:
    """Change the ``changed`` columns of existing accounts or contacts (one read, one
    executemany UPDATE), then their derived columns, contact points and tags."""
    if not updates:
        return
    session = get_session()
    table = model.__table__
    wanted = sorted({record_id for record_id, _values in updates})
    current = {row.id: dict(row._mapping) for row in session.execute(
        select(table.c.id, table.c.name, table.c.phone, table.c.email, table.c.other_phones, table.c.other_emails)
        .where(table.c.id.in_(wanted)))}
    now = utcnow()
    rows = []
    for record_id, values in updates:
        if record_id not in current:
            continue
        row = current[record_id]
        new = _columns(values, [name for name in changed if name in names])
        if "other_phones" in values and "other_phones" not in changed:  # several phones in one cell: keep the others
            new["other_phones"] = "\n".join(split_values("\n".join([row["other_phones"], values["other_phones"]])))
        if "other_emails" in values and "other_emails" not in changed:
            new["other_emails"] = "\n".join(split_values("\n".join([row["other_emails"], values["other_emails"]])))
        if new.get("owner_id", 0) is None:  # a blank owner cell leaves the owner as it is
            del new["owner_id"]
        row.update(new)
        new.update(derived_columns(row), updated_at=now)
        rows.append({"b_id": record_id, **new})
    if not rows:
        return
    # executemany needs the same columns in every row: they are, as ``changed`` is per run,
    # except the "other" columns added above, filled in from the current row where missing.
    keys = set().union(*(row.keys() for row in rows))
    for row in rows:
        for key in keys - row.keys():
            row[key] = current[row["b_id"]][key]
    statement = update(table).where(table.c.id == bindparam("b_id")).values(
        **{key: bindparam(key) for key in keys if key != "b_id"})
    session.execute(statement, rows, execution_options={"synchronize_session": False})
    ids = [row["b_id"] for row in rows]
    session.execute(delete(ContactPoint.__table__).where(ContactPoint.__table__.c[owner_key].in_(ids)))
    points = [point for record_id in ids
              for point in contact_point_rows(context.company_id, owner_key, record_id, current[record_id])]
    bulk_insert(ContactPoint.__table__, points)
    if "tags" in changed:
        _link_tags(link, owner_key, [(record_id, values.get("tags", "")) for record_id, values in updates], context)


def _changed_columns(context: ImportContext) -> list[str]:
    """The record columns an update changes: the mapped fields, the owner for owner_email."""
    changed = set(context.fields)
    if "owner_email" in changed:
        changed.add("owner_id")
    return sorted(changed)


# -- duplicate keys --------------------------------------------------------------------------------


def _email_key(row: Mapping[str, Any]) -> Hashable | None:
    return normalize_email(row.get("email")) or None


def _phone_key(row: Mapping[str, Any]) -> Hashable | None:
    return normalize_phone(row.get("phone")) or None


def _name_region_key(row: Mapping[str, Any]) -> Hashable | None:
    key = name_key(row.get("name"))
    return (key, (row.get("region") or "").strip().casefold()) if key else None


def _finder(model: type) -> Any:
    def find_existing(key: str, values: Collection[Hashable], context: ImportContext) -> dict[Hashable, int]:
        session = get_session()
        if key in ("email", "phone"):
            found = find_by_contact_point(session, model, key, [str(value) for value in values])
            return {value: ids[0] for value, ids in found.items()}
        wanted = set(values)
        rows = session.execute(select(model.name_key, model.region, model.id)
                               .where(model.name_key.in_(sorted({value[0] for value in wanted})))
                               .order_by(model.id))
        existing: dict[Hashable, int] = {}
        for key_value, region, record_id in rows:
            pair = (key_value, (region or "").strip().casefold())
            if pair in wanted:
                existing.setdefault(pair, record_id)
        return existing

    return find_existing


# -- accounts --------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = ACCOUNT_FIELDS


def _validate_accounts(rows: Sequence[Mapping[str, str]], context: ImportContext) -> list[tuple[Any, dict]]:
    schema = _schema(context, "account_schema", AccountSchema)
    results = []
    for row in rows:
        data: dict[str, Any] = {name: value for name, value in row.items() if name in schema.fields}
        for name, labels in (("kind", KIND_LABELS), ("status", STATUS_LABELS)):
            if name in data:
                if data[name]:
                    data[name] = _choice(data[name], labels, context)
                else:
                    del data[name]  # blank: the default
        _split_several(data, "phone", "other_phones")
        _split_several(data, "email", "other_emails")
        problem = _owner(row, data, context)
        values, errors = _load(schema, data, row, {"other_phones": "phone", "other_emails": "email"})
        if problem:
            values, errors = None, {**errors, "owner_email": problem}
        results.append((values, errors))
    return results


def _write_accounts(creates: list[dict[str, Any]], updates: list[tuple[int, dict[str, Any]]],
                    context: ImportContext) -> None:
    _insert_records(Account, "account_id", ACCOUNT_COLUMNS, AccountTag, creates, context)
    _update_records(Account, "account_id", ACCOUNT_COLUMNS, AccountTag, updates, context, _changed_columns(context))


def _owner_field() -> ImportField:
    return ImportField("owner_email", _l("Owner (email of a member)"),
                       aliases=("owner", "owner email", "负责人", "负责人邮箱", "所有者", "销售"))


_PHONE = ImportField("phone", _l("Phone"), aliases=("telephone", "tel", "mobile", "phones", "电话", "手机",
                                                      "联系电话", "手机号", "电话号码"),
                     help=_l("Several numbers in one cell (separated by ; or ,) become the record's other phones."))
_EMAIL = ImportField("email", _l("Email"), aliases=("e-mail", "mail", "email address", "emails", "邮箱", "电子邮件",
                                                      "电子邮箱", "邮件"))
_TAGS = ImportField("tags", _l("Tags"), aliases=("标签",), help=_l("Separated by commas; added to existing tags."))

ACCOUNTS = ImportTarget(
    key="customers.accounts",
    label=_l("Accounts"),
    permission=WRITE_ACCOUNTS,
    fields=(
        ImportField("name", _l("Name"), required=True,
                    aliases=("account", "account name", "company", "company name", "organisation", "organization",
                             "名称", "客户名称", "公司名称", "公司", "客户", "单位名称", "企业名称")),
        ImportField("kind", _l("Kind"), aliases=("type", "类型", "客户类型")),
        ImportField("status", _l("Status"), aliases=("状态", "客户状态")),
        ImportField("industry", _l("Industry"), aliases=("sector", "行业", "所属行业")),
        ImportField("size", _l("Size (employees)"), aliases=("size", "employees", "规模", "人数", "员工人数")),
        ImportField("region", _l("Region"), aliases=("area", "province", "city", "地区", "区域", "省份", "城市")),
        ImportField("tier", _l("Tier"), aliases=("level", "等级", "级别", "客户等级")),
        ImportField("source", _l("Source"), aliases=("lead source", "来源", "客户来源")),
        ImportField("website", _l("Website"), aliases=("web", "url", "site", "网站", "网址", "官网")),
        _PHONE,
        ImportField("other_phones", _l("Other phones"), aliases=("其他电话", "备用电话")),
        _EMAIL,
        ImportField("other_emails", _l("Other emails"), aliases=("其他邮箱",)),
        ImportField("address", _l("Address"), aliases=("地址", "详细地址", "公司地址")),
        _owner_field(),
        _TAGS,
        ImportField("notes", _l("Notes"), aliases=("note", "comments", "remarks", "备注", "说明")),
    ),
    keys=(
        ImportKey("email", _l("Email"), ("email",), _email_key),
        ImportKey("phone", _l("Phone"), ("phone",), _phone_key),
        ImportKey("name_region", _l("Name and region"), ("name", "region"), _name_region_key),
    ),
    validate=_validate_accounts,
    find_existing=_finder(Account),
    write=_write_accounts,
    order=10,
)


# -- contacts --------------------------------------------------------------------------------------


def _validate_contacts(rows: Sequence[Mapping[str, str]], context: ImportContext) -> list[tuple[Any, dict]]:
    schema = _schema(context, "contact_schema", ContactSchema)
    by_name = _account_ids_by_name(row.get("account", "") for row in rows)
    ids = _account_ids_that_exist(int(row["account"].strip().lstrip("#")) for row in rows
                                  if row.get("account", "").strip().lstrip("#").isdigit())
    results = []
    for row in rows:
        data: dict[str, Any] = {name: value for name, value in row.items()
                                if name in schema.fields and name != "account_id"}
        problems: dict[str, str] = {}
        for name in ("consent_email", "consent_phone", "consent_sms"):
            if name in data:
                flag = _boolean(data[name])
                if flag is None:
                    problems[name] = _("Write yes or no.")
                data[name] = bool(flag)
        if data.get("birthday", None) == "":
            data["birthday"] = None
        _split_several(data, "phone", "other_phones")
        _split_several(data, "email", "other_emails")
        account_id, problem = _account_of(row.get("account", ""), by_name, ids)
        if problem:
            problems["account"] = problem
        if "account" in row:
            data["account_id"] = account_id
        owner_problem = _owner(row, data, context)
        if owner_problem:
            problems["owner_email"] = owner_problem
        values, errors = _load(schema, data, row, {"other_phones": "phone", "other_emails": "email",
                                                   "account_id": "account"})
        if problems:
            values, errors = None, {**errors, **problems}
        results.append((values, errors))
    return results


def _write_contacts(creates: list[dict[str, Any]], updates: list[tuple[int, dict[str, Any]]],
                    context: ImportContext) -> None:
    now = utcnow()
    for values in creates:  # a consent given in the file is dated by the import
        if any(values.get(name) for name in ("consent_email", "consent_phone", "consent_sms")):
            values.setdefault("consent_changed_at", now)
    names = (*CONTACT_FIELDS, "consent_changed_at")
    _insert_records(Contact, "contact_id", names, ContactTag, creates, context)
    changed = _changed_columns(context)
    if "account" in changed:
        changed.append("account_id")
    _update_records(Contact, "contact_id", names, ContactTag, updates, context, changed)


CONTACTS = ImportTarget(
    key="customers.contacts",
    label=_l("Contacts"),
    permission=WRITE_CONTACTS,
    fields=(
        ImportField("name", _l("Name"), required=True,
                    aliases=("contact", "contact name", "full name", "person", "姓名", "联系人", "名字", "联系人姓名")),
        ImportField("account", lazy_pgettext("customer", "Account"),
                    aliases=("account name", "company", "organisation", "organization", "客户", "公司", "所属公司",
                             "客户名称", "公司名称", "单位"),
                    help=_l("The account's name, or its id.")),
        ImportField("title", _l("Job title"), aliases=("title", "position", "role", "职位", "职务", "头衔")),
        ImportField("department", _l("Department"), aliases=("dept", "部门")),
        _PHONE,
        ImportField("other_phones", _l("Other phones"), aliases=("其他电话", "备用电话")),
        _EMAIL,
        ImportField("other_emails", _l("Other emails"), aliases=("其他邮箱",)),
        ImportField("im_handle", _l("Messaging handle"), aliases=("wechat", "weixin", "qq", "im", "微信", "微信号")),
        ImportField("birthday", _l("Birthday"), aliases=("date of birth", "生日", "出生日期")),
        ImportField("address", _l("Address"), aliases=("地址",)),
        ImportField("consent_email", _l("May be contacted by email"), aliases=("email consent", "邮件许可")),
        ImportField("consent_phone", _l("May be contacted by phone"), aliases=("phone consent", "电话许可")),
        ImportField("consent_sms", _l("May be contacted by text message"), aliases=("sms consent", "短信许可")),
        ImportField("consent_source", _l("How consent was given"), aliases=("consent source",)),
        _owner_field(),
        _TAGS,
    ),
    keys=(
        ImportKey("email", _l("Email"), ("email",), _email_key),
        ImportKey("phone", _l("Phone"), ("phone",), _phone_key),
    ),
    validate=_validate_contacts,
    find_existing=_finder(Contact),
    write=_write_contacts,
    order=11,
)


# -- interactions ----------------------------------------------------------------------------------


def _moment(text: str) -> datetime | None:
    """A date or a date and time as spreadsheets write them: ISO, with a space, with slashes."""
    text = text.strip().replace("/", "-")
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _validate_interactions(rows: Sequence[Mapping[str, str]], context: ImportContext) -> list[tuple[Any, dict]]:
    schema = _schema(context, "interaction_schema", InteractionSchema)
    by_name = _account_ids_by_name(row.get("account", "") for row in rows)
    ids = _account_ids_that_exist(int(row["account"].strip().lstrip("#")) for row in rows
                                  if row.get("account", "").strip().lstrip("#").isdigit())
    results = []
    for row in rows:
        data: dict[str, Any] = {name: value for name, value in row.items() if name in schema.fields}
        problems: dict[str, str] = {}
        if data.get("kind"):
            data["kind"] = _choice(data["kind"], INTERACTION_LABELS, context)
        if data.get("occurred_at"):
            moment = _moment(data["occurred_at"])
            if moment is None:
                problems["occurred_at"] = _("Write a date such as 2024-05-31 or 2024-05-31 14:30.")
            data["occurred_at"] = (moment or utcnow()).isoformat()
        else:
            data.pop("occurred_at", None)
        account_id, problem = _account_of(row.get("account", ""), by_name, ids)
        if problem or account_id is None:
            problems["account"] = problem or _("Give the account this happened with.")
        values, errors = _load(schema, data, row, {})
        if problems:
            values, errors = None, {**errors, **problems}
        elif values is not None:
            values["account_id"] = account_id
            owner_problem = _owner(row, values, context)
            if owner_problem:
                values, errors = None, {"owner_email": owner_problem}
        results.append((values, errors))
    return results


def _interaction_key(row: Mapping[str, Any]) -> Hashable | None:
    moment = aware(row.get("occurred_at"))
    return (row.get("account_id"), row.get("kind"), moment.isoformat(timespec="seconds") if moment else None)


def _find_interactions(key: str, values: Collection[Hashable], context: ImportContext) -> dict[Hashable, int]:
    wanted = set(values)
    accounts = sorted({value[0] for value in wanted if value[0] is not None})
    existing: dict[Hashable, int] = {}
    if not accounts:
        return existing
    rows = get_session().execute(select(Interaction.account_id, Interaction.kind, Interaction.occurred_at,
                                        Interaction.id).where(Interaction.account_id.in_(accounts)))
    for account_id, kind, occurred_at, interaction_id in rows:
        candidate = (account_id, kind, aware(occurred_at).isoformat(timespec="seconds"))
        if candidate in wanted:
            existing.setdefault(candidate, interaction_id)
    return existing


INTERACTION_COLUMNS = ("kind", "occurred_at", "summary", "participants", "outcome", "next_step")


def _write_interactions(creates: list[dict[str, Any]], updates: list[tuple[int, dict[str, Any]]],
                        context: ImportContext) -> None:
    session = get_session()
    now = utcnow()
    rows = [{**_columns(values, INTERACTION_COLUMNS), "occurred_at": aware(values["occurred_at"]),
             "subject_type": ACCOUNT_TYPE, "subject_id": str(values["account_id"]), "account_id": values["account_id"],
             "owner_id": values.get("owner_id") or context.user_id, "company_id": context.company_id,
             "created_at": now, "updated_at": now} for values in creates]
    bulk_insert(Interaction.__table__, rows)
    changed = [name for name in INTERACTION_COLUMNS if name in context.fields]
    if updates and changed:
        table = Interaction.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_id"))
                        .values(**{name: bindparam(name) for name in changed}, updated_at=now),
                        [{"b_id": interaction_id, **{name: values[name] for name in changed}}
                         for interaction_id, values in updates])
    _move_last_follow_up([*creates, *(values for _id, values in updates)])


def _move_last_follow_up(written: Iterable[Mapping[str, Any]]) -> None:
    """Each account's last follow-up: the latest interaction imported, if later (one statement)."""
    latest: dict[int, datetime] = {}
    for values in written:
        moment = aware(values["occurred_at"])
        account_id = values["account_id"]
        if account_id not in latest or latest[account_id] < moment:
            latest[account_id] = moment
    if not latest:
        return
    table = Account.__table__
    get_session().execute(
        update(table).where(table.c.id == bindparam("b_id"),
                            or_(table.c.last_follow_up_at.is_(None), table.c.last_follow_up_at < bindparam("b_at")))
        .values(last_follow_up_at=bindparam("b_at")),
        [{"b_id": account_id, "b_at": moment} for account_id, moment in latest.items()])


INTERACTIONS = ImportTarget(
    key="customers.interactions",
    label=_l("Interactions"),
    permission=LOG_FOLLOW_UPS,
    fields=(
        ImportField("account", lazy_pgettext("customer", "Account"), required=True,
                    aliases=("account name", "account id", "company", "customer", "客户", "公司", "客户名称", "客户编号"),
                    help=_l("The account's name, or its id.")),
        ImportField("kind", _l("Kind"), required=True, aliases=("type", "类型", "方式", "跟进方式"),
                    help=_l("call, email, meeting, visit, note or other.")),
        ImportField("occurred_at", _l("When"), aliases=("date", "time", "date and time", "日期", "时间", "跟进时间")),
        ImportField("summary", _l("Summary"), aliases=("notes", "content", "description", "内容", "摘要", "跟进内容")),
        ImportField("participants", _l("Participants"), aliases=("参与人", "参与者")),
        ImportField("outcome", _l("Outcome"), aliases=("result", "结果")),
        ImportField("next_step", _l("Next step"), aliases=("next", "下一步")),
        _owner_field(),
    ),
    keys=(ImportKey("account_kind_time", _l("Account, kind and time"), ("account", "kind", "occurred_at"),
                    _interaction_key),),
    validate=_validate_interactions,
    find_existing=_find_interactions,
    write=_write_interactions,
    order=12,
)

TARGETS = (ACCOUNTS, CONTACTS, INTERACTIONS)
