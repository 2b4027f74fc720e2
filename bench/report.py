"""The suite's results: a table on the terminal, ``docs/performance.md``, and the budgets."""

from __future__ import annotations

import os
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    """One line of a table: what was measured, its figures (already formatted), and a budget
    verdict when it has one."""

    label: str
    figures: list[str]
    over: str | None = None  # "median 123.4 ms > budget 100 ms" when over budget


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[Row] = field(default_factory=list)
    note: str = ""


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def machine() -> str:
    """One line describing this machine: processor, cores, memory, system, Python."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal"))
        memory = f", {memory_kb / 1024 / 1024:.0f} GB of memory"
    except (OSError, StopIteration, ValueError):
        memory = ""
    system = platform.system()
    try:
        system = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                      if line.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        pass
    processor = model or platform.processor() or platform.machine()
    return (f"{processor}, {os.cpu_count()} CPUs{memory}; {system}; Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def render_text(sections: list[Section]) -> str:
    lines: list[str] = []
    for section in sections:
        widths = [max(len(section.headers[0]), *(len(row.label) for row in section.rows))] + [
            max(len(header), *(len(row.figures[i]) for row in section.rows))
            for i, header in enumerate(section.headers[1:])]
        lines += ["", section.title]
        lines.append("  ".join(header.ljust(width) for header, width in zip(section.headers, widths, strict=True)))
        for row in section.rows:
            cells = [row.label, *row.figures]
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            lines.append(line + ("  OVER BUDGET" if row.over else ""))
    return "\n".join(lines)


HEADER = """# Performance

What the benchmark suite measured on the `large` demo data: one part per database, each run of
`python -m bench` (SQLite) or `python -m bench --database-url URL` (PostgreSQL) replaces its
database's part. How it measures, and what earlier runs found: [bench/README.md](../bench/README.md).
"""


def render_markdown(sections: list[Section], *, database: str, size: str, command: str) -> str:
    """One database's part of ``docs/performance.md``."""
    now = datetime.now(UTC)
    lines = [
        f"## {database.split()[0]}",
        "",
        f"Measured by `{command}` on {now:%Y-%m-%d} at {now:%H:%M} UTC.",
        "",
        f"- Machine: {machine()}",
        f"- Database: {database}",
        f"- Data: `crm demo --size {size}`",
        "",
    ]
    for section in sections:
        if not section.rows:
            continue
        lines += [f"### {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        lines.append("| " + " | ".join(section.headers) + " |")
        lines.append("|" + "---|" * len(section.headers))
        for row in section.rows:
            verdict = f" **over budget: {row.over}**" if row.over else ""
            lines.append("| " + " | ".join([row.label + verdict, *row.figures]) + " |")
        lines.append("")
    return "\n".join(lines)


def write_results(path: Path, dialect: str, part: str) -> None:
    """Put ``part`` into the page at ``path`` as the part of ``dialect``, in place of the one
    an earlier run wrote, keeping the other databases' parts."""
    start, end = f"<!-- results: {dialect} -->", f"<!-- end of results: {dialect} -->"
    block = f"{start}\n{part.rstrip()}\n{end}"
    page = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if start in page and end in page:
        page = page[:page.index(start)] + block + page[page.index(end) + len(end):]
    else:
        page = page.rstrip() + "\n\n" + block + "\n"
    path.write_text(page, encoding="utf-8")


def over_budget(sections: list[Section]) -> list[str]:
    return [f"{row.label}: {row.over}" for section in sections for row in section.rows if row.over]
