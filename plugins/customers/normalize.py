"""How email addresses and phone numbers are compared: for search and duplicate detection."""

from __future__ import annotations

import re

_NOT_DIGITS = re.compile(r"[^\d]")


def normalize_email(value: str | None) -> str:
    """Lower-case, without surrounding spaces: ``" Ann@Example.COM "`` -> ``"ann@example.com"``."""
    return (value or "").strip().lower()


def normalize_phone(value: str | None) -> str:
    """Digits only, a leading ``+`` or ``00`` kept as ``+``: ``"+86 138-0013-8000"`` -> ``"+8613800138000"``.

    Written the same way, two numbers compare equal whatever spaces, dashes or brackets
    people typed; a number without a country code stays as it is (it cannot be guessed).
    """
    text = (value or "").strip()
    international = text.startswith("+") or text.startswith("00")
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("00"):
        digits = digits[2:]
    return f"+{digits}" if international and digits else digits
