"""Automatic row filters: company scoping and soft-delete hiding, on every ORM query.

A forgotten ``WHERE company_id = ...`` cannot leak another company's rows: every SELECT
run through the ORM gets a criterion for each model with :class:`~core.db.CompanyMixin`
(and hides rows of :class:`~core.db.SoftDeleteMixin` models whose ``deleted_at`` is set).

Which company a session serves is ``session.info["crm_company_id"]``:

* in a web request it starts as :data:`NO_COMPANY` (matches nothing) and becomes the
  company in context once it is known;
* outside requests (CLI, jobs) it is unset, meaning system-wide; use
  :func:`company_scope` to act for one company.

Escape hatches, for code that must see more: ``execution_options(crm_unscoped=True)``
(every company) and ``execution_options(include_deleted=True)`` (the trash). Core-level
``insert()``/``update()`` statements are not filtered: bulk code passes ``company_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from core.db import CompanyMixin, SoftDeleteMixin

COMPANY_KEY = "crm_company_id"
NO_COMPANY = 0  # no company has id 0: a session scoped to it sees no business rows


def install(factory: sessionmaker) -> None:
    event.listen(factory, "do_orm_execute", _add_criteria)
    event.listen(factory, "before_flush", _fill_company)


def _add_criteria(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return
    options = state.execution_options
    if not options.get("include_deleted", False):
        state.statement = state.statement.options(
            with_loader_criteria(SoftDeleteMixin, lambda cls: cls.deleted_at.is_(None), include_aliases=True)
        )
    company_id = state.session.info.get(COMPANY_KEY)
    if company_id is not None and not options.get("crm_unscoped", False):
        state.statement = state.statement.options(
            with_loader_criteria(CompanyMixin, lambda cls: cls.company_id == company_id, include_aliases=True)
        )


def _fill_company(session: Session, _context: object, _instances: object) -> None:
    """New company rows take the session's company unless they name one."""
    company_id = session.info.get(COMPANY_KEY)
    if not company_id:
        return
    for instance in session.new:
        if isinstance(instance, CompanyMixin) and instance.company_id is None:
            instance.company_id = company_id


def set_company(session: Session, company_id: int | None) -> None:
    """Scope ``session`` to ``company_id`` (None: system-wide).

    When the scope changes on a session that already holds rows, pending changes are
    flushed and the rows forgotten: ``session.get()`` answers from the identity map without
    a query, so a row loaded for one company must not be handed out in another.
    """
    previous = session.info.get(COMPANY_KEY)
    if previous != company_id and previous not in (None, NO_COMPANY) and session.identity_map:
        session.flush()
        session.expunge_all()
    if company_id is None:
        session.info.pop(COMPANY_KEY, None)
    else:
        session.info[COMPANY_KEY] = company_id


@contextmanager
def company_scope(session: Session, company_id: int) -> Iterator[Session]:
    """Run a block of CLI or job code as if inside ``company_id``'s requests."""
    previous = session.info.get(COMPANY_KEY)
    set_company(session, company_id)
    try:
        yield session
    finally:
        set_company(session, previous)
