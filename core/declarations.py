"""Things plugins declare once at start-up (permissions, settings, role templates), collected
and checked."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.access import CORE_PERMISSIONS
from core.hooks import SETTING_TYPES, VISIBILITY_LEVELS, Permission, RoleExtension, RoleTemplate, Setting
from core.plugin_manager import PluginInfo, PluginManager


@dataclass(frozen=True)
class Declarations:
    permissions: dict[str, Permission]
    settings: dict[str, Setting]
    # Role templates by key, each with the extensions other plugins offer for it merged in:
    # what a new role, or a reset to the template, gets.
    roles: dict[str, RoleTemplate] = field(default_factory=dict)
    # The valid role extensions, by the name of the plugin that offers them (applied to a
    # company's existing roles when it enables that plugin).
    role_extensions: dict[str, tuple[RoleExtension, ...]] = field(default_factory=dict)


def collect(manager: PluginManager) -> tuple[Declarations, list[str]]:
    """Gather every plugin's permissions, settings and role templates; return them with the
    problems found."""
    problems: list[str] = []
    # The core's own permissions (e.g. inviting people) come first, declared by "core".
    permissions: dict[str, Permission] = {p.code: p for p in CORE_PERMISSIONS}
    declared_by: dict[str, str] = {p.code: "core" for p in CORE_PERMISSIONS}
    for info, permission in manager.declared("permissions", problems):
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
    for info, setting in manager.declared("settings", problems):
        if not isinstance(setting, Setting):
            problems.append(f"plugin '{info.name}' declared {setting!r}, not a Setting")
            continue
        problem = _setting_problem(info.name, setting, settings)
        if problem:
            problems.append(problem)
        else:
            settings[setting.key] = setting
    roles, extensions = _collect_role_templates(manager, permissions, problems)
    return Declarations(permissions, settings, roles, extensions), problems


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
    if len(setting.key) > SETTING_KEY_MAX:
        return f"{where}: the key is longer than {SETTING_KEY_MAX} characters"
    return _setting_limits_problem(where, setting, expected)


SETTING_KEY_MAX = 120  # core_setting_value.key


def _setting_limits_problem(where: str, setting: Setting, expected: type) -> str | None:
    """Problems of the optional ``choices``, ``min`` and ``max`` of a setting."""
    if setting.choices is not None:
        choices = setting.choices
        if expected is bool:
            return f"{where}: a bool setting cannot have choices"
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)) or not choices:
            return f"{where}: choices must be a non-empty list or tuple"
        wrong = [c for c in choices if not isinstance(c, expected) or isinstance(c, bool)]
        if wrong:
            return f"{where}: choice {wrong[0]!r} is not a {setting.type}"
        if len(set(choices)) != len(choices):
            return f"{where}: choices repeat a value"
        if setting.default not in choices:
            return f"{where}: default {setting.default!r} is not one of the choices"
    bounds = {"min": setting.min, "max": setting.max}
    for name, bound in bounds.items():
        if bound is None:
            continue
        if expected not in (int, float):
            return f"{where}: {name} is only for int and float settings"
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or bound != bound:
            return f"{where}: {name} {bound!r} is not a number"
    if setting.min is not None and setting.max is not None and setting.min > setting.max:
        return f"{where}: min {setting.min!r} is greater than max {setting.max!r}"
    if setting.min is not None and setting.default < setting.min:
        return f"{where}: default {setting.default!r} is below min {setting.min!r}"
    if setting.max is not None and setting.default > setting.max:
        return f"{where}: default {setting.default!r} is above max {setting.max!r}"
    return None


ROLE_TEMPLATE_KEY_MAX = 120  # core_role.template
ROLE_NAME_MAX = 120  # core_role.name
ROLE_DESCRIPTION_MAX = 500  # core_role.description
RECORD_TYPE_MAX = 120  # core_role_visibility.record_type


def _collect_role_templates(
    manager: PluginManager, permissions: dict[str, Permission], problems: list[str]
) -> tuple[dict[str, RoleTemplate], dict[str, tuple[RoleExtension, ...]]]:
    """Every plugin's ``default_roles`` templates that pass :func:`_role_template_problems`,
    with the valid extensions merged in, and those extensions by plugin."""
    roles: dict[str, RoleTemplate] = {}
    offered_by: dict[str, str] = {}  # every template key offered, valid or not, to its plugin
    names: dict[str, str] = {}
    extensions: list[tuple[PluginInfo, RoleExtension]] = []
    for info, template in manager.declared("default_roles", problems):
        if isinstance(template, RoleExtension):
            extensions.append((info, template))  # checked once every template is known
            continue
        if not isinstance(template, RoleTemplate):
            problems.append(f"plugin '{info.name}' offered {template!r}, not a RoleTemplate or RoleExtension")
            continue
        if template.key in offered_by:
            first = offered_by[template.key]
            who = f"by '{info.name}'" if first == info.name else f"by '{first}' and '{info.name}'"
            problems.append(f"role template '{template.key}' is offered twice ({who})")
            continue
        found = _role_template_problems(info.name, template, permissions)
        name_key = template.name.strip().lower() if isinstance(template.name, str) else None
        if name_key and name_key in names:
            found.append(
                f"plugin '{info.name}' role template '{template.key}': the name "
                f"'{template.name}' is taken by role template '{names[name_key]}'"
            )
        problems += found
        if isinstance(template.key, str):
            offered_by[template.key] = info.name
        if not found:
            roles[template.key] = template
            names[name_key] = template.key
    return roles, _apply_extensions(manager, roles, offered_by, extensions, permissions, problems)


def _apply_extensions(
    manager: PluginManager,
    roles: dict[str, RoleTemplate],
    offered_by: dict[str, str],
    extensions: list[tuple[PluginInfo, RoleExtension]],
    permissions: dict[str, Permission],
    problems: list[str],
) -> dict[str, tuple[RoleExtension, ...]]:
    """Merge each valid extension into the template it extends (in ``roles``, in dependency
    order); return the valid ones by plugin."""
    valid: dict[str, tuple[RoleExtension, ...]] = {}
    for info, extension in extensions:
        found = _role_extension_problems(manager, info.name, extension, offered_by, permissions)
        template = roles.get(extension.extends) if not found else None
        if template is None:
            # An invalid extension, or one of a template whose own problems are listed already.
            problems += found
            continue
        where = f"plugin '{info.name}' extension of role template '{extension.extends}'"
        clashes = [
            f"{where}: the template gives '{record_type}' the level '{template.visibility[record_type]}' "
            f"already, not {level!r}"
            for record_type, level in extension.visibility.items()
            if template.visibility.get(record_type, level) != level
        ]
        if clashes:
            problems += clashes
            continue
        roles[extension.extends] = replace(
            template,
            permissions=tuple(dict.fromkeys((*template.permissions, *extension.permissions))),
            visibility={**template.visibility, **extension.visibility},
        )
        valid[info.name] = (*valid.get(info.name, ()), extension)
    return valid


def _role_extension_problems(
    manager: PluginManager, plugin: str, extension: RoleExtension, offered_by: dict[str, str],
    permissions: dict[str, Permission],
) -> list[str]:
    where = f"plugin '{plugin}' extension of role template '{extension.extends}'"
    owner = offered_by.get(extension.extends) if isinstance(extension.extends, str) else None
    if owner is None:
        return [f"{where}: no loaded plugin offers that template"]
    if owner == plugin:
        return [f"{where}: the template is the plugin's own; put the permissions in the template"]
    if owner not in manager.dependencies(plugin):
        # A dependency is enabled wherever its dependent is, so the extended roles exist.
        return [(f"{where}: the template is offered by '{owner}', which is not among the plugin's "
                 "dependencies; add it to depends in manifest.toml")]
    return _access_problems(where, extension.permissions, extension.visibility, permissions)


def _role_template_problems(plugin: str, template: RoleTemplate, permissions: dict[str, Permission]) -> list[str]:
    where = f"plugin '{plugin}' role template '{template.key}'"
    problems: list[str] = []
    if not isinstance(template.key, str) or not template.key.strip():
        problems.append(f"{where}: the key must be a non-empty string")
    elif len(template.key) > ROLE_TEMPLATE_KEY_MAX:
        problems.append(f"{where}: the key is longer than {ROLE_TEMPLATE_KEY_MAX} characters")
    if not isinstance(template.name, str) or not template.name.strip():
        problems.append(f"{where}: the name must be a non-empty string")
    elif len(template.name.strip()) > ROLE_NAME_MAX:
        problems.append(f"{where}: the name is longer than {ROLE_NAME_MAX} characters")
    if not isinstance(template.description, str) or len(template.description) > ROLE_DESCRIPTION_MAX:
        problems.append(f"{where}: the description must be a string of at most {ROLE_DESCRIPTION_MAX} characters")
    return problems + _access_problems(where, template.permissions, template.visibility, permissions)


def _access_problems(where: str, codes: Any, visibility: Any, permissions: dict[str, Permission]) -> list[str]:
    """Problems of the ``permissions`` and ``visibility`` of a role template or extension."""
    problems: list[str] = []
    if isinstance(codes, (str, bytes)) or not isinstance(codes, (tuple, list, frozenset, set)):
        problems.append(f"{where}: permissions must be a tuple of permission codes, not {codes!r}")
    else:
        for code in codes:
            if code not in permissions:
                problems.append(f"{where}: permission '{code}' is not declared by any plugin")
    if not isinstance(visibility, dict):
        problems.append(f"{where}: visibility must be a dict of record type to level, not {visibility!r}")
    else:
        for record_type, level in visibility.items():
            if not isinstance(record_type, str) or not record_type.strip() or len(record_type) > RECORD_TYPE_MAX:
                problems.append(
                    f"{where}: record type {record_type!r} must be a non-empty string of at most "
                    f"{RECORD_TYPE_MAX} characters"
                )
            elif level not in VISIBILITY_LEVELS:
                problems.append(
                    f"{where}: visibility of '{record_type}' is {level!r}; use {', '.join(VISIBILITY_LEVELS)}"
                )
    return problems
