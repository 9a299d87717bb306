"""The DSFR layout every page shares: structure, skip links, offline assets, error pages."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from html.parser import HTMLParser

import pytest
from flask import Flask, flash, render_template
from sqlalchemy import select

from directory.config import ROOT
from directory.extensions import db
from directory.guards import access
from directory.web import templating

LEGAL_PAGES = ["/mentions-legales", "/accessibilite", "/donnees-personnelles", "/plan-du-site"]


class PageParser(HTMLParser):
    """Collects what the layout tests look at: headings, ids, links, assets."""

    def __init__(self) -> None:
        super().__init__()
        self.h1_count = 0
        self.html_lang: str | None = None
        self.ids: set[str] = set()
        self.assets: list[str] = []
        self.links: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts_without_nonce = 0
        self._in_skiplinks = 0
        self.skip_links: list[str] = []
        self._script_without_src = False
        self._script_has_nonce = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if tag == "h1":
            self.h1_count += 1
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "script":
            if attributes.get("src"):
                self.assets.append(attributes["src"])
            elif attributes.get("type") not in ("application/json", "application/ld+json"):
                self._script_without_src = True
                self._script_has_nonce = bool(attributes.get("nonce"))
        if tag == "link" and attributes.get("href"):
            self.assets.append(attributes["href"])
        if tag in ("img", "source", "iframe", "audio", "video") and attributes.get("src"):
            self.assets.append(attributes["src"])
        if "fr-skiplinks" in (attributes.get("class") or ""):
            self._in_skiplinks = 1
        if tag == "a":
            self.links.append((attributes.get("href") or "", attributes))
            if self._in_skiplinks:
                self.skip_links.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._in_skiplinks:
            self._in_skiplinks = 0
        if tag == "script":
            self._script_without_src = False

    def handle_data(self, data: str) -> None:
        if self._script_without_src and data.strip() and not self._script_has_nonce:
            self.inline_scripts_without_nonce += 1


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def page_urls(app: Flask) -> list[str]:
    """Every kind of page, with a real entry for the detail pages."""
    from directory.models import Event, Initiative, Organisation, Status

    urls = list(LEGAL_PAGES)
    with app.test_request_context():
        from flask import url_for

        for endpoint in (
            "public.home",
            "public.initiatives",
            "public.organisations",
            "public.events",
            "search.search",
            "map.map_page",
        ):
            urls.append(url_for(endpoint))
        for endpoint, model in (
            ("public.initiative", Initiative),
            ("public.organisation", Organisation),
            ("public.event", Event),
        ):
            slug = db.session.scalar(
                select(model.slug).where(model.status == Status.PUBLISHED).limit(1)
            )
            if slug:
                urls.append(url_for(endpoint, slug=slug))
        db.session.remove()
    return urls


@pytest.fixture
def pages(app, client) -> dict[str, str]:
    """URL → HTML of every page, fetched once per test."""
    result = {}
    for url in page_urls(app):
        response = client.get(url)
        assert response.status_code == 200, url
        result[url] = response.get_data(as_text=True)
    return result


def test_every_page_has_one_h1_french_lang_and_skip_links(pages):
    assert len(pages) >= len(LEGAL_PAGES)
    for url, html in pages.items():
        page = parse(html)
        assert page.html_lang == "fr", url
        assert page.h1_count == 1, f"{url}: {page.h1_count} h1"
        assert {"#contenu", "#navigation", "#pied-de-page"} <= set(page.skip_links), url
        for target in page.skip_links:
            assert target.lstrip("#") in page.ids, f"{url}: skip link to missing {target}"
        assert 'id="contenu" role="main" tabindex="-1"' in html, url


def test_pages_load_nothing_from_other_hosts_and_inline_scripts_carry_a_nonce(pages):
    for url, html in pages.items():
        page = parse(html)
        external = [a for a in page.assets if re.match(r"^(https?:)?//", a)]
        assert external == [], f"{url} loads {external}"
        assert page.inline_scripts_without_nonce == 0, f"{url}: inline script without nonce"


def test_page_title_ends_with_the_service_name(client):
    html = client.get("/mentions-legales").get_data(as_text=True)
    assert "<title>Mentions légales — Annuaire de l&#39;innovation sociale</title>" in html


def test_assets_referenced_by_pages_are_served(pages, client):
    seen = set()
    for html in pages.values():
        for asset in parse(html).assets:
            if asset.startswith("/static/") and asset not in seen:
                seen.add(asset)
                response = client.get(asset)
                assert response.status_code == 200, asset
                response.close()
    assert "/static/vendor/dsfr/dsfr.min.css" in seen
    assert "/static/vendor/dsfr/dsfr.module.min.js" in seen


@pytest.mark.parametrize(
    "stylesheet", ["dsfr.min.css", "utility/icons/icons.min.css"], ids=["dsfr", "icons"]
)
def test_vendored_stylesheets_only_point_to_vendored_files(stylesheet):
    """Fonts and icons the DSFR CSS refers to are all present: the site works offline."""
    path = ROOT / "static" / "vendor" / "dsfr" / stylesheet
    css = path.read_text(encoding="utf-8")
    references = set(re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css))
    files = [ref for ref in references if not ref.startswith("data:")]
    assert files, "no file reference found: the parsing is wrong"
    assert not [ref for ref in files if re.match(r"^(https?:)?//", ref)]
    missing = [ref for ref in files if not (path.parent / ref.split("#")[0]).exists()]
    assert missing == []


def test_vendored_fonts_and_licence_are_served(client):
    font = client.get("/static/vendor/dsfr/fonts/Marianne-Regular.woff2")
    assert font.status_code == 200 and len(font.data) > 10_000
    licence = client.get("/static/vendor/dsfr/LICENSE.md")
    assert licence.status_code == 200 and b"LICENCE OUVERTE" in licence.data


def test_footer_links_to_legal_pages_and_open_licence(client):
    html = client.get("/plan-du-site").get_data(as_text=True)
    for url in ("/mentions-legales", "/accessibilite", "/donnees-personnelles"):
        assert f'href="{url}"' in html
    assert "Licence Ouverte 2.0" in html
    assert "Accessibilité : non conforme" in html


def test_unknown_url_gives_the_french_404_page(client):
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    page = parse(html)
    assert page.html_lang == "fr" and page.h1_count == 1
    assert "Page non trouvée" in html
    assert "Page d’accueil" in html


def test_wrong_method_gives_a_french_405_with_allow_header(client):
    response = client.post("/mentions-legales")
    # CSRF protection may answer first (400); both must be French pages.
    assert response.status_code in (400, 405)
    html = response.get_data(as_text=True)
    assert parse(html).h1_count == 1
    if response.status_code == 405:
        assert "Méthode non autorisée" in html
        assert "GET" in response.headers["Allow"]
    else:
        assert "Requête invalide" in html


def test_server_error_gives_the_french_500_page(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/__panne", "broken", access("public")(broken))
    response = app.test_client().get("/__panne")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Erreur inattendue" in html
    assert "boom" not in html
    assert parse(html).h1_count == 1


def test_flash_messages_are_dsfr_alerts(app):
    def flashing():
        flash("La fiche a été enregistrée.", "success")
        flash("Adresse invalide.", "danger")
        return render_template("pages/sitemap.html")

    app.add_url_rule("/__flash", "flashing", access("public")(flashing))
    html = app.test_client().get("/__flash").get_data(as_text=True)
    assert 'class="fr-alert fr-alert--success fr-alert--sm" role="status"' in html
    assert 'class="fr-alert fr-alert--error fr-alert--sm" role="alert"' in html
    assert "La fiche a été enregistrée." in html


def test_current_navigation_entry_is_marked(app, client):
    entries = {
        "public.initiatives": "Initiatives",
        "public.organisations": "Organisations",
        "public.events": "Événements",
    }
    with app.test_request_context():
        from flask import url_for

        targets = {url_for(e): label for e, label in entries.items()}
    for url, label in targets.items():
        html = client.get(url).get_data(as_text=True)
        current = re.findall(
            r'<a class="fr-nav__link"[^>]*aria-current="page"[^>]*>([^<]+)</a>', html
        )
        assert current == [label], url


def test_legal_pages_show_operator_facts_when_configured(app, client):
    html = client.get("/mentions-legales").get_data(as_text=True)
    assert "ne figure pas dans la configuration de cette instance" in html
    app.config["LEGAL_HOST"] = "Hébergeur <de test>\nLigne deux"
    html = client.get("/mentions-legales").get_data(as_text=True)
    assert "<p>Hébergeur &lt;de test&gt;<br>Ligne deux</p>" in html


def test_accessibility_statement_is_honest(client):
    html = client.get("/accessibilite").get_data(as_text=True)
    assert "<strong>non conforme</strong>" in html
    assert "audit" in html
    assert "Défenseur des droits" in html


def test_personal_data_page_mentions_session_cookie_only(client):
    html = client.get("/donnees-personnelles").get_data(as_text=True)
    assert "cookie de session" in html
    assert "aucun cookie de mesure d’audience" in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2011, 6, 15), "15 juin 2011"),
        (datetime(2011, 6, 1, 9, 30), "1er juin 2011"),
        ("2011-12-03", "3 décembre 2011"),
        ("pas une date", ""),
        (None, ""),
    ],
)
def test_format_date(value, expected):
    assert templating.format_date(value) == expected


def test_format_date_with_weekday():
    assert templating.format_date(date(2011, 6, 15), weekday=True) == "mercredi 15 juin 2011"


def test_format_time_and_datetime():
    assert templating.format_time(time(9, 30)) == "9 h 30"
    assert templating.format_time(time(14, 0)) == "14 h"
    assert templating.format_time(time(8, 5)) == "8 h 05"
    assert templating.format_datetime(datetime(2011, 6, 15, 9, 30)) == "15 juin 2011 à 9 h 30"


def test_format_number():
    assert templating.format_number(12345) == "12\u202f345"
    assert templating.format_number(1234567.891, 2) == "1\u202f234\u202f567,89"
    assert templating.format_number(999) == "999"
    assert templating.format_number("abc") == "abc"
    assert templating.pluralize(0, "initiative") == "0\u00a0initiative"
    assert templating.pluralize(1500, "initiative") == "1\u202f500\u00a0initiatives"


def test_nl2br_escapes():
    html = str(templating.nl2br("a <b>\nc\n\nd"))
    assert html == "<p>a &lt;b&gt;<br>c</p><p>d</p>"


def test_pagination_keeps_query_parameters(app):
    with app.test_request_context("/plan-du-site?q=jeunes&theme=a&theme=b&page=3"):
        app.preprocess_request()
        template = app.jinja_env.from_string(
            '{% import "_macros/ui.html" as ui %}{{ ui.pagination(3, 9) }}'
        )
        html = template.render()
    assert 'aria-current="page" title="Page 3"' in html
    assert "/plan-du-site?q=jeunes&amp;theme=a&amp;theme=b&amp;page=4" in html
    assert "Dernière page" in html and 'page=9"' in html
    assert "page=7" not in html  # outside the window of two pages around the current one


def test_header_search_box_never_echoes_nul_bytes(client):
    response = client.get("/recherche?q=abc%00def")
    assert response.status_code == 200
    assert b"\x00" not in response.data
    assert b'value="abcdef"' in response.data
