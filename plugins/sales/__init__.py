"""The sales plugin: leads, pipelines with their stages and lost reasons, opportunities.

Hook implementations only; heavy imports stay inside the functions so that start-up stays
fast. It builds on the customers plugin through :mod:`plugins.customers.services` only.
Other plugins use :mod:`plugins.sales.services`, never the models directly.
"""

from flask_babel import lazy_gettext as _l

from core import MenuItem, Permission, RoleExtension, hookimpl

READ_LEADS, WRITE_LEADS, DELETE_LEADS = "sales.lead.read", "sales.lead.write", "sales.lead.delete"
READ_OPPORTUNITIES, WRITE_OPPORTUNITIES, DELETE_OPPORTUNITIES = (
    "sales.opportunity.read", "sales.opportunity.write", "sales.opportunity.delete")
MANAGE_PIPELINES = "sales.pipeline.manage"


@hookimpl
def permissions():
    return [
        Permission(READ_LEADS, _l("See leads")),
        Permission(WRITE_LEADS, _l("Add and change leads")),
        Permission(DELETE_LEADS, _l("Delete and restore leads")),
        Permission(READ_OPPORTUNITIES, _l("See opportunities")),
        Permission(WRITE_OPPORTUNITIES, _l("Add and change opportunities")),
        Permission(DELETE_OPPORTUNITIES, _l("Delete and restore opportunities")),
        Permission(MANAGE_PIPELINES, _l("Set up pipelines, their stages and the lost reasons")),
    ]


_EVERYDAY = (READ_LEADS, WRITE_LEADS, READ_OPPORTUNITIES, WRITE_OPPORTUNITIES)
_RECORD_TYPES = ("sales.lead", "sales.opportunity")


@hookimpl
def default_roles():
    """Sales work is part of the customers roles a person already holds: a rep sees their own
    leads and deals, a manager their teams', a customer administrator every one."""
    return [
        RoleExtension(extends="customers.sales_rep", permissions=_EVERYDAY,
                      visibility=dict.fromkeys(_RECORD_TYPES, "own")),
        RoleExtension(extends="customers.sales_manager",
                      permissions=_EVERYDAY + (DELETE_LEADS, DELETE_OPPORTUNITIES),
                      visibility=dict.fromkeys(_RECORD_TYPES, "team")),
        RoleExtension(extends="customers.customer_admin",
                      permissions=_EVERYDAY + (DELETE_LEADS, DELETE_OPPORTUNITIES, MANAGE_PIPELINES),
                      visibility=dict.fromkeys(_RECORD_TYPES, "all")),
    ]


@hookimpl
def menu_items(user):
    # Leads and Opportunities join the menu with their pages.
    return [
        MenuItem(label=_l("Leads"), endpoint="sales_leads.index", icon="person-lines-fill", order=20,
                 permission=READ_LEADS),
        MenuItem(label=_l("Opportunities"), endpoint="sales_opportunities.index", icon="briefcase", order=22,
                 permission=READ_OPPORTUNITIES),
        MenuItem(label=_l("Pipelines"), endpoint="sales_pipelines.index", icon="kanban", order=29,
                 permission=MANAGE_PIPELINES),
    ]


@hookimpl
def register_blueprints(app):
    from plugins.sales.api import blp as api
    from plugins.sales.leads_views import blueprint as leads
    from plugins.sales.opportunities_api import blp as opportunities_api
    from plugins.sales.opportunities_views import blueprint as opportunities
    from plugins.sales.pipelines_views import blueprint as pipelines

    return [pipelines, leads, api, opportunities, opportunities_api]


@hookimpl
def record_panels(record_type, record, user):
    """The account's opportunities, on an account's page."""
    from plugins.sales.opportunities_views import panels

    return panels(record_type, record, user)


@hookimpl
def record_actions(record_type, record, user):
    """"New opportunity" on an account's page; Edit and Move to trash on a deal's page."""
    from plugins.sales.opportunities_views import actions

    return actions(record_type, record, user)


@hookimpl
def demo_data(session, company):
    from plugins.sales.demo import add_demo_sales

    add_demo_sales(session, company)


@hookimpl
def search(query, user, limit):
    """Leads the user may see, by name, organisation, email or phone."""
    from plugins.sales.leads_views import search_leads

    return search_leads(query, user, limit)
