"""The administrator's guide (docs/admin.md) mentions every configuration option and every
``crm`` command of the core.

An option counts as mentioned when its name appears in backticks (`` `CRM_ENV` ``). A
command counts as mentioned when ``crm <command>`` (or ``crm <group> <command>``, for every
command of a group) appears anywhere in the page, in prose or in an example.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from core.cli import cli
from core.config import OPTIONS

ADMIN_DOC = Path(__file__).resolve().parents[2] / "docs" / "admin.md"


def admin_text() -> str:
    return ADMIN_DOC.read_text(encoding="utf-8")


def command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The name path of every runnable command under ``command``: a group's commands, not
    the group itself (``("db", "upgrade")``), and a plain command by its own name."""
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from command_paths(sub, (*prefix, name))
    else:
        yield prefix


def is_mentioned(path: tuple[str, ...], text: str) -> bool:
    words = r"\s+".join(re.escape(word) for word in ("crm", *path))
    return re.search(rf"(?<![\w-]){words}(?![\w-])", text) is not None


def test_every_configuration_option_is_in_the_admin_guide():
    text = admin_text()
    missing = [option.key for option in OPTIONS if f"`{option.key}`" not in text]
    assert not missing, (
        f"{ADMIN_DOC.name} does not mention these options (as `KEY`, with their default and "
        f"meaning): {', '.join(missing)}"
    )


def test_every_crm_command_is_in_the_admin_guide():
    text = admin_text()
    paths = list(command_paths(cli))
    assert ("db", "upgrade") in paths and ("demo",) in paths, "the walk of core.cli.cli found too little"
    missing = [" ".join(("crm", *path)) for path in paths if not is_mentioned(path, text)]
    assert not missing, (
        f"{ADMIN_DOC.name} does not mention these commands (give each an example): "
        + ", ".join(missing)
    )
