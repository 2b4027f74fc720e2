"""What the customers plugin adds to the shell's global search and home dashboard."""

from __future__ import annotations

from datetime import timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core import DashboardWidget, SearchResult
from core.access import has_permission, visible
from core.db import get_session, utcnow
from core.i18n import format_date
from core.textsearch import text_matches
from core.widgets import ListEntry, link_list, number
from plugins.customers.models import Account, Contact, FollowUpTask
from plugins.customers.normalize import phone_spelling


def _matches(model, query: str):  # type: ignore[no-untyped-def]
    """Every word of ``query`` in the record's name, phones or emails, through the text index
    the account and contact lists use (a phone number is also looked for as its digits)."""
    return text_matches(model.search_text, query.split(), *([variant] for variant in phone_spelling(query)))


def search(query: str, user, limit: int) -> list[SearchResult]:  # type: ignore[no-untyped-def]
    """Accounts and contacts the user may see, by name, email or phone (however it is typed)."""
    session = get_session()
    results: list[SearchResult] = []
    if has_permission(user, "customers.account.read"):
        statement = visible(select(Account.id, Account.name, Account.region, Account.status), Account,
                            "customers.account", user)
        for row in session.execute(statement.where(_matches(Account, query)).order_by(Account.name).limit(limit)):
            results.append(SearchResult(kind=str(_l("Accounts")), title=row.name,
                                        summary=" · ".join(part for part in (row.region, row.status) if part),
                                        url=url_for("customers_accounts.detail", account_id=row.id),
                                        score=2.0 if query.lower() in row.name.lower() else 1.0))
    if has_permission(user, "customers.contact.read"):
        statement = visible(select(Contact.id, Contact.name, Contact.title, Contact.email), Contact,
                            "customers.contact", user)
        for row in session.execute(statement.where(_matches(Contact, query)).order_by(Contact.name).limit(limit)):
            results.append(SearchResult(kind=str(_l("Contacts")), title=row.name,
                                        summary=" · ".join(part for part in (row.title, row.email) if part),
                                        url=url_for("customers_contacts.detail", contact_id=row.id),
                                        score=2.0 if query.lower() in row.name.lower() else 1.0))
    return results


def _new_this_month() -> str:
    now = utcnow()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    statement = visible(select(func.count()).select_from(Account), Account, "customers.account")
    count = get_session().scalar(statement.where(Account.created_at >= start)) or 0
    return number(count, _("new accounts since the 1st"), url=url_for("customers_accounts.index", sort="-added"))


def _follow_ups_due() -> str:
    from flask_login import current_user

    until = utcnow().replace(hour=23, minute=59, second=59) + timedelta(days=1)
    tasks = get_session().execute(
        select(FollowUpTask.title, FollowUpTask.due_at)
        .where(FollowUpTask.assignee_id == current_user.id, FollowUpTask.done_at.is_(None),
               FollowUpTask.due_at <= until)
        .order_by(FollowUpTask.due_at).limit(6)
    ).all()
    entries = [ListEntry(task.title, url_for("customers_followups.mine"), note=format_date(task.due_at))
               for task in tasks]
    return link_list(entries, empty=_("Nothing due today or tomorrow."),
                     more_url=url_for("customers_followups.mine"), more_label=_("All my follow-ups"))


def widgets() -> list[DashboardWidget]:
    return [
        DashboardWidget(key="customers.new_accounts", title=str(_l("New customers this month")),
                        render=_new_this_month, permission="customers.account.read", order=10),
        DashboardWidget(key="customers.follow_ups_due", title=str(_l("Follow-ups due")),
                        render=_follow_ups_due, permission="customers.follow_up.write", order=11),
    ]
