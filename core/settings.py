"""Per-company settings: the values of the settings that plugins declare.

Plugins declare settings through the ``settings`` hook (:class:`core.hooks.Setting`); the
core validates the declarations at start-up. A company's value is stored as JSON in
``core_setting_value``; a company that stored nothing gets the declared default::

    from core.settings import get_setting, set_setting

    page_size = get_setting("notes.page_size")             # the company in context
    set_setting("notes.page_size", 50, company_id=company.id, user=admin)

* An unknown key raises :class:`UnknownSettingError`.
* A value of the wrong type, outside ``min``/``max`` or not among ``choices`` raises
  :class:`InvalidSettingValue`, whose message names the setting; nothing is stored.
* A stored value that no longer fits its declaration (the plugin changed the type or the
  limits) reads as the default; a stored value whose key no plugin declares any more is
  never read. ``crm settings check`` lists both; neither stops the application.

Writes flush but do not commit: the request (or the CLI command) commits.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from core.db import get_session
from core.hooks import SETTING_TYPES, Setting
from core.models import Company, SettingValue, User

log = logging.getLogger(__name__)

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SettingError(Exception):
    """Base class of the settings errors."""


class UnknownSettingError(SettingError, LookupError):
    """No loaded plugin declares this key."""

    def __init__(self, key: str, known: Iterable[str] = ()) -> None:
        self.key = key
        message = f"no plugin declares a setting '{key}'"
        close = difflib.get_close_matches(key, list(known), n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class InvalidSettingValue(SettingError, ValueError):
    """A value refused for a setting. ``reason`` is the message without the setting's name,
    for showing next to a form field."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"setting '{key}': {reason}")


class NoCompanyError(SettingError):
    """Settings belong to a company, and none was given or is in context."""


# -- declarations -------------------------------------------------------------------------------


def declared_settings() -> dict[str, Setting]:
    """Every valid setting the loaded plugins declare, by key."""
    return current_app.extensions["crm.declarations"].settings


def declaration(key: str) -> Setting:
    """The declaration of ``key``; :class:`UnknownSettingError` if no plugin declares it."""
    settings = declared_settings()
    try:
        return settings[key]
    except KeyError:
        raise UnknownSettingError(key, settings) from None


def plugin_of(key: str) -> str:
    """The plugin a key belongs to (its part before the first dot)."""
    return key.split(".", 1)[0]


def settings_of(plugin: str) -> list[Setting]:
    """The settings ``plugin`` declares, in its declaration order."""
    return [setting for setting in declared_settings().values() if plugin_of(setting.key) == plugin]


# -- values -------------------------------------------------------------------------------------


def check_value(setting: Setting, value: Any) -> Any:
    """``value`` as the setting stores it, or :class:`InvalidSettingValue` saying why not.

    Types are strict (``"20"`` is not an int, ``True`` is not an int); an int is accepted for
    a float setting and becomes a float. Floats must be finite.
    """
    kind = setting.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidSettingValue(setting.key, _("must be true or false"))
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSettingValue(setting.key, _("must be a whole number"))
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidSettingValue(setting.key, _("must be a number"))
        value = float(value)
        if not math.isfinite(value):
            raise InvalidSettingValue(setting.key, _("must be a finite number"))
    elif kind == "str":
        if not isinstance(value, str):
            raise InvalidSettingValue(setting.key, _("must be text"))
    else:  # declarations refuse other types at start-up
        raise InvalidSettingValue(setting.key, f"unknown type {kind!r}")
    if setting.choices is not None and value not in setting.choices:
        raise InvalidSettingValue(
            setting.key,
            _("must be one of: %(choices)s", choices=", ".join(str(c) for c in setting.choices)),
        )
    if setting.min is not None and value < setting.min:
        raise InvalidSettingValue(setting.key, _("must be at least %(min)s", min=setting.min))
    if setting.max is not None and value > setting.max:
        raise InvalidSettingValue(setting.key, _("must be at most %(max)s", max=setting.max))
    return value


def parse_text(setting: Setting, text: str | None) -> Any:
    """A typed value from text (a form field, the command line), checked with :func:`check_value`.

    Booleans: ``true/false``, ``yes/no``, ``on/off``, ``1/0``. An empty int or float is refused.
    """
    text = "" if text is None else text
    kind = setting.type
    value: Any
    if kind == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            value = True
        elif word in FALSE_WORDS:
            value = False
        else:
            raise InvalidSettingValue(setting.key, _("must be true or false"))
    elif kind == "int":
        try:
            value = int(text.strip())
        except ValueError:
            raise InvalidSettingValue(setting.key, _("must be a whole number")) from None
    elif kind == "float":
        try:
            value = float(text.strip())
        except ValueError:
            raise InvalidSettingValue(setting.key, _("must be a number")) from None
    else:
        value = text
    return check_value(setting, value)


def format_value(value: Any) -> str:
    """A value as the command line shows it (and accepts it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _company_id(company_id: int | None) -> int:
    if company_id is not None:
        return company_id
    if has_request_context():
        from core.tenancy import current_company

        company = current_company()
        if company is not None:
            return company.id
    raise NoCompanyError("settings belong to a company: there is none in context, pass company_id")


def _effective(setting: Setting, company_id: int, stored: Any) -> Any:
    try:
        return check_value(setting, stored)
    except InvalidSettingValue as error:
        log.warning("company %s: stored %r ignored, the default is used (%s)", company_id, stored, error)
        return setting.default


def get_setting(key: str, company_id: int | None = None) -> Any:
    """The company's value of ``key``, or the declared default when it stored none.

    ``company_id`` defaults to the company in context. A stored value that no longer fits
    the declaration reads as the default (and is logged).
    """
    setting = declaration(key)
    company_id = _company_id(company_id)
    row = get_session().get(SettingValue, (company_id, key))
    if row is None:
        return setting.default
    return _effective(setting, company_id, row.value)


def stored_values(company_id: int | None = None) -> dict[str, Any]:
    """What the company stored, by key, as stored (declared or not, valid or not); one query."""
    company_id = _company_id(company_id)
    rows = get_session().execute(
        select(SettingValue.key, SettingValue.value).where(SettingValue.company_id == company_id)
    )
    return {key: value for key, value in rows}


def get_settings(keys: Iterable[str] | None = None, company_id: int | None = None) -> dict[str, Any]:
    """The values of several settings (default: every declared one) in one query."""
    declared = declared_settings()
    wanted = [declaration(key) for key in keys] if keys is not None else list(declared.values())
    company_id = _company_id(company_id)
    stored = stored_values(company_id)
    return {
        setting.key: _effective(setting, company_id, stored[setting.key])
        if setting.key in stored else setting.default
        for setting in wanted
    }


def _user_id(user: User | None) -> int | None:
    if user is not None:
        return user.id
    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user.id
    return None


def set_setting(key: str, value: Any, company_id: int | None = None, user: User | None = None) -> Any:
    """Store the company's value of ``key`` after checking it; return the stored value.

    ``user`` (default: the signed-in user) is recorded as the one who changed it. Raises
    :class:`UnknownSettingError` or :class:`InvalidSettingValue` (nothing stored).
    """
    setting = declaration(key)
    value = check_value(setting, value)
    company_id = _company_id(company_id)
    session = get_session()
    row = session.get(SettingValue, (company_id, key))
    if row is None:
        session.add(SettingValue(company_id=company_id, key=key, value=value, updated_by_id=_user_id(user)))
    elif row.value != value or type(row.value) is not type(value):
        equal_but_retyped = row.value == value
        row.value = value
        if equal_but_retyped:
            flag_modified(row, "value")  # JSON compares 1 == True: make sure the type change is written
        row.updated_by_id = _user_id(user)
    session.flush()
    return value


def reset_setting(key: str, company_id: int | None = None) -> bool:
    """Forget the company's value of ``key``, so it reads as the default again.

    Returns whether a value was stored. The key must be declared.
    """
    declaration(key)
    return forget_stored_value(key, company_id)


def forget_stored_value(key: str, company_id: int | None = None) -> bool:
    """Delete the company's stored value of ``key``, declared or not (``crm settings reset``
    uses it for values no plugin declares any more). Returns whether there was one."""
    company_id = _company_id(company_id)
    session = get_session()
    row = session.get(SettingValue, (company_id, key))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def save_settings(values: dict[str, Any], company_id: int | None = None, user: User | None = None) -> list[str]:
    """Store several checked values; only those that change something. Returns the changed keys.

    A value equal to the default is not stored when the company had stored nothing, so a
    later change of the plugin's default still reaches it.
    """
    company_id = _company_id(company_id)
    stored = stored_values(company_id)
    changed = []
    for key, value in values.items():
        setting = declaration(key)
        value = check_value(setting, value)
        if key in stored:
            if stored[key] == value and type(stored[key]) is type(value):
                continue
        elif value == setting.default:
            continue
        set_setting(key, value, company_id, user)
        changed.append(key)
    return changed


# -- the stored values that are no longer right --------------------------------------------------


@dataclass(frozen=True)
class StoredProblem:
    company: str
    key: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.company}: {self.key} = {self.value!r}: {self.reason}"


def stored_problems(company_id: int | None = None) -> Iterator[StoredProblem]:
    """Stored values no loaded plugin declares, and stored values their declaration refuses.

    Every company's, or one company's. Neither stops the application: the first kind is
    never read, the second reads as the default.
    """
    declared = declared_settings()
    statement = (
        select(Company.slug, SettingValue.key, SettingValue.value)
        .join(Company, Company.id == SettingValue.company_id)
        .order_by(Company.slug, SettingValue.key)
    )
    if company_id is not None:
        statement = statement.where(SettingValue.company_id == company_id)
    for slug, key, value in get_session().execute(statement):
        setting = declared.get(key)
        if setting is None:
            yield StoredProblem(slug, key, value, "no loaded plugin declares this setting; it is ignored")
            continue
        try:
            check_value(setting, value)
        except InvalidSettingValue as error:
            yield StoredProblem(slug, key, value, f"{error.reason}; the default {setting.default!r} is used")


__all__ = [
    "SETTING_TYPES",
    "InvalidSettingValue",
    "NoCompanyError",
    "Setting",
    "SettingError",
    "StoredProblem",
    "UnknownSettingError",
    "check_value",
    "declaration",
    "declared_settings",
    "forget_stored_value",
    "format_value",
    "get_setting",
    "get_settings",
    "parse_text",
    "plugin_of",
    "reset_setting",
    "save_settings",
    "set_setting",
    "settings_of",
    "stored_problems",
    "stored_values",
]
