"""Sales work is part of the customers roles: what each role may do and see of leads and deals."""

from __future__ import annotations

from sqlalchemy import select

from core.access import seed_roles
from core.models import Company, Role
from tests.plugins.sales.helpers import in_company


def test_the_customers_roles_carry_the_sales_permissions_and_visibility(app, company):
    company.enable("sales")

    def roles(session):
        seed_roles(session, session.get(Company, company.id))
        found = {}
        for role in session.scalars(select(Role).where(Role.template.like("customers.%"))):
            found[role.template] = ({p.code for p in role.permissions if p.code.startswith("sales.")},
                                    {v.record_type: v.level for v in role.visibilities
                                     if v.record_type.startswith("sales.")})
        return found

    found = in_company(app, company, roles)
    rep_permissions, rep_visibility = found["customers.sales_rep"]
    assert rep_permissions == {"sales.lead.read", "sales.lead.write", "sales.opportunity.read",
                               "sales.opportunity.write"}
    assert rep_visibility == {"sales.lead": "own", "sales.opportunity": "own"}
    manager_permissions, manager_visibility = found["customers.sales_manager"]
    assert {"sales.lead.delete", "sales.opportunity.delete"} <= manager_permissions
    assert "sales.pipeline.manage" not in manager_permissions
    assert manager_visibility == {"sales.lead": "team", "sales.opportunity": "team"}
    admin_permissions, admin_visibility = found["customers.customer_admin"]
    assert "sales.pipeline.manage" in admin_permissions
    assert admin_visibility == {"sales.lead": "all", "sales.opportunity": "all"}
