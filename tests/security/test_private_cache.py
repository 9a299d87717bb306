"""Threat: a signed-in person's pages kept by a cache and shown to someone else.

Responses rendered for a signed-in person carried no ``Cache-Control: no-store``: the browser's
cache and history (the back button on a shared computer, after sign-out), or a shared proxy
cache, could keep a partner's or curator's pages (names, pending proposals, e-mail addresses)
and serve them again to the next person. Now every response made while someone is signed in
(pages, public pages too, errors, redirects, API answers) says ``no-store`` and ``Vary:
Cookie``; anonymous visitors' public pages keep their own caching headers.
"""

from __future__ import annotations

import pytest
from factories import make_organisation, make_user

from directory.extensions import db
from directory.models import Role

PUBLIC = [
    ("/", 200),
    ("/initiatives", 200),
    ("/recherche?q=emploi", 200),
    ("/recherche/suggestions?q=emp", 200),
    ("/flux/initiatives.atom", 200),
    ("/api/v1/themes", 200),
    ("/carte/points.geojson", 200),
]
ERRORS_AND_REDIRECTS = [
    ("/page-qui-n-existe-pas", 404),
    ("/api/v1/initiatives/inconnue", 404),
    ("/connexion", 302),  # a signed-in person is sent on to their space
]
PARTNER = [("/espace-partenaire/", 200), ("/compte", 200)]
STAFF = [("/gestion/", 200)]


@pytest.fixture
def people(app):
    with app.app_context():
        organisation = make_organisation()
        partner = make_user(organisation=organisation, email="partenaire@example.org")
        curator = make_user(role=Role.CURATOR, email="curateur@example.org")
        db.session.commit()
        return {"partner": partner, "curator": curator}


def _assert_private(response, url: str) -> None:
    assert response.headers.get("Cache-Control") == "no-store", url
    assert "cookie" in {value.lower() for value in response.vary}, url


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        ("partner", [*PARTNER, ("/gestion/", 403)]),
        ("curator", [*PARTNER, *STAFF]),
    ],
)
def test_everything_rendered_for_a_signed_in_person_is_not_stored(
    client, sign_in, people, role, pages
):
    sign_in(client, people[role])
    for url, status in [*pages, *PUBLIC, *ERRORS_AND_REDIRECTS]:
        response = client.get(url)
        assert response.status_code == status, url
        _assert_private(response, url)


def test_form_answers_and_sign_out_redirect_are_not_stored(client, sign_in, csrf_token, people):
    sign_in(client, people["partner"])
    refused = client.post("/compte/mot-de-passe", data={})  # no CSRF token: 400
    assert refused.status_code == 400
    _assert_private(refused, "refused form")
    response = client.post("/deconnexion", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    # Signed out now: the next public page may be cached again.
    assert "no-store" not in client.get("/initiatives").headers.get("Cache-Control", "")


def test_anonymous_visitors_keep_the_public_caching_headers(client):
    for url, status in PUBLIC:
        response = client.get(url)
        assert response.status_code == status, url
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
    assert client.get("/flux/initiatives.atom").headers["Cache-Control"] == "public, max-age=300"
    suggestions = client.get("/recherche/suggestions?q=emp")
    assert suggestions.headers["Cache-Control"] == "public, max-age=60"
    assert "public" in client.get("/api/v1/themes").headers["Cache-Control"]


def test_protected_page_for_an_anonymous_visitor_is_not_stored(client):
    response = client.get("/espace-partenaire/")
    assert response.status_code == 302
    _assert_private(response, "/espace-partenaire/")


def test_static_files_stay_cacheable_when_signed_in(client, sign_in, people):
    """Static files are the same for everyone: a signed-in person still caches the CSS."""
    sign_in(client, people["curator"])
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
