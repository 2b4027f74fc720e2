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
from typing import Any, NamedTuple

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


def search_accounts(session: Session, text: str, *, limit: int = 20) -> dict[int, str]:
    """Names by id of the accounts the signed-in user may see whose name, phones or emails
    hold every word of ``text`` (the accounts list's text index), by name: a picker's
    matches. Empty ``text`` finds none."""
    from core.access import visible
    from core.textsearch import text_matches
    from plugins.customers.normalize import phone_spelling

    words = text.split()
    if not words:
        return {}
    matches = text_matches(Account.search_text, words, *([variant] for variant in phone_spelling(text)))
    statement = (visible(select(Account.id, Account.name), Account, "customers.account").where(matches)
                 .order_by(Account.name, Account.id).limit(limit))
    return {account_id: name for account_id, name in session.execute(statement)}


def contact_names(session: Session, account_id: int | None = None, ids: Iterable[int] | None = None, *,
                  limit: int = 200, user: Any = None, company_id: int | None = None) -> dict[int, str]:
    """Names by id of the contacts the signed-in user (or ``user`` in ``company_id``, outside
    a request: demo data) may see, by name: those of the account ``account_id`` when given,
    and among ``ids`` when given; at most ``limit`` (a form's choices, a deal's contacts)."""
    from core.access import visible

    statement = visible(select(Contact.id, Contact.name), Contact, "customers.contact", user, company_id)
    if account_id is not None:
        statement = statement.where(Contact.account_id == account_id)
    if ids is not None:
        wanted = {int(contact_id) for contact_id in ids if contact_id is not None}
        if not wanted:
            return {}
        statement = statement.where(Contact.id.in_(wanted))
    statement = statement.order_by(Contact.name, Contact.id).limit(limit)
    return {contact_id: name for contact_id, name in session.execute(statement)}


def owned_account_counts(session: Session, owner_ids: Iterable[int]) -> dict[int, int]:
    """How many accounts (not in the trash) each of ``owner_ids`` owns, in the current company:
    what a sales rep "holds" (the customer pool's holding cap, assignment caps)."""
    from sqlalchemy import func

    wanted = {int(owner_id) for owner_id in owner_ids}
    if not wanted:
        return {}
    rows = session.execute(select(Account.owner_id, func.count()).where(
        Account.owner_id.in_(wanted), Account.deleted_at.is_(None)).group_by(Account.owner_id))
    return {owner_id: count for owner_id, count in rows}


def contact_ids_by_account(session: Session, company_id: int) -> dict[int, list[int]]:
    """The ids of the contacts (not in the trash) of each account of ``company_id``, in id
    order, in one query and without a visibility check: for generators linking many records
    to an account's people at once (the sales plugin's demo at scale)."""
    rows = session.connection().execute(select(Contact.account_id, Contact.id).where(
        Contact.company_id == company_id, Contact.account_id.is_not(None), Contact.deleted_at.is_(None))
        .order_by(Contact.id)).all()
    contacts: dict[int, list[int]] = {}
    for account_id, contact_id in rows:
        contacts.setdefault(account_id, []).append(contact_id)
    return contacts


# -- matching someone who is not a customer yet (sales' lead conversion) -----------------------------


def accounts_by_name_key(session: Session, name: str, *, limit: int = 5, user: Any = None) -> list[dict[str, Any]]:
    """The accounts ``user`` (default: the signed-in user) may see whose name is ``name`` as
    duplicates compare names (case, punctuation and legal forms ignored: "ACME Ltd." is
    "Acme"), by name: ``id``, ``name``, ``kind``. One indexed query."""
    from core.access import visible

    key = name_key(name)
    if not key:
        return []
    statement = visible(select(Account.id, Account.name, Account.kind), Account, "customers.account", user)
    rows = session.execute(statement.where(Account.name_key == key).order_by(Account.name, Account.id).limit(limit))
    return [{"id": row.id, "name": row.name, "kind": row.kind} for row in rows]


def matching_contacts(session: Session, *, emails: Iterable[str] = (), phones: Iterable[str] = (),
                      ids: Iterable[int] = (), limit: int = 5, user: Any = None) -> list[dict[str, Any]]:
    """The contacts ``user`` (default: the signed-in user) may see having any of ``emails`` or
    ``phones`` (as typed: compared normalised, every one of a contact's phones and emails), or
    whose id is in ``ids``: ``id``, ``name``, ``account_id``, ``email``, ``phone`` and
    ``matched`` (the subset of ``"email"``, ``"phone"`` that matched). At most three queries."""
    from core.access import visible

    matched: dict[int, list[str]] = {int(contact_id): [] for contact_id in ids if contact_id is not None}
    for kind, values, normalize in (("email", emails, normalize_email), ("phone", phones, normalize_phone)):
        for found in find_by_contact_point(session, Contact, kind, (normalize(value) for value in values)).values():
            for contact_id in found:
                if kind not in matched.setdefault(contact_id, []):
                    matched[contact_id].append(kind)
    if not matched:
        return []
    statement = visible(select(Contact.id, Contact.name, Contact.account_id, Contact.email, Contact.phone),
                        Contact, "customers.contact", user)
    rows = session.execute(statement.where(Contact.id.in_(matched)).order_by(Contact.name, Contact.id).limit(limit))
    return [{"id": row.id, "name": row.name, "account_id": row.account_id, "email": row.email, "phone": row.phone,
             "matched": matched[row.id]} for row in rows]


def move_contact_to_account(session: Session, contact_id: int, account_id: int | None) -> Contact | None:
    """Put the contact ``contact_id`` at the account ``account_id`` (an ordinary change: audited,
    ``customers.contact.updated``); ``None`` when there is no such contact."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.deleted_at is not None:
        return None
    return update_contact(session, contact, {"account_id": account_id})


def attach_history(session: Session, subject_type: str, subject_id: str | int, account_id: int | None,
                   contact_id: int | None) -> int:
    """Show the history of another plugin's record (``subject_type``/``subject_id``: a lead
    that became a customer) on an account's and a contact's pages: its interactions get
    ``account_id`` and ``contact_id``, its tasks ``account_id``; the subject stays the record
    (its own page keeps its history). The account's last and next follow-up dates take them
    into account. Returns how many interactions and tasks were attached. Four statements."""
    from sqlalchemy import func, update

    from plugins.customers.followups import aware, recompute_next_follow_up
    from plugins.customers.models import FollowUpTask, Interaction

    about = {"subject_type": subject_type, "subject_id": str(subject_id)}
    changes = {name: value for name, value in (("account_id", account_id), ("contact_id", contact_id))
               if value is not None}
    if not changes:
        return 0
    interactions = session.execute(
        update(Interaction).filter_by(**about).values(**changes).execution_options(synchronize_session="fetch"))
    tasks = 0
    if account_id is not None:
        tasks = session.execute(update(FollowUpTask).filter_by(**about).values(account_id=account_id)
                                .execution_options(synchronize_session="fetch")).rowcount
        account = session.get(Account, account_id)
        latest = aware(session.scalar(select(func.max(Interaction.occurred_at)).filter_by(**about)))
        if account is not None and latest is not None and (
                account.last_follow_up_at is None or aware(account.last_follow_up_at) < latest):
            account.last_follow_up_at = latest
        recompute_next_follow_up(session, account_id)
    session.flush()
    return (interactions.rowcount or 0) + (tasks or 0)


# -- interaction counts (other plugins score or rank their records by activity) ---------------------

from plugins.customers.models import INTERACTION_KINDS  # noqa: E402  (call, email, meeting, visit, note, other)


class InteractionCount(NamedTuple):
    """How many interactions of one kind a record has: all of them, and those with an outcome
    written down (an email answered, a meeting that led somewhere)."""

    total: int
    with_outcome: int


def interaction_counts(session: Session, subject_type: str,
                       subject_ids: Iterable[int | str]) -> dict[str, dict[str, InteractionCount]]:
    """The interactions logged about each record, by kind: ``{subject_id: {kind: counts}}``.

    ``subject_type`` is the records' :func:`core.audit.record_type` (``"sales_lead"``);
    ``subject_ids`` their ids (keys come back as text, as interactions store them). One
    grouped query on the ``(company_id, subject_type, subject_id)`` index, in the company
    in context, however many records are asked for; a record without interactions is left out.
    """
    from sqlalchemy import case, func

    from plugins.customers.models import Interaction

    wanted = sorted({str(subject_id) for subject_id in subject_ids})
    if not wanted:
        return {}
    with_outcome = func.count(case((Interaction.outcome != "", 1)))
    rows = session.execute(
        select(Interaction.subject_id, Interaction.kind, func.count(), with_outcome)
        .where(Interaction.subject_type == subject_type, Interaction.subject_id.in_(wanted))
        .group_by(Interaction.subject_id, Interaction.kind))
    counts: dict[str, dict[str, InteractionCount]] = {}
    for subject_id, kind, total, answered in rows:
        counts.setdefault(subject_id, {})[kind] = InteractionCount(total, answered)
    return counts


# -- owners in bulk (the sales plugin's customer pool) ----------------------------------------------


def account_pool_rows() -> Any:
    """A Select of the accounts not in the trash (scoped to the company in context when run
    through the ORM), with the columns a customer pool decides on and lists: ``id``, ``name``,
    ``owner_id``, ``team_id``, ``region``, ``industry``, ``last_follow_up_at``, ``created_at``,
    ``search_text``. Callers filter and order it with ``.selected_columns``, or use it as a
    subquery in set-based statements."""
    return select(Account.id, Account.name, Account.owner_id, Account.team_id, Account.region, Account.industry,
                  Account.last_follow_up_at, Account.created_at, Account.search_text,
                  Account.company_id).where(Account.deleted_at.is_(None))


def set_account_owner(session: Session, account_ids: Iterable[int], owner_id: int | None) -> list[tuple[int, str, int | None]]:
    """Give the accounts ``account_ids`` (of the company in context, not in the trash) the owner
    ``owner_id`` (None: no owner) through :func:`update_account` (audited, one
    ``customers.account.updated`` event each); the rows are locked first where the database
    can. Returns ``(id, name, previous owner)`` of each account changed."""
    wanted = sorted({int(account_id) for account_id in account_ids})
    if not wanted:
        return []
    accounts = session.scalars(select(Account).where(Account.id.in_(wanted), Account.deleted_at.is_(None))
                               .order_by(Account.id).with_for_update()).all()
    changed = []
    for account in accounts:
        previous = account.owner_id
        if previous != owner_id:
            update_account(session, account, {"owner_id": owner_id})
            changed.append((account.id, account.name, previous))
    return changed


def clear_account_owners(session: Session, company_id: int, account_ids: Any) -> int:
    """Take the owner off the accounts of ``company_id`` whose ids ``account_ids`` selects (a
    Select of one column, run inside the UPDATE: no row comes back to Python), in one
    statement. For jobs over many rows: it writes no audit entry and emits no event; the
    caller records them in bulk. Returns the number of accounts changed."""
    from sqlalchemy import update

    result = session.execute(update(Account).where(Account.company_id == company_id, Account.id.in_(account_ids),
                                                   Account.owner_id.is_not(None))
                             .values(owner_id=None, updated_at=utcnow())
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


# -- duplicates, merge and segments (their own modules; re-exported here for other plugins) ---------

from plugins.customers.duplicates import find_duplicates  # noqa: E402
from plugins.customers.merge import merge_customers  # noqa: E402
from plugins.customers.segments import count as segment_count  # noqa: E402
from plugins.customers.segments import members as segment_members  # noqa: E402

# Interactions and follow-up tasks about any plugin's record (a lead, a deal): demo data.
from plugins.customers.followups import create_task, log_interaction  # noqa: E402,F401

# How phones, emails and searches compare: for other plugins' records too (sales' leads).
from plugins.customers.normalize import phone_spelling, search_text  # noqa: E402,F401

__all__ = ["account_names", "accounts_by_name_key", "attach_history", "contact_names", "create_task", "log_interaction", "contact_point_rows", "create_account", "create_contact", "delete_account", "delete_contact",
           "account_pool_rows", "clear_account_owners", "contact_ids_by_account", "derived_columns", "find_by_contact_point", "find_duplicates", "INTERACTION_KINDS", "InteractionCount", "interaction_counts", "matching_contacts", "merge_customers", "move_contact_to_account", "normalize_email",
           "owned_account_counts", "normalize_phone", "phone_spelling", "search_accounts", "search_text", "segment_count",
           "segment_members", "set_account_owner", "set_tags", "tag_names", "update_account", "update_contact"]
