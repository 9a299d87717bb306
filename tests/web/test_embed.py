"""The embeddable list of initiatives: chrome-less, framable, filtered, opening the main site."""

from __future__ import annotations

from factories import make_initiative, make_organisation
from flask import render_template_string

from directory.extensions import db
from directory.models import Status


def test_embed_list_is_framable_and_chrome_less(client):
    response = client.get("/embed/liste")

    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert 'lang="fr"' in page
    assert "fr-header" not in page and "fr-footer" not in page
    assert "/static/vendor/dsfr/dsfr.min.css" in page


def test_other_pages_stay_unframable(client):
    assert client.get("/api/v1/").headers["X-Frame-Options"] == "DENY"


def test_embed_list_follows_filters_and_links_out(app, client):
    with app.app_context():
        partner = make_organisation(slug="partenaire-embed")
        make_initiative(slug="projet-du-partenaire", title="Projet du partenaire", lead=partner)
        make_initiative(
            slug="brouillon-du-partenaire", lead=partner, status=Status.DRAFT, title="Caché"
        )
        make_initiative(slug="projet-d-un-autre", title="Projet d'un autre")
        db.session.commit()

    page = client.get("/embed/liste?organisation=partenaire-embed").get_data(as_text=True)

    assert "Projet du partenaire" in page
    assert "Caché" not in page and "Projet d&#39;un autre" not in page
    assert (
        'href="http://localhost/initiatives/projet-du-partenaire" target="_blank" rel="noopener"'
        in page
    )


def test_embed_list_count_is_bounded_and_forgiving(app, client):
    with app.app_context():
        for number in range(4):
            make_initiative(title=f"Compte {number}")
        db.session.commit()

    two = client.get("/embed/liste?q=Compte&nombre=2").get_data(as_text=True)
    assert two.count('class="embed-list__item"') == 2
    assert "Voir les 4" in two  # a link to the rest on the site
    forgiving = client.get("/embed/liste?q=Compte&nombre=beaucoup&departement=zz")
    assert forgiving.status_code == 200
    assert forgiving.get_data(as_text=True).count('class="embed-list__item"') == 4


def test_embed_list_empty_selection(client):
    page = client.get("/embed/liste?q=introuvable-introuvable").get_data(as_text=True)

    assert "Aucune initiative publiée" in page


def test_iframe_snippet_partial(app):
    with app.test_request_context():
        html = render_template_string(
            '{% set embed_args = {"organisation": "drjscs-paca"} %}'
            '{% include "_partials/_embed_list_snippet.html" %}'
        )

    # Shown as text in a <textarea>, so that partners copy the code itself.
    assert (
        '&lt;iframe src="http://localhost/embed/liste?organisation=drjscs-paca" '
        'title="Initiatives — Annuaire de l’innovation sociale"'
    ) in html
    assert 'for="embed-list-snippet-drjscs-paca"' in html
