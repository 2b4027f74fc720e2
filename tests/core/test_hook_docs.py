"""The hook reference (docs/plugins/hooks.md) documents exactly the hooks of core/hookspecs.py.

Each hook has a heading of the form ``## `name(arg1, arg2)` `` whose argument names are the
spec's parameters, in the spec's order.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy

from core import hookspecs
from core.hooks import PROJECT_NAME, hookspec

HOOKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"

# pluggy's HookspecMarker("atrium") marks a spec function with the attribute "atrium_spec".
SPEC_ATTRIBUTE = f"{hookspec.project_name}_spec"

HOOK_HEADING = re.compile(r"^## `(?P<name>[A-Za-z_]\w*)\((?P<args>[^()]*)\)`\s*$")


def spec_signatures() -> dict[str, list[str]]:
    """Every hook spec in core/hookspecs.py with its parameter names, in order."""
    return {
        name: list(inspect.signature(function).parameters)
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, SPEC_ATTRIBUTE)
    }


def documented_hooks() -> tuple[dict[str, list[list[str]]], list[str]]:
    """The hook headings of the reference (name -> argument lists) and the malformed ones."""
    headings: dict[str, list[list[str]]] = {}
    malformed: list[str] = []
    for number, line in enumerate(HOOKS_DOC.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("## `"):
            continue
        match = HOOK_HEADING.match(line)
        if match is None:
            malformed.append(f"line {number}: {line!r}")
            continue
        args = [arg.strip() for arg in match["args"].split(",") if arg.strip()]
        headings.setdefault(match["name"], []).append(args)
    return headings, malformed


def test_the_specs_found_by_attribute_are_the_ones_pluggy_registers():
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registered = {name for name in vars(manager.hook) if not name.startswith("_")}
    assert registered, "core/hookspecs.py has no hook specs"
    assert set(spec_signatures()) == registered


def test_every_hook_spec_is_documented_with_its_signature():
    documented, _ = documented_hooks()
    problems = []
    for name, params in sorted(spec_signatures().items()):
        expected = f"## `{name}({', '.join(params)})`"
        if name not in documented:
            problems.append(f"{name} is not documented; add a section headed {expected}")
        elif any(args != params for args in documented[name]):
            written = ", ".join(f"({', '.join(args)})" for args in documented[name])
            problems.append(f"{name} is documented as {written}; the spec says {expected}")
    assert not problems, f"{HOOKS_DOC.name} is out of date:\n" + "\n".join(problems)


def test_the_reference_documents_no_hook_that_does_not_exist():
    documented, malformed = documented_hooks()
    specs = spec_signatures()
    problems = [f"'{name}' is documented but is not a hook spec" for name in sorted(set(documented) - set(specs))]
    problems += [f"'{name}' is documented {len(args)} times" for name, args in sorted(documented.items()) if len(args) > 1]
    problems += [f"heading is not of the form ## `hook(arg, ...)`: {heading}" for heading in malformed]
    assert not problems, f"{HOOKS_DOC.name} is wrong:\n" + "\n".join(problems)
