"""Security headers on every kind of response, and scripts that the CSP lets run."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from security_world import build_world, rules, sample_url, sign_in_as

from directory import create_app
from directory.extensions import db
from directory.guards import access

# Script types that browsers do not execute (data blocks).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "application/geo+json"}


def directives(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    parsed = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            parsed[name] = value.strip()
    return parsed


def nonce_of(response) -> str:
    for source in directives(response)["script-src"].split():
        if source.startswith("'nonce-"):
            return source[len("'nonce-") : -1]
    raise AssertionError("script-src has no nonce")


def assert_security_headers(response, *, embeddable: bool = False) -> None:
    policy = directives(response)
    assert policy, "no Content-Security-Policy"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    script_src = policy["script-src"].split()
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert len(nonce_of(response)) >= 16
    if embeddable:
        assert policy["frame-ancestors"] != "'none'"
        assert "X-Frame-Options" not in response.headers
    else:
        assert policy["frame-ancestors"] == "'none'"
        assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )


class ScriptCollector(HTMLParser):
    """Every <script> tag and every inline event handler or javascript: link of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append({**attributes, "_body": ""})
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.inline_handlers.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.inline_handlers.append(f"<{tag} {name}={value}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and self.scripts:
            self.scripts[-1]["_body"] += data


def assert_scripts_allowed(response, where: str) -> int:
    """Inline scripts carry this response's nonce; others load from this site only."""
    nonce = nonce_of(response)
    parser = ScriptCollector()
    parser.feed(response.get_data(as_text=True))
    assert parser.inline_handlers == [], where
    for script in parser.scripts:
        kind = (script.get("type") or "").lower()
        if "nonce" in script:
            assert script["nonce"] == nonce, f"{where}: stale nonce"
            continue
        if kind in DATA_SCRIPT_TYPES:
            continue
        source = script.get("src")
        assert source, f"{where}: inline script without the nonce: {script['_body'][:80]!r}"
        # No nonce: allowed by 'self' only, so it must come from this site.
        assert source.startswith("/") and not source.startswith("//"), f"{where}: {source}"
    return len(parser.scripts)


# -- every kind of response ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status", "embeddable"),
    [
        ("GET", "/", 200, False),
        ("GET", "/initiatives", 200, False),
        ("GET", "/page-qui-n-existe-pas", 404, False),
        ("POST", "/", 405, False),
        ("GET", "/static/css/app.css", 200, False),
        ("GET", "/api/v1/themes", 200, False),
        ("GET", "/api/v1/initiatives/inconnue", 404, False),
        ("GET", "/api/v1/openapi.json", 200, False),
        ("GET", "/flux/initiatives.atom", 200, False),
        ("GET", "/carte", 200, False),
        ("GET", "/carte/points.geojson", 200, False),
        ("GET", "/embed/carte", 200, True),
        ("GET", "/embed/liste", 200, True),
        ("GET", "/proposer", 200, False),
    ],
)
def test_headers_on_every_response_kind(client, method, url, status, embeddable):
    response = client.open(url, method=method)
    assert response.status_code == status
    assert_security_headers(response, embeddable=embeddable)


def test_headers_on_csrf_refusal_and_redirect(client):
    refused = client.post("/proposer", data={"title": "x"})
    assert refused.status_code == 400
    assert_security_headers(refused)
    redirected = client.get("/espace-partenaire/")
    assert redirected.status_code == 302
    assert_security_headers(redirected)


def test_headers_on_server_error_page(app):
    """A crash answers the French 500 page, still with every header."""

    @access("public")
    def crash():
        raise RuntimeError("panne simulée")

    app.add_url_rule("/test-panne", "test_crash", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/test-panne")
    assert response.status_code == 500
    assert "panne simulée" not in response.get_data(as_text=True)
    assert_security_headers(response)


def test_nonce_changes_with_every_response(client):
    assert nonce_of(client.get("/")) != nonce_of(client.get("/"))


def test_signed_in_pages_are_not_cached_and_public_ones_may_be(app, client):
    world = build_world(app)
    assert "no-store" not in client.get("/initiatives").headers.get("Cache-Control", "")
    for role in ("member_a", "curator"):
        sign_in_as(app, client, world, role)
        checked = 0
        for rule in rules(app, methods={"GET"}, levels=("partner", "staff", "admin")):
            response = client.get(sample_url(rule, world))
            if response.status_code == 403:  # a partner on a staff page
                continue
            assert response.headers.get("Cache-Control") == "no-store", rule.rule
            assert_security_headers(response)
            checked += 1
        assert checked > 0, role


def test_hsts_outside_tests_and_debug(databases, tmp_path):
    url = databases.seeded()
    production = create_app(
        {
            "TESTING": False,
            "DEBUG": False,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": url,
            "SEARCH_INDEX_DIR": str(tmp_path / "instance" / "search-index"),
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    try:
        for path in ("/", "/static/css/app.css", "/api/v1/themes", "/page-inconnue"):
            response = production.test_client().get(path)
            response.close()  # the static file stays open until the response is closed
            hsts = response.headers.get("Strict-Transport-Security", "")
            assert "max-age=" in hsts, path
            assert int(hsts.split("max-age=")[1].split(";")[0]) >= 15_552_000, path
    finally:
        with production.app_context():
            db.session.remove()
            db.engine.dispose()


def test_no_hsts_in_tests(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


# -- scripts in every HTML page ---------------------------------------------------------------


def _html_pages(app, client, world, levels):
    for rule in rules(app, methods={"GET"}, levels=levels):
        url = sample_url(rule, world)
        response = client.get(url)
        if response.mimetype == "text/html" and response.status_code < 400:
            yield url, response


def test_every_script_of_every_public_page_is_allowed_by_its_policy(app, client):
    world = build_world(app)
    seen = {}
    for url, response in _html_pages(app, client, world, ("public",)):
        seen[url] = assert_scripts_allowed(response, url)
    # The folium map carries inline code: it must have been checked, with its nonce.
    assert seen.get("/carte", 0) > 0
    assert len(seen) > 10


@pytest.mark.parametrize("role", ["member_a", "curator", "admin"])
def test_every_script_of_every_signed_in_page_is_allowed_by_its_policy(app, client, role):
    world = build_world(app)
    sign_in_as(app, client, world, role)
    pages = 0
    for url, response in _html_pages(app, client, world, ("partner", "staff", "admin")):
        assert_scripts_allowed(response, url)
        pages += 1
    assert pages > 0


def test_folium_map_inline_code_carries_the_nonce(client):
    response = client.get("/carte")
    parser = ScriptCollector()
    parser.feed(response.get_data(as_text=True))
    inline = [s for s in parser.scripts if not s.get("src") and s.get("type") != "application/json"]
    assert inline, "the map page has no inline script any more: update this test"
    assert all(script.get("nonce") == nonce_of(response) for script in inline)
