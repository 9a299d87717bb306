"""The /recherche page and its suggestions: wiring, what a person sees, hostile input."""

from __future__ import annotations

import re

import pytest
from factories import make_initiative, make_organisation, make_theme

from directory.extensions import db


@pytest.fixture
def catalogue(app):
    with app.app_context():
        theme = make_theme(name="Vannerie", slug="vannerie")
        lead = make_organisation(name="Les Vanniers du Var")
        for number in range(25):
            make_initiative(
                title=f"Atelier de vannerie {number}",
                summary="Apprendre la vannerie <b>ensemble</b> & partager.",
                lead=lead,
                themes=[theme] if number % 2 else [],
                commune="83137",
            )
        db.session.commit()
    return app


def test_blank_page_explains_what_to_do(client):
    response = client.get("/recherche")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Rechercher dans l’annuaire</h1>" in html
    assert "Que cherchez-vous" in html


def test_results_counts_tabs_highlights_and_pagination(catalogue, client):
    html = client.get("/recherche?q=vannerie").get_data(as_text=True)
    status = re.search(r'role="status"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert status.strip() == "25\u00a0initiatives et 0\u00a0organisation pour « vannerie »."
    assert "Initiatives (25)" in html and "Organisations (0)" in html
    assert html.count('class="fr-mb-3w app-search-result"') == 20
    assert "<mark>vannerie</mark>" in html
    assert "&lt;b&gt;ensemble&lt;/b&gt; &amp; partager" in html  # the data's own HTML is escaped
    assert "page=2" in html
    page_two = client.get("/recherche?q=vannerie&page=2").get_data(as_text=True)
    assert page_two.count('class="fr-mb-3w app-search-result"') == 5


def test_facets_are_links_that_filter(catalogue, client):
    html = client.get("/recherche?q=vannerie").get_data(as_text=True)
    link = re.search(r'href="([^"]*theme=vannerie[^"]*)"', html)
    assert link is not None
    filtered = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "12\u00a0initiatives" in filtered
    assert 'aria-current="true"' in filtered
    assert "Filtre actif" in filtered


def test_organisations_tab(catalogue, client):
    html = client.get("/recherche?q=vanniers&onglet=organisations").get_data(as_text=True)
    assert "Les <mark>Vanniers</mark> du Var" in html
    assert "Type d’organisation" in html


def test_did_you_mean_links_to_the_corrected_query(catalogue, client):
    html = client.get("/recherche?q=vanerie").get_data(as_text=True)
    assert "Vouliez-vous dire" in html
    assert re.search(r'href="/recherche\?q=vannerie"', html)


def test_empty_result_is_useful(client):
    html = client.get("/recherche?q=xyzzyquux").get_data(as_text=True)
    assert "Aucun résultat pour « xyzzyquux »" in html
    assert "Essayez moins de mots" in html


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "AND",
        "OR NOT -",
        "* ? ~ ^ : ( ) [ ] { }",
        "a" * 5000,
        "nul\x00byte",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "-",
        "solid*",
        "'; DROP TABLE initiative; --",
    ],
)
def test_hostile_queries_give_a_normal_page(client, query):
    response = client.get("/recherche", query_string={"q": query})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    main = html[html.index("<main") : html.index("</main>")]
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "\x00" not in main


@pytest.mark.parametrize(
    "params",
    [
        "page=abc",
        "page=-3",
        "page=99999999999999999999",
        "rayon=loin&commune=13055",
        "tri=hasard",
        "region=atlantide",
        "annee=vingt",
        "type=secte",
        "onglet=autre",
        "departement=999999",
        "stage=inconnue",
    ],
)
def test_bad_parameters_are_ignored(client, params):
    assert client.get(f"/recherche?q=solidarité&{params}").status_code == 200


def test_suggestions_are_json(catalogue, client):
    response = client.get("/recherche/suggestions?q=toul")
    assert response.status_code == 200
    assert {"type": "commune", "label": "Toulon (83)", "code": "83137"} in response.json
    response = client.get("/recherche/suggestions?q=atelier de vann")
    urls = [s["url"] for s in response.json if s["type"] == "initiative"]
    assert urls and all(url.startswith("/initiatives/") for url in urls)
    assert client.get("/recherche/suggestions").json == []
    assert client.get("/recherche/suggestions?q=%00%00").json == []


def test_page_loads_its_script_without_inline_code(client):
    html = client.get("/recherche?q=test").get_data(as_text=True)
    assert "/static/js/search.js" in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html) is None
