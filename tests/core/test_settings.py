"""Per-company settings: declarations with limits, get/set with validation, the admin page
and ``crm settings``.

The plugins are written to a temporary folder by ``settings_plugins`` below: ``fxs_alpha``
declares one setting of each kind, ``fxs_beta`` one more (to be left disabled).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import select

from core import create_app
from core.cli import cli
from core.errors import StartupError
from core.models import Company, Membership, SettingValue, User
from core.settings import (
    InvalidSettingValue,
    NoCompanyError,
    UnknownSettingError,
    get_setting,
    get_settings,
    reset_setting,
    set_setting,
)
from core.testing import make_company

MANIFEST = """\
name = "{name}"
title = "{title}"
version = "1.0.0"
summary = "Test plugin with settings."
core = ">=0.1,<1"
depends = []
"""

ALPHA = '''
from core import Setting, hookimpl


@hookimpl
def settings():
    return [
        Setting("fxs_alpha.page_size", "int", 20, "Rows per page", help="How many rows a list shows.",
                min=1, max=500),
        Setting("fxs_alpha.ratio", "float", 0.5, "Ratio", min=0.0, max=1.0),
        Setting("fxs_alpha.greeting", "str", "Hello", "Greeting"),
        Setting("fxs_alpha.public", "bool", False, "Public pages"),
        Setting("fxs_alpha.mode", "str", "basic", "Mode", choices=("basic", "expert")),
    ]
'''

BETA = '''
from core import Setting, hookimpl


@hookimpl
def settings():
    return [Setting("fxs_beta.colour", "str", "blue", "Colour")]
'''

BAD = '''
from core import Setting, hookimpl


@hookimpl
def settings():
    return [
        Setting("fxs_bad.ok", "int", 5, "Fine", min=1, max=10),
        Setting("fxs_bad.outside", "int", 50, "Default above max", max=10),
        Setting("fxs_bad.upside_down", "int", 5, "Min above max", min=10, max=1),
        Setting("fxs_bad.not_a_choice", "str", "c", "Default not a choice", choices=("a", "b")),
        Setting("fxs_bad.wrong_choice", "int", 1, "Choice of another type", choices=(1, "2")),
        Setting("fxs_bad.bool_choices", "bool", True, "Choices for a bool", choices=(True, False)),
        Setting("fxs_bad.text_min", "str", "x", "Min for text", min=1),
        Setting("fxs_bad." + "k" * 120, "int", 1, "Key too long for the table"),
    ]
'''

PLUGINS = {"fxs_alpha": ("Alpha", ALPHA), "fxs_beta": ("Beta", BETA), "fxs_bad": ("Bad", BAD)}


def write_plugin(root: Path, name: str, title: str, source: str) -> None:
    package = root / name
    package.mkdir()
    (package / "manifest.toml").write_text(MANIFEST.format(name=name, title=title))
    (package / "__init__.py").write_text(textwrap.dedent(source))


@pytest.fixture(scope="session")
def settings_plugins_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("settings_plugins")
    for name, (title, source) in PLUGINS.items():
        write_plugin(root, name, title, source)
    return root


@pytest.fixture
def settings_plugins(settings_plugins_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(settings_plugins_root))
    yield settings_plugins_root
    for module in [m for m in sys.modules if m.split(".")[0] in PLUGINS]:
        del sys.modules[module]


@pytest.fixture
def crm_plugins():
    return ["fxs_alpha", "fxs_beta"]


@pytest.fixture
def app_config(settings_plugins):
    return {"CRM_PLUGIN_MODULES": ["fxs_alpha", "fxs_beta"]}


@pytest.fixture
def admin_client(client, company, login_as):
    company.enable("fxs_alpha")
    login_as(company.admin)
    return client


def stored(db_session, company_id: int) -> dict:
    db_session.expire_all()
    rows = db_session.execute(
        select(SettingValue.key, SettingValue.value).where(SettingValue.company_id == company_id))
    return {key: value for key, value in rows}


def add_member(app, company, email: str = "member@acme.test") -> User:
    from core.db import get_session

    with app.app_context():
        session = get_session()
        user = User(email=email, name="Member")
        user.set_password("long enough")
        user.memberships.append(Membership(company_id=company.id, is_admin=False))
        session.add(user)
        session.commit()
        return user


# -- declarations --------------------------------------------------------------------------------


def test_declarations_refuse_bad_limits_naming_each_setting(tmp_path, settings_plugins):
    with pytest.raises(StartupError) as caught:
        create_app({
            "CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
            "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CRM_CHECK_SCHEMA": False,
            "CRM_PLUGIN_MODULES": ["fxs_bad"], "CRM_PLUGINS": ["fxs_bad"],
        })
    problems = "\n".join(caught.value.problems)
    assert "fxs_bad.ok" not in problems
    assert "'fxs_bad.outside': default 50 is above max 10" in problems
    assert "'fxs_bad.upside_down': min 10 is greater than max 1" in problems
    assert "'fxs_bad.not_a_choice': default 'c' is not one of the choices" in problems
    assert "'fxs_bad.wrong_choice': choice '2' is not a int" in problems
    assert "'fxs_bad.bool_choices': a bool setting cannot have choices" in problems
    assert "'fxs_bad.text_min': min is only for int and float settings" in problems
    assert "is longer than 120 characters" in problems
    assert len(caught.value.problems) == 7


# -- get and set ---------------------------------------------------------------------------------


def test_get_setting_gives_the_declared_default_until_a_value_is_stored(app, company, db_session):
    assert get_setting("fxs_alpha.page_size", company.id) == 20
    assert set_setting("fxs_alpha.page_size", 50, company.id, user=company.admin) == 50
    assert get_setting("fxs_alpha.page_size", company.id) == 50
    row = db_session.get(SettingValue, (company.id, "fxs_alpha.page_size"))
    assert row.value == 50 and row.updated_by_id == company.admin.id


def test_values_are_stored_as_json_per_company(app, company, db_session):
    other = make_company(app, "Beta Ltd", "beta")
    set_setting("fxs_alpha.public", True, company.id)
    set_setting("fxs_alpha.ratio", 1, company.id)  # an int is a float here
    set_setting("fxs_alpha.greeting", "Bonjour ☺", company.id)
    db_session.commit()

    assert stored(db_session, company.id) == {
        "fxs_alpha.public": True, "fxs_alpha.ratio": 1.0, "fxs_alpha.greeting": "Bonjour ☺"}
    assert get_settings(["fxs_alpha.public", "fxs_alpha.ratio"], company.id) == {
        "fxs_alpha.public": True, "fxs_alpha.ratio": 1.0}
    assert get_setting("fxs_alpha.public", other.id) is False
    assert stored(db_session, other.id) == {}


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("fxs_alpha.page_size", "20", "must be a whole number"),
        ("fxs_alpha.page_size", True, "must be a whole number"),
        ("fxs_alpha.page_size", 2.5, "must be a whole number"),
        ("fxs_alpha.page_size", 0, "must be at least 1"),
        ("fxs_alpha.page_size", 501, "must be at most 500"),
        ("fxs_alpha.ratio", "0.3", "must be a number"),
        ("fxs_alpha.ratio", float("nan"), "must be a finite number"),
        ("fxs_alpha.ratio", 1.5, "must be at most 1.0"),
        ("fxs_alpha.public", 1, "must be true or false"),
        ("fxs_alpha.greeting", 5, "must be text"),
        ("fxs_alpha.mode", "advanced", "must be one of: basic, expert"),
    ],
)
def test_set_setting_refuses_a_bad_value_naming_the_setting(app, company, db_session, key, value, reason):
    with pytest.raises(InvalidSettingValue) as caught:
        set_setting(key, value, company.id)
    assert str(caught.value) == f"setting '{key}': {reason}"
    assert caught.value.reason == reason
    assert stored(db_session, company.id) == {}


def test_an_unknown_key_is_a_clear_error(app, company, db_session):
    with pytest.raises(UnknownSettingError, match=r"no plugin declares a setting 'fxs_alpha.page_sise' "
                                                  r"\(did you mean 'fxs_alpha.page_size'\?\)"):
        get_setting("fxs_alpha.page_sise", company.id)
    with pytest.raises(UnknownSettingError):
        set_setting("nobody.knows", 1, company.id)
    assert stored(db_session, company.id) == {}


def test_get_setting_reads_the_company_in_context_by_default(app, company, db_session):
    set_setting("fxs_alpha.mode", "expert", company.id)
    with app.test_request_context():
        g.crm_company = db_session.get(Company, company.id)
        assert get_setting("fxs_alpha.mode") == "expert"
        g.crm_company = None
        with pytest.raises(NoCompanyError):
            get_setting("fxs_alpha.mode")


def test_a_stored_value_its_declaration_now_refuses_reads_as_the_default(app, company, db_session):
    db_session.add(SettingValue(company_id=company.id, key="fxs_alpha.page_size", value="fifty"))
    db_session.commit()
    assert get_setting("fxs_alpha.page_size", company.id) == 20
    set_setting("fxs_alpha.page_size", 30, company.id)
    assert get_setting("fxs_alpha.page_size", company.id) == 30


def test_a_bool_replaces_an_int_that_equals_it(app, company, db_session):
    """JSON 1 == true for SQLAlchemy's change detection; the new type must still be written."""
    db_session.add(SettingValue(company_id=company.id, key="fxs_alpha.public", value=1))
    db_session.commit()
    set_setting("fxs_alpha.public", True, company.id)
    db_session.commit()
    assert stored(db_session, company.id)["fxs_alpha.public"] is True


def test_reset_setting_brings_back_the_default(app, company, db_session):
    set_setting("fxs_alpha.greeting", "Hi", company.id)
    assert reset_setting("fxs_alpha.greeting", company.id) is True
    assert reset_setting("fxs_alpha.greeting", company.id) is False
    assert get_setting("fxs_alpha.greeting", company.id) == "Hello"


# -- the settings page ---------------------------------------------------------------------------


def test_settings_page_shows_enabled_plugins_settings_with_typed_inputs(admin_client, company):
    response = admin_client.get("/settings")
    assert response.status_code == 200
    page = response.text
    assert "Alpha" in page and "fxs_beta" not in page  # beta is not enabled for Acme
    assert '<input type="number" id="setting-fxs_alpha-page_size" name="fxs_alpha.page_size" value="20"' in page
    assert 'step="1"' in page and 'min="1"' in page and 'max="500"' in page and 'step="any"' in page
    assert 'type="checkbox" id="setting-fxs_alpha-public" name="fxs_alpha.public"' in page
    assert '<select id="setting-fxs_alpha-mode" name="fxs_alpha.mode"' in page
    assert '<option value="basic" selected>basic</option>' in page
    assert 'type="text" id="setting-fxs_alpha-greeting" name="fxs_alpha.greeting" value="Hello"' in page
    assert "How many rows a list shows." in page
    assert "Default: 20." in page and "Default: off." in page


def test_settings_page_answers_403_to_members_who_are_not_administrators(app, client, company, login_as):
    company.enable("fxs_alpha")
    login_as(add_member(app, company))
    assert client.get("/settings").status_code == 403
    assert client.post("/settings/fxs_alpha", data={"fxs_alpha.page_size": "5"}).status_code == 403
    assert 'href="/settings"' not in client.get("/").text


def test_settings_link_is_in_the_user_menu_of_administrators(admin_client):
    assert 'href="/settings"' in admin_client.get("/").text


def test_settings_of_a_plugin_disabled_for_the_company_answer_404(admin_client, company, db_session):
    assert admin_client.get("/settings/fxs_alpha").status_code == 200
    assert admin_client.get("/settings/fxs_beta").status_code == 404
    assert admin_client.post("/settings/fxs_beta", data={"fxs_beta.colour": "red"}).status_code == 404
    assert admin_client.post("/settings/fxs_beta/reset", data={"key": "fxs_beta.colour"}).status_code == 404
    company.disable("fxs_alpha")
    assert admin_client.get("/settings/fxs_alpha").status_code == 404
    assert stored(db_session, company.id) == {}


def test_saving_the_form_stores_the_changed_values(admin_client, company, db_session):
    response = admin_client.post("/settings/fxs_alpha", data={
        "fxs_alpha.page_size": "50", "fxs_alpha.ratio": "0.25", "fxs_alpha.greeting": "Hello",
        "fxs_alpha.public": "true", "fxs_alpha.mode": "expert",
    })
    assert response.status_code == 302
    # The greeting equals its default and was never set: it is not stored.
    assert stored(db_session, company.id) == {
        "fxs_alpha.page_size": 50, "fxs_alpha.ratio": 0.25, "fxs_alpha.public": True, "fxs_alpha.mode": "expert"}
    assert "Settings of Alpha saved." in admin_client.get(response.headers["Location"]).text

    # An unticked checkbox is false.
    admin_client.post("/settings/fxs_alpha", data={"fxs_alpha.page_size": "50"})
    assert stored(db_session, company.id)["fxs_alpha.public"] is False


def test_saving_with_an_invalid_field_shows_errors_keeps_the_input_and_saves_nothing(admin_client, company, db_session):
    response = admin_client.post("/settings/fxs_alpha", data={
        "fxs_alpha.page_size": "lots", "fxs_alpha.ratio": "3", "fxs_alpha.greeting": "Howdy",
        "fxs_alpha.public": "true", "fxs_alpha.mode": "expert",
    })
    assert response.status_code == 422
    page = response.text
    assert "Nothing was saved." in page
    assert '<p class="form-error" id="setting-fxs_alpha-page_size-error">must be a whole number</p>' in page
    assert '<p class="form-error" id="setting-fxs_alpha-ratio-error">must be at most 1.0</p>' in page
    assert 'name="fxs_alpha.page_size" value="lots"' in page
    assert 'name="fxs_alpha.greeting" value="Howdy"' in page
    assert '<option value="expert" selected>expert</option>' in page
    assert page.count('aria-invalid="true"') == 2
    assert stored(db_session, company.id) == {}


def test_reset_to_default_forgets_the_stored_value(admin_client, company, db_session):
    set_setting("fxs_alpha.page_size", 99, company.id)
    db_session.commit()
    page = admin_client.get("/settings").text
    assert 'form="settings-fxs_alpha-reset" name="key" value="fxs_alpha.page_size"' in page

    response = admin_client.post("/settings/fxs_alpha/reset", data={"key": "fxs_alpha.page_size"})
    assert response.status_code == 302
    assert stored(db_session, company.id) == {}
    assert "Rows per page is back to its default, 20." in admin_client.get("/settings").text
    assert admin_client.post("/settings/fxs_alpha/reset", data={"key": "fxs_beta.colour"}).status_code == 400


def test_settings_page_ignores_values_no_plugin_declares(admin_client, company, db_session):
    db_session.add(SettingValue(company_id=company.id, key="fxs_gone.size", value=3))
    db_session.commit()
    response = admin_client.get("/settings")
    assert response.status_code == 200
    assert "fxs_gone" not in response.text


# -- crm settings --------------------------------------------------------------------------------


def invoke(runner, *args):
    return runner.invoke(cli, list(args))


def test_crm_settings_set_and_list(app, runner, company):
    company.enable("fxs_alpha")
    result = invoke(runner, "settings", "set", "fxs_alpha.public", "yes", "--company", "acme")
    assert result.exit_code == 0, result.output
    assert "Set fxs_alpha.public to true for Acme." in result.output

    listed = invoke(runner, "settings", "list", "--company", "acme")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "DEFAULT", "SOURCE", "TYPE"]
    assert ["fxs_alpha.public", "true", "false", "company", "bool"] in [line.split() for line in lines]
    assert ["fxs_alpha.page_size", "20", "20", "default", "int", "1..500"] in [line.split() for line in lines]
    assert "fxs_beta.colour" not in listed.output  # not enabled for Acme
    assert "fxs_beta.colour" in invoke(runner, "settings", "list", "--all").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fxs_alpha.page_size", "many"], "setting 'fxs_alpha.page_size': must be a whole number"),
        (["fxs_alpha.mode", "pro"], "setting 'fxs_alpha.mode': must be one of: basic, expert"),
        (["fxs_alpha.nope", "1"], "no plugin declares a setting 'fxs_alpha.nope'"),
    ],
)
def test_crm_settings_set_refuses_bad_input_naming_the_setting(app, runner, company, db_session, args, message):
    result = invoke(runner, "settings", "set", *args, "--company", "acme")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert stored(db_session, company.id) == {}


def test_crm_settings_set_says_when_the_plugin_is_not_enabled(app, runner, company, db_session):
    result = invoke(runner, "settings", "set", "fxs_beta.colour", "red", "--company", "acme")
    assert result.exit_code == 0, result.output
    assert "fxs_beta is not enabled for Acme" in result.output
    assert stored(db_session, company.id) == {"fxs_beta.colour": "red"}


def test_crm_settings_check_reports_undeclared_and_refused_values(app, runner, company, db_session):
    assert invoke(runner, "settings", "check").exit_code == 0
    db_session.add_all([
        SettingValue(company_id=company.id, key="fxs_gone.size", value=3),
        SettingValue(company_id=company.id, key="fxs_alpha.mode", value="legacy"),
        SettingValue(company_id=company.id, key="fxs_alpha.page_size", value=10),
    ])
    db_session.commit()

    result = invoke(runner, "settings", "check")
    assert result.exit_code == 1
    assert "acme: fxs_gone.size = 3: no loaded plugin declares this setting; it is ignored" in result.output
    assert "acme: fxs_alpha.mode = 'legacy': must be one of: basic, expert; the default 'basic' is used" in result.output
    assert "page_size" not in result.output

    removed = invoke(runner, "settings", "reset", "fxs_gone.size", "--company", "acme")
    assert removed.exit_code == 0, removed.output
    assert set(stored(db_session, company.id)) == {"fxs_alpha.mode", "fxs_alpha.page_size"}


def test_changing_a_setting_is_recorded_in_the_audit_trail(app, company, db_session):
    from core.models import AuditEntry

    set_setting("fxs_alpha.page_size", 50, company.id, user=company.admin)
    set_setting("fxs_alpha.page_size", 70, company.id, user=company.admin)
    db_session.commit()
    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == "core.setting").order_by(AuditEntry.id)).all()
    assert [entry.action for entry in entries] == ["create", "update"]
    assert entries[-1].changes == {"value": [50, 70]}
    assert entries[-1].record_id == f"{company.id},fxs_alpha.page_size"
