"""Languages: Flask-Babel set-up and the choice of language for each request."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel
from flask_login import current_user

TRANSLATIONS = Path(__file__).parent / "translations"
SUPPORTED_LOCALES = ("en", "zh_Hans")
DEFAULT_LOCALE = "en"


def select_locale() -> str:
    """The user's chosen language, else the browser's best supported one, else English."""
    if current_user and current_user.is_authenticated and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    return request.accept_languages.best_match(SUPPORTED_LOCALES, default=DEFAULT_LOCALE)


def init_app(app: Flask) -> Babel:
    return Babel(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(TRANSLATIONS),
    )
