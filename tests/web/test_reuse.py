"""Pages that list initiatives offer to reuse them: Atom feed and <iframe> snippets."""

from __future__ import annotations

import html

import sqlalchemy as sa

from directory.extensions import db
from directory.models import Organisation, Status


def _text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_organisation_page_offers_its_feed_and_embeds(app, client):
    with app.app_context():
        slug = db.session.scalar(
            sa.select(Organisation.slug).where(Organisation.status == Status.PUBLISHED).limit(1)
        )
    page = _text(client.get(f"/organisations/{slug}"))
    assert f'<iframe src="http://localhost/embed/liste?organisation={slug}"' in page
    assert f'<iframe src="http://localhost/embed/carte?organisation={slug}"' in page
    assert (
        f'type="application/atom+xml" title="Initiatives — flux Atom" '
        f'href="/flux/initiatives.atom?organisation={slug}"' in page
    )
    assert client.get(f"/embed/liste?organisation={slug}").status_code == 200
    assert client.get(f"/flux/initiatives.atom?organisation={slug}").status_code == 200


def test_list_and_search_reuse_keep_the_filters(client):
    for address in (
        "/initiatives?theme=numerique&departement=13",
        "/recherche?q=solidarite&departement=13",
    ):
        page = _text(client.get(address))
        query = address.split("?", 1)[1]
        assert f'<iframe src="http://localhost/embed/liste?{query}"' in page
        assert f'<iframe src="http://localhost/embed/carte?{query}"' in page
        assert f"/flux/initiatives.atom?{query}" in page


def test_blank_search_page_offers_no_snippet(client):
    page = _text(client.get("/recherche"))
    assert "<iframe" not in page
