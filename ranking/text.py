"""Text normalisation and features: word TF-IDF (light stemming, stopwords) plus character n-grams."""

from __future__ import annotations

import itertools
import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+")

STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below between both
    but by can could did do does doing down during each else few for from further get got had has have
    having he her here hers him his how i if in into is it its itself just let lets me more most my no
    nor not now of off on once only or other our ours out over own please same she should so some such
    than that the their theirs them then there these they this those through to too under until up us
    very was we were what when where which while who whom why will with would you your yours
    """.split()
)
"""Function words and request filler ("please", "would", "could"), dropped from word features."""

CHAR_NGRAMS = (3, 4, 5)
"""Character n-gram lengths, taken inside each word padded as "#word#"."""


def normalise_text(text: str) -> str:
    """Casefolded, accents stripped (NFKD, combining marks dropped), punctuation to spaces, single spaces."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def stem(word: str) -> str:
    """A light English stemmer: plural -s/-es/-ies and -ing/-ed endings, so "locations" ~ "location"."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    return word


def content_words(normalised: str) -> list[str]:
    """Words of a normalised text without stopwords (all words when nothing else is left)."""
    words = normalised.split()
    kept = [w for w in words if w not in STOPWORDS]
    return kept or words


def word_features(words: list[str]) -> list[str]:
    """Stemmed words and adjacent stemmed pairs."""
    stems = [stem(w) for w in words]
    return stems + [f"{a} {b}" for a, b in itertools.pairwise(stems)]


def char_ngrams(word: str) -> list[str]:
    padded = f"#{word}#"
    return [padded[i : i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)]
