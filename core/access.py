"""Who may do what: permission checks for the company in context.

A company administrator holds every permission; anyone else holds the permissions of the
role given by their membership. Plugins declare the codes through the ``permissions`` hook.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context
from sqlalchemy import select

from core.db import get_session
from core.models import Membership, RolePermission, User


def membership_of(user: User, company_id: int) -> Membership | None:
    return get_session().get(Membership, (user.id, company_id))


def permissions_of(user: User, company_id: int) -> frozenset[str]:
    """Every permission code ``user`` holds in ``company_id`` (cached for the request)."""
    cache: dict[tuple[int, int], frozenset[str]] = (
        g.setdefault("_crm_permissions", {}) if has_request_context() else {}
    )
    key = (user.id, company_id)
    if key not in cache:
        membership = membership_of(user, company_id)
        if membership is None:
            codes: frozenset[str] = frozenset()
        elif membership.is_admin:
            codes = frozenset(current_app.extensions["crm.declarations"].permissions)
        elif membership.role_id is None:
            codes = frozenset()
        else:
            codes = frozenset(get_session().scalars(
                select(RolePermission.code).where(RolePermission.role_id == membership.role_id)
            ))
        cache[key] = codes
    return cache[key]


def has_permission(user: User | None, code: str, company_id: int | None = None) -> bool:
    """Whether ``user`` holds ``code`` in ``company_id`` (default: the company in context)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if company_id is None:
        from core.tenancy import current_company

        company = current_company()
        if company is None:
            return False
        company_id = company.id
    return code in permissions_of(user, company_id)
