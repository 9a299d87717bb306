"""Likely duplicates: similar titles, same commune or lead organisation, same website."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_commune, make_initiative, make_organisation

from directory.extensions import db
from directory.models import Initiative, Status
from directory.services import duplicates
from directory.services.duplicates import (
    REASON_SAME_COMMUNE,
    REASON_SAME_LEAD,
    REASON_SAME_WEBSITE,
    REASON_TITLE_CLOSE,
    REASON_TITLE_VERY_CLOSE,
    find_duplicates,
)


@pytest.fixture
def world(app_ctx):
    make_commune("13055")
    make_commune("06088")
    org = make_organisation(name="Association Zéphyrine", slug="association-zephyrine")
    other_org = make_organisation(name="Collectif Quenouille", slug="collectif-quenouille")
    epicerie = make_initiative(
        slug="epicerie-solidaire-zephyrine",
        title="Épicerie solidaire des Zéphyrins",
        lead=org,
        commune="13055",
        website="https://www.zephyrins.example/epicerie/",
    )
    unrelated = make_initiative(
        slug="atelier-velo-quenouille",
        title="Atelier vélo participatif Quenouille",
        lead=other_org,
        commune="06088",
    )
    db.session.commit()
    return {"org": org, "other_org": other_org, "epicerie": epicerie, "unrelated": unrelated}


def _slugs(candidates):
    return [candidate.entry.slug for candidate in candidates]


def test_words_fold_accents_case_stop_words_and_plurals():
    assert duplicates.words("Les Épiceries SOLIDAIRES de l'Estaque") == [
        "epicerie",
        "solidaire",
        "estaque",
    ]
    assert duplicates.title_similarity("Épicerie solidaire", "EPICERIES SOLIDAIRES") == 1.0
    assert duplicates.title_similarity("Épicerie solidaire", "Atelier vélo") < 0.5
    assert duplicates.title_similarity("", "Atelier") == 0.0


def test_website_key_normalises_scheme_www_case_and_trailing_slash():
    key = duplicates.website_key("https://www.Zephyrins.example/epicerie/")
    assert key == "zephyrins.example/epicerie"
    assert duplicates.website_key("http://zephyrins.example/epicerie/index.html") == key
    assert duplicates.website_key("zephyrins.example/epicerie") == key
    assert duplicates.website_key("https://zephyrins.example/autre") != key
    assert duplicates.website_key("") is None
    assert duplicates.website_key("https://") is None
    assert duplicates.website_key("http://[::1") is None


def test_accent_and_case_variation_of_title_is_flagged(world):
    found = find_duplicates("initiative", {"title": "EPICERIE SOLIDAIRE DES ZEPHYRINS"})
    assert _slugs(found) == ["epicerie-solidaire-zephyrine"]
    assert REASON_TITLE_VERY_CLOSE in found[0].reasons
    assert found[0].score >= 0.85
    assert found[0].title == "Épicerie solidaire des Zéphyrins"


def test_close_title_needs_same_commune_or_lead(world):
    data = {"title": "Épicerie zéphyrins à Marseille"}
    assert find_duplicates("initiative", data) == []
    with_commune = {**data, "places": [{"commune_code": "13055"}]}
    found = find_duplicates("initiative", with_commune)
    assert _slugs(found) == ["epicerie-solidaire-zephyrine"]
    assert found[0].reasons == [REASON_TITLE_CLOSE, REASON_SAME_COMMUNE]
    with_lead = {**data, "organisations": [{"slug": "association-zephyrine", "role": "porteur"}]}
    found = find_duplicates("initiative", with_lead)
    assert REASON_SAME_LEAD in found[0].reasons


def test_same_website_is_flagged_whatever_the_title(world):
    found = find_duplicates(
        "initiative", {"title": "Tout autre chose", "website": "http://zephyrins.example/epicerie"}
    )
    assert _slugs(found) == ["epicerie-solidaire-zephyrine"]
    assert found[0].reasons == [REASON_SAME_WEBSITE]


def test_unrelated_entries_are_not_flagged(world):
    found = find_duplicates(
        "initiative",
        {
            "title": "Ressourcerie numérique du Panier",
            "places": [{"commune_code": "13055"}],
            "organisations": [{"slug": "association-zephyrine", "role": "porteur"}],
            "website": "https://ressourcerie.example/",
        },
    )
    assert found == []


def test_exclude_id_archived_entries_and_limit(world):
    data = {"title": "Épicerie solidaire des Zéphyrins"}
    assert find_duplicates("initiative", data, exclude_id=world["epicerie"].id) == []
    for number in range(4):
        make_initiative(slug=f"copie-{number}", title=f"Épicerie solidaire des Zéphyrins {number}")
    world["epicerie"].status = Status.ARCHIVED
    db.session.commit()
    found = find_duplicates("initiative", data, limit=3)
    assert len(found) == 3
    assert "epicerie-solidaire-zephyrine" not in _slugs(find_duplicates("initiative", data))


def test_organisations_by_name_commune_and_website(world):
    world["org"].commune_code = "13055"
    world["org"].website = "https://zephyrine.example"
    db.session.commit()
    found = find_duplicates("organisation", {"name": "association zephyrine"})
    assert _slugs(found) == ["association-zephyrine"]
    found = find_duplicates(
        "organisation", {"name": "Autre nom", "website": "https://www.zephyrine.example/"}
    )
    assert _slugs(found) == ["association-zephyrine"]
    assert find_duplicates("organisation", {"name": "Fédération des cerfs-volants"}) == []


@pytest.mark.parametrize(
    "data",
    [
        None,
        "texte",
        {},
        {"title": None},
        {"title": 12, "places": "13055", "organisations": "x"},
        {"title": "a" * 5000, "places": [None, {"commune_code": 5}], "website": ["x"]},
        {"title": "Épicerie %_\\ solidaire\x00", "website": "https://%_.example"},
    ],
)
def test_odd_data_never_fails(world, data):
    assert isinstance(find_duplicates("initiative", data), list)


def test_unknown_kind_is_refused(app_ctx):
    with pytest.raises(ValueError):
        find_duplicates("evenement", {"title": "x"})


def test_duplicate_pairs_lists_published_pairs_once(world):
    make_initiative(slug="epicerie-bis", title="Epicerie solidaire des Zephyrins")
    make_initiative(slug="brouillon", title="Épicerie solidaire des Zéphyrins", status=Status.DRAFT)
    db.session.commit()
    page = duplicates.duplicate_pairs("initiative")
    pairs = [
        {pair.first.slug, pair.second.slug}
        for pair in page.items
        if "epicerie" in pair.first.slug or "epicerie" in pair.second.slug
    ]
    assert pairs == [{"epicerie-solidaire-zephyrine", "epicerie-bis"}]
    assert page.total >= 1
    empty = duplicates.duplicate_pairs("organisation", page=999)
    assert empty.items == []


# -- the in-memory index stays true to the database -------------------------------------------


def test_index_follows_creations_edits_status_changes_and_deletions(world):
    data = {"title": "Recyclerie des Calanques Zinzolines"}
    assert find_duplicates("initiative", data) == []  # the index is built here
    entry = make_initiative(slug="recyclerie", title="Recyclerie des calanques zinzolines")
    db.session.commit()
    assert _slugs(find_duplicates("initiative", data)) == ["recyclerie"]

    entry.title = "Jardin partagé du Vallon"
    db.session.commit()
    assert find_duplicates("initiative", data) == []
    assert _slugs(find_duplicates("initiative", {"title": "Jardin partagé du vallon"})) == [
        "recyclerie"
    ]

    entry.status = Status.DRAFT
    db.session.commit()
    assert find_duplicates("initiative", {"title": "Jardin partagé du vallon"}) == []

    entry.status = Status.PUBLISHED
    entry.website = "https://vallon.example/jardin"
    db.session.commit()
    found = find_duplicates("initiative", {"title": "Autre", "website": "vallon.example/jardin/"})
    assert _slugs(found) == ["recyclerie"]

    db.session.delete(entry)
    db.session.commit()
    assert find_duplicates("initiative", {"title": "Jardin partagé du vallon"}) == []


def test_a_row_stamped_in_the_past_is_seen(world):
    """Rows may arrive with an old update time (demo data): they are read by their id."""
    from datetime import datetime

    find_duplicates("initiative", {"title": "x"})
    entry = make_initiative(slug="ancienne", title="Ludothèque itinérante des Zéphyrins")
    db.session.flush()
    db.session.execute(
        sa.update(Initiative)
        .where(Initiative.id == entry.id)
        .values(updated_at=datetime(2001, 1, 1), created_at=datetime(2001, 1, 1))
    )
    db.session.commit()
    found = find_duplicates("initiative", {"title": "Ludothèques itinérantes des zéphyrins"})
    assert _slugs(found) == ["ancienne"]


def test_a_word_and_its_longer_form_meet(world):
    make_initiative(slug="cafe-aidantes", title="Café des aidantes", commune="13055")
    db.session.commit()
    found = find_duplicates("initiative", {"title": "Café des aidants"})
    assert _slugs(found) == ["cafe-aidantes"]
    assert found[0].reasons == [REASON_TITLE_VERY_CLOSE]


def test_finder_serves_many_look_ups_with_the_same_answers(world):
    finder = duplicates.DuplicateFinder("initiative")
    probes = [
        {"title": "EPICERIE SOLIDAIRE DES ZEPHYRINS"},
        {"title": "Épicerie zéphyrins à Marseille", "places": [{"commune_code": "13055"}]},
        {
            "title": "Épicerie zéphyrins",
            "organisations": [{"slug": "association-zephyrine", "role": "porteur"}],
        },
        {"title": "Tout autre chose", "website": "http://zephyrins.example/epicerie"},
        {"title": "Ressourcerie numérique du Panier"},
    ]
    for probe in probes:
        expected = [(c.entry.id, c.score, c.reasons) for c in find_duplicates("initiative", probe)]
        assert [(c.entry.id, c.score, c.reasons) for c in finder.find(probe)] == expected
    assert len(finder.find(probes[0])) == 1


# -- the pair listing is kept up to date --------------------------------------------------------


def _pairs(kind="initiative"):
    page = duplicates.duplicate_pairs(kind, per_page=1000)
    return {(pair.first.slug, pair.second.slug): pair.reasons for pair in page.items}


def _listing_from_scratch(app, kind="initiative"):
    app.extensions.pop(duplicates.EXTENSION_KEY, None)
    return _pairs(kind)


def test_pair_listing_follows_edits_like_a_listing_from_scratch(app, world):
    assert _pairs() == {}
    bis = make_initiative(slug="epicerie-bis", title="Epicerie solidaire des Zephyrins")
    db.session.commit()
    assert list(_pairs()) == [("epicerie-solidaire-zephyrine", "epicerie-bis")]

    # Same website, unrelated title.
    world["unrelated"].website = "https://zephyrins.example/epicerie"
    db.session.commit()
    listing = _pairs()
    assert listing[("epicerie-solidaire-zephyrine", "atelier-velo-quenouille")] == [
        REASON_SAME_WEBSITE
    ]
    assert listing == _listing_from_scratch(app)

    bis.title = "Maison des familles du Panier"
    db.session.commit()
    assert ("epicerie-solidaire-zephyrine", "epicerie-bis") not in _pairs()

    # A place added in the same commune turns a close title into a likely pair.
    bis.title = "Épicerie zéphyrins"
    db.session.commit()
    assert ("epicerie-solidaire-zephyrine", "epicerie-bis") not in _pairs()
    from directory.models import Place

    bis.places.append(Place(commune_code="13055"))
    db.session.commit()
    assert _pairs()[("epicerie-solidaire-zephyrine", "epicerie-bis")] == [
        REASON_TITLE_CLOSE,
        REASON_SAME_COMMUNE,
    ]
    assert _pairs() == _listing_from_scratch(app)

    bis.status = Status.ARCHIVED
    db.session.commit()
    assert ("epicerie-solidaire-zephyrine", "epicerie-bis") not in _pairs()
    assert _pairs() == _listing_from_scratch(app)


def test_a_block_growing_past_its_limit_stops_being_a_clue(app, world, monkeypatch):
    monkeypatch.setattr(duplicates, "LARGE_BLOCK", 3)
    for number in range(3):
        make_initiative(slug=f"gruyere-{number}", title=f"Fromagerie Gruyèrebleu {number}")
    db.session.commit()
    linked = {pair for pair in _pairs() if "gruyere" in pair[0]}
    assert len(linked) == 3  # the three share « fromagerie » and « gruyerebleu »

    fourth = make_initiative(slug="gruyere-3", title="Fromagerie Gruyèrebleu 3")
    db.session.commit()
    assert not [pair for pair in _pairs() if "gruyere" in pair[0]]
    assert _pairs() == _listing_from_scratch(app)

    fourth.status = Status.ARCHIVED
    db.session.commit()
    assert {pair for pair in _pairs() if "gruyere" in pair[0]} == linked
    assert _pairs() == _listing_from_scratch(app)
