"""Ready-made bodies for dashboard widgets: a number, a list of links, a chart.

A plugin's :class:`core.hooks.DashboardWidget` ``render`` callable may return any HTML; these
helpers give every plugin the same look and keep markup out of plugin code::

    DashboardWidget(key="notes.count", title=_l("Notes"),
                    render=lambda: number(count_notes(), _("notes this week"), url=url_for("notes.index")))

Charts are drawn by the vendored Chart.js (``static/vendor/chart.js-4.6.1``) in the browser:
the server renders a ``<canvas>`` with its data in a JSON script element, and
``static/atrium.js`` draws every such canvas when it appears (also after an htmx swap). The data
stays readable without JavaScript: the same figures are in a table for screen readers and as
the fallback.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

from flask import render_template
from markupsafe import Markup

CHART_KINDS: tuple[str, ...] = ("bar", "line", "pie", "doughnut")
_chart_ids = itertools.count(1)


@dataclass(frozen=True)
class ListEntry:
    """One line of a :func:`link_list`: a label, where it leads, and an optional note."""

    label: str
    url: str | None = None
    note: str = ""


def number(value: Real | str, caption: str, url: str | None = None, change: str | None = None) -> Markup:
    """A big figure with a caption; ``change`` is a short comparison ("+12% on last month")."""
    return Markup(render_template("dashboard/_number.html", value=value, caption=caption, url=url, change=change))


def link_list(entries: Sequence[ListEntry], empty: str, more_url: str | None = None,
              more_label: str | None = None) -> Markup:
    """A short list of links; ``empty`` is what it says when there is nothing to list."""
    return Markup(render_template("dashboard/_list.html", entries=entries, empty=empty,
                                  more_url=more_url, more_label=more_label))


def chart(kind: str, labels: Sequence[str], series: Mapping[str, Sequence[Real]], caption: str) -> Markup:
    """A chart of ``series`` (name -> one value per label) drawn by Chart.js.

    ``kind`` is one of :data:`CHART_KINDS`; ``caption`` describes the chart for screen readers
    and titles the fallback table. Raises ``ValueError`` when a series does not have one value
    per label, so a plugin's mistake shows in its own widget (as a failed widget), not as a
    silently wrong chart.
    """
    if kind not in CHART_KINDS:
        raise ValueError(f"chart kind must be one of {', '.join(CHART_KINDS)}, not {kind!r}")
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    config = {
        "type": kind,
        "data": {"labels": list(labels),
                 "datasets": [{"label": name, "data": list(values)} for name, values in series.items()]},
    }
    return Markup(render_template("dashboard/_chart.html", chart_id=f"chart-{next(_chart_ids)}",
                                  config=config, labels=labels, series=series, caption=caption))
