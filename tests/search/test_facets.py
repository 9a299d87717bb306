"""Facet counts equal the counts the shared SQL filters give for the same choice."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
from factories import make_event, make_initiative, make_organisation, make_public, make_theme
from search_helpers import run_search

from directory.extensions import db
from directory.models import Initiative, Stage, Status
from directory.search import indexing
from directory.search.backend import Mode
from directory.search.documents import INITIATIVE
from directory.search.query import parse
from directory.services.filters import InitiativeFilters, apply


@pytest.fixture
def catalogue(app_ctx):
    themes = [make_theme(name="Habitat partagé"), make_theme(name="Mobilité douce")]
    publics = [make_public(name="Familles"), make_public(name="Retraités")]
    event = make_event(title="Forum des tisserands")
    lead = make_organisation(name="Tisserands associés")
    places = ["13055", "06088", "34172", "30189", None]
    for number in range(15):
        initiative = make_initiative(
            title=f"Tisserands {number}" if number % 4 else f"Fileurs {number}",
            summary="Atelier de tissage et lien entre voisins.",
            commune=places[number % len(places)],
            lead=lead,
            stage=list(Stage)[number % 3],
            start_year=2010 + number % 3,
            themes=themes[: number % 3],
            publics=publics[number % 2 :],
        )
        if number % 2:
            event.initiatives.append(initiative)
    make_initiative(title="Tisserands en brouillon", status=Status.DRAFT, themes=themes)
    db.session.commit()
    return app_ctx


def _sql_count(filters: InitiativeFilters, text_ids: set[int]) -> int:
    statement = apply(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED), filters, text=False
    ).where(Initiative.id.in_(text_ids))
    return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))


def _chosen(filters: InitiativeFilters, name: str, value: str) -> InitiativeFilters:
    """The filters after choosing one value of a facet (the facet's other values dropped)."""
    field, convert = {
        "theme": ("themes", lambda v: (v,)),
        "public": ("publics", lambda v: (v,)),
        "stage": ("stages", lambda v: (v,)),
        "departement": ("departements", lambda v: (v,)),
        "region": ("region", str),
        "evenement": ("event", str),
        "annee": ("year", int),
    }[name]
    return replace(filters, **{field: convert(value)})


@pytest.mark.parametrize(
    "args",
    [
        {"q": "tisserands"},
        {"q": "tissage", "region": "paca"},
        {"q": "tissage", "theme": "placeholder", "annee": "2011"},
        {"q": "tissage voisins", "departement": ["13", "34"], "stage": "idee"},
        {"q": "tissage", "region": "languedoc-roussillon", "departement": "13"},
    ],
)
def test_facet_counts_equal_sql_counts(catalogue, args):
    if args.get("theme") == "placeholder":
        args = {**args, "theme": _a_theme()}  # ids are only known once the data exists
    outcome = run_search(**args)
    filters = InitiativeFilters.from_args(args)
    text_ids = indexing.get_backend().match(INITIATIVE, parse(filters.q), outcome.mode).ids
    assert outcome.mode == Mode.ALL
    assert outcome.initiatives.total == _sql_count(filters, text_ids)
    checked = 0
    for facet in outcome.facets:
        for value in facet.values:
            expected = _sql_count(_chosen(filters, facet.name, value.value), text_ids)
            assert value.count == expected, (facet.name, value.value)
            checked += 1
    assert checked >= 3


def _a_theme() -> str:
    from directory.models import Theme

    return db.session.scalar(sa.select(Theme.slug).where(Theme.name == "Habitat partagé"))


def test_facets_list_the_expected_groups(catalogue):
    outcome = run_search(q="tisserands")
    names = {facet.name for facet in outcome.facets}
    assert {"theme", "public", "stage", "departement", "region", "evenement", "annee"} <= names
    regions = {v.value: v.count for f in outcome.facets if f.name == "region" for v in f.values}
    assert regions["paca"] > 0 and regions["languedoc-roussillon"] > 0


def test_organisation_kind_facet(catalogue):
    outcome = run_search(q="tisserands", onglet="organisations")
    assert [(v.value, v.count) for v in outcome.kind_facet.values] == [("association", 1)]
    outcome = run_search(q="tisserands", onglet="organisations", type="collectivite")
    assert outcome.organisations.total == 0


def test_large_id_sets_are_bound_as_one_parameter(app_ctx):
    from directory.search.matching import id_in

    ids = set(db.session.scalars(sa.select(Initiative.id)))
    wanted = set(range(1, 2000)) | ids  # beyond the plain IN list size
    count = sa.select(sa.func.count()).select_from(Initiative)
    assert db.session.scalar(count.where(id_in(Initiative.id, wanted))) == len(ids)
    assert db.session.scalar(count.where(id_in(Initiative.id, set()))) == 0
