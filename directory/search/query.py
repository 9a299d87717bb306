"""The search syntax people may type, parsed leniently into a backend-neutral query.

Words are combined with AND; ``"quoted phrases"``, ``prefix*`` and ``-excluded`` words work.
Nothing here raises: unbalanced quotes, lone operators or odd characters fall back to plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .analysis import folded_words, longest_synonym, synonym_index

MAX_QUERY_LENGTH = 500
MAX_CLAUSES = 12  # bounds the work per query whatever the input
# The longest French words have about 25 letters; spelling suggestions and fuzzy matching of a
# 500-letter "word" took most of a second, so longer runs of letters are cut.
MAX_WORD_LENGTH = 40
MIN_PREFIX_LENGTH = 2  # ``a*`` would stand for any word: it is searched as the word "a"
MAX_PREFIXES = 4  # each prefix reads up to 60 words' postings
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [word[:MAX_WORD_LENGTH] for word in _WORD.findall(text)]


@dataclass(frozen=True)
class Unit:
    """One required part of the query: an expression and its synonyms (any of them matches)."""

    text: str  # as typed
    alternatives: tuple[str, ...] = ()  # synonym expressions
    phrase: bool = False  # quoted: the words must follow each other
    prefix: bool = False  # ``solid*``


@dataclass(frozen=True)
class ParsedQuery:
    units: tuple[Unit, ...] = ()
    excluded: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_empty(self) -> bool:
        return not self.units

    @property
    def words(self) -> tuple[str, ...]:
        """The plain words typed (for spelling suggestions)."""
        return tuple(u.text for u in self.units if not u.phrase and not u.prefix)


def parse(text: str) -> ParsedQuery:
    """Parse what was typed; anything unusual degrades to plain words."""
    text = (text or "").replace("\x00", " ")[:MAX_QUERY_LENGTH]
    if text.count('"') % 2:
        text = text.replace('"', " ")  # an unbalanced quote: plain words
    plain: list[str] = []
    units: list[Unit] = []
    excluded: list[str] = []

    def flush() -> None:
        units.extend(_with_synonyms(plain))
        plain.clear()

    for match in _TOKEN.finditer(text):
        minus, quoted, token = match.groups()
        if quoted is not None:
            words = " ".join(_words(quoted))
            if not words:
                continue
            flush()
            if minus:
                excluded.append(words)
            elif " " in words:
                units.append(Unit(words, phrase=True))
            else:
                plain.append(words)
            continue
        if token.startswith("-") and _WORD.search(token[1:]):
            flush()
            excluded.extend(_words(token[1:])[:1])
            continue
        stem = token.rstrip("*")
        if (
            token.endswith("*")
            and _WORD.fullmatch(stem)
            and MIN_PREFIX_LENGTH <= len(stem) <= MAX_WORD_LENGTH
            and sum(unit.prefix for unit in units) < MAX_PREFIXES
        ):
            flush()
            units.append(Unit(stem, prefix=True))
            continue
        plain.extend(_words(token))
    flush()
    return ParsedQuery(tuple(units[:MAX_CLAUSES]), tuple(excluded[:MAX_CLAUSES]))


def _with_synonyms(words: list[str]) -> list[Unit]:
    """Group the words into units, matching the longest synonym expression at each place."""
    folded = [" ".join(folded_words(w)) for w in words]
    index = synonym_index()
    units: list[Unit] = []
    position = 0
    while position < len(words):
        for size in range(min(longest_synonym(), len(words) - position), 0, -1):
            key = tuple(folded[position : position + size])
            if key in index:
                text = " ".join(words[position : position + size])
                units.append(Unit(text, alternatives=index[key], phrase=size > 1))
                position += size
                break
        else:
            units.append(Unit(words[position]))
            position += 1
    return units
