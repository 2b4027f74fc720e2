"""Business rules of the customers plugin: the one module other plugins may import.

Create, change and move to the trash accounts and contacts, set their tags, find them by any
phone or email, find duplicates and merge them (:func:`merge_customers`, :func:`find_duplicates`),
and evaluate a segment (:func:`segment_members`, :func:`segment_count`: what marketing's mass
mail goes to). ``data`` is
what :class:`plugins.customers.schemas.AccountSchema` / ``ContactSchema`` loaded (validated
values, ``tags`` as a comma-separated text). Every change emits its domain event
(``customers.account.created`` … ``customers.contact.deleted``, payload ``id`` and ``name``)
in the same transaction; the audit trail records the columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.events import emit
from core.trash import soft_delete
from plugins.customers.models import (
    Account,
    AccountTag,
    Contact,
    ContactPoint,
    ContactTag,
    Tag,
    contact_point_values,
    record_search_text,
)
from plugins.customers.normalize import normalize_email, normalize_phone
from plugins.customers.schemas import split_tags
from plugins.customers.similar import name_key

ACCOUNT_FIELDS = ("name", "kind", "status", "industry", "size", "region", "tier", "source", "website", "phone",
                  "other_phones", "email", "other_emails", "address", "owner_id", "notes")
CONTACT_FIELDS = ("name", "title", "department", "account_id", "phone", "other_phones", "email", "other_emails",
                  "im_handle", "birthday", "address", "consent_email", "consent_phone", "consent_sms",
                  "consent_source", "owner_id")
CONSENT_FIELDS = ("consent_email", "consent_phone", "consent_sms")


def _assign(record: Any, data: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in data:
            value = data[name]
            setattr(record, name, value.strip() if isinstance(value, str) else value)


def _event(kind: str, action: str, record: Account | Contact, session: Session) -> None:
    emit(f"customers.{kind}.{action}", {"id": record.id, "name": record.name}, session=session)


# -- phones and emails ------------------------------------------------------------------------------


def derived_columns(values: Mapping[str, Any]) -> dict[str, str]:
    """The columns an account's or a contact's row derives from its ``values`` (a mapping of
    its columns): for code that writes rows with Core inserts (the ORM fills them itself)."""
    return {"phone_normalized": normalize_phone(values.get("phone")),
            "email_normalized": normalize_email(values.get("email")),
            "name_key": name_key(values.get("name")),
            "search_text": record_search_text(dict(values))}


def contact_point_rows(company_id: int, owner_key: str, owner_id: int, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``customers_contact_point`` rows of the record ``owner_id`` (``owner_key`` is
    ``"account_id"`` or ``"contact_id"``) whose columns are ``values``: for Core inserts."""
    return [{**row, "company_id": company_id, owner_key: owner_id} for row in contact_point_values(dict(values))]


def find_by_contact_point(session: Session, model: type[Account] | type[Contact], kind: str,
                          normalized: Iterable[str]) -> dict[str, list[int]]:
    """The ids of the company's ``model`` records (not in the trash) having any of the
    ``normalized`` phones or emails (``kind``), by value: one indexed query."""
    wanted = sorted({value for value in normalized if value})
    if not wanted:
        return {}
    owner = ContactPoint.account_id if model is Account else ContactPoint.contact_id
    found: dict[str, list[int]] = {}
    rows = session.execute(select(ContactPoint.normalized, owner).join(model, model.id == owner)
                           .where(ContactPoint.kind == kind, ContactPoint.normalized.in_(wanted))
                           .order_by(owner))
    for value, record_id in rows:
        if record_id not in found.setdefault(value, []):
            found[value].append(record_id)
    return found


# -- tags ------------------------------------------------------------------------------------------


def _link(record: Account | Contact) -> tuple[type, Any, Any]:
    if isinstance(record, Account):
        return AccountTag, AccountTag.account_id, AccountTag.tag_id
    return ContactTag, ContactTag.contact_id, ContactTag.tag_id


def tag_names(session: Session, record: Account | Contact) -> list[str]:
    """The names of ``record``'s tags, in alphabetical order."""
    link, owner_column, tag_column = _link(record)
    return list(session.scalars(
        select(Tag.name).join(link, tag_column == Tag.id).where(owner_column == record.id).order_by(Tag.name)))


def set_tags(session: Session, company_id: int, record: Account | Contact, text: str) -> list[str]:
    """Give ``record`` exactly the tags of the comma-separated ``text``, creating the company's
    missing Tag rows (names compared case-insensitively); return the names set."""
    names = split_tags(text)
    existing = {tag.name.lower(): tag for tag in session.scalars(select(Tag).where(Tag.company_id == company_id))}
    tags = []
    for name in names:
        tag = existing.get(name.lower())
        if tag is None:
            tag = Tag(company_id=company_id, name=name)
            session.add(tag)
            existing[name.lower()] = tag
        tags.append(tag)
    session.flush()
    link, owner_column, _tag_column = _link(record)
    session.execute(delete(link).where(owner_column == record.id))
    key = "account_id" if link is AccountTag else "contact_id"
    session.add_all([link(**{key: record.id, "tag_id": tag.id}) for tag in tags])
    session.flush()
    return [tag.name for tag in tags]


# -- accounts --------------------------------------------------------------------------------------


def create_account(session: Session, company_id: int, data: Mapping[str, Any], owner_id: int | None) -> Account:
    """Add an account from loaded ``data``; ``owner_id`` is used when ``data`` names none."""
    account = Account(company_id=company_id)
    _assign(account, data, ACCOUNT_FIELDS)
    if account.owner_id is None:
        account.owner_id = owner_id
    session.add(account)
    session.flush()
    if "tags" in data:
        set_tags(session, company_id, account, data["tags"])
    _event("account", "created", account, session)
    return account


def update_account(session: Session, account: Account, data: Mapping[str, Any]) -> Account:
    """Change ``account`` with the loaded ``data`` (fields left out stay as they are)."""
    _assign(account, data, ACCOUNT_FIELDS)
    if "tags" in data:
        set_tags(session, account.company_id, account, data["tags"])
    session.flush()
    _event("account", "updated", account, session)
    return account


def delete_account(session: Session, account: Account, user_id: int | None) -> Account:
    """Move ``account`` to the trash (restorable); its contacts stay."""
    soft_delete(account, user_id)
    session.flush()
    _event("account", "deleted", account, session)
    return account


# -- contacts --------------------------------------------------------------------------------------


def _note_consent(contact: Contact, before: tuple[bool, ...]) -> None:
    """Date a consent change: when any flag changes, ``consent_changed_at`` becomes now."""
    after = tuple(bool(getattr(contact, name)) for name in CONSENT_FIELDS)
    if after != before:
        contact.consent_changed_at = utcnow()


def create_contact(session: Session, company_id: int, data: Mapping[str, Any], owner_id: int | None) -> Contact:
    """Add a contact from loaded ``data``; ``owner_id`` is used when ``data`` names none."""
    contact = Contact(company_id=company_id)
    _assign(contact, data, CONTACT_FIELDS)
    if contact.owner_id is None:
        contact.owner_id = owner_id
    _note_consent(contact, (False, False, False))
    session.add(contact)
    session.flush()
    if "tags" in data:
        set_tags(session, company_id, contact, data["tags"])
    _event("contact", "created", contact, session)
    return contact


def update_contact(session: Session, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Change ``contact`` with the loaded ``data`` (fields left out stay as they are)."""
    before = tuple(bool(getattr(contact, name)) for name in CONSENT_FIELDS)
    _assign(contact, data, CONTACT_FIELDS)
    _note_consent(contact, before)
    if "tags" in data:
        set_tags(session, contact.company_id, contact, data["tags"])
    session.flush()
    _event("contact", "updated", contact, session)
    return contact


def delete_contact(session: Session, contact: Contact, user_id: int | None) -> Contact:
    """Move ``contact`` to the trash (restorable)."""
    soft_delete(contact, user_id)
    session.flush()
    _event("contact", "deleted", contact, session)
    return contact


def account_names(session: Session, ids: Iterable[int] | None = None, *, limit: int = 500) -> dict[int, str]:
    """Names by id of the accounts the signed-in user may see (for other plugins' pages): those
    of ``ids``, or, without ``ids``, the first ``limit`` by name (a form's choices)."""
    from core.access import visible

    statement = visible(select(Account.id, Account.name), Account, "customers.account")
    if ids is not None:
        wanted = {int(account_id) for account_id in ids if account_id is not None}
        if not wanted:
            return {}
        statement = statement.where(Account.id.in_(wanted))
    else:
        statement = statement.order_by(Account.name, Account.id).limit(limit)
    return {account_id: name for account_id, name in session.execute(statement)}


# -- duplicates, merge and segments (their own modules; re-exported here for other plugins) ---------

from plugins.customers.duplicates import find_duplicates  # noqa: E402
from plugins.customers.merge import merge_customers  # noqa: E402
from plugins.customers.segments import count as segment_count  # noqa: E402
from plugins.customers.segments import members as segment_members  # noqa: E402

# How phones, emails and searches compare: for other plugins' records too (sales' leads).
from plugins.customers.normalize import phone_spelling, search_text  # noqa: E402,F401

__all__ = ["account_names", "contact_point_rows", "create_account", "create_contact", "delete_account", "delete_contact",
           "derived_columns", "find_by_contact_point", "find_duplicates", "merge_customers", "normalize_email",
           "normalize_phone", "phone_spelling", "search_text", "segment_count",
           "segment_members", "set_tags", "tag_names", "update_account", "update_contact"]
