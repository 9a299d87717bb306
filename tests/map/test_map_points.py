"""The map's data: published places only, the same initiatives as the list, département counts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation
from sqlalchemy import orm

from directory import maps
from directory.extensions import db
from directory.models import (
    Commune,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    Place,
    Status,
    Theme,
)
from directory.services import browse, demo
from directory.services.filters import InitiativeFilters


@pytest.fixture(autouse=True)
def _fresh_cache():
    maps.payload_cache.clear()
    yield
    maps.payload_cache.clear()


def _ids(filters: InitiativeFilters) -> set[int]:
    return {initiative_id for _lon, _lat, initiative_id in maps.points(filters)}


def _list_ids(filters: InitiativeFilters) -> set[int]:
    page = browse.list_initiatives(filters, per_page=100_000)
    return {initiative.id for initiative in page.items}


def _located(ids: set[int]) -> set[int]:
    """Initiatives among ``ids`` with a place that has a point or a commune with a centre."""
    rows = db.session.execute(
        sa.select(Place.initiative_id, Place.latitude, Commune.latitude)
        .outerjoin(Commune, Commune.code == Place.commune_code)
        .where(Place.initiative_id.in_(ids))
    )
    return {iid for iid, own, centre in rows if own is not None or centre is not None}


def test_only_published_initiatives_reach_the_map(app_ctx):
    shown = make_initiative(commune="13055", title="Publiée")
    hidden = [
        make_initiative(commune="13055", status=status, title=status.value)
        for status in (Status.DRAFT, Status.PROPOSED, Status.ARCHIVED)
    ]
    db.session.commit()

    ids = _ids(InitiativeFilters())

    assert shown.id in ids
    assert not ids & {initiative.id for initiative in hidden}
    published = db.session.scalars(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED)
    )
    assert ids <= set(published)


def test_a_place_without_a_point_sits_at_its_commune_centre(app_ctx):
    marseille = db.session.get(Commune, "13055")
    assert marseille.latitude is not None, "the gazetteer gives Marseille a centre"
    initiative = make_initiative(commune="13055")
    precise = Place(commune_code="13055", latitude=43.30123456, longitude=5.40123456)
    initiative.places.append(precise)
    db.session.commit()

    rows = [row for row in maps.points(InitiativeFilters()) if row[2] == initiative.id]

    assert sorted(rows) == sorted(
        [
            (round(marseille.longitude, 5), round(marseille.latitude, 5), initiative.id),
            (5.40123, 43.30123, initiative.id),
        ]
    )


def test_places_outside_the_covered_regions_still_show(app_ctx):
    outside = db.session.scalar(
        sa.select(Commune).where(Commune.departement_code == "31", Commune.latitude.is_not(None))
    )
    initiative = make_initiative()
    initiative.places.append(Place(latitude=48.8566, longitude=2.3522))  # no commune at all
    if outside is not None:
        initiative.places.append(Place(commune_code=outside.code))
    db.session.commit()

    rows = [row for row in maps.points(InitiativeFilters()) if row[2] == initiative.id]

    assert (2.3522, 48.8566, initiative.id) in rows
    assert len(rows) == (2 if outside is not None else 1)


def test_a_place_with_neither_point_nor_commune_is_left_out(app_ctx):
    initiative = make_initiative()
    initiative.places.append(Place(label="Quelque part"))
    db.session.commit()

    assert initiative.id not in _ids(InitiativeFilters())


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"departement": "13"},
        {"departement": ["84", "34"]},
        {"region": "paca"},
        {"region": "languedoc-roussillon"},
        {"stage": "deploiement"},
        {"annee": "2015"},
        {"q": "insertion"},
        {"theme": "__first_theme__", "region": "paca"},
        {"public": "__first_public__"},
        {"organisation": "__first_organisation__"},
    ],
)
def test_the_map_shows_the_initiatives_of_the_list(app_ctx, args):
    demo.create_demo_data(80, seed=7)
    first_theme = db.session.scalar(sa.select(Theme.slug).order_by(Theme.id))
    first_public = db.session.scalar(sa.text("SELECT slug FROM public ORDER BY id LIMIT 1"))
    lead = db.session.scalar(
        sa.select(Organisation.slug)
        .join(InitiativeOrganisation, InitiativeOrganisation.organisation_id == Organisation.id)
        .join(Place, Place.initiative_id == InitiativeOrganisation.initiative_id)
        .where(Organisation.is_demo, Organisation.status == Status.PUBLISHED)
        .order_by(Organisation.id)
        .limit(1)
    )
    replacements = {
        "__first_theme__": first_theme,
        "__first_public__": first_public,
        "__first_organisation__": lead,
    }
    args = {
        key: replacements.get(value, value) if isinstance(value, str) else value
        for key, value in args.items()
    }
    filters = InitiativeFilters.from_args(_multi(args))

    listed = _list_ids(filters)
    mapped = _ids(filters)

    assert mapped == _located(listed)
    assert mapped, f"the demo data should give a non-empty map for {args}"


def test_the_departement_counts_agree_with_the_list(app_ctx):
    demo.create_demo_data(60, seed=11)
    filters = InitiativeFilters.from_args(_multi({"stage": "deploiement"}))

    counts = maps.departement_counts(filters)

    assert counts
    for code in ("13", "84", "34", "66"):
        per_departement = InitiativeFilters.from_args(
            _multi({"stage": "deploiement", "departement": code})
        )
        assert counts.get(code, 0) == browse.list_initiatives(per_departement).total


def test_the_departement_layer_covers_paca_and_occitanie(app_ctx):
    layer = maps.departement_layer(InitiativeFilters())

    codes = [item.code for item in layer]
    assert {"04", "05", "06", "13", "83", "84", "11", "30", "34", "48", "66", "31"} <= set(codes)
    assert all(item.fill.startswith("#") for item in layer)
    assert all(item.fill == maps.ZERO_COLOUR for item in layer if item.count == 0)
    assert any(item.outline for item in layer), "the gazetteer loads the outlines"


def test_the_colour_scale_grows_with_the_count():
    scale = maps.colour_scale([0, 5, 50])
    low, high = maps.fill_colour(scale, 1), maps.fill_colour(scale, 50)

    assert maps.fill_colour(scale, 0) == maps.ZERO_COLOUR
    assert low != high
    assert low == maps.COLOUR_SCALE[0] and high == maps.COLOUR_SCALE[-1]


def test_popup_details_only_for_published_initiatives(app_ctx):
    lead = make_organisation(name="Les Amis du quartier")
    shown = make_initiative(commune="13055", lead=lead, title="Jardin partagé")
    shown.themes.append(db.session.scalar(sa.select(Theme).order_by(Theme.id)))
    draft = make_initiative(commune="13055", status=Status.DRAFT)
    db.session.commit()

    details = maps.popup_details(shown.id)

    assert details is not None
    assert details.title == "Jardin partagé"
    assert details.organisations == ["Les Amis du quartier"]
    assert details.communes == ["Marseille"]
    assert len(details.themes) == 1
    assert maps.popup_details(draft.id) is None
    assert maps.popup_details(10**9) is None


def test_the_etag_changes_when_the_catalogue_changes(app_ctx):
    filters = InitiativeFilters()
    before = maps.points_etag(filters, "compact")
    assert maps.points_etag(filters, "compact") == before
    assert maps.points_etag(filters, "geojson") != before
    assert maps.points_etag(InitiativeFilters(departements=("13",)), "compact") != before

    initiative = make_initiative(commune="13055", status=Status.DRAFT)
    db.session.commit()
    drafted = maps.points_etag(filters, "compact")
    initiative.status = Status.PUBLISHED
    db.session.commit()
    published = maps.points_etag(filters, "compact")
    initiative.status = Status.ARCHIVED
    db.session.commit()

    assert len({before, drafted, published, maps.points_etag(filters, "compact")}) == 4


def _multi(args: dict):
    from werkzeug.datastructures import MultiDict

    items = []
    for key, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            items.append((key, item))
    return MultiDict(items)


def test_changes_from_another_process_show_at_once(app_ctx):
    filters = InitiativeFilters()
    before = maps.points_etag(filters, "compact")
    initiative_id = db.session.scalar(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED).limit(1)
    )
    # Another process: its own engine, connection and session on the same database.
    other = sa.create_engine(db.engine.url)
    with orm.Session(other) as session:
        session.get(Initiative, initiative_id).status = Status.ARCHIVED
        session.commit()
    other.dispose()

    assert maps.points_etag(filters, "compact") != before


def test_an_edited_summary_keeps_the_map_payload_and_a_new_place_changes_it(app_ctx):
    filters = InitiativeFilters()
    initiative = db.session.scalar(
        sa.select(Initiative).where(Initiative.status == Status.PUBLISHED).limit(1)
    )
    before = maps.points_etag(filters, "compact")
    searched = maps.points_etag(InitiativeFilters(q="jardin"), "compact")

    initiative.summary = "Un résumé relu, sans rien changer de la carte."
    db.session.commit()

    assert maps.points_etag(filters, "compact") == before
    # A word search follows the text: its points may change with a summary.
    assert maps.points_etag(InitiativeFilters(q="jardin"), "compact") != searched

    initiative.places.append(Place(latitude=43.3, longitude=5.4))
    db.session.commit()
    assert maps.points_etag(filters, "compact") != before


def test_the_map_opens_on_the_chosen_territory(app_ctx):
    layer = maps.departement_layer(InitiativeFilters())

    (south, west), (north, east) = maps.territory_bounds(layer, ["84"])
    assert 43.5 < south < north < 44.6 and 4.5 < west < east < 5.9  # Vaucluse
    assert maps.territory_bounds(layer, []) == maps.DEFAULT_BOUNDS
    assert maps.territory_bounds(layer, ["99"]) == maps.DEFAULT_BOUNDS
