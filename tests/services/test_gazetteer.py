"""The offline territory gazetteer: shipped data, idempotent loading, look-ups and outlines."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import sqlalchemy as sa
from factories import make_initiative
from flask_migrate import upgrade

from directory.config import ROOT
from directory.extensions import db
from directory.models import Commune, Departement, Place, Region
from directory.services import gazetteer
from directory.territories import COVERED_DEPARTEMENTS, OCCITANIE, PACA
from directory.text import fold

# Counts of the shipped data (official geographic code of decoupage-administratif 6.0.0).
PACA_COMMUNES = 946
OCCITANIE_COMMUNES = 4446
MARSEILLE_ARRONDISSEMENTS = 16
SHIPPED_ROWS = 2 + 19 + PACA_COMMUNES + OCCITANIE_COMMUNES + MARSEILLE_ARRONDISSEMENTS


def _communes_in(departements: tuple[str, ...], kind: str = "COM") -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Commune)
        .where(Commune.departement_code.in_(departements), Commune.kind == kind)
    )


def _codes(communes: list[Commune]) -> list[str]:
    return [commune.code for commune in communes]


def test_every_commune_of_paca_and_occitanie_is_loaded(app_ctx):
    assert db.session.get(Region, "93").name == "Provence-Alpes-Côte d'Azur"
    assert db.session.get(Region, "76").name == "Occitanie"
    assert sorted(db.session.scalars(sa.select(Departement.code))) == list(COVERED_DEPARTEMENTS)
    assert _communes_in(PACA) == PACA_COMMUNES
    assert _communes_in(OCCITANIE) == OCCITANIE_COMMUNES
    without_point = db.session.scalar(
        sa.select(sa.func.count()).select_from(Commune).where(Commune.latitude.is_(None))
    )
    assert without_point == 0
    nimes = db.session.get(Commune, "30189")
    assert (nimes.name, nimes.search_name, nimes.postcodes) == ("Nîmes", "nimes", "30000 30900")
    assert nimes.departement.region_code == "76"


def test_marseille_has_its_arrondissements_and_all_their_postcodes(app_ctx):
    marseille = db.session.get(Commune, "13055")
    arrondissements = db.session.scalars(
        sa.select(Commune).where(Commune.parent_code == "13055").order_by(Commune.code)
    ).all()

    assert marseille.kind == "COM"
    assert len(arrondissements) == MARSEILLE_ARRONDISSEMENTS
    assert {a.kind for a in arrondissements} == {"ARM"}
    assert [a.code for a in arrondissements] == [f"132{n:02d}" for n in range(1, 17)]
    assert [a.postcode_list for a in arrondissements] == [[f"130{n:02d}"] for n in range(1, 17)]
    assert marseille.postcode_list == [f"130{n:02d}" for n in range(1, 17)]
    assert arrondissements[0].name == "Marseille 1er Arrondissement"
    latitude, longitude = gazetteer.geocode("13055")
    assert 43.2 < latitude < 43.4 and 5.3 < longitude < 5.5


def test_loading_twice_creates_nothing_the_second_time(empty_app):
    with empty_app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        started = time.perf_counter()
        first = gazetteer.load_gazetteer()
        print(f"gazetteer loaded in {time.perf_counter() - started:.2f} s")
        second = gazetteer.load_gazetteer()

    assert first == {
        "regions": 2,
        "departements": 19,
        "communes": PACA_COMMUNES + OCCITANIE_COMMUNES + MARSEILLE_ARRONDISSEMENTS,
        "created": SHIPPED_ROWS,
        "updated": 0,
    }
    assert second == {**first, "created": 0}


def test_reloading_repairs_changed_rows_and_keeps_referenced_communes(empty_app):
    with empty_app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        # A commune created before the gazetteer (as a test factory or an import would).
        initiative = make_initiative(commune="13055")
        db.session.commit()
        counts = gazetteer.load_gazetteer()
        marseille = db.session.get(Commune, "13055")
        assert counts["created"] == SHIPPED_ROWS - 3  # région 93, département 13, Marseille
        assert counts["updated"] == 3
        assert len(marseille.postcode_list) == 16
        assert db.session.scalar(sa.select(Place.commune_code)) == "13055"

        db.session.execute(
            sa.update(Commune).where(Commune.code == "84007").values(name="Avignon (ancien)")
        )
        db.session.commit()
        again = gazetteer.load_gazetteer()
        assert (again["created"], again["updated"]) == (0, 1)
        db.session.expire_all()
        assert db.session.get(Commune, "84007").name == "Avignon"
        assert initiative.places[0].commune.code == "13055"


def test_loading_never_deletes_a_commune(empty_app):
    with empty_app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        gazetteer.load_gazetteer()
        db.session.add(
            Commune(
                code="13999",
                name="Commune disparue",
                search_name="commune disparue",
                departement_code="13",
            )
        )
        db.session.commit()
        gazetteer.load_gazetteer()
        assert db.session.get(Commune, "13999") is not None


@pytest.mark.parametrize("query", ["Nîmes", "nimes", "NIMES", "  nîmes  "])
def test_find_communes_ignores_accents_case_and_spaces(app_ctx, query):
    assert _codes(gazetteer.find_communes(query))[0] == "30189"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("st remy de provence", "13100"),
        ("Saint Rémy de Provence", "13100"),
        ("ste maxime", "83115"),
        ("l isle sur la sorgue", "84054"),
        ("L’Isle-sur-la-Sorgue", "84054"),
        ("saintes maries", "13096"),
        ("Aix", "13001"),
        ("marseille", "13055"),
        ("sorgue", "84129"),  # Sorgues is the largest commune with a word starting so
    ],
)
def test_find_communes_by_name(app_ctx, query, expected):
    assert _codes(gazetteer.find_communes(query))[0] == expected


def test_find_communes_puts_exact_names_first_then_population(app_ctx):
    results = gazetteer.find_communes("montpellier", limit=5)
    assert _codes(results)[:2] == ["34172", "34179"]  # Montpellier, Murviel-lès-Montpellier
    beziers = gazetteer.find_communes("beziers", limit=4)
    assert beziers[0].name == "Béziers"
    populations = [c.population for c in beziers[1:]]
    assert populations == sorted(populations, reverse=True)


def test_find_communes_by_postcode(app_ctx):
    assert _codes(gazetteer.find_communes("13001")) == ["13055", "13201", "13001"]
    assert _codes(gazetteer.find_communes("84800"))[0] == "84054"  # largest of four
    by_prefix = gazetteer.find_communes("300", limit=20)
    assert by_prefix and all(
        any(code.startswith("300") for code in c.postcode_list) for c in by_prefix
    )
    assert _codes(gazetteer.find_communes("30189")) == ["30189"]  # an INSEE code


def test_find_communes_respects_the_limit(app_ctx):
    assert len(gazetteer.find_communes("saint", limit=3)) == 3
    assert len(gazetteer.find_communes("saint", limit=0)) == 1
    assert len(gazetteer.find_communes("saint", limit=10_000)) == gazetteer.MAX_RESULTS


@pytest.mark.parametrize(
    "query", ["", "   ", "%", "_", "'", "-", "123456", "x" * 500, "zzzz", "13' OR 1=1 --"]
)
def test_find_communes_with_odd_input_finds_nothing(app_ctx, query):
    assert gazetteer.find_communes(query) == []


def test_search_name_is_the_folded_name(app_ctx):
    commune = db.session.get(Commune, "34032")
    assert commune.name == "Béziers"
    assert commune.search_name == fold(commune.name) == "beziers"


def test_geocode(app_ctx):
    latitude, longitude = gazetteer.geocode("34172")
    assert 43.5 < latitude < 43.7 and 3.8 < longitude < 4.0
    assert gazetteer.geocode("75056") is None  # Paris is not covered
    assert gazetteer.geocode("") is None


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    assert geometry["type"] == "MultiPolygon"
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def _area(ring: list[list[float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)))


def test_departement_outlines_are_a_geojson_feature_collection(app_ctx):
    collection = json.loads(json.dumps(gazetteer.departement_outlines()))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert [f["properties"]["code"] for f in features] == list(COVERED_DEPARTEMENTS)
    names = {f["properties"]["code"]: f["properties"]["name"] for f in features}
    assert names["13"] == "Bouches-du-Rhône" and names["31"] == "Haute-Garonne"
    for feature in features:
        assert feature["type"] == "Feature"
        rings = _rings(feature["geometry"])
        assert rings
        for ring in rings:
            assert len(ring) >= 4 and ring[0] == ring[-1]
            assert all(-1.0 < x < 8.0 and 41.0 < y < 46.0 for x, y in ring)
        assert max(_area(ring) for ring in rings) > 0.1  # a real département, not a sliver


def test_departement_outlines_for_some_departements(app_ctx):
    collection = gazetteer.departement_outlines(PACA)
    assert [f["properties"]["code"] for f in collection["features"]] == list(PACA)


def test_departement_outlines_have_no_holes_but_llivia(app_ctx):
    """Gaps left by the source are filled; the Spanish enclave of Llívia stays a hole."""
    holes = {}
    for feature in gazetteer.departement_outlines()["features"]:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        count = sum(len(polygon) - 1 for polygon in polygons)
        if count:
            holes[feature["properties"]["code"]] = count
    assert holes == {"66": 1}


@pytest.mark.parametrize("limit", [None, "abc", "5"])
def test_find_communes_tolerates_an_odd_limit(app_ctx, limit):
    assert gazetteer.find_communes("marseille", limit=limit)[0].code == "13055"
