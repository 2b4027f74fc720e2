"""What follows the survivor when the customers plugin merges duplicates (the
``merge_records`` hook, :mod:`core.merging`): sales' own references to accounts and contacts.

* an account merge: the merged accounts' opportunities, and the leads converted into them,
  point at the survivor;
* a contact merge: the survivor is linked to every opportunity a merged contact was (a deal
  that had both keeps one link: the link table's key is the pair), and the leads converted
  into a merged contact point at the survivor. The merged contacts' own links stay, so that
  restoring one from the trash finds its deals again; pages only list contacts not in the
  trash.

Core statements filtered on ``company_id`` (the hook is not scoped, and rows in the trash
must follow too); ids arrive as text.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from plugins.sales.models import Lead, Opportunity, OpportunityContact

ACCOUNT_TYPE, CONTACT_TYPE = "customers_account", "customers_contact"  # core.audit.record_type


def repoint(session: Session, record_type: str, survivor_id: str, merged_ids: list[str], company_id: int) -> None:
    """Point sales' rows at ``survivor_id`` instead of ``merged_ids`` (of ``record_type``)."""
    if record_type not in (ACCOUNT_TYPE, CONTACT_TYPE) or not merged_ids:
        return
    survivor, merged = int(survivor_id), [int(record_id) for record_id in merged_ids]
    leads = Lead.__table__
    if record_type == ACCOUNT_TYPE:
        deals = Opportunity.__table__
        session.execute(update(deals).where(deals.c.company_id == company_id, deals.c.account_id.in_(merged))
                        .values(account_id=survivor))
        session.execute(update(leads).where(leads.c.company_id == company_id,
                                            leads.c.converted_account_id.in_(merged))
                        .values(converted_account_id=survivor))
        return
    session.execute(update(leads).where(leads.c.company_id == company_id, leads.c.converted_contact_id.in_(merged))
                    .values(converted_contact_id=survivor))
    _link_survivor(session, survivor, merged, company_id)


def _link_survivor(session: Session, survivor: int, merged: list[int], company_id: int) -> None:
    """Link ``survivor`` to the company's opportunities linked to any of ``merged``, once each."""
    links, deals = OpportunityContact.__table__, Opportunity.__table__
    of_company = select(deals.c.id).where(deals.c.company_id == company_id)
    wanted = set(session.scalars(select(links.c.opportunity_id).where(
        links.c.contact_id.in_(merged), links.c.opportunity_id.in_(of_company))))
    has = set(session.scalars(select(links.c.opportunity_id).where(
        links.c.contact_id == survivor, links.c.opportunity_id.in_(wanted)))) if wanted else set()
    missing = sorted(wanted - has)
    if missing:
        session.execute(insert(links), [{"opportunity_id": deal_id, "contact_id": survivor} for deal_id in missing])
