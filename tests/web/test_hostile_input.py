"""Hostile input in every form: no 500, and what is stored comes back escaped.

The forms are found, not listed: every GET page of the url map is fetched (as a visitor, a
member of A and a curator) and each ``<form>`` on it is parsed. Each form is then sent back,
with a valid CSRF token, with its fields filled with hostile values: very long strings, NUL
bytes, script and attribute injections, words for numbers, several values for one field.
Afterwards every page is read again, as the same person and as a visitor: no injected
markup may come back unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from security_world import build_world, rules, sample_url, sign_in_as
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from directory.extensions import db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
# Plain text that forms accept (no tag in it) but that a page must escape.
BRACKETS = "Jardin <3 et >2 & co"
# What an unescaped injection would leave in a page.
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror", "<3 et >2")

PAYLOADS = {
    "long": "é" * 10_000,
    "nul": "avant\x00après",
    "script": SCRIPT,
    "attribute": ATTRIBUTE,
    "brackets": BRACKETS,
    "word_for_number": "abc",
    "huge_number": "9" * 40,
    "control": "\x1b[31m\x07\x08",
}
SHORT_LIST = ("script", "attribute", "long", "nul", "word_for_number")
# Names of fields that hold prose, where plain text with brackets must be accepted.
PROSE_FIELDS = {"title", "name", "summary", "description", "comment", "reason", "tagline"}
# Free-text fields; typed ones (email, url, number...) keep their value in the "text" round.
TEXT_TYPES = {"text", "search", "textarea"}


@dataclass
class Form:
    method: str
    action: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # name, kind, value

    def names(self) -> tuple[str, ...]:
        return tuple(sorted({name for name, _, _ in self.fields}))


class FormsReader(HTMLParser):
    """Every form of a page with its fields, as a browser would submit them."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: list | None = None  # name, first value, selected?

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form((a.get("method") or "get").upper(), action)
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                # Still a field to attack: remember it without a value.
                self._form.fields.append((name, kind + ":unchecked", a.get("value") or ""))
                return
            self._form.fields.append((name, kind, a.get("value") or ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.fields.append((name, "textarea", ""))
        elif tag == "select" and name:
            self._select = [name, None, False]
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in a:
                self._select[2] = True
                self._form.fields.append((self._select[0], "select", value))

    def handle_data(self, data):
        if self._textarea is not None and self._form is not None:
            name, kind, value = self._form.fields[-1]
            self._form.fields[-1] = (name, kind, value + data)

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, first, selected = self._select
            if not selected and first is not None:
                self._form.fields.append((name, "select", first))
            self._select = None
        elif tag == "form":
            self._form = None


def _text_responses(response) -> bool:
    return response.mimetype in ("text/html", "application/atom+xml", "application/xml")


def assert_escaped(response, where: str) -> None:
    if not _text_responses(response):
        return
    body = response.get_data(as_text=True)
    for marker in RAW_MARKERS:
        assert marker not in body, f"{where}: unescaped {marker!r}"


def discover_forms(app, client, world) -> list[Form]:
    """The distinct forms of every page this client can open (one per route and field set)."""
    adapter = app.url_map.bind("localhost")
    found: dict[tuple, Form] = {}
    for rule in rules(app, methods={"GET"}):
        url = sample_url(rule, world)
        response = client.get(url)
        if response.mimetype != "text/html" or response.status_code >= 400:
            continue
        reader = FormsReader(url)
        reader.feed(response.get_data(as_text=True))
        for form in reader.forms:
            target = urlsplit(form.action)
            if target.netloc and target.netloc != "localhost":
                continue  # an outside site
            try:
                endpoint, _ = adapter.match(target.path, method=form.method)
            except HTTPException:  # not a route of ours (e.g. a static file)
                continue
            found.setdefault((form.method, endpoint, form.names()), form)
    return list(found.values())


def hostile_data(form: Form, payload: str, *, mode: str, token: str) -> MultiDict:
    """The form's fields with ``payload`` in them.

    ``prose``: fields of prose (title, summary, comment...) only, the rest as the page gave
    it, so that a save happens; ``text``: every free-text field;
    ``all``: every field, choices and hidden ones included; ``lists``: every field twice.
    """
    data = MultiDict()
    for name, kind, value in form.fields:
        if name == "csrf_token":
            continue
        unchecked = kind.endswith(":unchecked")
        if mode == "prose":
            prose = kind in TEXT_TYPES and name.rsplit("-", 1)[-1] in PROSE_FIELDS
            if prose:
                data.add(name, payload)
            elif not unchecked:
                data.add(name, value)
        elif mode == "text":
            if kind in TEXT_TYPES:
                data.add(name, payload)
            elif not unchecked:
                data.add(name, value)
        elif mode == "all":
            data.add(name, payload)
        else:  # lists for scalars
            data.add(name, payload)
            data.add(name, value or "autre")
    data.add("csrf_token", token)
    return data


def _submit(app, client, world, role, form: Form, data: MultiDict):
    sign_in_as(app, client, world, role)  # a form may have signed us out
    if form.method == "GET":
        return client.get(form.action, query_string=data)
    return client.open(form.action, method=form.method, data=data)


@pytest.mark.parametrize("role", ["anonymous", "member_a", "curator"])
def test_hostile_input_in_every_form(app, csrf_token, role):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, role)
    forms = discover_forms(app, client, world)
    assert forms, "no form found"
    if role == "anonymous":
        assert any(form.action.startswith("/proposer") for form in forms)
    sent = 0
    for form in forms:
        # Search and filter forms (GET) are cheap to attack and costly to render: fewer rounds.
        modes = ("all",) if form.method == "GET" else ("prose", "text", "all", "lists")
        for mode in modes:
            for name, payload in PAYLOADS.items():
                if mode == "prose" and name != "brackets":
                    continue
                if mode in ("all", "lists") and name not in SHORT_LIST:
                    continue
                token = csrf_token(client)
                data = hostile_data(form, payload, mode=mode, token=token)
                response = _submit(app, client, world, role, form, data)
                where = f"{form.method} {form.action} [{mode}/{name}] as {role}"
                assert response.status_code < 500, where
                assert_escaped(response, where)
                if response.status_code in (301, 302, 303) and form.method != "GET":
                    target = response.headers["Location"]
                    followed = client.get(target)
                    assert followed.status_code < 500, f"{where} → {target}"
                    assert_escaped(followed, f"{where} → {target}")
                sent += 1
    assert sent > 0

    # Some of it was stored (the brackets are plain text), so the pages below show it...
    # (a visitor's only form that stores, /proposer, needs a valid address: tested apart)
    if role != "anonymous":
        assert _stored(app, BRACKETS), "no form kept the text: the escaping check is empty"
    # ...escaped everywhere, to its author and to visitors.
    visitor = app.test_client()
    for reader in (client, visitor):
        sign_in_as(app, reader, world, role if reader is client else "anonymous")
        for rule in rules(app, methods={"GET"}):
            url = sample_url(rule, world)
            response = reader.get(url)
            assert response.status_code < 500, url
            assert_escaped(response, url)


def _stored(app, text: str) -> bool:
    """Whether ``text`` is in some text column of the database."""
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for column in table.c:
                if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                    continue
                found = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(sa.cast(column, sa.Text).contains(text, autoescape=True))
                )
                if found:
                    return True
    return False


@pytest.mark.parametrize("value", [SCRIPT, ATTRIBUTE, "é" * 2_000, "a\x00b", "%00", "../../etc"])
def test_hostile_addresses_and_query_strings(app, client, value):
    """Route arguments and query parameters: 404 or a page, never a 500 or raw markup."""
    world = build_world(app)
    checked = 0
    for rule in rules(app, methods={"GET"}):
        url = sample_url(rule, world)
        response = client.get(url, query_string={"q": value, "page": value, "theme": value})
        assert response.status_code < 500, url
        assert_escaped(response, url)
        if rule.arguments:
            broken = url.rsplit("/", 1)[0] + "/" + value.replace("/", "%2F")
            response = client.get(broken)
            assert response.status_code < 500, broken
            assert_escaped(response, broken)
        checked += 1
    assert checked > 20
