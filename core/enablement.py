"""Which plugins each company has enabled, and the dependency rules for changing that.

Rules (documented in docs/admin.md):

* Enabling a plugin also enables every plugin it depends on, and says which.
* Disabling a plugin that an enabled plugin depends on is refused, naming the dependents.
* Disabling keeps the plugin's data; enabling it again shows that data again.
* Enabling a plugin for the first time gives the company's existing roles the role extensions
  it offers (:func:`core.access.apply_role_extensions`); disabling leaves roles as they are
  (the permissions stay on them, inert while the plugin's routes answer 404).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import apply_role_extensions
from core.db import utcnow
from core.errors import PluginStateError
from core.models import Company, PluginState
from core.plugin_manager import PluginManager


def enabled_plugins(session: Session, manager: PluginManager, company_id: int) -> frozenset[str]:
    """Names of the loaded plugins that ``company_id`` has enabled (one query)."""
    rows = session.scalars(
        select(PluginState.plugin).where(
            PluginState.company_id == company_id, PluginState.enabled.is_(True)
        )
    )
    return frozenset(name for name in rows if name in manager)


def _check_known(manager: PluginManager, name: str) -> None:
    if name not in manager:
        installed = ", ".join(manager.names) or "none"
        raise PluginStateError(f"no plugin named '{name}' is installed (installed: {installed})")


def _set(session: Session, company: Company, name: str, enabled: bool) -> None:
    state = session.get(PluginState, (company.id, name))
    if state is None:
        session.add(PluginState(company_id=company.id, plugin=name, enabled=enabled))
    else:
        state.enabled = enabled
        state.changed_at = utcnow()


def enable(session: Session, manager: PluginManager, company: Company, name: str) -> list[str]:
    """Enable ``name`` and its dependencies; return the plugins newly enabled, in order.

    Needs an application context (the role extensions are among its declarations).
    """
    _check_known(manager, name)
    current = enabled_plugins(session, manager, company.id)
    newly = [n for n in [*manager.dependencies(name), name] if n not in current]
    # Never enabled before (no state row): re-enabling must not undo what an administrator
    # did to the roles while the plugin was off.
    first_time = [plugin for plugin in newly if session.get(PluginState, (company.id, plugin)) is None]
    for plugin in newly:
        _set(session, company, plugin, True)
    apply_role_extensions(session, company, first_time)
    return newly


def disable(session: Session, manager: PluginManager, company: Company, name: str) -> bool:
    """Disable ``name``; refuse while an enabled plugin depends on it.

    Returns False when it was not enabled (nothing to do).
    """
    _check_known(manager, name)
    current = enabled_plugins(session, manager, company.id)
    blocking = [d for d in manager.dependents(name) if d in current]
    if blocking:
        raise PluginStateError(
            f"cannot disable '{name}' for {company.name}: "
            + (f"'{blocking[0]}' depends on it and is enabled; disable it first"
               if len(blocking) == 1
               else f"{', '.join(repr(b) for b in blocking)} depend on it and are enabled; "
               "disable them first")
        )
    if name not in current:
        return False
    _set(session, company, name, False)
    return True
