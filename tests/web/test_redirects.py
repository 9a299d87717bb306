"""Old addresses of merged entries answer 301 to the surviving entry (pages and API)."""

from __future__ import annotations

import pytest
from factories import make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import Role, SlugRedirect, Status
from directory.services import merge, workflow


def _merge(kind: str, keep: str, retire: str, curator) -> None:
    survivor = workflow.find_entry(kind, keep)
    retired = workflow.find_entry(kind, retire)
    merge.merge(curator, kind, survivor, retired, {}, merge.merge_token(survivor, retired))


@pytest.fixture
def merged(app):
    """Initiatives A → B then B → C (a chain), organisation X → Y."""
    with app.app_context():
        curator = make_user(role=Role.CURATOR, email="claire@example.org")
        make_organisation(slug="orga-x", name="Organisation X")
        make_organisation(slug="orga-y", name="Organisation Y")
        for slug in ("fiche-a", "fiche-b", "fiche-c"):
            make_initiative(slug=slug, title=f"Fiche {slug[-1].upper()}")
        db.session.commit()
        _merge("initiative", "fiche-b", "fiche-a", curator)
        _merge("initiative", "fiche-c", "fiche-b", curator)
        _merge("organisation", "orga-y", "orga-x", curator)
    return app


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/initiatives/fiche-a", "/initiatives/fiche-c"),  # chain collapsed: one hop
        ("/initiatives/fiche-b", "/initiatives/fiche-c"),
        ("/organisations/orga-x", "/organisations/orga-y"),
        ("/api/v1/initiatives/fiche-a", "/api/v1/initiatives/fiche-c"),
        ("/api/v1/organisations/orga-x", "/api/v1/organisations/orga-y"),
    ],
)
def test_old_address_answers_301_to_the_survivor(merged, client, old, new):
    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"].endswith(new)
    assert client.get(response.headers["Location"]).status_code == 200


def test_redirects_are_per_kind_and_unknown_slugs_stay_404(merged, client):
    assert client.get("/organisations/fiche-a").status_code == 404
    assert client.get("/initiatives/orga-x").status_code == 404
    assert client.get("/initiatives/inconnue").status_code == 404
    assert client.get("/initiatives/fiche%00a").status_code == 404
    assert client.get("/initiatives/" + "a" * 300).status_code == 404
    assert client.get("/api/v1/initiatives/inconnue").status_code == 404
    assert client.get("/api/v1/initiatives/fiche%00a").status_code == 404


def test_no_redirect_to_an_entry_that_is_no_longer_public(merged, client):
    with merged.app_context():
        survivor = workflow.find_entry("initiative", "fiche-c")
        survivor.status = Status.ARCHIVED
        db.session.commit()
        assert db.session.query(SlugRedirect).count() == 3
    assert client.get("/initiatives/fiche-a").status_code == 404
    assert client.get("/api/v1/initiatives/fiche-a").status_code == 404


def test_a_live_entry_is_never_shadowed_by_a_redirect(merged, client):
    with merged.app_context():
        retired = workflow.find_entry("initiative", "fiche-a")
        retired.status = Status.PUBLISHED  # brought back by a curator
        db.session.commit()
    assert client.get("/initiatives/fiche-a").status_code == 200
