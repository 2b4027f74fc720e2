"""Plugin manifests: ``manifest.toml``, read and validated before any plugin code runs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CATEGORIES = frozenset(
    {"customers", "sales", "service", "marketing", "integrations", "productivity", "tools", "other"}
)
REQUIRED = ("name", "title", "version", "summary", "core")
OPTIONAL = ("depends", "category")


class ManifestError(ValueError):
    """A manifest is missing, unreadable or invalid; the message lists every problem."""


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    version: Version
    summary: str
    depends: tuple[str, ...]
    category: str
    core: SpecifierSet

    def supports_core(self, core_version: str) -> bool:
        return self.core.contains(core_version, prereleases=True)


def load_manifest(path: Path) -> Manifest:
    """Read ``path`` (a ``manifest.toml``) and validate it; raise ManifestError naming the file."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest.toml") from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: not valid TOML ({error})") from None
    problems = validate(data)
    if problems:
        raise ManifestError(f"{path}: " + "; ".join(problems))
    return Manifest(
        name=data["name"],
        title=data["title"],
        version=Version(data["version"]),
        summary=data["summary"],
        depends=tuple(data.get("depends", ())),
        category=data.get("category", "other"),
        core=SpecifierSet(data["core"]),
    )


def validate(data: dict) -> list[str]:
    """Return every problem of a parsed manifest (empty when it is valid)."""
    problems = [f"missing key '{key}'" for key in REQUIRED if key not in data]
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    problems += [f"unknown key '{key}'" for key in unknown]
    for key in ("name", "title", "version", "summary", "core", "category"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            problems.append(f"'{key}' must be a non-empty string")
    if isinstance(data.get("name"), str) and not NAME_PATTERN.match(data["name"]):
        problems.append(
            f"name '{data['name']}' must be lower-case letters, digits and underscores, "
            "starting with a letter (at most 40 characters)"
        )
    if isinstance(data.get("version"), str):
        try:
            Version(data["version"])
        except InvalidVersion:
            problems.append(f"version '{data['version']}' is not a valid version number")
    if isinstance(data.get("core"), str):
        try:
            SpecifierSet(data["core"])
        except InvalidSpecifier:
            problems.append(f"core '{data['core']}' is not a version range such as '>=0.1,<1'")
    depends = data.get("depends", [])
    if not (isinstance(depends, list) and all(isinstance(d, str) for d in depends)):
        problems.append("'depends' must be a list of plugin names")
    elif data.get("name") in depends:
        problems.append("a plugin cannot depend on itself")
    if isinstance(data.get("category"), str) and data["category"] not in CATEGORIES:
        problems.append(
            f"category '{data['category']}' is not one of {', '.join(sorted(CATEGORIES))}"
        )
    return problems
