"""Configuration: defaults, an optional instance file, ``CRM_*`` environment variables.

Precedence, lowest first: the defaults below, ``<instance>/atrium.toml`` (keys in lower
case without the prefix: ``database_url = "..."``), environment variables
(``CRM_DATABASE_URL``), then the mapping given to ``create_app(config=...)``.
Every option is listed in :data:`OPTIONS`; an unknown key in the instance file or in the
mapping is a start-up error, so a typo cannot pass unnoticed.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "CRM_"
INSTANCE_FILE = "atrium.toml"
ENVIRONMENTS = ("development", "production", "testing")


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        # An empty variable (CRM_PLUGINS=) means "not set", as with most tools.
        items = [item.strip() for item in value.split(",") if item.strip()]
        return items or None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("expected a comma-separated string or a list of strings")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _as_int(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError("expected a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("expected a whole number") from None


def _as_env(value: Any) -> str:
    if value not in ENVIRONMENTS:
        raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}")
    return str(value)


def _as_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _at_least(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _as_int(value)
        if number < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}")
        return number

    return parse


def _as_url(*schemes: str) -> Callable[[Any], str | None]:
    """An optional URL with one of ``schemes`` and a host; trailing slashes removed."""

    def parse(value: Any) -> str | None:
        text = _as_optional_str(value)
        if text is None:
            return None
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError:
            raise ValueError(f"expected a URL such as {schemes[0]}://host") from None
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)} and a host")
        return text.rstrip("/")

    return parse


def _as_optional_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return _as_bool(value)


def _as_queue_name(value: Any) -> str:
    import re

    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text):
        raise ValueError("expected a name of letters, digits, '_', '.' and '-' (at most 64)")
    return text


def _as_redis_url(value: Any) -> str | None:
    text = _as_optional_str(value)
    if text is None:
        return None
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://host:port/db (or rediss://, unix://) URL")
    try:
        urlsplit(text).port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError("the port is not a number") from None
    return text


@dataclass(frozen=True)
class Option:
    key: str
    default: Any
    parse: Callable[[Any], Any]
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("CRM_ENV", "development", _as_env,
           "development, production or testing. Production requires a secret key."),
    Option("CRM_SECRET_KEY", None, _as_optional_str,
           "Signs sessions. In development one is generated and kept in the instance folder."),
    Option("CRM_DATABASE_URL", None, _as_optional_str,
           "SQLAlchemy URL. Default: SQLite file atrium.sqlite3 in the instance folder. "
           "PostgreSQL: postgresql+psycopg://user@host/dbname"),
    Option("CRM_PLUGINS", None, _as_list,
           "Comma-separated plugin names to load. Default: every installed plugin."),
    Option("CRM_PLUGIN_MODULES", [], _as_list,
           "Extra plugin packages to load by import name (for plugins not pip-installed)."),
    Option("CRM_REDIS_URL", None, _as_redis_url,
           "redis://host:port/db for the job queue on the scale-out path. Default: none (SQLite)."),
    Option("CRM_SQLITE_BUSY_TIMEOUT_MS", 5000, _as_int,
           "How long a SQLite writer waits for a lock before failing."),
    Option("CRM_SQLITE_CACHE_MB", 64, _as_int,
           "The most memory each SQLite connection may use to cache pages (SQLite's default is 2 MB)."),
    Option("CRM_FAST_PASSWORD_HASHING", False, _as_bool,
           "Tests only (refused unless CRM_ENV=testing): hash passwords cheaply to keep suites fast."),
    Option("CRM_CHECK_SCHEMA", True, _as_bool,
           "Refuse to serve a database that is behind its migration heads."),
    Option("CRM_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, _at_least(0),
           "Failed sign-ins for one email address before sign-in is refused for a while (0: no limit)."),
    Option("CRM_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, _at_least(0),
           "Failed sign-ins from one network address before sign-in is refused for a while (0: no limit)."),
    Option("CRM_LOGIN_THROTTLE_MINUTES", 15, _at_least(1),
           "The window, in minutes, over which failed sign-ins are counted."),
    Option("CRM_SMTP_URL", None, _as_url("smtp", "smtps"),
           "Outgoing mail server: smtp://user:password@host:587 (add ?starttls=true to require "
           "STARTTLS) or smtps://user:password@host:465. Default: none (mail is logged, not sent)."),
    Option("CRM_MAIL_FROM", "Atrium CRM <noreply@localhost>", _as_optional_str,
           "The sender of the mail Atrium sends (password resets, invitations)."),
    Option("CRM_BASE_URL", None, _as_url("https", "http"),
           "The public address of the site (scheme and host, e.g. https://crm.example.com) for links in mail. "
           "Default: the address of the request."),
    Option("CRM_PROXY_COUNT", 0, _at_least(0),
           "How many reverse proxies in front of Atrium set X-Forwarded-For/-Proto/-Host "
           "headers to trust (sign-in throttling counts per client address)."),
    Option("CRM_JOBS_QUEUE", "atrium", _as_queue_name,
           "Name of the job queue. Web processes and workers that share it share jobs "
           "(inside the SQLite queue file, or as the Redis key prefix)."),
    Option("CRM_JOBS_IMMEDIATE", None, _as_optional_bool,
           "Run jobs at once in the process that queues them, without a worker. "
           "Default: true when CRM_ENV=testing, false otherwise."),
    Option("CRM_OUTBOX_MAX_ATTEMPTS", 10, _at_least(1),
           "Delivery attempts of an outbox event to one handler before it is dead-lettered."),
    Option("CRM_API_RATE_LIMIT", 600, _at_least(0),
           "API requests per minute per token (0: no limit). Counted in Redis when CRM_REDIS_URL "
           "is set, else in each web process's memory (each process then allows this many)."),
    Option("CRM_API_MAX_CONTENT_LENGTH", 1024 * 1024, _at_least(1),
           "Largest API request body in bytes (default 1 MiB); a larger one gets 413."),
    Option("CRM_WEB_FORM_RATE_LIMIT", 10, _at_least(0),
           "Posts per minute that one client address may send to one public web form (0: no limit). "
           "Counted like CRM_API_RATE_LIMIT."),
)
OPTIONS_BY_KEY = {option.key: option for option in OPTIONS}


def default_instance_path() -> Path:
    """``CRM_INSTANCE_PATH``, or ``instance/`` in the current working directory."""
    return Path(os.environ.get("CRM_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def load_config(instance_path: Path, overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """Merge every source into one dict of options; return it with the problems found."""
    problems: list[str] = []
    raw: dict[str, Any] = {option.key: option.default for option in OPTIONS}

    config_file = instance_path / INSTANCE_FILE
    if config_file.exists():
        try:
            with config_file.open("rb") as handle:
                file_values = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            problems.append(f"{config_file}: not valid TOML ({error})")
            file_values = {}
        for key, value in file_values.items():
            full_key = ENV_PREFIX + key.upper()
            if full_key not in OPTIONS_BY_KEY:
                problems.append(f"{config_file}: unknown setting '{key}'")
            else:
                raw[full_key] = value

    for option in OPTIONS:
        if option.key in os.environ:
            raw[option.key] = os.environ[option.key]

    extra: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key in OPTIONS_BY_KEY:
            raw[key] = value
        elif key.startswith(ENV_PREFIX):
            problems.append(f"unknown setting '{key}'")
        else:
            extra[key] = value  # Flask's and extensions' own keys (TESTING, SERVER_NAME, ...)

    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            values[key] = OPTIONS_BY_KEY[key].parse(value)
        except ValueError as error:
            problems.append(f"setting {key}={value!r}: {error}")
    if values.get("CRM_ENV") == "production" and not values.get("CRM_BASE_URL"):
        # Links in mail (password reset, invitations) would otherwise take their host from
        # the request, which anyone can set: a reset link could point to another site.
        problems.append("CRM_BASE_URL is not set; production needs the public address of the app "
                        "(e.g. https://crm.example.com) for links in mail")
    if values.get("CRM_FAST_PASSWORD_HASHING") and values.get("CRM_ENV") != "testing":
        problems.append("CRM_FAST_PASSWORD_HASHING weakens stored passwords: it is only allowed with CRM_ENV=testing")
    values.update(extra)
    return values, problems


def resolve_secret_key(values: dict[str, Any], instance_path: Path) -> tuple[str | None, list[str]]:
    """The configured secret key; in development, one generated once and kept on disk."""
    key = values.get("SECRET_KEY") or values.get("CRM_SECRET_KEY")
    if key:
        return key, []
    if values.get("CRM_ENV") == "production":
        return None, [
            "CRM_SECRET_KEY is not set; production needs a long random secret "
            "(for example: python -c 'import secrets; print(secrets.token_hex(32))')"
        ]
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip(), []
    key = secrets.token_hex(32)
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key, []
