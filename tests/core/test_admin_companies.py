"""The Companies page of the admin console (``/admin/companies``): the user's companies,
renaming the current one, creating a new one (its creator administers it, roles seeded, no
plugin enabled, as ``crm companies create`` does)."""

from __future__ import annotations

import logging
import re
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cli import cli
from core.db import get_session
from core.enablement import enabled_plugins
from core.models import Company, Membership, Role, User
from core.testing import make_company

PLUGIN = "atrium_admin_companies_p"
PLUGIN_CODE = f'''
from core import Permission, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("{PLUGIN}.item.read", "Read items")]


@hookimpl
def default_roles():
    return [RoleTemplate("{PLUGIN}.reader", "Item reader", "", ("{PLUGIN}.item.read",), {{}})]
'''


@pytest.fixture(scope="session")
def company_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("admin_companies_plugin")
    package = folder / PLUGIN
    package.mkdir()
    (package / "manifest.toml").write_text(textwrap.dedent(f'''\
        name = "{PLUGIN}"
        title = "Items"
        version = "1.0.0"
        summary = "A plugin written by the admin companies tests."
        core = ">=0.1,<1"
        '''))
    (package / "__init__.py").write_text(PLUGIN_CODE)
    sys.path.insert(0, str(folder))
    return folder


@pytest.fixture
def app_config(company_plugin):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins(company_plugin):
    return [PLUGIN]


def company_names(app) -> list[str]:
    with app.app_context():
        return get_session().scalars(select(Company.name).order_by(Company.id)).all()


def test_only_administrators_open_the_companies_page(app, client, company, login_as):
    with app.app_context():
        session = get_session()
        member = User(email="member@acme.test", name="Member")
        member.set_password("long enough")
        member.memberships.append(Membership(company_id=company.id))
        session.add(member)
        session.commit()
    login_as(member)

    assert client.get("/admin/companies").status_code == 403
    assert client.post("/admin/companies/current", data={"name": "Mine"}).status_code == 403
    assert client.post("/admin/companies/new", data={"name": "New", "slug": "new"}).status_code == 403
    assert company_names(app) == ["Acme"]


def test_lists_the_users_companies_marking_those_they_administer(app, client, company, login_as):
    beta = make_company(app, "Beta", "beta")
    make_company(app, "Gamma", "gamma")
    with app.app_context():
        get_session().add(Membership(user_id=company.admin.id, company_id=beta.id, is_admin=False))
        get_session().commit()
    login_as(company.admin)

    page = client.get("/admin/companies").text

    rows = re.findall(r"<tr>.*?</tr>", page, re.DOTALL)
    acme_row = next(r for r in rows if "Acme" in r)
    beta_row = next(r for r in rows if "Beta" in r)
    assert "Administrator" in acme_row and "Current" in acme_row
    assert "Member" in beta_row and "Switch to it" in beta_row and f'value="{beta.id}"' in beta_row
    assert "Gamma" not in page  # not one of theirs


def test_renaming_the_current_company(app, client, company, login_as, caplog):
    login_as(company.admin)

    with caplog.at_level(logging.INFO, logger="core.admin_companies"):
        response = client.post("/admin/companies/current", data={"name": "  Acme Ltd "}, follow_redirects=True)

    assert response.status_code == 200 and "Acme Ltd" in response.text
    assert company_names(app) == ["Acme Ltd"]
    assert any("Acme Ltd" in r.getMessage() and "admin@acme.test" in r.getMessage()
               for r in caplog.records if r.name == "core.admin_companies")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_bad_name_is_refused_naming_the_field(app, client, company, login_as, name):
    login_as(company.admin)

    response = client.post("/admin/companies/current", data={"name": name})

    assert response.status_code == 422
    assert "Give the company a name of 1 to 200 characters." in response.text
    assert 'id="field-name-error"' in response.text
    assert company_names(app) == ["Acme"]


def test_creating_a_company_makes_its_creator_administrator_and_seeds_roles(app, client, company, login_as):
    login_as(company.admin)

    response = client.post("/admin/companies/new", data={"name": "North Office", "slug": "north-office"},
                           follow_redirects=True)

    assert response.status_code == 200 and "North Office is created" in response.text
    with app.app_context():
        session = get_session()
        created = session.scalar(select(Company).where(Company.slug == "north-office"))
        membership = session.get(Membership, (company.admin.id, created.id))
        assert membership is not None and membership.is_admin
        assert enabled_plugins(session, app.extensions["crm.plugins"], created.id) == frozenset()
        seeded = session.scalars(select(Role.name).where(Role.company_id == created.id)
                                 .execution_options(crm_unscoped=True)).all()
        assert seeded == ["Item reader"]
        created_id = created.id
    # The switcher takes the creator there.
    switched = client.post("/company", data={"company_id": str(created_id)}, follow_redirects=True)
    assert "You are now working in North Office." in switched.text


@pytest.mark.parametrize(("slug", "message"), [
    ("North Office", "must be lower-case letters, digits and dashes"),
    ("-north", "must be lower-case letters, digits and dashes"),
    ("acme", "A company &#39;acme&#39; exists already"),
])
def test_a_bad_or_taken_slug_is_refused_with_the_values_kept(app, client, company, login_as, slug, message):
    login_as(company.admin)

    response = client.post("/admin/companies/new", data={"name": "North", "slug": slug})

    assert response.status_code == 422
    assert message in response.text and 'id="field-slug-error"' in response.text
    assert 'value="North"' in response.text
    assert company_names(app) == ["Acme"]


def test_the_cli_uses_the_same_rules(app, runner, company):
    result = runner.invoke(cli, ["companies", "create", "--name", "Beta", "--slug", "acme"])

    assert result.exit_code == 2 and "exists already" in result.output
    assert runner.invoke(cli, ["companies", "create", "--name", " ", "--slug", "beta"]).exit_code == 2
    ok = runner.invoke(cli, ["companies", "create", "--name", "Beta", "--slug", "beta"])
    assert ok.exit_code == 0 and "Created company Beta (beta)" in ok.output
