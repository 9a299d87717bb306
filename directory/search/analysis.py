"""French text analysis shared by indexing, querying and highlighting.

Tokenizer → lower case → accent folding → French stop words → French Snowball stemmer. Accents
are folded *before* stemming so that "precarite" and "précarité" reduce to the same stem.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.lang import stemmer_for_language, stopwords_for_language
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
    return FrenchTokenizer()


def french_chain() -> Analyzer:
    """The same analysis as Whoosh's filter chain (``FrenchTokenizer`` does it in one pass)."""
    return (
        RegexTokenizer(WORD_PATTERN)
        | LowercaseFilter()
        | CharsetFilter(_ligature_accent_map())
        | StopFilter(stoplist=stop_words(), minsize=1)
        | StemFilter(lang="fr", cachesize=50_000)
    )


@lru_cache(maxsize=300_000)
def term_of(word: str) -> str | None:
    """The indexed term of one word: lower case, accents folded, stemmed; None if a stop word.

    Each word is analysed on its own by the chain, so one cached lookup per word gives the same
    result as the five chained generators, several times faster when indexing.
    """
    folded = word.lower().translate(_charset())
    if not folded or folded in stop_words():
        return None
    return _stemmer()(folded)


@cache
def _charset() -> dict[int, str]:
    return _ligature_accent_map()


@cache
def _stemmer():
    return stemmer_for_language("fr")


class FrenchTokenizer(Tokenizer):
    """``french_chain`` fused into one tokenizer: words, weights (optional), terms, positions.

    Yields exactly the tokens of the chain (text, positions renumbered over the kept words as
    ``StopFilter`` does, character offsets, boosts), checked by the tests against the chain.
    With ``weighted``, reads the segments of ``weighted_text`` and gives each token its
    segment's weight as boost (``WeightedTokenizer``).
    """

    def __init__(self, weighted: bool = False) -> None:
        self.weighted = weighted

    def __eq__(self, other) -> bool:
        return self.__class__ is other.__class__ and self.weighted == other.weighted

    def __hash__(self) -> int:
        return hash((self.__class__, self.weighted))

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        if not tokenize:  # a whole value as one token: the chain's general path
            chain = weighted_chain() if self.weighted else french_chain()
            yield from chain(
                value,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=False,
                mode=mode,
                **kwargs,
            )
            return
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        finditer = _WORD_RE.finditer
        kept_pos = None  # StopFilter's renumbering: kept words get consecutive positions
        if self.weighted:
            segments = []
            position, offset = start_pos, start_char
            for segment in value.split(SEGMENT_SEPARATOR):
                raw_weight, separator, text = segment.partition(WEIGHT_SEPARATOR)
                boost = float(raw_weight) if separator else 1.0
                text = text if separator else segment
                segments.append((text, boost, position, offset))
                count = sum(1 for _ in finditer(text))
                if count and positions:
                    position = position + count - 1 + POSITION_GAP
                offset += len(segment) + 1
        else:
            segments = [(value, 1.0, start_pos, start_char)]
        for text, boost, first_pos, first_char in segments:
            for number, match in enumerate(finditer(text)):
                word = match.group()
                term = term_of(word)
                if term is None:
                    if removestops:
                        continue
                    token.stopped = True
                    token.text = word.lower().translate(_charset())
                    pos = first_pos + number
                else:
                    token.stopped = False
                    token.text = term
                    pos = first_pos + number
                    if positions:
                        kept_pos = pos if kept_pos is None else kept_pos + 1
                        pos = kept_pos
                if keeporiginal:
                    token.original = word
                token.boost = boost
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar = first_char + match.start()
                    token.endchar = first_char + match.end()
                yield token


_WORD_RE = re.compile(WORD_PATTERN)


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
    return FrenchTokenizer(weighted=True)


def weighted_chain() -> Analyzer:
    """``weighted_analyzer`` as Whoosh's filter chain (the reference of ``FrenchTokenizer``)."""
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
