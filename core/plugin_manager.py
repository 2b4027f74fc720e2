"""Finds, validates, orders and loads plugins; calls their hooks for one company at a time.

Loading happens in two passes so that a broken plugin cannot hide another problem:
first every manifest is read and the dependency graph checked (no plugin code runs),
then the plugins that passed are imported and registered with pluggy. Every problem
from both passes is raised together as one :class:`~core.errors.StartupError`.
"""

from __future__ import annotations

import heapq
import importlib
import importlib.metadata
import importlib.util
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from core import hookspecs
from core.errors import StartupError
from core.hooks import PROJECT_NAME
from core.manifest import Manifest, ManifestError, load_manifest

ENTRY_POINT_GROUP = "crm.plugins"
BUILTIN_PACKAGE = "plugins"


@dataclass
class PluginInfo:
    """One plugin as the manager knows it: manifest first, code once loaded."""

    manifest: Manifest
    module_name: str
    path: Path
    origin: str
    module: ModuleType | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def migrations_path(self) -> Path | None:
        path = self.path / "migrations"
        return path if path.is_dir() else None


def _package_dir(module_name: str) -> Path | None:
    """The folder of a package, found without running its code (for a top-level package)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def discover(extra_modules: Iterable[str] = ()) -> tuple[list[PluginInfo], list[str]]:
    """Find every installed plugin and read its manifest.

    Sources, in this order: the built-in ``plugins/<name>/`` folders, the packages that
    announce themselves in the ``crm.plugins`` entry-point group (name = plugin name,
    value = package), and ``extra_modules`` (package names from configuration).
    Returns the plugins found and the problems met (bad manifests, duplicate names).
    """
    found: list[PluginInfo] = []
    problems: list[str] = []

    def add(module_name: str, origin: str, expected_name: str | None) -> None:
        path = _package_dir(module_name)
        if path is None:
            problems.append(f"plugin package '{module_name}' ({origin}) cannot be found")
            return
        try:
            manifest = load_manifest(path / "manifest.toml")
        except ManifestError as error:
            problems.append(f"invalid manifest for '{module_name}' ({origin}): {error}")
            return
        if expected_name is not None and manifest.name != expected_name:
            problems.append(
                f"plugin '{module_name}' ({origin}) is named '{manifest.name}' in its "
                f"manifest but '{expected_name}' where it is announced"
            )
            return
        found.append(PluginInfo(manifest, module_name, path, origin))

    builtin_root = _package_dir(BUILTIN_PACKAGE)
    if builtin_root is not None:
        for folder in sorted(p for p in builtin_root.iterdir() if (p / "manifest.toml").exists()):
            add(f"{BUILTIN_PACKAGE}.{folder.name}", "built-in", folder.name)
    for entry_point in sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
    ):
        dist = entry_point.dist.name if entry_point.dist else "unknown distribution"
        add(entry_point.value, f"package {dist}", entry_point.name)
    for module_name in extra_modules:
        add(module_name, "CRM_PLUGIN_MODULES", None)

    by_name: dict[str, PluginInfo] = {}
    unique: list[PluginInfo] = []
    for info in found:
        first = by_name.get(info.name)
        if first is not None:
            problems.append(
                f"two plugins are named '{info.name}': {first.module_name} ({first.origin}) "
                f"and {info.module_name} ({info.origin})"
            )
            continue
        by_name[info.name] = info
        unique.append(info)
    return unique, problems


def dependency_order(
    manifests: dict[str, Manifest], refused: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Order plugin names so that each comes after its dependencies.

    Deterministic: among plugins whose dependencies are met, the alphabetically first
    goes next. ``refused`` names installed plugins already refused for another reason.
    Returns the order and the problems (missing dependencies, cycles); a plugin with a
    problem, or depending on one that has one, is left out of the order.
    """
    problems: list[str] = []
    broken: set[str] = set()
    for name, manifest in sorted(manifests.items()):
        missing = [dep for dep in manifest.depends if dep not in manifests and dep not in refused]
        unusable = [dep for dep in manifest.depends if dep in refused]
        if missing:
            problems.append(
                f"plugin '{name}' depends on {', '.join(repr(m) for m in missing)}, "
                "which is not installed (or not selected in CRM_PLUGINS)"
            )
        elif unusable:
            problems.append(
                f"plugin '{name}' cannot load because {', '.join(map(repr, unusable))} cannot"
            )
        if missing or unusable:
            broken.add(name)

    dependents: dict[str, set[str]] = {name: set() for name in manifests}
    waiting: dict[str, int] = {}
    for name, manifest in manifests.items():
        present = {dep for dep in manifest.depends if dep in manifests}
        waiting[name] = len(present)
        for dep in present:
            dependents[dep].add(name)

    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, dependent)

    stuck = sorted(set(manifests) - set(order))
    reported: set[str] = set()
    for cycle in _cycles(stuck, manifests):
        problems.append("dependency cycle: " + " -> ".join([*cycle, cycle[0]]))
        reported.update(cycle)
        broken.update(cycle)
    for name in stuck:
        if name not in reported:
            problems.append(f"plugin '{name}' depends on a plugin in a dependency cycle")
            broken.add(name)

    # Anything that needs a broken plugin cannot load either.
    changed = True
    while changed:
        changed = False
        for name in order:
            if name not in broken and any(d in broken for d in manifests[name].depends):
                needed = sorted(d for d in manifests[name].depends if d in broken)
                problems.append(
                    f"plugin '{name}' cannot load because {', '.join(map(repr, needed))} cannot"
                )
                broken.add(name)
                changed = True
    return [name for name in order if name not in broken], problems


def _cycles(names: list[str], manifests: dict[str, Manifest]) -> list[list[str]]:
    """Each distinct dependency cycle among ``names``, as a list starting at its smallest name."""
    candidates = set(names)
    cycles: list[list[str]] = []
    seen_keys: set[frozenset[str]] = set()
    for start in names:
        path: list[str] = []
        on_path: set[str] = set()

        def visit(node: str) -> None:
            path.append(node)
            on_path.add(node)
            for dep in sorted(manifests[node].depends):
                if dep == start:
                    key = frozenset(path)
                    if key not in seen_keys and min(path) == start:
                        seen_keys.add(key)
                        cycles.append(list(path))
                elif dep in candidates and dep not in on_path and dep > start:
                    visit(dep)
            path.pop()
            on_path.discard(node)

        visit(start)
    return cycles


class PluginManager:
    """The loaded plugins of one application, in dependency order, and their hooks."""

    def __init__(self, core_version: str) -> None:
        self.core_version = core_version
        self.pluggy = pluggy.PluginManager(PROJECT_NAME)
        self.pluggy.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}

    # -- loading -----------------------------------------------------------------------

    def load(self, candidates: list[PluginInfo], problems: list[str], selected: Collection[str] | None) -> None:
        """Validate and import ``candidates``; raise StartupError listing every problem."""
        problems = list(problems)
        by_name = {info.name: info for info in candidates}
        if selected is not None:
            unknown = sorted(set(selected) - set(by_name))
            problems += [
                f"CRM_PLUGINS names '{name}', which is not installed (or was refused above)"
                for name in unknown
            ]
            by_name = {name: info for name, info in by_name.items() if name in selected}
        for name, info in sorted(by_name.items()):
            if not info.manifest.supports_core(self.core_version):
                problems.append(
                    f"plugin '{name}' {info.manifest.version} needs core {info.manifest.core}, "
                    f"but this is core {self.core_version}"
                )
        compatible = {
            name: info.manifest
            for name, info in by_name.items()
            if info.manifest.supports_core(self.core_version)
        }
        order, graph_problems = dependency_order(compatible, refused=set(by_name) - set(compatible))
        problems += graph_problems

        failed: set[str] = set()
        for name in order:
            info = by_name[name]
            failed_dependencies = [dep for dep in info.manifest.depends if dep in failed]
            if failed_dependencies:
                problems.append(
                    f"plugin '{name}' cannot load because "
                    f"{', '.join(map(repr, failed_dependencies))} cannot"
                )
                failed.add(name)
                continue
            try:
                info.module = importlib.import_module(info.module_name)
                if (info.path / "models.py").exists():
                    # Models join the shared metadata before any query or migration runs.
                    importlib.import_module(f"{info.module_name}.models")
                self.pluggy.register(info.module, name=name)
            except pluggy.PluginValidationError as error:
                problems.append(f"plugin '{name}': {error}")
                failed.add(name)
                continue
            except Exception as error:  # any import-time failure is a start-up problem
                problems.append(f"plugin '{name}' failed to import: {type(error).__name__}: {error}")
                failed.add(name)
                continue
            self._plugins[name] = info
        problems += self._unknown_hooks()
        if problems:
            raise StartupError(problems)

    def _unknown_hooks(self) -> list[str]:
        """Like pluggy's ``check_pending``, but reports every unknown hook, not the first."""
        problems = []
        for hook_name in sorted(vars(self.pluggy.hook)):
            if hook_name.startswith("_"):
                continue
            caller = getattr(self.pluggy.hook, hook_name)
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    problems.append(
                        f"plugin '{impl.plugin_name}' implements '{hook_name}', which is not "
                        "a hook (misspelled? see docs/plugins/hooks.md)"
                    )
        return problems

    # -- what is loaded -------------------------------------------------------------------

    def __iter__(self) -> Iterator[PluginInfo]:
        return iter(self._plugins.values())

    def __contains__(self, name: object) -> bool:
        return name in self._plugins

    def __getitem__(self, name: str) -> PluginInfo:
        return self._plugins[name]

    @property
    def names(self) -> list[str]:
        return list(self._plugins)

    def dependencies(self, name: str) -> list[str]:
        """Every plugin ``name`` needs, directly or not, in dependency order."""
        needed: set[str] = set()
        stack = list(self._plugins[name].manifest.depends)
        while stack:
            dep = stack.pop()
            if dep not in needed:
                needed.add(dep)
                stack.extend(self._plugins[dep].manifest.depends)
        return [n for n in self._plugins if n in needed]

    def dependents(self, name: str) -> list[str]:
        """Every loaded plugin that needs ``name``, directly or not, in dependency order."""
        return [other for other in self._plugins if name in self.dependencies(other)]

    # -- calling hooks --------------------------------------------------------------------

    def hooks(self, enabled: Collection[str] | None = None) -> ScopedHooks:
        """Hook callers restricted to ``enabled`` plugins (all loaded plugins when None)."""
        return ScopedHooks(self, enabled)

    def call_in_order(
        self,
        hook_name: str,
        enabled: Collection[str] | None = None,
        problems: list[str] | None = None,
        **kwargs: Any,
    ) -> list[tuple[PluginInfo, Any]]:
        """Call ``hook_name`` one plugin at a time in dependency order.

        For hooks whose callers need to know which plugin answered, or where a plugin must
        run after the plugins it depends on. Returns ``(plugin, result)`` pairs. With a
        ``problems`` list (at start-up), an implementation that raises is recorded there
        and skipped instead of stopping everything with a traceback.
        """
        caller = getattr(self.pluggy.hook, hook_name)
        impls = {
            impl.plugin_name: impl
            for impl in caller.get_hookimpls()
            if not (impl.hookwrapper or impl.wrapper)
        }
        results = []
        for info in self._plugins.values():
            if enabled is not None and info.name not in enabled:
                continue
            impl = impls.get(info.name)
            if impl is None:
                continue
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as error:
                if problems is None:
                    raise
                problems.append(
                    f"plugin '{info.name}' failed in hook '{hook_name}': {type(error).__name__}: {error}"
                )
                continue
            results.append((info, result))
        return results


    def declared(self, hook_name: str, problems: list[str]) -> Iterator[tuple[PluginInfo, Any]]:
        """Each item that every loaded plugin returns from ``hook_name``, with its plugin,
        in dependency order. For start-up declarations (permissions, settings, tasks...):
        an implementation that raises is recorded in ``problems`` and skipped."""
        for info, items in self.call_in_order(hook_name, problems=problems):
            for item in items or ():
                yield info, item

class ScopedHooks:
    """``manager.hooks(enabled).menu_items(user=...)``: calls skip the plugins not enabled."""

    def __init__(self, manager: PluginManager, enabled: Collection[str] | None) -> None:
        self._manager = manager
        self._excluded = (
            []
            if enabled is None
            else [info.module for info in manager if info.name not in enabled]
        )

    def __getattr__(self, hook_name: str) -> pluggy.HookCaller:
        return self._manager.pluggy.subset_hook_caller(hook_name, self._excluded)
