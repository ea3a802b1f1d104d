"""Input rules shared by every entry point (API, CLI, demo), each failure naming its field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ideaengine.errors import invalid

SLUG = re.compile(r"[a-z0-9-]{2,50}")
TITLE_MIN, TITLE_MAX = 3, 200
BODY_MAX = 10_000
TAGS_MAX, TAG_MAX = 10, 40
NOTE_MAX = 5_000
NAME_MAX = 200
DESCRIPTION_MAX = 5_000


def slug(value: str, field: str | Sequence[str] = "slug") -> str:
    if not SLUG.fullmatch(value):
        raise invalid("A slug is 2 to 50 characters: lower-case letters, digits and hyphens.", field)
    return value


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they can make text display in another order than it reads (refused).
The plain marks (LRM, RLM, ALM) that right-to-left writing needs stay allowed."""


def text(value: str, field: str | Sequence[str], *, min_len: int = 0, max_len: int, label: str) -> str:
    """Trimmed text within bounds. Refused: control characters other than newlines and tabs, text-direction
    controls, lone surrogates (not valid Unicode), and required text that shows nothing (zero-width spaces)."""
    value = value.strip()
    if len(value) < min_len:
        raise invalid(
            f"{label} must be at least {min_len} characters." if min_len > 1 else f"{label} must not be empty.", field
        )
    if len(value) > max_len:
        raise invalid(f"{label} must be at most {max_len:,} characters.", field)
    categories = [unicodedata.category(c) for c in value]
    if any(cat == "Cs" for cat in categories):
        raise invalid(f"{label} contains characters that are not valid Unicode.", field)
    if any(cat == "Cc" and c not in "\n\r\t" for c, cat in zip(value, categories, strict=True)):
        raise invalid(f"{label} contains control characters.", field)
    if not BIDI_CONTROLS.isdisjoint(value):
        raise invalid(f"{label} contains text-direction control characters.", field)
    if min_len and not any(cat[0] not in "CZ" for cat in categories):
        raise invalid(f"{label} must contain visible characters.", field)
    return value


def title(value: str, field: str | Sequence[str] = "title") -> str:
    return text(value, field, min_len=TITLE_MIN, max_len=TITLE_MAX, label="A title")


def body(value: str, field: str | Sequence[str] = "body") -> str:
    return text(value, field, max_len=BODY_MAX, label="A body")


def note(value: str, field: str | Sequence[str], label: str = "A note") -> str:
    return text(value, field, max_len=NOTE_MAX, label=label)


def tags(values: Sequence[str], field: str | Sequence[str] = "tags") -> list[str]:
    """Trimmed, lower-cased, de-duplicated tags in the order given; too many is refused before any other work."""
    if len(values) > TAGS_MAX:
        raise invalid(f"An idea has at most {TAGS_MAX} tags.", field)
    out: list[str] = []
    for value in values:
        tag = unicodedata.normalize("NFKC", value).strip().casefold()
        if not tag:
            raise invalid("A tag must not be empty.", field)
        if len(tag) > TAG_MAX:
            raise invalid(f"A tag must be at most {TAG_MAX} characters.", field)
        if any(unicodedata.category(c).startswith("C") for c in tag):  # text-direction controls are Cf
            raise invalid("A tag contains control characters.", field)
        if tag not in out:
            out.append(tag)
    if len(out) > TAGS_MAX:
        raise invalid(f"An idea has at most {TAGS_MAX} tags.", field)
    return out


def search_form(value: str) -> str:
    """Python's Unicode-aware lower case (SQLite's lower() is ASCII-only), accents kept, spaces squeezed."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
