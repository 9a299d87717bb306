"""Excerpts with the matched words in ``<mark>``; every other character is escaped."""

from __future__ import annotations

from markupsafe import Markup, escape
from whoosh.highlight import ContextFragmenter, HtmlFormatter, WholeFragmenter, highlight

from .analysis import french_analyzer

EXCERPT_CHARS = 220


class _MarkFormatter(HtmlFormatter):
    """Whoosh's formatter, with ``<mark>`` and markupsafe escaping of all text."""

    def __init__(self) -> None:
        super().__init__(tagname="mark", between=" … ")

    def _text(self, text: str) -> str:
        return str(escape(text))

    def format_token(self, text: str, token, replace: bool = False) -> str:
        ttext = token.text if replace else text[token.startchar : token.endchar]
        return f"<mark>{escape(ttext)}</mark>"


def mark(text: str, terms: frozenset[str]) -> Markup:
    """The whole of a short text (a title) with its matches marked."""
    if not text or not terms:
        return escape(text or "")
    marked = highlight(
        text, terms, french_analyzer(), WholeFragmenter(), _MarkFormatter(), top=1, minscore=1
    )
    if not marked:
        return escape(text)
    return Markup(marked)  # noqa: S704 - _MarkFormatter escaped every chunk


def excerpt(texts: list[str | None], terms: frozenset[str]) -> Markup:
    """The best passage of the first text that mentions a term, else the start of the first."""
    candidates = [t for t in texts if t]
    if terms:
        for text in candidates:
            marked = highlight(
                text,
                terms,
                french_analyzer(),
                WholeFragmenter()
                if len(text) <= EXCERPT_CHARS
                else ContextFragmenter(maxchars=EXCERPT_CHARS, surround=60),
                _MarkFormatter(),
                top=2,
                minscore=1,
            )
            if marked:
                return Markup(marked)  # noqa: S704 - _MarkFormatter escaped every chunk
    if not candidates:
        return escape("")
    first = candidates[0]
    if len(first) > EXCERPT_CHARS:
        first = first[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    return escape(first)
