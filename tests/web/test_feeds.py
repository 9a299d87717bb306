"""Atom feeds of new and updated initiatives (RFC 4287), for the catalogue or any search."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from factories import make_initiative, make_theme

from directory.extensions import db
from directory.models import Status

ATOM = "{http://www.w3.org/2005/Atom}"


def _parse(response) -> ET.Element:
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.get_data())


def _entry_titles(feed: ET.Element) -> list[str]:
    return [entry.findtext(f"{ATOM}title") for entry in feed.iter(f"{ATOM}entry")]


def test_feed_is_valid_atom_linking_to_the_sheets(client):
    feed = _parse(client.get("/flux/initiatives.atom"))

    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{required}")
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href").endswith("/flux/initiatives.atom")

    entries = list(feed.iter(f"{ATOM}entry"))
    assert len(entries) == 7  # the seeded catalogue
    ids = set()
    for entry in entries:
        for required in ("id", "title", "updated", "published"):
            assert entry.findtext(f"{ATOM}{required}"), required
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated").replace("Z", "+00:00"))
        link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
        assert link.startswith("http://localhost/initiatives/")
        ids.add(entry.findtext(f"{ATOM}id"))
    assert len(ids) == len(entries)


def test_feed_follows_the_search_filters_and_shows_published_only(app, client):
    with app.app_context():
        theme = make_theme(slug="theme-flux")
        make_initiative(title="Publiée dans le Var", commune="83137", themes=[theme])
        make_initiative(title="Publiée à Nice", commune="06088", themes=[theme])
        make_initiative(
            title="Brouillon dans le Var", commune="83137", themes=[theme], status=Status.DRAFT
        )
        db.session.commit()

    feed = _parse(client.get("/flux/initiatives.atom?theme=theme-flux&departement=83"))

    assert _entry_titles(feed) == ["Publiée dans le Var"]
    assert "recherche filtrée" in feed.findtext(f"{ATOM}title")
    assert "theme=theme-flux" in feed.find(f"{ATOM}link[@rel='self']").get("href")


def test_newest_changes_come_first_and_demo_rows_are_labelled(app, client):
    with app.app_context():
        theme = make_theme(slug="theme-ordre")
        make_initiative(title="Ancienne", themes=[theme], updated_at=datetime(2020, 1, 1))
        make_initiative(
            title="Récente", themes=[theme], updated_at=datetime(2030, 1, 1), is_demo=True
        )
        db.session.commit()

    feed = _parse(client.get("/flux/initiatives.atom?theme=theme-ordre"))

    assert _entry_titles(feed) == ["Récente", "Ancienne"]
    assert feed.findtext(f"{ATOM}updated") == "2030-01-01T00:00:00Z"
    recent = next(feed.iter(f"{ATOM}entry"))
    terms = [category.get("term") for category in recent.iter(f"{ATOM}category")]
    assert "demonstration" in terms
    assert recent.findtext(f"{ATOM}summary").startswith("[Donnée de démonstration]")


def test_feed_answers_304_when_unchanged(client):
    first = client.get("/flux/initiatives.atom")
    again = client.get("/flux/initiatives.atom", headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304


def test_empty_search_still_gives_a_valid_feed(client):
    feed = _parse(client.get("/flux/initiatives.atom?q=aucune-initiative-ne-contient-cela"))

    assert feed.findtext(f"{ATOM}updated")
    assert _entry_titles(feed) == []


def test_bad_filters_are_ignored_like_on_the_site(client):
    feed = _parse(client.get("/flux/initiatives.atom?departement=xyz&annee=abc"))

    assert len(_entry_titles(feed)) == 7
