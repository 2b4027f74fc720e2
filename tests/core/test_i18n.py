"""Languages: English and Simplified Chinese pages, the choice of language, locale-aware
formatting, and the catalogs themselves.

``fxi_hello`` is a plugin written to a temporary folder with a catalog of its own, to show
that plugin catalogs are merged and that the core's translations win.
"""

from __future__ import annotations

import re
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pytest
import werkzeug.exceptions
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import render_template, render_template_string
from flask_babel import force_locale, gettext

from core.i18n import TRANSLATIONS, select_locale
from core.models import User

ROOT = Path(__file__).resolve().parents[2]
PO_FILE = TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po"
MO_FILE = TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.mo"
ZH_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}

PLUGIN = '''
from flask import Blueprint, render_template_string
from flask_babel import lazy_gettext as _l

from core import Setting, hookimpl

blueprint = Blueprint("fxi_hello", __name__, url_prefix="/fxi-hello")


@blueprint.get("/")
def index():
    return render_template_string("{{ _('Hello from the plugin') }} / {{ _('Save') }}")


@hookimpl
def register_blueprints(app):
    return [blueprint]


@hookimpl
def settings():
    return [Setting("fxi_hello.colour", "str", "blue", _l("Colour of the day"))]
'''

MANIFEST = """\
name = "fxi_hello"
title = "Hello"
version = "1.0.0"
summary = "Test plugin with its own catalog."
core = ">=0.1,<1"
depends = []
"""


@pytest.fixture(scope="session")
def hello_plugin_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("i18n_plugins")
    package = root / "fxi_hello"
    messages = package / "translations" / "zh_Hans" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (package / "manifest.toml").write_text(MANIFEST)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    catalog = Catalog(locale="zh_Hans")
    catalog.add("Hello from the plugin", "插件向您问好")
    catalog.add("Colour of the day", "今日颜色")
    catalog.add("Save", "存储")  # the core translates "Save" too, and the core's wins
    with (messages / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return root


@pytest.fixture
def crm_plugins():
    return ["fxi_hello"]


@pytest.fixture
def app_config(hello_plugin_root, monkeypatch):
    monkeypatch.syspath_prepend(str(hello_plugin_root))
    yield {"CRM_PLUGIN_MODULES": ["fxi_hello"]}
    for module in [m for m in sys.modules if m.split(".")[0] == "fxi_hello"]:
        del sys.modules[module]


def set_locale(db_session, user, locale):
    db_session.get(User, user.id).locale = locale
    db_session.commit()


# -- pages in Chinese ----------------------------------------------------------------------------


def test_sign_in_page_is_in_chinese_for_a_browser_that_prefers_zh_cn(client):
    page = client.get("/login", headers=ZH_BROWSER).text
    assert '<html lang="zh-Hans">' in page
    assert "<h1>登录</h1>" in page
    assert re.search(r'<label [^>]*for="email">电子邮件地址</label>', page)
    assert "Sign in" not in page


def test_sign_in_page_is_in_english_for_other_browsers(client):
    for headers in ({}, EN_BROWSER, {"Accept-Language": "de-DE,de;q=0.9"}):
        page = client.get("/login", headers=headers).text
        assert '<html lang="en">' in page
        assert "<h1>Sign in</h1>" in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN", "zh_Hans"),
        ("zh-cn", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh_CN", "zh_Hans"),
        ("fr-FR,fr;q=0.9,zh-CN;q=0.5", "zh_Hans"),
        ("zh-Hant,zh-CN;q=0.3", "zh_Hans"),
        ("en-GB,zh;q=0.5", "en"),
        ("zh-TW", "en"),
        ("zh-HK,en;q=0.5", "en"),
        ("zh;q=0,en;q=0.1", "en"),
        ("de", "en"),
        ("*", "en"),
        ("", "en"),
    ],
)
def test_browser_languages_choose_the_supported_locale(app, header, expected):
    with app.test_request_context(headers={"Accept-Language": header}):
        assert select_locale() == expected


def test_home_page_is_in_chinese_for_a_user_who_chose_chinese(client, company, login_as, db_session):
    set_locale(db_session, company.admin, "zh_Hans")
    login_as(company.admin)
    page = client.get("/", headers=EN_BROWSER).text
    assert '<html lang="zh-Hans">' in page
    assert "<h1>欢迎，Acme Admin</h1>" in page
    assert re.search(r'</i> 首页</a>', page) and re.search(r'</i> 退出登录</button>', page)


def test_the_users_choice_of_english_beats_a_chinese_browser(client, company, login_as, db_session):
    set_locale(db_session, company.admin, "en")
    login_as(company.admin)
    page = client.get("/", headers=ZH_BROWSER).text
    assert '<html lang="en">' in page and "<h1>Welcome, Acme Admin</h1>" in page


def test_sign_in_request_and_error_pages_speak_the_browsers_language(client):
    response = client.get("/", headers=ZH_BROWSER)
    assert response.status_code == 302
    assert "请登录后查看该页面。" in client.get(response.headers["Location"], headers=ZH_BROWSER).text

    missing = client.get("/no-such-page", headers=ZH_BROWSER)
    assert missing.status_code == 404
    assert "<h1>未找到</h1>" in missing.text and "错误 404" in missing.text


def test_sign_in_errors_and_the_sign_out_message_are_in_chinese(client, company, login_as):
    refused = client.post("/login", data={"email": "admin@acme.test", "password": "not it"}, headers=ZH_BROWSER)
    assert refused.status_code == 400
    assert "电子邮件地址与密码不匹配任何有效账户。" in refused.text
    login_as(company.admin)
    signed_out = client.post("/logout", headers=ZH_BROWSER)
    assert "您已退出登录。" in client.get(signed_out.headers["Location"], headers=ZH_BROWSER).text


def test_error_page_escapes_a_message_it_cannot_translate(app):
    with app.test_request_context():
        page = render_template("error.html", code=400, title="Bad <b>", message="<script>x</script> 100%")
    assert "&lt;script&gt;x&lt;/script&gt; 100%" in page and "<script>" not in page
    assert "Bad &lt;b&gt;" in page


@pytest.mark.parametrize(
    "exception",
    [werkzeug.exceptions.BadRequest, werkzeug.exceptions.Forbidden, werkzeug.exceptions.NotFound,
     werkzeug.exceptions.MethodNotAllowed, werkzeug.exceptions.UnprocessableEntity,
     werkzeug.exceptions.TooManyRequests, werkzeug.exceptions.InternalServerError],
)
def test_the_http_errors_people_meet_are_translated(app, exception):
    error = exception()
    with app.test_request_context(), force_locale("zh_Hans"):
        assert gettext(error.name) != error.name
        assert gettext(error.description) != error.description


# -- the language switch -------------------------------------------------------------------------


def test_language_switch_saves_the_choice_and_it_persists(app, client, company, login_as, db_session):
    login_as(company.admin)
    response = client.post("/account/language", data={"locale": "zh_Hans", "next": "/?tab=1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/?tab=1"
    db_session.expire_all()
    assert db_session.get(User, company.admin.id).locale == "zh_Hans"
    page = client.get("/", headers=EN_BROWSER).text
    assert "语言已切换。" in page and "<h1>欢迎，Acme Admin</h1>" in page
    assert '<option value="zh_Hans" lang="zh-Hans" selected>简体中文</option>' in page

    # Another browser, another session: the choice belongs to the account.
    elsewhere = app.test_client()
    with elsewhere.session_transaction() as session:
        session["_user_id"] = company.admin.get_id()
    assert '<html lang="zh-Hans">' in elsewhere.get("/", headers=EN_BROWSER).text

    # Back to the browser's language.
    client.post("/account/language", data={"locale": ""})
    db_session.expire_all()
    assert db_session.get(User, company.admin.id).locale is None
    assert '<html lang="en">' in client.get("/", headers=EN_BROWSER).text


def test_language_switch_refuses_a_language_not_offered(client, company, login_as, db_session):
    login_as(company.admin)
    assert client.post("/account/language", data={"locale": "fr"}).status_code == 400
    db_session.expire_all()
    assert db_session.get(User, company.admin.id).locale is None


def test_language_switch_stays_on_the_site(client, company, login_as):
    login_as(company.admin)
    response = client.post("/account/language", data={"locale": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_language_switch_needs_a_signed_in_user(client):
    response = client.post("/account/language", data={"locale": "zh_Hans"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- formatting ----------------------------------------------------------------------------------

FILTERS = ("{{ n|format_number }}|{{ d|format_date }}|{{ t|format_datetime }}|"
           "{{ a|format_money('USD') }}|{{ a|format_money('CNY') }}|{{ none|format_date }}")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "1,234,567.891|Mar 7, 2025|Mar 7, 2025, 2:05:00\u202fPM|$1,234.50|CN¥1,234.50|"),
        ("zh_Hans", "1,234,567.891|2025年3月7日|2025年3月7日 14:05:00|US$1,234.50|¥1,234.50|"),
    ],
)
def test_formatting_filters_follow_the_locale(app, locale, expected):
    values = {"n": 1234567.891, "d": date(2025, 3, 7), "t": datetime(2025, 3, 7, 14, 5, tzinfo=UTC),
              "a": 1234.5}
    with app.test_request_context(), force_locale(locale):
        assert render_template_string(FILTERS, **values) == expected


def test_dates_and_times_are_shown_in_utc(app):
    evening_in_new_york = datetime(2025, 3, 7, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with app.test_request_context(), force_locale("zh_Hans"):
        shown = render_template_string("{{ t|format_date }} {{ t|format_datetime('short') }}", t=evening_in_new_york)
    assert shown == "2025年3月8日 2025/3/8 04:30"


def test_formatting_follows_the_request_language(client, company, login_as, db_session):
    from core.i18n import format_money

    set_locale(db_session, company.admin, "zh_Hans")
    login_as(company.admin)
    client.get("/")
    with client.application.test_request_context(headers=ZH_BROWSER):
        assert format_money(9.5, "USD") == "US$9.50"


# -- plugin catalogs -----------------------------------------------------------------------------


def test_a_plugins_catalog_is_used_and_the_core_keeps_its_own_translations(client, company, login_as, db_session):
    company.enable("fxi_hello")
    set_locale(db_session, company.admin, "zh_Hans")
    login_as(company.admin)
    assert client.get("/fxi-hello/").text == "插件向您问好 / 保存"
    assert "今日颜色" in client.get("/settings").text
    set_locale(db_session, company.admin, "en")
    assert client.get("/fxi-hello/").text == "Hello from the plugin / Save"


# -- the catalogs --------------------------------------------------------------------------------


def _translations(catalog: Catalog) -> dict:
    """What compiling a catalog keeps: translated, non-fuzzy messages."""
    def plain(value):  # .mo files give plural forms as lists, .po files as tuples
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {
        (plain(message.id), message.context): plain(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
        and (not isinstance(message.string, (list, tuple)) or all(message.string))
    }


def test_the_compiled_catalog_matches_its_po_file():
    """Recompile the .po in memory; the committed .mo must hold exactly the same messages.
    If this fails, run: pybabel compile -d core/translations"""
    with PO_FILE.open("rb") as handle:
        po = read_po(handle, locale="zh_Hans")
    compiled = BytesIO()
    write_mo(compiled, po)
    compiled.seek(0)
    with MO_FILE.open("rb") as handle:
        committed = read_mo(handle)
    assert _translations(committed) == _translations(read_mo(compiled))
    assert po.plural_forms == committed.plural_forms == "nplurals=1; plural=0;"


def _extracted_messages() -> set:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_pgettext": ((1, "c"), 2)}
    found = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add((message, context))
    return found


def test_every_message_of_the_core_has_a_chinese_translation():
    """Every string marked in core/, templates/ and plugins/ is translated (see
    docs/translations.md: extract, update, translate, compile)."""
    with PO_FILE.open("rb") as handle:
        po = read_po(handle, locale="zh_Hans")
    translated = _translations(po)
    missing = sorted(str(message) for message, context in _extracted_messages()
                     if message and (message, context) not in translated)
    assert not missing, "no Chinese translation for:\n" + "\n".join(missing)


PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")


def test_translations_keep_every_placeholder():
    with PO_FILE.open("rb") as handle:
        po = read_po(handle, locale="zh_Hans")
    wrong = []
    for message in po:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = sorted(PLACEHOLDER.findall(ids[-1]))
        wrong += [(ids[0], string) for string in strings if sorted(PLACEHOLDER.findall(string)) != expected]
    assert wrong == []
    assert [error for error in po.check()] == []
