"""Global search: one box, results from every enabled plugin's ``search`` hook, grouped by kind."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask_login import current_user

from core.auth import signed_in
from core.hooks import SearchResult
from core.tenancy import call_each_enabled

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 200
PER_PLUGIN_LIMIT = 8

blueprint = Blueprint("core_search", __name__)


@dataclass(frozen=True)
class SearchGroup:
    kind: str
    results: list[SearchResult]


def run_search(query: str) -> list[SearchGroup]:
    """Ask every enabled plugin, then group the results by kind, best first.

    A plugin that fails is logged and left out: one broken plugin must not take the
    search box down for everyone.
    """
    results: list[SearchResult] = []
    for _plugin, found in call_each_enabled("search", query=query, user=current_user, limit=PER_PLUGIN_LIMIT):
        results += [r for r in found[:PER_PLUGIN_LIMIT] if isinstance(r, SearchResult)]
    groups: dict[str, list[SearchResult]] = {}
    for result in sorted(results, key=lambda r: (-r.score, r.title.lower())):
        groups.setdefault(result.kind, []).append(result)
    return [SearchGroup(kind, found) for kind, found in sorted(groups.items(), key=lambda g: g[0].lower())]


@blueprint.get("/search")
@signed_in
def search_page() -> str:
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    groups = run_search(query) if len(query) >= MIN_QUERY_LENGTH else []
    template = "search/index.html"
    if getattr(request, "htmx", False):  # typing: the top bar's pop-up panel, or the page's results
        template = "search/_panel.html" if request.args.get("panel") else "search/_results.html"
    return render_template(template, query=query, groups=groups, min_length=MIN_QUERY_LENGTH)
