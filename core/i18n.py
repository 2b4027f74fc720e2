"""Languages: Flask-Babel set-up, the language of each request, and locale-aware formatting.

English (``en``) and Simplified Chinese (``zh_Hans``) ship. The language of a request is, in
order: the signed-in user's choice (``core_user.locale``), else the first language of the
browser's ``Accept-Language`` that Atrium supports, else English. Browsers say ``zh-CN``,
``zh-SG``, ``zh-Hans`` or plain ``zh`` for Simplified Chinese; all of them select ``zh_Hans``.
Traditional Chinese (``zh-TW``, ``zh-HK``, ``zh-Hant``) is not shipped and is skipped.

Catalogs: the core's ``core/translations/`` plus each loaded plugin's ``translations/`` folder,
all in the ``messages`` domain. Where a plugin and the core translate the same message, the
core's translation wins. The workflow is in ``docs/translations.md``.

Dates and times are shown in UTC: there is no per-company or per-user time zone yet.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import numbers
from flask import Flask, has_request_context, request
from flask_babel import Babel, format_date as _format_date, format_datetime as _format_datetime
from flask_babel import format_number as _format_number
from flask_babel import get_babel, get_locale, gettext, refresh
from flask_login import current_user

TRANSLATIONS = Path(__file__).parent / "translations"
SUPPORTED_LOCALES = ("en", "zh_Hans")
DEFAULT_LOCALE = "en"
# The name of each language in that language, for the language switch.
LANGUAGE_NAMES = {"en": "English", "zh_Hans": "简体中文"}
# Regions whose browsers mean Traditional Chinese when they say zh-<region>.
_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo"})


def supported_locale(tag: str) -> str | None:
    """The supported locale a language tag (``zh-CN``, ``en_US``, ``zh-Hans``) asks for, if any."""
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        subtags = parts[1:]
        if "hans" in subtags:
            return "zh_Hans"
        if "hant" in subtags or (subtags and subtags[0] in _TRADITIONAL_REGIONS):
            return None
        return "zh_Hans"
    return None


def browser_locale() -> str:
    """The first language of the request's ``Accept-Language`` that is supported, else English."""
    for tag, quality in request.accept_languages:  # sorted by quality, best first
        if quality > 0 and tag != "*":
            locale = supported_locale(tag)
            if locale is not None:
                return locale
    return DEFAULT_LOCALE


def select_locale() -> str:
    """The user's chosen language, else the browser's best supported one, else English."""
    if not has_request_context():  # CLI and jobs: messages in the default language
        return DEFAULT_LOCALE
    if current_user and current_user.is_authenticated and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    return browser_locale()


def current_locale() -> str:
    """The locale of this request as Atrium names it (``en`` or ``zh_Hans``)."""
    return str(get_locale() or DEFAULT_LOCALE)


def translate(text: Any) -> str:
    """``text`` from the catalog, for messages held in variables (error titles, plugin labels).

    Unlike ``_()`` in a template, the result is plain text: autoescaped, never formatted with
    ``%``, so a message that carries user input stays harmless. Lazy strings translate
    themselves; empty text stays empty (gettext would return the catalog header).
    """
    if not text:
        return ""
    return gettext(text) if isinstance(text, str) else str(text)


def html_lang() -> str:
    """The BCP 47 tag for ``<html lang>``: ``en`` or ``zh-Hans``."""
    return current_locale().replace("_", "-")


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here; it is translated where
    it is shown (``{{ translate(title) }}``, Flask-Login's ``localize_callback``)."""
    return message


# Werkzeug's names and descriptions of the HTTP errors people meet; templates/error.html
# passes them through the catalog.
HTTP_ERROR_MESSAGES = (
    N_("Bad Request"),
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("Forbidden"),
    N_("You don't have the permission to access the requested resource. It is either "
       "read-protected or not readable by the server."),
    N_("Not Found"),
    N_("The requested URL was not found on the server. If you entered the URL manually "
       "please check your spelling and try again."),
    N_("Method Not Allowed"),
    N_("The method is not allowed for the requested URL."),
    N_("Unprocessable Entity"),
    N_("The request was well-formed but was unable to be followed due to semantic errors."),
    N_("Too Many Requests"),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_("Internal Server Error"),
    N_("The server encountered an internal error and was unable to complete your request. "
       "Either the server is overloaded or there is an error in the application."),
)


# -- formatting (Jinja filters; also callable from Python) ------------------------------------


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """A date for the request's locale: ``Mar 7, 2025`` / ``2025年3月7日`` (UTC for datetimes)."""
    return "" if value is None else _format_date(value, format)


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A date and time for the request's locale, in UTC (naive datetimes are taken as UTC)."""
    return "" if value is None else _format_datetime(value, format)


def format_number(value: int | float | Decimal | None) -> str:
    """A number with the locale's grouping and decimal signs: ``1,234,567.891``."""
    return "" if value is None else _format_number(value)


def format_money(amount: int | float | Decimal | None, currency: str) -> str:
    """An amount in ``currency`` (ISO 4217 code) for the locale: ``$1,234.50`` / ``US$1,234.50``."""
    if amount is None:
        return ""
    return numbers.format_currency(amount, currency, locale=get_locale() or DEFAULT_LOCALE)


FILTERS = {
    "format_date": format_date,
    "format_datetime": format_datetime,
    "format_number": format_number,
    "format_money": format_money,
}


# -- set-up -------------------------------------------------------------------------------------


def translation_directories(app: Flask) -> list[str]:
    """Every catalog folder: each loaded plugin's ``translations/``, then the core's.

    Flask-Babel merges the catalogs in this order, later ones winning, so the core's own
    messages keep the core's translation whatever a plugin ships.
    """
    directories = []
    manager = app.extensions.get("crm.plugins")
    for info in manager or ():
        folder = info.path / "translations"
        if folder.is_dir():
            directories.append(str(folder))
    directories.append(str(TRANSLATIONS))
    return directories


def init_app(app: Flask) -> Babel:
    """Install Flask-Babel (after the plugins are loaded, so their catalogs are found)."""
    babel = Babel(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT_LOCALE,
        default_timezone="UTC",
        default_translation_directories=str(TRANSLATIONS),
    )
    get_babel(app).translation_directories = translation_directories(app)
    app.jinja_env.filters.update(FILTERS)

    # Flask-Babel caches the locale on ``g``, which outlives a request when an application
    # context is shared (tests, nested contexts): choose it afresh at the start of every
    # request, before the sign-in check flashes its message.
    app.before_request_funcs.setdefault(None, []).insert(0, refresh)

    login_manager = getattr(app, "login_manager", None)
    if login_manager is not None:
        # Flask-Login's "please sign in" message goes through the catalog too.
        login_manager.localize_callback = gettext
        N_("Please sign in to see that page.")  # core.auth's login_message, for extraction

    @app.context_processor
    def language_context():  # type: ignore[no-untyped-def]
        return {
            "html_lang": html_lang,
            "translate": translate,
            "current_locale": current_locale,
            "language_names": LANGUAGE_NAMES,
        }

    return babel
