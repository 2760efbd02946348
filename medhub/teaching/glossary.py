"""The Korean medical glossary (glossary_ko.yaml): one Korean term per English medical term.

`term(key)` gives {"en", "ko"} for an English term or one of its variants; `find_terms(text)` gives the
entries an English text names (longest first, whole words); `uncovered_korean(ko)` gives the Korean
words of a text that are neither a glossary term nor a listed general word (what the card test checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

GLOSSARY_FILE = Path(__file__).with_name("glossary_ko.yaml")
HANGUL = re.compile(r"[\uac00-\ud7a3]+")


@dataclass(frozen=True)
class Term:
    en: str
    ko: str
    domain: str = "general"
    variants: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    note: str = ""

    @property
    def english(self) -> tuple[str, ...]:
        return (self.en, *self.variants)


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Term, ...], tuple[str, ...]]:
    data = yaml.safe_load(GLOSSARY_FILE.read_text(encoding="utf-8"))
    terms = tuple(
        Term(
            en=str(e["en"]),
            ko=str(e["ko"]),
            domain=str(e.get("domain", "general")),
            variants=tuple(str(v) for v in e.get("variants") or ()),
            avoid=tuple(str(v) for v in e.get("avoid") or ()),
            note=str(e.get("note") or ""),
        )
        for e in data["terms"]
    )
    return terms, tuple(str(w) for w in data.get("general_words") or ())


def terms() -> tuple[Term, ...]:
    return _load()[0]


def general_words() -> tuple[str, ...]:
    return _load()[1]


def lookup(key: str) -> Term:
    k = key.strip().lower()
    for t in terms():
        if k in (e.lower() for e in t.english):
            return t
    raise KeyError(f"'{key}' is not in {GLOSSARY_FILE.name}")


def term(key: str) -> dict[str, str]:
    """{"en": English term, "ko": Korean term} of an English term or variant."""
    t = lookup(key)
    return {"en": t.en, "ko": t.ko}


def ko(key: str) -> str:
    return lookup(key).ko


def _pattern(english: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(english) + r"(?![\w-])", re.IGNORECASE)


def find_terms(text_en: str) -> list[Term]:
    """The glossary entries an English text names, as whole words (each entry once)."""
    found = []
    for t in terms():
        if any(_pattern(e).search(text_en) for e in t.english):
            found.append(t)
    return found


def uncovered_korean(text_ko: str) -> list[str]:
    """Korean words of a text left once every glossary term and general word is taken out."""
    rest = text_ko
    for word in sorted({t.ko for t in terms()} | set(general_words()), key=len, reverse=True):
        rest = rest.replace(word, " ")
    return HANGUL.findall(rest)


def check(text_en: str, text_ko: str) -> list[str]:
    """Problems of one English/Korean pair of a card (empty when the Korean follows the glossary)."""
    problems = []
    for t in find_terms(text_en):
        if t.ko not in text_ko.replace("\u00a0", " "):
            problems.append(f"'{t.en}' should be '{t.ko}' in Korean")
        for bad in t.avoid:
            if bad in text_ko:
                problems.append(f"'{bad}' is a form to avoid for '{t.en}' (use '{t.ko}')")
    left = uncovered_korean(text_ko)
    if left:
        problems.append(f"Korean words not in the glossary: {left}")
    return problems
