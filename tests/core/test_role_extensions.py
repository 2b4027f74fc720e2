"""Role extensions: a plugin adds its permissions and visibility to the role templates of a
plugin it depends on (``RoleExtension`` from ``default_roles``).

Uses tests/fixture_plugins/fx_roles_base (templates "Rep" and "Manager"), fx_roles_ext
(depends on it; extends both and offers a "Closer" template of its own) and
fx_roles_bad_ext (extensions wrong in every way the core checks).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core import RoleExtension, create_app
from core.access import seed_roles
from core.db import get_session
from core.errors import StartupError
from core.models import Company, Role, RolePermission, RoleVisibility

BASE, EXT = "fx_roles_base", "fx_roles_ext"
THING_READ, DEAL_READ, DEAL_WRITE = f"{BASE}.thing.read", f"{EXT}.deal.read", f"{EXT}.deal.write"
THING, DEAL = f"{BASE}.thing", f"{EXT}.deal"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [BASE, EXT]}


@pytest.fixture
def crm_plugins():
    return [BASE, EXT]


def seed(app, company_id: int) -> None:
    with app.app_context():
        session = get_session()
        seed_roles(session, session.get(Company, company_id))
        session.commit()


def access(app, company_id: int, name: str) -> tuple[set[str], dict[str, str]]:
    """The permission codes and visibility levels of ``company_id``'s role named ``name``."""
    with app.app_context():
        session = get_session()
        ident = session.scalar(select(Role.id).where(Role.company_id == company_id, Role.name == name))
        codes = set(session.scalars(select(RolePermission.code).where(RolePermission.role_id == ident)))
        levels = dict(session.execute(select(RoleVisibility.record_type, RoleVisibility.level)
                                      .where(RoleVisibility.role_id == ident)).all())
        return codes, levels


def role_id(app, company_id: int, name: str) -> int:
    with app.app_context():
        return get_session().scalar(select(Role.id).where(Role.company_id == company_id, Role.name == name))


REP_BEFORE = ({THING_READ}, {THING: "own"})
REP_EXTENDED = ({THING_READ, DEAL_READ}, {THING: "own", DEAL: "own"})


def test_role_extension_is_part_of_the_public_surface():
    import core

    assert "RoleExtension" in core.__all__
    extension = RoleExtension("x.y")
    assert (extension.permissions, extension.visibility) == ((), {})


# -- start-up ------------------------------------------------------------------------------------


def test_an_extension_is_merged_into_the_template_it_extends(app):
    roles = app.extensions["crm.declarations"].roles

    assert list(roles) == [f"{BASE}.rep", f"{BASE}.manager", f"{EXT}.closer"]
    manager = roles[f"{BASE}.manager"]
    assert (manager.name, manager.permissions, manager.visibility) == (
        "Manager", (THING_READ, DEAL_READ, DEAL_WRITE), {THING: "team", DEAL: "team"})
    assert [e.extends for e in app.extensions["crm.declarations"].role_extensions[EXT]] == [
        f"{BASE}.rep", f"{BASE}.manager"]


def startup_problems(tmp_path, plugins: list[str]) -> list[str]:
    with pytest.raises(StartupError) as caught:
        create_app({
            "CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
            "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CRM_CHECK_SCHEMA": False,
            "CRM_PLUGIN_MODULES": plugins, "CRM_PLUGINS": plugins,
        })
    return caught.value.problems


@pytest.fixture
def bad_extension_problems(tmp_path, fixture_plugins_path) -> list[str]:
    return startup_problems(tmp_path, [BASE, EXT, "fx_roles_bad_ext"])


BAD = "plugin 'fx_roles_bad_ext' extension of role template"


def test_every_bad_extension_is_reported_together_at_start_up(bad_extension_problems):
    assert len(bad_extension_problems) == 7, bad_extension_problems


@pytest.mark.parametrize("problem", [
    f"{BAD} 'fx_nowhere.rep': no loaded plugin offers that template",
    (f"{BAD} 'fx_roles_ext.closer': the template is offered by 'fx_roles_ext', which is not among the "
     "plugin's dependencies; add it to depends in manifest.toml"),
    f"{BAD} 'fx_roles_bad_ext.own': the template is the plugin's own; put the permissions in the template",
    f"{BAD} 'fx_roles_base.rep': permission 'fx_roles_bad_ext.nope' is not declared by any plugin",
    f"{BAD} 'fx_roles_base.rep': visibility of 'fx_roles_bad_ext.thing' is 'everyone'; use own, team, all",
    (f"{BAD} 'fx_roles_base.manager': the template gives 'fx_roles_base.thing' the level 'team' already, "
     "not 'all'"),
    f"{BAD} 'fx_roles_base.rep': permissions must be a tuple of permission codes, not 'fx_roles_bad_ext.read'",
])
def test_a_bad_extension_is_refused_naming_the_template_and_the_problem(bad_extension_problems, problem):
    assert problem in bad_extension_problems


def test_extending_a_template_whose_plugin_is_not_loaded_stops_start_up(tmp_path, fixture_plugins_path):
    # The extension needs its template's plugin among its dependencies, so the dependency check
    # refuses the extending plugin as a whole.
    assert startup_problems(tmp_path, [EXT]) == [
        ("plugin 'fx_roles_ext' depends on 'fx_roles_base', which is not installed (or not selected in "
         "CRM_PLUGINS)")]


# -- seeding and enabling ------------------------------------------------------------------------


def test_seeding_gives_roles_made_from_an_extended_template_the_extension(app, company):
    seed(app, company.id)

    assert access(app, company.id, "Rep") == REP_EXTENDED
    assert access(app, company.id, "Manager") == (
        {THING_READ, DEAL_READ, DEAL_WRITE}, {THING: "team", DEAL: "team"})


@pytest.fixture
def roles_before_the_extension(app, company):
    """Acme's Rep and Manager as they were made before fx_roles_ext was installed."""
    seed(app, company.id)
    with app.app_context():
        session = get_session()
        for role in session.scalars(select(Role).where(Role.company_id == company.id)):
            role.permissions = [p for p in role.permissions if not p.code.startswith(EXT)]
            role.visibilities = [v for v in role.visibilities if not v.record_type.startswith(EXT)]
        session.commit()
    assert access(app, company.id, "Rep") == REP_BEFORE
    return company


def test_enabling_the_extending_plugin_gives_existing_roles_its_extension(app, roles_before_the_extension):
    roles_before_the_extension.enable(EXT)  # enables fx_roles_base too

    assert access(app, roles_before_the_extension.id, "Rep") == REP_EXTENDED
    assert access(app, roles_before_the_extension.id, "Manager")[0] == {THING_READ, DEAL_READ, DEAL_WRITE}


def test_enabling_the_extended_plugin_alone_changes_no_role(app, roles_before_the_extension):
    roles_before_the_extension.enable(BASE)

    assert access(app, roles_before_the_extension.id, "Rep") == REP_BEFORE


def test_a_role_where_an_administrator_decided_about_the_extension_is_left_as_it_is(
        app, client, roles_before_the_extension, login_as):
    company = roles_before_the_extension
    company.enable(BASE)
    rep = role_id(app, company.id, "Rep")
    login_as(company.admin)
    # The matrix shows the extension's record type and saves a level for it: a decision.
    client.post(f"/admin/roles/{rep}/access", data={"permission": [THING_READ], f"visibility:{THING}": "own",
                                                    f"visibility:{DEAL}": "own"})

    company.enable(EXT)

    assert access(app, company.id, "Rep") == ({THING_READ}, {THING: "own", DEAL: "own"})


def test_re_enabling_the_plugin_does_not_give_back_what_an_administrator_removed(app, company):
    company.enable(EXT)
    seed(app, company.id)
    company.disable(EXT)
    assert access(app, company.id, "Rep") == REP_EXTENDED  # disabling leaves the roles alone
    with app.app_context():
        session = get_session()
        rep = session.get(Role, role_id(app, company.id, "Rep"))
        rep.permissions = [p for p in rep.permissions if p.code != DEAL_READ]
        rep.visibilities = [v for v in rep.visibilities if v.record_type != DEAL]
        session.commit()

    company.enable(EXT)

    assert access(app, company.id, "Rep") == REP_BEFORE


def test_enabling_touches_only_the_company_that_enables(app, roles_before_the_extension):
    from core.testing import make_company

    beta = make_company(app, "Beta", "beta")
    seed(app, beta.id)
    with app.app_context():
        session = get_session()
        rep = session.get(Role, role_id(app, beta.id, "Rep"))
        rep.permissions = [p for p in rep.permissions if p.code != DEAL_READ]
        rep.visibilities = [v for v in rep.visibilities if v.record_type != DEAL]
        session.commit()

    roles_before_the_extension.enable(EXT)

    assert access(app, beta.id, "Rep") == REP_BEFORE


# -- the admin console ---------------------------------------------------------------------------


def test_the_role_page_shows_the_extensions_permissions_and_visibility_on_the_role(app, client, company, login_as):
    company.enable(EXT)
    seed(app, company.id)
    login_as(company.admin)

    page = client.get(f"/admin/roles/{role_id(app, company.id, 'Rep')}").text

    assert re.search(rf'value="{re.escape(DEAL_READ)}"[^>]*checked', page)
    assert not re.search(rf'value="{re.escape(DEAL_WRITE)}"[^>]*checked', page)
    assert f'name="visibility:{DEAL}"' in page


def test_resetting_a_role_to_its_template_includes_the_extension(app, client, company, login_as):
    company.enable(EXT)
    seed(app, company.id)
    rep = role_id(app, company.id, "Rep")
    login_as(company.admin)
    client.post(f"/admin/roles/{rep}/access", data={"permission": [THING_READ], f"visibility:{THING}": "own",
                                                    f"visibility:{DEAL}": "all"})

    assert client.post(f"/admin/roles/{rep}/reset", data={"confirm": "yes"}).status_code == 302

    assert access(app, company.id, "Rep") == REP_EXTENDED
