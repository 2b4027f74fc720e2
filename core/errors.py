"""Errors the core raises to refuse a start-up or an operation with a clear message."""

from __future__ import annotations

from collections.abc import Iterable


class StartupError(Exception):
    """The application cannot start; carries every problem found, not only the first.

    Principle: fail at start-up, all at once. Whoever collects problems appends them
    to a list and raises one ``StartupError`` at the end.
    """

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(self.format())

    def format(self) -> str:
        lines = ["Atrium CRM cannot start:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class PluginStateError(Exception):
    """A request to enable or disable plugins breaks a dependency rule."""
