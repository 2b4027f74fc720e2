"""Things plugins declare once at start-up (permissions, settings), collected and checked."""

from __future__ import annotations

from dataclasses import dataclass

from core.hooks import SETTING_TYPES, Permission, Setting
from core.plugin_manager import PluginManager


@dataclass(frozen=True)
class Declarations:
    permissions: dict[str, Permission]
    settings: dict[str, Setting]


def collect(manager: PluginManager) -> tuple[Declarations, list[str]]:
    """Gather every plugin's permissions and settings; return them with the problems found."""
    problems: list[str] = []
    permissions: dict[str, Permission] = {}
    declared_by: dict[str, str] = {}
    for info, declared in manager.call_in_order("permissions", problems=problems):
        for permission in declared or ():
            if not isinstance(permission, Permission):
                problems.append(f"plugin '{info.name}' declared {permission!r}, not a Permission")
            elif not permission.code.startswith(f"{info.name}."):
                problems.append(
                    f"plugin '{info.name}' declares permission '{permission.code}', "
                    f"which must start with '{info.name}.'"
                )
            elif permission.code in permissions:
                first = declared_by[permission.code]
                who = f"by '{info.name}'" if first == info.name else f"by '{first}' and '{info.name}'"
                problems.append(f"permission '{permission.code}' is declared twice ({who})")
            else:
                permissions[permission.code] = permission
                declared_by[permission.code] = info.name

    settings: dict[str, Setting] = {}
    for info, declared in manager.call_in_order("settings", problems=problems):
        for setting in declared or ():
            if not isinstance(setting, Setting):
                problems.append(f"plugin '{info.name}' declared {setting!r}, not a Setting")
                continue
            problem = _setting_problem(info.name, setting, settings)
            if problem:
                problems.append(problem)
            else:
                settings[setting.key] = setting
    return Declarations(permissions, settings), problems


def _setting_problem(plugin: str, setting: Setting, seen: dict[str, Setting]) -> str | None:
    where = f"plugin '{plugin}' setting '{setting.key}'"
    if not setting.key.startswith(f"{plugin}."):
        return f"{where}: the key must start with '{plugin}.'"
    if setting.key in seen:
        return f"{where}: declared twice"
    expected = SETTING_TYPES.get(setting.type)
    if expected is None:
        return f"{where}: unknown type '{setting.type}' (use {', '.join(SETTING_TYPES)})"
    # bool is an int in Python; an int setting must not default to True.
    if not isinstance(setting.default, expected) or (expected is int and isinstance(setting.default, bool)):
        return f"{where}: default {setting.default!r} is not a {setting.type}"
    return None
