"""How email addresses and phone numbers are compared (for search and duplicate detection),
how a cell or a text area holding several of them is split, and the text a record is
searched by."""

from __future__ import annotations

import re

_NOT_DIGITS = re.compile(r"[^\d]")
# Several phones or emails in one text: one per line, or separated by commas or semicolons
# (full-width ones too, as Chinese spreadsheets write them).
_SEPARATORS = re.compile(r"[\n\r,;，；、]+")


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


def split_values(text: str | None) -> list[str]:
    """The distinct values of a text holding several phones or emails, in order:
    ``"a@x.com; b@x.com\nA@x.com"`` -> ``["a@x.com", "b@x.com", "A@x.com"]`` (values are
    compared as typed, without surrounding spaces; blanks are dropped)."""
    values: list[str] = []
    for part in _SEPARATORS.split(text or ""):
        value = part.strip()
        if value and value not in values:
            values.append(value)
    return values


def search_text(name: str | None, phones: list[str], emails: list[str]) -> str:
    """What a record is found by in a list's search box, lower-cased: its name, every email,
    every phone as typed and as digits, so "138 0013" and "13800138000" both find it."""
    parts = [name or "", *emails, *phones, *(normalize_phone(phone) for phone in phones)]
    return " ".join(part.strip().lower() for part in parts if part and part.strip())


def phone_spelling(q: str) -> list[str]:
    """What else a search is looked for as (the lists' ``Listing.search_variants``, the global
    search): a search that looks like a phone number is also looked for as its digits, which
    ``search_text`` holds beside the number as typed, so "138-0013 8000" finds
    "+86 138 0013 8000". (Emails need nothing more: the search is matched lower-cased, as
    ``search_text`` is stored.)"""
    if any(character.isalpha() for character in q):
        return []
    phone = normalize_phone(q)
    return [phone] if len(phone.lstrip("+")) >= 3 else []  # fewer digits would match nearly every number
