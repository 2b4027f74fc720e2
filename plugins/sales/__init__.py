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
MANAGE_WEBFORMS = "sales.webform.manage"
MANAGE_ASSIGNMENT, ASSIGN_LEADS = "sales.assignment.manage", "sales.lead.assign"
MANAGE_SCORING = "sales.scoring.manage"
ASSIGN_POOL, MANAGE_POOLS = "sales.pool.assign", "sales.pool.manage"


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
        Permission(MANAGE_WEBFORMS, _l("Set up web-to-lead forms")),
        Permission(MANAGE_ASSIGNMENT, _l("Set up lead assignment rules")),
        Permission(ASSIGN_LEADS, _l("Give leads to other people")),
        Permission(MANAGE_SCORING, _l("Set up lead scoring")),
        Permission(ASSIGN_POOL, _l("Assign and take back leads and accounts of the customer pool")),
        Permission(MANAGE_POOLS, _l("Set up the customer pools and their rules")),
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
                      permissions=_EVERYDAY + (DELETE_LEADS, DELETE_OPPORTUNITIES, ASSIGN_LEADS, ASSIGN_POOL),
                      visibility=dict.fromkeys(_RECORD_TYPES, "team")),
        RoleExtension(extends="customers.customer_admin",
                      permissions=_EVERYDAY + (DELETE_LEADS, DELETE_OPPORTUNITIES, MANAGE_PIPELINES, MANAGE_SCORING, MANAGE_WEBFORMS,
                                               MANAGE_ASSIGNMENT, ASSIGN_LEADS, ASSIGN_POOL, MANAGE_POOLS),
                      visibility=dict.fromkeys(_RECORD_TYPES, "all")),
    ]


@hookimpl
def menu_items(user):
    # Leads and Opportunities join the menu with their pages.
    return [
        MenuItem(label=_l("Leads"), endpoint="sales_leads.index", icon="person-lines-fill", order=20,
                 permission=READ_LEADS),
        MenuItem(label=_l("Customer pool"), endpoint="sales_pools.index", icon="inboxes", order=21,
                 permission=READ_LEADS),
        MenuItem(label=_l("Opportunities"), endpoint="sales_opportunities.index", icon="briefcase", order=22,
                 permission=READ_OPPORTUNITIES),
        MenuItem(label=_l("Sales funnel"), endpoint="sales_reports.funnel", icon="funnel", order=23,
                 permission=READ_OPPORTUNITIES),
        MenuItem(label=_l("Pipelines"), endpoint="sales_pipelines.index", icon="kanban", order=29,
                 permission=MANAGE_PIPELINES),
        MenuItem(label=_l("Web forms"), endpoint="sales_web_forms.index", icon="ui-checks", order=29.5,
                 permission=MANAGE_WEBFORMS),
        MenuItem(label=_l("Lead assignment"), endpoint="sales_assignment.index", icon="shuffle", order=29.7,
                 permission=MANAGE_ASSIGNMENT),
        MenuItem(label=_l("Lead scoring"), endpoint="sales_scoring.index", icon="speedometer2", order=29.6,
                 permission=MANAGE_SCORING),
    ]


@hookimpl
def register_blueprints(app):
    from plugins.sales.api import blp as api
    from plugins.sales.assignment_views import blueprint as assignment
    from plugins.sales.board_views import blueprint as board
    from plugins.sales.conversion_api import blp as conversion_api
    from plugins.sales.conversion_views import blueprint as conversion
    from plugins.sales.funnel_api import blp as funnel_api
    from plugins.sales.funnel_views import blueprint as reports
    from plugins.sales.leads_views import blueprint as leads
    from plugins.sales.opportunities_api import blp as opportunities_api
    from plugins.sales.opportunities_views import blueprint as opportunities
    from plugins.sales.pipelines_views import blueprint as pipelines
    from plugins.sales.pools_views import blueprint as pools
    from plugins.sales.scoring_views import blueprint as scoring
    from plugins.sales.webforms_views import blueprint as web_forms
    from plugins.sales.webforms_views import public_blueprint as web_form_post

    return [pipelines, leads, api, opportunities, opportunities_api, scoring, assignment, conversion, conversion_api,
            web_forms, web_form_post, board, pools, reports, funnel_api]


@hookimpl
def record_panels(record_type, record, user):
    """The account's opportunities, on an account's page; the score, on a lead's page."""
    from plugins.sales.conversion_views import panels as lead_panels
    from plugins.sales.opportunities_views import panels
    from plugins.sales.scoring_views import score_panels

    return [*panels(record_type, record, user), *score_panels(record_type, record, user),
            *lead_panels(record_type, record, user)]


@hookimpl
def record_actions(record_type, record, user):
    """"New opportunity" on an account's page; Edit and Move to trash on a deal's page;
    Convert on a lead's page; "Give back to the pool" on a lead's and an account's page."""
    from plugins.sales.conversion_views import actions as lead_actions
    from plugins.sales.opportunities_views import actions
    from plugins.sales.pools_views import release_actions

    return [*actions(record_type, record, user), *lead_actions(record_type, record, user),
            *release_actions(record_type, record, user)]


@hookimpl
def demo_data(session, company, size):
    """The hand-made demo; at the medium and large sizes, leads and deals at scale too."""
    from plugins.sales.demo import add_demo_sales
    from plugins.sales.demo_scale import SCALE, add_sales_at_scale

    add_demo_sales(session, company)
    if size in SCALE:
        leads, opportunities = SCALE[size]
        add_sales_at_scale(session, company, leads=leads, opportunities=opportunities)


@hookimpl
def merge_records(session, record_type, survivor_id, merged_ids, company_id):
    """Deals, their contacts and converted leads follow the survivor of a customers merge."""
    from plugins.sales.merging import repoint

    repoint(session, record_type, survivor_id, merged_ids, company_id)


@hookimpl
def search(query, user, limit):
    """Leads the user may see, by name, organisation, email or phone; opportunities by name."""
    from plugins.sales.leads_views import search_leads
    from plugins.sales.opportunities_views import search_opportunities

    # The core keeps ``limit`` results per plugin: each kind gets at least half of them.
    leads, deals = search_leads(query, user, limit), search_opportunities(query, user, limit)
    shown = min(len(deals), max(limit - len(leads), limit // 2))
    return [*leads[:limit - shown], *deals[:shown]]


@hookimpl
def on_event(event):
    """Score a lead again when an interaction is logged about it (runs after the commit, in
    its own transaction). Other reactions to events join this function."""
    from plugins.sales.scoring import rescore_after_interaction

    rescore_after_interaction(event)


@hookimpl
def import_targets():
    """Leads from CSV and Excel files."""
    from plugins.sales.lead_imports import LEADS

    return [LEADS]


@hookimpl
def timeline_entries(record_type, record, user, before, limit):
    """A lead's or an account's moves in and out of the customer pool (claimed, assigned,
    given back, returned by the recycling job)."""
    from plugins.sales.pools import history_entries

    return history_entries(record_type, record, before, limit)


@hookimpl
def periodic_tasks():
    """The customer pool's recycling, every hour for each company with sales enabled."""
    from plugins.sales.jobs import periodic_tasks as tasks

    return tasks()


@hookimpl
def dashboard_widgets(user):
    """"Pipeline summary": open deals per stage of the default pipeline, and won this month."""
    from plugins.sales.funnel_views import widgets

    return widgets()


@hookimpl
def cli_commands():
    """``crm sales rebuild-funnel``: recompute the funnel report's tallies."""
    from plugins.sales.funnel_tally import cli_group

    return [cli_group()]


@hookimpl
def benchmarks(session, company):
    from plugins.sales.benchmarking import benchmarks as measured

    return measured(session, company)
