"""Rich text of descriptions: a small safe subset of HTML, cleaned with nh3.

Partners may write plain text (blank lines separate paragraphs) or a little HTML: paragraphs,
line breaks, lists, links, bold and italics. Everything else is removed on save
(:func:`sanitize`) and again on output (:func:`rich_text`), so that content stored before this
rule, or written by another path, can never carry a script onto a public page.
"""

from __future__ import annotations

import html
import re

import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = frozenset({"p", "br", "ul", "ol", "li", "a", "strong", "em"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"

# Something that looks like a tag: "<p>", "</em>", "<!--". "a < b" stays plain text.
_TAG = re.compile(r"</?[a-zA-Z!]")
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):")
_BLANK_LINES = re.compile(r"\n\s*\n")
_BLOCK_TAG = re.compile(r"</?(?:p|br|li|ul|ol)\b", re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Only absolute http(s) and mailto links: no relative, javascript: or data: addresses."""
    if tag == "a" and attribute == "href":
        match = _SCHEME.match(value)
        if not match or match.group(1).lower() not in ALLOWED_SCHEMES:
            return None
        return value.strip()
    return value


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_keep_attribute,
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


def paragraphs(text: str) -> str:
    """Plain text as HTML: blank lines separate paragraphs, single newlines become <br>."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [block.strip() for block in _BLANK_LINES.split(text)]
    return "".join(
        "<p>" + "<br>".join(str(escape(line.strip())) for line in block.split("\n")) + "</p>"
        for block in blocks
        if block
    )


def paragraphs_markup(text: str) -> str:
    """Like :func:`paragraphs` for text that holds inline tags (cleaned afterwards)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [block.strip() for block in _BLANK_LINES.split(text)]
    return "".join(
        "<p>" + "<br>".join(line.strip() for line in block.split("\n")) + "</p>"
        for block in blocks
        if block
    )


def sanitize(html: str | None) -> str:
    """The safe HTML to store for what a person typed ("" for nothing)."""
    if not html or not html.strip():
        return ""
    text = html.replace("\x00", "")
    if not looks_like_html(text):
        return paragraphs(text)
    if not _BLOCK_TAG.search(text):
        # Inline markup only ("<strong>Ateliers</strong> le mardi"): keep the paragraphs typed.
        text = paragraphs_markup(text)
    return _clean(text)


def rich_text(value: str | None) -> Markup:
    """Jinja filter: stored rich text (or older plain text) as safe HTML for a page."""
    if not value:
        return Markup("")
    return Markup(sanitize(str(value)))  # noqa: S704 - cleaned by nh3 just above


_SIMPLE_MARKUP = re.compile(r"</?(?:p|br)\s*/?>", re.IGNORECASE)


def editable(value: str | None) -> str:
    """What a form shows for stored rich text: paragraphs back as blank lines when that is all.

    ``editable(sanitize(text)) == text`` for plain text, so partners who never write HTML never
    see any; richer content (links, lists, emphasis) is shown as its HTML.
    """
    if not value:
        return ""
    text = str(value)
    if not looks_like_html(text) or looks_like_html(_SIMPLE_MARKUP.sub("", text)):
        return text  # plain text already, or richer markup to keep as it is
    text = re.sub(r"</p>\s*<p>", "\n\n", text.strip(), flags=re.IGNORECASE)
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(_SIMPLE_MARKUP.sub("", text))
    return text if not looks_like_html(text) else str(value)


def plain_text(value: str | None) -> str:
    """The words of a rich text without its tags (for summaries, search, exports)."""
    if not value:
        return ""
    if not looks_like_html(str(value)):
        return str(value)  # older plain text: unchanged (search digests stay the same)
    spaced = _BLOCK_TAG.sub(r" \g<0>", str(value))
    without_tags = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()
