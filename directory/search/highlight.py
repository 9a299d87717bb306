"""Excerpts with the matched words in ``<mark>``; every other character is escaped.

Only the entries of the page shown are highlighted, from their database text: the text is run
through the search analysis once (so "précarités" marks for "precarite"), the matching words'
offsets are kept, and the passage holding most of them is cut around them. Whoosh's highlighter
did the same with fragment objects and scoring per token, several times slower.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

from .analysis import WORD_PATTERN, french_analyzer

EXCERPT_CHARS = 220
SURROUND = 60  # characters of context before the first match of an excerpt
ELLIPSIS = "…"


def matched_spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Character ranges of the words of ``text`` whose analysed form is one of ``terms``.

    The analysis treats each word on its own (tokenizer, then per-token filters), so a word's
    term is looked up in a cache instead of running the filter chain over the whole text.
    """
    if not text or not terms:
        return []
    return [match.span() for match in _WORD.finditer(text) if _term_of(match.group()) in terms]


_WORD = re.compile(WORD_PATTERN)


@lru_cache(maxsize=200_000)
def _term_of(word: str) -> str | None:
    """The indexed term of one word (None for a stop word)."""
    for token in french_analyzer()(word):
        return token.text
    return None


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    parts: list[str] = []
    position = start
    for low, high in spans:
        if low < position or high > end:
            continue
        parts.append(str(escape(text[position:low])))
        parts.append(f"<mark>{escape(text[low:high])}</mark>")
        position = high
    parts.append(str(escape(text[position:end])))
    return "".join(parts)


def mark(text: str, terms: frozenset[str]) -> Markup:
    """The whole of a short text (a title) with its matches marked."""
    spans = matched_spans(text, terms)
    if not spans:
        return escape(text or "")
    return Markup(_render(text, spans, 0, len(text)))  # noqa: S704 - _render escapes every chunk


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The ``EXCERPT_CHARS`` passage holding the most matches, cut between words."""
    best_start, best_count = 0, -1
    spans = spans[:50]
    for number, (low, _high) in enumerate(spans):
        start = max(0, low - SURROUND)
        count = sum(1 for lo, hi in spans[number:] if hi <= start + EXCERPT_CHARS)
        if count > best_count:
            best_start, best_count = start, count
    start = best_start
    if start > 0:
        first_low = next(low for low, _ in spans if low >= start)
        space = text.find(" ", start, first_low)
        start = space + 1 if space >= 0 else first_low
    end = min(len(text), start + EXCERPT_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        last_in = [high for _, high in spans if start <= high <= end]
        if space > (last_in[-1] if last_in else start):
            end = space
    return start, end


def excerpt(texts: list[str | None], terms: frozenset[str]) -> Markup:
    """The best passage of the first text that mentions a term, else the start of the first."""
    candidates = [t for t in texts if t]
    for text in candidates if terms else ():
        spans = matched_spans(text, terms)
        if not spans:
            continue
        if len(text) <= EXCERPT_CHARS:
            return Markup(_render(text, spans, 0, len(text)))  # noqa: S704 - escaped
        start, end = _window(text, spans)
        body = _render(text, spans, start, end)
        before = f"{ELLIPSIS} " if start > 0 else ""
        after = f" {ELLIPSIS}" if end < len(text) else ""
        return Markup(before + body + after)  # noqa: S704 - _render escapes every chunk
    if not candidates:
        return escape("")
    first = candidates[0]
    if len(first) > EXCERPT_CHARS:
        first = first[:EXCERPT_CHARS].rsplit(" ", 1)[0] + f" {ELLIPSIS}"
    return escape(first)
