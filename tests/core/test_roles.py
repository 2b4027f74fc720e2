"""Roles: plugins offer templates, companies get roles from them, views demand permissions.

The plugins used here are written to a temporary folder by :func:`write_plugin`:
``atrium_test_roles`` declares two permissions, two role templates and a page per
permission; the others get role templates wrong.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from core import RoleTemplate, create_app
from core.access import has_permission, seed_roles
from core.cli import cli
from core.db import get_session
from core.errors import StartupError
from core.models import Company, Membership, Role, RolePermission, RoleVisibility, User
from core.testing import TEST_PASSWORD, make_company

PLUGIN = "atrium_test_roles"
READ, WRITE = f"{PLUGIN}.thing.read", f"{PLUGIN}.thing.write"

ROLES_PLUGIN = f'''
from flask import Blueprint

from core import Permission, RoleTemplate, hookimpl
from core.access import require_permission

blueprint = Blueprint("{PLUGIN}", __name__, url_prefix="/test-roles")


@blueprint.get("/read")
@require_permission("{READ}")
def read():
    return "read ok"


@blueprint.post("/write")
@require_permission("{WRITE}")
def write():
    return "write ok"


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def permissions():
    return [Permission("{READ}", "Read things"), Permission("{WRITE}", "Write things")]


@hookimpl
def default_roles():
    return [
        RoleTemplate("{PLUGIN}.reader", "Reader", "Reads the team's things.", ("{READ}",),
                     {{"{PLUGIN}.thing": "team"}}),
        RoleTemplate("{PLUGIN}.writer", "Writer", "Reads and writes every thing.", ("{READ}", "{WRITE}"),
                     {{"{PLUGIN}.thing": "all"}}),
    ]
'''

BAD_ROLES_PLUGIN = '''
from core import Permission, RoleTemplate, hookimpl


@hookimpl
def permissions():
    return [Permission("atrium_test_bad_roles.read", "Read")]


@hookimpl
def default_roles():
    return [
        RoleTemplate("bad.ok", "Fine", "", ("atrium_test_bad_roles.read",), {"bad.thing": "own"}),
        RoleTemplate("bad.undeclared", "Undeclared", "", ("nosuch.permission",), {}),
        RoleTemplate("bad.level", "Level", "", (), {"bad.thing": "everyone"}),
        RoleTemplate("bad.ok", "Fine again", "", (), {}),
        RoleTemplate("bad.same_name", "fine", "", (), {}),
        RoleTemplate("bad.string", "String", "", "atrium_test_bad_roles.read", {}),
        {"key": "bad.dict"},
    ]
'''


def write_plugin(folder: Path, name: str, code: str) -> None:
    package = folder / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "manifest.toml").write_text(textwrap.dedent(f'''\
        name = "{name}"
        title = "{name}"
        version = "1.0.0"
        summary = "A plugin written by the core's tests."
        core = ">=0.1,<1"
        '''))
    (package / "__init__.py").write_text(code)


@pytest.fixture(scope="session")
def role_plugins_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test plugins, importable for the whole session (each xdist worker has its own)."""
    folder = tmp_path_factory.mktemp("role_plugins")
    write_plugin(folder, PLUGIN, ROLES_PLUGIN)
    write_plugin(folder, "atrium_test_bad_roles", BAD_ROLES_PLUGIN)
    sys.path.insert(0, str(folder))
    return folder


@pytest.fixture
def crm_plugins(role_plugins_folder):
    return [PLUGIN]


@pytest.fixture
def app_config(role_plugins_folder):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


def add_member(app, company_id: int, email: str, role_name: str | None = None, admin: bool = False) -> User:
    """A user of ``company_id`` holding the role named ``role_name`` (which must exist)."""
    with app.app_context():
        session = get_session()
        role_id = None
        if role_name is not None:
            role_id = session.scalar(select(Role.id).where(Role.company_id == company_id, Role.name == role_name))
            assert role_id is not None, f"no role {role_name}"
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=email.split("@")[0].title())
            user.set_password(TEST_PASSWORD)
            session.add(user)
            session.flush()
        session.add(Membership(user_id=user.id, company_id=company_id, role_id=role_id, is_admin=admin))
        session.commit()
        return user


def seed(app, company_id: int) -> list[str]:
    with app.app_context():
        session = get_session()
        created = seed_roles(session, session.get(Company, company_id))
        session.commit()
        return [role.name for role in created]


# -- the value type and start-up validation ------------------------------------------------------


def test_role_template_is_part_of_the_public_surface():
    import core

    assert "RoleTemplate" in core.__all__
    template = RoleTemplate("x.y", "Y")
    assert (template.description, template.permissions, template.visibility) == ("", (), {})


@pytest.fixture
def bad_template_problems(tmp_path, role_plugins_folder) -> list[str]:
    with pytest.raises(StartupError) as caught:
        create_app({
            "CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
            "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CRM_CHECK_SCHEMA": False,
            "CRM_PLUGIN_MODULES": ["atrium_test_bad_roles"], "CRM_PLUGINS": ["atrium_test_bad_roles"],
        })
    return caught.value.problems


def test_every_bad_role_template_is_reported_together_at_start_up(bad_template_problems):
    assert len(bad_template_problems) == 6, bad_template_problems


@pytest.mark.parametrize("problem", [
    "plugin 'atrium_test_bad_roles' role template 'bad.undeclared': permission 'nosuch.permission' "
    "is not declared by any plugin",
    "plugin 'atrium_test_bad_roles' role template 'bad.level': visibility of 'bad.thing' is "
    "'everyone'; use own, team, all",
    "role template 'bad.ok' is offered twice (by 'atrium_test_bad_roles')",
    "plugin 'atrium_test_bad_roles' role template 'bad.same_name': the name 'fine' is taken by "
    "role template 'bad.ok'",
    "plugin 'atrium_test_bad_roles' role template 'bad.string': permissions must be a tuple of "
    "permission codes, not 'atrium_test_bad_roles.read'",
    "plugin 'atrium_test_bad_roles' offered {'key': 'bad.dict'}, not a RoleTemplate or RoleExtension",
])
def test_a_bad_role_template_is_refused_naming_the_template_and_the_problem(bad_template_problems, problem):
    assert problem in bad_template_problems


def test_valid_templates_are_collected_in_dependency_order(app):
    assert list(app.extensions["crm.declarations"].roles) == [f"{PLUGIN}.reader", f"{PLUGIN}.writer"]


# -- seeding -------------------------------------------------------------------------------------


def test_seed_roles_creates_each_template_with_its_permissions_and_visibility(app, company, db_session):
    assert seed(app, company.id) == ["Reader", "Writer"]

    writer = db_session.scalar(select(Role).where(Role.name == "Writer"))
    assert (writer.company_id, writer.template, writer.description) == (
        company.id, f"{PLUGIN}.writer", "Reads and writes every thing.")
    assert sorted(db_session.scalars(select(RolePermission.code).where(RolePermission.role_id == writer.id))) == [
        READ, WRITE]
    assert db_session.execute(
        select(RoleVisibility.record_type, RoleVisibility.level).where(RoleVisibility.role_id == writer.id)
    ).all() == [(f"{PLUGIN}.thing", "all")]


def test_seed_roles_again_creates_nothing_and_keeps_what_an_administrator_changed(app, company, db_session):
    seed(app, company.id)
    reader = db_session.scalar(select(Role).where(Role.name == "Reader"))
    reader.name = "Team reader"
    db_session.commit()

    assert seed(app, company.id) == []
    assert sorted(db_session.scalars(select(Role.name))) == ["Team reader", "Writer"]


def test_seed_roles_skips_a_template_whose_name_a_company_role_already_has(app, company, db_session):
    db_session.add(Role(company_id=company.id, name="reader", description="made by hand"))
    db_session.commit()

    assert seed(app, company.id) == ["Writer"]


def test_companies_create_gives_the_new_company_the_default_roles(app, runner, db_session):
    result = runner.invoke(cli, ["companies", "create", "--name", "Beta", "--slug", "beta"])
    assert result.exit_code == 0, result.output
    beta = db_session.scalar(select(Company).where(Company.slug == "beta"))
    assert sorted(db_session.scalars(select(Role.name).where(Role.company_id == beta.id))) == ["Reader", "Writer"]


def test_demo_gives_the_demo_company_the_default_roles(app, runner, db_session):
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert sorted(db_session.scalars(select(Role.template))) == [f"{PLUGIN}.reader", f"{PLUGIN}.writer"]


# -- crm roles -----------------------------------------------------------------------------------


def test_roles_seed_adds_the_roles_a_company_lacks(app, runner, company, db_session):
    first = runner.invoke(cli, ["roles", "seed", "--company", "acme"])
    assert first.exit_code == 0, first.output
    assert "Created for Acme: Reader, Writer." in first.output
    again = runner.invoke(cli, ["roles", "seed", "--company", "acme"])
    assert "has every default role already" in again.output
    assert db_session.scalar(select(Role.id).where(Role.name == "Reader")) is not None


def test_roles_list_shows_each_role_with_its_people_permissions_and_visibility(app, runner, company):
    seed(app, company.id)
    add_member(app, company.id, "rita@acme.test", "Reader")

    result = runner.invoke(cli, ["roles", "list", "--company", "acme"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ROLE", "TEMPLATE", "PEOPLE", "PERMISSIONS", "VISIBILITY"]
    reader = next(line for line in lines if line.startswith("Reader"))
    assert reader.split()[:4] == ["Reader", f"{PLUGIN}.reader", "1", READ]
    assert f"{PLUGIN}.thing=team" in reader


def test_roles_list_of_a_company_without_roles_says_how_to_make_them(app, runner, company):
    result = runner.invoke(cli, ["roles", "list"])
    assert result.exit_code == 0
    assert "Acme has no roles" in result.output and "crm roles seed --company acme" in result.output


def test_roles_assign_gives_a_member_the_role_and_its_permissions(app, runner, company, db_session):
    seed(app, company.id)
    rita = add_member(app, company.id, "rita@acme.test")
    with app.app_context():
        assert not has_permission(rita, READ, company.id)

    result = runner.invoke(cli, ["roles", "assign", "--email", "RITA@acme.test", "--role", "writer",
                                 "--company", "acme"])

    assert result.exit_code == 0, result.output
    assert "rita@acme.test is now Writer in Acme." in result.output
    with app.app_context():
        assert has_permission(rita, WRITE, company.id)


def test_roles_assign_accepts_the_template_key_and_none_removes_the_role(app, runner, company, db_session):
    seed(app, company.id)
    add_member(app, company.id, "rita@acme.test")
    assert runner.invoke(cli, ["roles", "assign", "--email", "rita@acme.test", "--role",
                               f"{PLUGIN}.reader"]).exit_code == 0
    assert runner.invoke(cli, ["roles", "assign", "--email", "rita@acme.test", "--role", "none"]).exit_code == 0
    rita = db_session.scalar(select(User).where(User.email == "rita@acme.test"))
    assert db_session.get(Membership, (rita.id, company.id)).role_id is None


@pytest.mark.parametrize(("args", "message"), [
    (["--email", "nobody@acme.test", "--role", "Reader"], "no user with email nobody@acme.test"),
    (["--email", "rita@acme.test", "--role", "Boss"], "Acme has no role 'Boss' (roles: Reader, Writer)"),
    (["--email", "admin@beta.test", "--role", "Reader"], "admin@beta.test is not a member of Acme"),
])
def test_roles_assign_refuses_bad_input_naming_the_problem(app, runner, company, args, message):
    seed(app, company.id)
    add_member(app, company.id, "rita@acme.test")
    make_company(app, "Beta", "beta")

    result = runner.invoke(cli, ["roles", "assign", *args, "--company", "acme"])

    assert result.exit_code == 2, result.output
    assert message in result.output


# -- permissions ---------------------------------------------------------------------------------


def test_a_view_requiring_a_permission_serves_its_holders(app, client, company, login_as):
    company.enable(PLUGIN)
    seed(app, company.id)
    login_as(add_member(app, company.id, "rita@acme.test", "Reader"))

    response = client.get("/test-roles/read")

    assert response.status_code == 200 and response.data == b"read ok"


def test_a_view_requiring_a_permission_refuses_others_with_403_naming_the_permission(app, client, company, login_as):
    company.enable(PLUGIN)
    seed(app, company.id)
    login_as(add_member(app, company.id, "rita@acme.test", "Reader"))

    response = client.post("/test-roles/write")

    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Write things" in page and WRITE in page
    assert "Ask an administrator" in page


def test_a_member_without_a_role_holds_no_permission(app, client, company, login_as):
    company.enable(PLUGIN)
    login_as(add_member(app, company.id, "rita@acme.test"))
    assert client.get("/test-roles/read").status_code == 403


def test_an_administrator_holds_every_declared_permission(app, client, company, login_as):
    company.enable(PLUGIN)
    login_as(company.admin)
    assert client.get("/test-roles/read").status_code == 200
    assert client.post("/test-roles/write").status_code == 200
    with app.app_context():
        assert has_permission(company.admin, "core.users.invite", company.id)
        assert not has_permission(company.admin, "nosuch.permission", company.id)


def test_a_role_grants_its_permissions_in_its_own_company_only(app, company):
    seed(app, company.id)
    beta = make_company(app, "Beta", "beta")
    rita = add_member(app, company.id, "rita@acme.test", "Writer")
    add_member(app, beta.id, "rita@acme.test")
    with app.app_context():
        assert has_permission(rita, WRITE, company.id)
        assert not has_permission(rita, WRITE, beta.id)


def test_an_anonymous_visitor_to_a_permission_page_is_sent_to_sign_in(app, client, company):
    company.enable(PLUGIN)
    response = client.get("/test-roles/read")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
