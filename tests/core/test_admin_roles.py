"""The Roles page of the admin console (``/admin/roles``): the list with member counts, the
permission matrix with visibility levels, creating (optionally as a copy), renaming,
resetting to the template, deleting (refused while people hold the role).

Two plugins written to a temporary folder: ``atrium_admin_roles_a`` declares two permissions
and a role template with a visibility; ``atrium_admin_roles_b`` one permission, and stays
disabled for the company.
"""

from __future__ import annotations

import logging
import re
import sys
import textwrap
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import select

from core.access import permissions_of, seed_roles, visibility_level
from core.db import get_session
from core.models import Company, Membership, Role, RolePermission, RoleVisibility, User
from core.testing import make_company

A, B = "atrium_admin_roles_a", "atrium_admin_roles_b"
READ, WRITE, OTHER = f"{A}.thing.read", f"{A}.thing.write", f"{B}.gizmo.read"
THING = f"{A}.thing"

PLUGIN_A = f'''
from core import Permission, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("{READ}", "Read things"), Permission("{WRITE}", "Write things")]


@hookimpl
def default_roles():
    return [RoleTemplate("{A}.reader", "Reader", "Reads things.", ("{READ}",), {{"{THING}": "team"}})]
'''

PLUGIN_B = f'''
from core import Permission, hookimpl


@hookimpl
def permissions():
    return [Permission("{OTHER}", "Read gizmos")]
'''


def write_plugin(folder: Path, name: str, code: str) -> None:
    package = folder / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "manifest.toml").write_text(textwrap.dedent(f'''\
        name = "{name}"
        title = "Plugin {name[-1].upper()}"
        version = "1.0.0"
        summary = "A plugin written by the admin roles tests."
        core = ">=0.1,<1"
        '''))
    (package / "__init__.py").write_text(code)


@pytest.fixture(scope="session")
def admin_role_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("admin_role_plugins")
    write_plugin(folder, A, PLUGIN_A)
    write_plugin(folder, B, PLUGIN_B)
    sys.path.insert(0, str(folder))
    return folder


@pytest.fixture
def crm_plugins(admin_role_plugins):
    return [A, B]


@pytest.fixture
def app_config(admin_role_plugins):
    return {"CRM_PLUGIN_MODULES": [A, B]}


@pytest.fixture
def acme(app, company):
    """Acme with plugin A enabled (B installed, not enabled) and the seeded Reader role."""
    company.enable(A)
    with app.app_context():
        session = get_session()
        seed_roles(session, session.get(Company, company.id))
        session.commit()
    return company


def role_id(app, company_id: int, name: str) -> int:
    with app.app_context():
        return get_session().scalar(select(Role.id).where(Role.company_id == company_id, Role.name == name))


def add_person(app, company_id: int, email: str, role: int | None = None) -> User:
    with app.app_context():
        session = get_session()
        user = User(email=email, name=email.split("@")[0].title())
        user.set_password("long enough")
        user.memberships.append(Membership(company_id=company_id, role_id=role))
        session.add(user)
        session.commit()
        return user


def role_access(app, ident: int) -> tuple[set[str], dict[str, str]]:
    with app.app_context():
        session = get_session()
        codes = set(session.scalars(select(RolePermission.code).where(RolePermission.role_id == ident)))
        levels = dict(session.execute(select(RoleVisibility.record_type, RoleVisibility.level)
                                      .where(RoleVisibility.role_id == ident)).all())
        return codes, levels


# -- access --------------------------------------------------------------------------------------


def test_only_administrators_manage_roles(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    member = add_person(app, acme.id, "member@acme.test", reader)
    login_as(member)

    assert client.get("/admin/roles").status_code == 403
    assert client.post(f"/admin/roles/{reader}/access", data={"permission": [READ, WRITE]}).status_code == 403
    assert role_access(app, reader)[0] == {READ}


def test_another_companys_role_is_not_found(app, client, acme, login_as):
    beta = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        seed_roles(session, session.get(Company, beta.id))
        session.commit()
    theirs = role_id(app, beta.id, "Reader")
    login_as(acme.admin)

    assert client.get(f"/admin/roles/{theirs}").status_code == 404
    assert client.post(f"/admin/roles/{theirs}/delete", data={"confirm": "yes"}).status_code == 404


# -- list and matrix -----------------------------------------------------------------------------


def test_the_list_counts_the_people_holding_each_role(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    add_person(app, acme.id, "ann@acme.test", reader)
    add_person(app, acme.id, "bob@acme.test", reader)
    login_as(acme.admin)

    page = client.get("/admin/roles").text

    row = re.search(r"<tr>.*?Reader.*?</tr>", page, re.DOTALL).group(0)
    assert "<td>2</td>" in row


def test_the_matrix_groups_permissions_by_plugin_and_greys_disabled_ones(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)

    page = client.get(f"/admin/roles/{reader}").text

    assert "Read things" in page and f"<code class=\"small text-body-secondary\">{READ}</code>" in page
    assert re.search(rf'value="{re.escape(READ)}"[^>]*checked', page)
    assert not re.search(rf'value="{re.escape(WRITE)}"[^>]*checked', page)
    assert "Plugin A" in page and "Plugin B" in page
    assert "Plugin B is not enabled for Acme" in page
    assert "Plugin A is not enabled" not in page
    assert re.search(rf'name="visibility:{re.escape(THING)}"', page)
    assert re.search(r'<option value="team" selected', page)
    assert "Invite people to the company" in page  # the core's own permission


def test_saving_the_matrix_changes_what_holders_may_do(app, client, acme, login_as, caplog):
    reader = role_id(app, acme.id, "Reader")
    ann = add_person(app, acme.id, "ann@acme.test", reader)
    login_as(acme.admin)

    with caplog.at_level(logging.INFO, logger="core.admin_roles"):
        response = client.post(f"/admin/roles/{reader}/access",
                               data={"permission": [READ, WRITE, OTHER], f"visibility:{THING}": "all"})

    assert response.status_code == 302
    assert role_access(app, reader) == ({READ, WRITE, OTHER}, {THING: "all"})
    with app.test_request_context():
        user = get_session().get(User, ann.id)
        assert permissions_of(user, acme.id) == {READ, WRITE, OTHER}
        g.pop("_crm_visibility", None)
        assert visibility_level(user, THING, acme.id) == "all"
    logged = [r.getMessage() for r in caplog.records if r.name == "core.admin_roles"]
    assert logged and WRITE in logged[0] and "admin@acme.test" in logged[0]


def test_codes_of_plugins_no_longer_installed_are_kept(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    with app.app_context():
        get_session().add(RolePermission(role_id=reader, code="gone.thing.read"))
        get_session().commit()
    login_as(acme.admin)

    assert "gone.thing.read" not in client.get(f"/admin/roles/{reader}").text
    client.post(f"/admin/roles/{reader}/access", data={"permission": [WRITE]})

    assert role_access(app, reader)[0] == {WRITE, "gone.thing.read"}


def test_unknown_permissions_and_levels_are_refused_naming_them(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)

    unknown = client.post(f"/admin/roles/{reader}/access", data={"permission": [WRITE, "nosuch.code"]})
    level = client.post(f"/admin/roles/{reader}/access", data={"permission": [WRITE], f"visibility:{THING}": "world"})

    assert unknown.status_code == 422 and "nosuch.code" in unknown.text
    assert re.search(rf'value="{re.escape(WRITE)}"[^>]*checked', unknown.text)  # the ticks are kept
    assert level.status_code == 422 and f"as the visibility of {THING}" in level.text
    assert role_access(app, reader) == ({READ}, {THING: "team"})


# -- create, rename, reset, delete ---------------------------------------------------------------


def test_creating_a_role_as_a_copy(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)

    response = client.post("/admin/roles/new", data={"name": "Auditor", "description": "Looks", "copy": str(reader)})

    assert response.status_code == 302
    auditor = role_id(app, acme.id, "Auditor")
    assert role_access(app, auditor) == ({READ}, {THING: "team"})
    with app.app_context():
        assert get_session().get(Role, auditor).template is None


def test_a_new_role_with_a_taken_name_is_refused_with_the_values_kept(app, client, acme, login_as):
    login_as(acme.admin)

    response = client.post("/admin/roles/new", data={"name": "reader", "description": "Mine", "copy": ""})

    assert response.status_code == 422
    assert "Acme has a role &#39;reader&#39; already." in response.text
    assert 'value="reader"' in response.text and ">Mine</textarea>" in response.text
    too_long = client.post("/admin/roles/new", data={"name": "x" * 121})
    assert too_long.status_code == 422 and "1 to 120 characters" in too_long.text


def test_copying_another_companys_role_is_refused_naming_the_field(app, client, acme, login_as):
    beta = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        seed_roles(session, session.get(Company, beta.id))
        session.commit()
    theirs = role_id(app, beta.id, "Reader")
    login_as(acme.admin)

    response = client.post("/admin/roles/new", data={"name": "Spy", "description": "Copies", "copy": str(theirs)})

    assert response.status_code == 422
    assert "Choose one of the roles of Acme to copy." in response.text and 'id="field-copy-error"' in response.text
    assert 'value="Spy"' in response.text and ">Copies</textarea>" in response.text
    assert role_id(app, acme.id, "Spy") is None


def test_renaming_and_describing(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)

    assert client.post(f"/admin/roles/{reader}", data={"name": "Viewer", "description": "Sees"}).status_code == 302
    empty = client.post(f"/admin/roles/{reader}", data={"name": "", "description": "Sees"})

    assert empty.status_code == 422 and 'id="field-name-error"' in empty.text
    with app.app_context():
        role = get_session().get(Role, reader)
        assert (role.name, role.description) == ("Viewer", "Sees")


def test_resetting_to_the_template(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)
    client.post(f"/admin/roles/{reader}/access", data={"permission": [WRITE], f"visibility:{THING}": "own"})

    refused = client.post(f"/admin/roles/{reader}/reset", data={})
    assert refused.status_code == 422 and role_access(app, reader)[0] == {WRITE}
    assert client.post(f"/admin/roles/{reader}/reset", data={"confirm": "yes"}).status_code == 302

    assert role_access(app, reader) == ({READ}, {THING: "team"})


def test_a_role_not_made_from_a_template_cannot_be_reset(app, client, acme, login_as):
    login_as(acme.admin)
    client.post("/admin/roles/new", data={"name": "Mine"})
    mine = role_id(app, acme.id, "Mine")

    assert "Reset to the template" not in client.get(f"/admin/roles/{mine}").text
    assert client.post(f"/admin/roles/{mine}/reset", data={"confirm": "yes"}).status_code == 409


def test_a_role_people_hold_cannot_be_deleted(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    add_person(app, acme.id, "ann@acme.test", reader)
    login_as(acme.admin)

    page = client.get(f"/admin/roles/{reader}").text
    assert "give them another role first" in page

    response = client.post(f"/admin/roles/{reader}/delete", data={"confirm": "yes"})

    assert response.status_code == 409 and "cannot be deleted while 1 person holds it" in response.text
    assert role_id(app, acme.id, "Reader") == reader


def test_deleting_an_unused_role_needs_confirmation(app, client, acme, login_as):
    reader = role_id(app, acme.id, "Reader")
    login_as(acme.admin)

    assert client.post(f"/admin/roles/{reader}/delete", data={}).status_code == 422
    assert client.post(f"/admin/roles/{reader}/delete", data={"confirm": "yes"}).status_code == 302

    assert role_id(app, acme.id, "Reader") is None
