"""No page of any loaded plugin shows another company's records.

The test walks the URL map, so it covers every route registered now or by plugins added
later: company B's records come from the plugins' own ``demo_data`` hooks, and every GET
route is requested as a user of company A, with B's record ids filled into the URL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import String, select
from werkzeug.routing import IntegerConverter

from core.db import Base, CompanyMixin, get_session
from core.scoping import company_scope
from core.testing import make_company
from tests.gadgets import GADGETS, create_gadget_table

NOTES_EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "atrium-notes"
MODULES = [GADGETS, "atrium_notes", "fx_api_teams"]
MIN_MARKER_LENGTH = 8  # shorter values (e.g. "1.0") could appear on a page by chance


@pytest.fixture
def app_config(fixture_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(str(NOTES_EXAMPLE))
    return {"CRM_PLUGIN_MODULES": MODULES}


@pytest.fixture
def crm_plugins():
    return [GADGETS, "notes", "fx_api_teams"]


def company_rows(app, company_id):
    """Every row of every company model in ``company_id``: (table name, {column: value})."""
    rows = []
    with app.app_context():
        session = get_session()
        tables = set(session.get_bind().dialect.get_table_names(session.connection()))
        with company_scope(session, company_id):
            for mapper in Base.registry.mappers:
                model = mapper.class_
                if issubclass(model, CompanyMixin) and model.__tablename__ in tables:
                    for row in session.scalars(select(model), execution_options={"include_deleted": True}):
                        values = {column.key: getattr(row, column.key) for column in model.__table__.columns}
                        rows.append((model, values))
    return rows


def markers(rows):
    found = set()
    for model, values in rows:
        for column in model.__table__.columns:
            value = values.get(column.key)
            if isinstance(column.type, String) and isinstance(value, str) and len(value) >= MIN_MARKER_LENGTH:
                found.add(value)
    return found


def urls(app, ids, record_types):
    """Every GET URL of the app, with each integer argument tried with each of ``ids``."""
    result = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        arguments = sorted(rule.arguments)
        if not arguments:
            result.append(rule.rule)
            continue
        candidates = [{}]
        for name in arguments:
            values = ids if isinstance(rule._converters[name], IntegerConverter) else record_types
            candidates = [{**c, name: v} for c in candidates for v in values]
        with app.test_request_context():
            from flask import url_for

            result += [url_for(rule.endpoint, **values) for values in candidates]
    return result


def test_no_page_of_any_plugin_shows_another_companys_records(app, client, company, login_as):
    create_gadget_table(app)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a route that fails answers 500; keep walking
    beta = make_company(app, "Beta", "beta")
    manager = app.extensions["crm.plugins"]
    for fixture in (company, beta):
        fixture.enable(*manager.names)
    login_as(company.admin)

    every_url = urls(app, ids=[1, 2, 3], record_types=["fx_gadgets_gadget", "notes_note"])
    baseline = {url: client.get(url).text for url in every_url}

    with app.app_context():
        session = get_session()
        with company_scope(session, beta.id):
            from core.models import Company, Team

            beta_company = session.get(Company, beta.id)
            manager.call_in_order("demo_data", session=session, company=beta_company, size="small")
            session.add(Team(name="Beta's confidential team"))  # a core company table too
            session.commit()

    beta_rows = company_rows(app, beta.id)
    assert {model.__tablename__ for model, _ in beta_rows} >= {"fx_gadgets_gadget", "notes_note", "core_team"}
    secrets = markers(beta_rows)
    beta_ids = sorted({values["id"] for _, values in beta_rows if isinstance(values.get("id"), int)})
    assert secrets and beta_ids

    tried = urls(app, ids=beta_ids, record_types=["fx_gadgets_gadget", "notes_note"])
    for url in tried:
        response = client.get(url)
        leaked = [s for s in secrets if s in response.text and s not in baseline.get(url, "")]
        assert not leaked, f"{url} shows company Beta's {leaked}"
    assert {f"/gadgets/{record_id}" for record_id in beta_ids} <= set(tried)
    assert any(url.startswith("/api/v1/fx_api_teams/teams/") for url in tried)
