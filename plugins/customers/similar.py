"""When two names are the same customer: the normalised name key and the similarity test.

``name_key`` is stored on every account and contact (``name_key`` column, kept in step by the
models), so finding names written alike is a ``GROUP BY`` on an indexed column; ``similar``
compares two keys that are not equal but close ("acmetrading" / "acmetradng").
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

# Legal forms left out of a name: "Acme Ltd." and "ACME Limited" are the same company.
# Latin ones are whole words (so "Costco" keeps its "co"); Chinese ones are suffixes of the text.
LATIN_LEGAL_FORMS = frozenset({
    "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "plc", "gmbh", "ag", "kg", "co", "corp",
    "corporation", "company", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as", "pty", "pte",
    "kk", "group",
})
CHINESE_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司")
KEY_LENGTH = 200
# Close enough to be offered as a duplicate. Short keys (Chinese names are often six or eight
# characters) allow one character in five to differ, so "上海星辰科技" / "上海星晨科技" match;
# longer ones less, so "Harbor Traders" / "Harbor Travel" do not.
SIMILARITY_SHORT, SHORT = 0.8, 8
SIMILARITY = 0.88

_NOT_WORD = re.compile(r"[\W_]+")


def name_key(name: str | None) -> str:
    """The name as duplicates compare it: case-folded, full-width characters as half-width,
    punctuation and spaces removed, legal forms at the end left out.

    ``"ACME Trading Co., Ltd."`` -> ``"acmetrading"``; ``"Ａｃｍｅ"`` -> ``"acme"``;
    ``"上海星辰科技有限公司"`` -> ``"上海星辰科技"``. A name that is only a legal form keeps it.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold()
    words = _NOT_WORD.sub(" ", text).split()
    while len(words) > 1 and words[-1] in LATIN_LEGAL_FORMS:
        words.pop()
    key = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        for form in CHINESE_LEGAL_FORMS:
            if key.endswith(form) and len(key) > len(form):
                key, stripped = key[: -len(form)], True
                break
    return key[:KEY_LENGTH]


def similar(first: str, second: str) -> bool:
    """Whether two name keys are the same name, or close enough to ask a person."""
    if not first or not second:
        return False
    if first == second:
        return True
    shorter = min(len(first), len(second))
    if shorter < 5:  # "acme" / "acne": too short to call a typo
        return False
    threshold = SIMILARITY_SHORT if shorter <= SHORT else SIMILARITY
    return SequenceMatcher(None, first, second, autojunk=False).ratio() >= threshold
