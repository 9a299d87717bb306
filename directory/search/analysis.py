"""French text analysis shared by indexing, querying and highlighting.

Tokenizer → lower case → accent folding → French stop words → French Snowball stemmer. Accents
are folded *before* stemming so that "precarite" and "précarité" reduce to the same stem.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Tokenizer,
)
from whoosh.lang import stopwords_for_language
from whoosh.support.charset import accent_map

from ..text import fold

SYNONYMS_FILE = Path(__file__).with_name("data") / "synonymes.txt"

# Words, with apostrophes splitting elisions ("l'association" -> "l", "association").
WORD_PATTERN = r"\w+"
# Whoosh's list lacks some frequent forms; the single letters are elided articles ("l'", "d'").
_EXTRA_STOP_WORDS = {
    "l",
    "d",
    "qu",
    "n",
    "s",
    "c",
    "j",
    "m",
    "t",
    "les",
    "ils",
    "elles",
    "leurs",
    "cette",
    "cet",
    "ceux",
    "celle",
    "celles",
    "dont",
    "ou",
    "aussi",
    "comme",
    "tout",
    "tous",
    "toute",
    "toutes",
}


@cache
def stop_words() -> frozenset[str]:
    """French stop words, folded like the indexed text."""
    words = {fold(word) for word in stopwords_for_language("fr")}
    return frozenset(words | _EXTRA_STOP_WORDS)


@cache
def french_analyzer() -> Analyzer:
    """The analyzer of every full-text field (and of the query words)."""
    return (
        RegexTokenizer(WORD_PATTERN)
        | LowercaseFilter()
        | CharsetFilter(_ligature_accent_map())
        | StopFilter(stoplist=stop_words(), minsize=1)
        | StemFilter(lang="fr", cachesize=50_000)
    )


# Weighted text: segments "<weight>\x1f<text>" joined by "\x1e" (see ``weighted_text``).
SEGMENT_SEPARATOR = "\x1e"
WEIGHT_SEPARATOR = "\x1f"
POSITION_GAP = 100  # keeps a phrase from matching across two fields


def weighted_text(parts: list[tuple[float, str]]) -> str:
    """Several texts with their weights, for the single weighted ``content`` field."""
    return SEGMENT_SEPARATOR.join(
        f"{weight}{WEIGHT_SEPARATOR}{text.replace(SEGMENT_SEPARATOR, ' ')}"
        for weight, text in parts
        if text
    )


class WeightedTokenizer(Tokenizer):
    """Words of weighted segments, each token carrying its segment's weight as its boost.

    One field whose postings hold the summed weights ranks like one field per part with
    per-field boosts, at the cost of reading a single posting list per term.
    """

    def __init__(self) -> None:
        self._words = RegexTokenizer(WORD_PATTERN)

    def __call__(self, value, positions=False, chars=False, start_pos=0, start_char=0, **kwargs):
        position, offset = start_pos, start_char
        for segment in value.split(SEGMENT_SEPARATOR):
            raw_weight, separator, text = segment.partition(WEIGHT_SEPARATOR)
            boost = float(raw_weight) if separator else 1.0
            text = text if separator else segment
            last = None
            for token in self._words(
                text,
                positions=positions,
                chars=chars,
                start_pos=position,
                start_char=offset,
                **kwargs,
            ):
                token.boost = boost
                last = token.pos if positions else None
                yield token
            if last is not None:
                position = last + POSITION_GAP
            offset += len(segment) + 1


@cache
def weighted_analyzer() -> Analyzer:
    """The French analysis of the weighted ``content`` field."""
    return (
        WeightedTokenizer()
        | LowercaseFilter()
        | CharsetFilter(_ligature_accent_map())
        | StopFilter(stoplist=stop_words(), minsize=1)
        | StemFilter(lang="fr", cachesize=50_000)
    )


@cache
def plain_analyzer() -> Analyzer:
    """Lower case and folded, not stemmed: the vocabulary for spelling and prefixes."""
    return (
        RegexTokenizer(WORD_PATTERN)
        | LowercaseFilter()
        | CharsetFilter(_ligature_accent_map())
        | StopFilter(stoplist=stop_words(), minsize=3)
    )


def _ligature_accent_map() -> dict[int, str]:
    mapping = dict(accent_map)
    mapping.update({ord("œ"): "oe", ord("æ"): "ae"})
    return mapping


def analyze(text: str) -> list[str]:
    """The indexed terms of ``text`` (stems), in order."""
    return [token.text for token in french_analyzer()(text)]


def plain_words(text: str) -> list[str]:
    """Folded words of ``text``, stop words removed (not stemmed)."""
    return [token.text for token in plain_analyzer()(text)]


def folded_words(text: str) -> list[str]:
    """Every folded word of ``text``, stop words kept (to match synonym phrases)."""
    return re.findall(WORD_PATTERN, fold(text))


@cache
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    """Groups of equivalent expressions, read from the curators' data file.

    One group a line, expressions separated by commas; ``#`` starts a comment.
    """
    return load_synonyms(SYNONYMS_FILE.read_text(encoding="utf-8"))


def load_synonyms(content: str) -> tuple[tuple[str, ...], ...]:
    groups = []
    for line in content.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        expressions = tuple(dict.fromkeys(e.strip() for e in line.split(",") if e.strip()))
        if len(expressions) > 1:
            groups.append(expressions)
    return tuple(groups)


@cache
def synonym_index() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Folded word sequence -> the other expressions of its group."""
    index: dict[tuple[str, ...], list[str]] = {}
    for group in synonym_groups():
        for expression in group:
            key = tuple(folded_words(expression))
            if not key:
                continue
            others = index.setdefault(key, [])
            others.extend(e for e in group if e != expression and e not in others)
    return {key: tuple(values) for key, values in index.items()}


@cache
def longest_synonym() -> int:
    return max((len(key) for key in synonym_index()), default=1)
