"""Every full page of the shell keeps the basic accessibility rules.

The test walks the URL map (as the tenant-isolation test does), so pages added later by the
core or by a plugin are checked too: each page the administrator can open without arguments,
plus a record page with arguments filled in, must have a language, one h1, a main landmark,
a label for every form control, a text alternative for every image and no duplicate ids.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

NOTES_EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "atrium-notes"
LABELLED_BY_ATTRIBUTE = ("aria-label", "aria-labelledby", "title")
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}


@pytest.fixture
def app_config(fixture_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(str(NOTES_EXAMPLE))
    return {"CRM_PLUGIN_MODULES": ["atrium_notes", "fx_widget_kinds"]}  # with the built-in plugins


@pytest.fixture
def crm_plugins():
    return ["notes", "fx_widget_kinds", "customers"]


class PageAudit(HTMLParser):
    """Collects what the checks need from one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = None
        self.h1 = 0
        self.main = 0
        self.ids: Counter[str] = Counter()
        self.label_targets: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.images_without_alt: list[str] = []
        self._label_depth = 0
        self._noscript = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "noscript":
            self._noscript += 1
        if self._noscript:
            return
        if tag == "html":
            self.lang = attributes.get("lang")
        if "id" in attributes:
            self.ids[attributes["id"]] += 1
        if tag == "h1":
            self.h1 += 1
        if tag == "main" or attributes.get("role") == "main":
            self.main += 1
        if tag == "label":
            self._label_depth += 1
            if attributes.get("for"):
                self.label_targets.add(attributes["for"])
        if tag == "img" and attributes.get("alt") is None:
            self.images_without_alt.append(attributes.get("src") or "?")
        if tag in ("input", "select", "textarea") and attributes.get("type") not in UNLABELLED_INPUT_TYPES:
            attributes["_wrapped"] = "yes" if self._label_depth else None
            self.controls.append(attributes)

    def handle_endtag(self, tag):
        if tag == "noscript":
            self._noscript -= 1
        elif tag == "label" and self._label_depth:
            self._label_depth -= 1

    def problems(self) -> list[str]:
        found = []
        if not self.lang:
            found.append("<html> has no lang")
        if self.h1 != 1:
            found.append(f"{self.h1} h1 elements (one expected)")
        if self.main != 1:
            found.append(f"{self.main} main landmarks (one expected)")
        found += [f"id {name!r} used {count} times" for name, count in self.ids.items() if count > 1]
        for control in self.controls:
            labelled = (control.get("id") in self.label_targets or control.get("_wrapped")
                        or any(control.get(attribute) for attribute in LABELLED_BY_ATTRIBUTE))
            if not labelled:
                found.append(f"unlabelled control {control.get('name') or control.get('id')!r}")
        found += [f"image without alt: {src}" for src in self.images_without_alt]
        return found


def audit(html: str) -> list[str]:
    parser = PageAudit()
    parser.feed(html)
    return parser.problems()


def pages_without_arguments(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        if rule.rule.startswith(("/api/", "/healthz", "/logout")):
            continue
        paths.append(rule.rule)
    return sorted(paths)


def test_the_audit_finds_what_it_looks_for():
    bad = ('<html><body><h1>A</h1><h1>B</h1><div id="x"></div><div id="x"></div>'
           '<input name="q"><img src="/a.png"></body></html>')
    assert audit(bad) == ["<html> has no lang", "2 h1 elements (one expected)", "0 main landmarks (one expected)",
                          "id 'x' used 2 times", "unlabelled control 'q'", "image without alt: /a.png"]
    good = ('<html lang="en"><body><main><h1>A</h1><label for="q">Find</label><input id="q" name="q">'
            '<label>Keep <input type="checkbox" name="k"></label></main></body></html>')
    assert audit(good) == []


def test_every_page_an_administrator_opens_keeps_the_basic_rules(app, client, company, login_as):
    company.enable("notes", "fx_widget_kinds", "customers")
    login_as(company.admin)
    client.post("/notes/", data={"title": "A note", "body": "Its text"})
    client.post("/customers/accounts/new", data={"name": "Acme Traders", "email": "info@acme.test"})
    client.post("/customers/contacts/new", data={"name": "Ann Lee", "account_id": "1"})
    paths = pages_without_arguments(app) + [
        "/notes/1", "/notes/1/edit", "/admin/users/%d" % company.admin.id, "/search?q=note",
        "/dashboard/widgets/fx_widget_kinds.chart", "/customers/accounts/1", "/customers/accounts/1/edit",
        "/customers/contacts/1", "/customers/contacts/1/edit",
    ]
    checked = 0
    failures = {}
    for path in paths:
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html" or "<html" not in response.text:
            continue
        checked += 1
        if problems := audit(response.text):
            failures[path] = problems
    assert checked >= 20, f"only {checked} pages were checked"
    assert failures == {}


def test_the_sign_in_page_keeps_the_basic_rules(client):
    assert audit(client.get("/login").text) == []
