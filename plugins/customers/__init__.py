"""The customers plugin: accounts, contacts, their tags, follow-up history and tasks.

Hook implementations only; heavy imports stay inside the functions so that start-up stays
fast. Other plugins use :mod:`plugins.customers.services`, never the models directly.
"""

from flask_babel import lazy_gettext as _l

from core import MenuItem, Permission, RoleTemplate, hookimpl

READ_ACCOUNTS, WRITE_ACCOUNTS, DELETE_ACCOUNTS = "customers.account.read", "customers.account.write", "customers.account.delete"
READ_CONTACTS, WRITE_CONTACTS, DELETE_CONTACTS = "customers.contact.read", "customers.contact.write", "customers.contact.delete"
LOG_FOLLOW_UPS = "customers.follow_up.write"
MERGE_ACCOUNTS, MERGE_CONTACTS = "customers.account.merge", "customers.contact.merge"


@hookimpl
def permissions():
    return [
        Permission(READ_ACCOUNTS, _l("See accounts")),
        Permission(WRITE_ACCOUNTS, _l("Add and change accounts")),
        Permission(DELETE_ACCOUNTS, _l("Delete and restore accounts")),
        Permission(READ_CONTACTS, _l("See contacts")),
        Permission(WRITE_CONTACTS, _l("Add and change contacts")),
        Permission(DELETE_CONTACTS, _l("Delete and restore contacts")),
        Permission(LOG_FOLLOW_UPS, _l("Log interactions and manage follow-up tasks")),
        Permission(MERGE_ACCOUNTS, _l("Find and merge duplicate accounts")),
        Permission(MERGE_CONTACTS, _l("Find and merge duplicate contacts")),
    ]


_EVERYDAY = (READ_ACCOUNTS, WRITE_ACCOUNTS, READ_CONTACTS, WRITE_CONTACTS, LOG_FOLLOW_UPS)


@hookimpl
def default_roles():
    return [
        RoleTemplate(
            key="customers.sales_rep", name="Sales representative",
            description="Works with the customers they own.",
            permissions=_EVERYDAY,
            visibility={"customers.account": "own", "customers.contact": "own"},
        ),
        RoleTemplate(
            key="customers.sales_manager", name="Sales manager",
            description="Sees and manages the customers of the teams they manage.",
            permissions=_EVERYDAY + (DELETE_ACCOUNTS, DELETE_CONTACTS, MERGE_ACCOUNTS, MERGE_CONTACTS),
            visibility={"customers.account": "team", "customers.contact": "team"},
        ),
        RoleTemplate(
            key="customers.customer_admin", name="Customer administrator",
            description="Sees and manages every customer of the company.",
            permissions=_EVERYDAY + (DELETE_ACCOUNTS, DELETE_CONTACTS, MERGE_ACCOUNTS, MERGE_CONTACTS),
            visibility={"customers.account": "all", "customers.contact": "all"},
        ),
    ]


@hookimpl
def menu_items(user):
    return [
        MenuItem(label=_l("Accounts"), endpoint="customers_accounts.index", icon="building", order=10,
                 permission=READ_ACCOUNTS),
        MenuItem(label=_l("Contacts"), endpoint="customers_contacts.index", icon="person-vcard", order=11,
                 permission=READ_CONTACTS),
        MenuItem(label=_l("My follow-ups"), endpoint="customers_followups.mine", icon="calendar-check", order=12,
                 permission=LOG_FOLLOW_UPS),
        MenuItem(label=_l("Segments"), endpoint="customers_segments.index", icon="funnel", order=13,
                 permission=READ_ACCOUNTS),
    ]


@hookimpl
def register_blueprints(app):
    from plugins.customers.accounts_views import blueprint as accounts
    from plugins.customers.api import blp as api
    from plugins.customers.contacts_views import blueprint as contacts
    from plugins.customers.duplicates_views import blueprint as duplicates
    from plugins.customers.followups_views import blueprint as followups
    from plugins.customers.segments_views import blueprint as segments

    return [accounts, contacts, followups, api, segments, duplicates]


@hookimpl
def record_actions(record_type, record, user):
    """Edit and move-to-trash buttons on an account's or a contact's page."""
    from plugins.customers.accounts_views import actions

    return actions(record_type, record, user)


@hookimpl
def record_panels(record_type, record, user):
    """The follow-up history and open tasks, on any record page of any plugin."""
    from plugins.customers.followups_views import panels

    return panels(record_type, record, user)


@hookimpl
def demo_data(session, company, size):
    from plugins.customers.demo import add_demo_customers
    from plugins.customers.demo_scale import ACCOUNTS, add_customers_at_scale

    add_demo_customers(session, company)
    if size in ACCOUNTS:  # medium, large: customers at scale beside the hand-made ones
        add_customers_at_scale(session, company, accounts=ACCOUNTS[size])


@hookimpl
def search(query, user, limit):
    from plugins.customers.discovery import search as search_customers

    return search_customers(query, user, limit)


@hookimpl
def dashboard_widgets(user):
    from plugins.customers.discovery import widgets

    return widgets()


@hookimpl
def periodic_tasks():
    """Follow-up task reminders, every minute."""
    from plugins.customers.jobs import periodic_tasks as reminder_tasks

    return reminder_tasks()


@hookimpl
def merge_records(session, record_type, survivor_id, merged_ids, company_id):
    """Interactions, tasks, contacts and tags follow the survivor of any merge (core.merging)."""
    from plugins.customers.merge import repoint

    repoint(session, record_type, survivor_id, merged_ids, company_id)


@hookimpl
def import_targets():
    """Accounts, contacts and interactions from CSV and XLSX files (core.imports)."""
    from plugins.customers.imports import TARGETS

    return TARGETS


@hookimpl
def benchmarks(session, company):
    from plugins.customers.benchmarking import benchmarks as measured

    return measured(session, company)
