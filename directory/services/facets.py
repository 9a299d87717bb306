"""Facet counts for a search, over the shared filters.

Each facet is counted with every *other* filter applied, so a count says how many results choosing
that value would give. Initiative facets are counted over the in-memory ``facet_table`` (SQL
counts over large id sets took 100–200 ms a search; Whoosh ``groupedby`` takes seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Departement,
    Event,
    Organisation,
    OrganisationKind,
    Public,
    Stage,
    Status,
    Theme,
)
from ..search.facet_table import NO_YEAR, STAGES, FacetTable, Pairs, get_table
from ..territories import REGION_GROUPS
from .filters import InitiativeFilters

FACET_REGIONS = ("paca", "languedoc-roussillon")  # "occitanie" is listed only when chosen


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Facet:
    name: str  # query-string parameter
    label: str
    values: tuple[FacetValue, ...]
    multiple: bool = True  # several values may be chosen (combined with OR)


def initiative_facets(
    filters: InitiativeFilters, ids: Iterable[int] | None, table: FacetTable | None = None
) -> list[Facet]:
    """The facets of the published initiatives among ``ids`` (None: all) passing ``filters``.

    Counted over the in-memory facet table (``facet_table``; ``table`` when the caller already
    holds it for this search); labels come from the database.
    """
    table = table or get_table()
    masks = _filter_masks(table, filters)
    base = table.mask_of(ids)

    def without(*names: str) -> np.ndarray:
        mask = base.copy()
        for name, filter_mask in masks.items():
            if name not in names:
                mask &= filter_mask
        return mask

    facets = [
        _taxonomy_facet("theme", "Thème", Theme, table.themes, without("themes"), filters.themes),
        _taxonomy_facet(
            "public", "Public visé", Public, table.publics, without("publics"), filters.publics
        ),
        _stage_facet(table, without("stages"), filters.stages),
        *_territory_facets(table, without("territory"), filters),
        _event_facet(table, without("event"), filters.event),
        _year_facet(table, without("year"), filters.year),
    ]
    return [facet for facet in facets if facet.values]


def filtered_ids(filters: InitiativeFilters, table: FacetTable | None = None) -> np.ndarray:
    """Ids of the published initiatives passing the non-text ``filters``, from the facet table
    (the same meaning as ``services.filters.apply``, without a query over the catalogue)."""
    table = table or get_table()
    mask = np.ones(table.size, dtype=bool)
    for filter_mask in _filter_masks(table, filters).values():
        mask &= filter_mask
    return table.ids[mask]


def _filter_masks(table: FacetTable, filters: InitiativeFilters) -> dict[str, np.ndarray]:
    """One mask per non-text filter in use, meaning exactly what ``services.filters.apply`` does."""
    size = table.size
    masks: dict[str, np.ndarray] = {}
    if filters.themes:
        wanted = db.session.scalars(sa.select(Theme.id).where(Theme.slug.in_(filters.themes)))
        masks["themes"] = table.themes.rows_with(wanted, size)
    if filters.publics:
        wanted = db.session.scalars(sa.select(Public.id).where(Public.slug.in_(filters.publics)))
        masks["publics"] = table.publics.rows_with(wanted, size)
    if filters.stages:
        chosen = [STAGES.index(Stage(value)) for value in filters.stages]
        masks["stages"] = np.isin(table.stages, chosen)
    if filters.restricts_territory:
        masks["territory"] = table.departements.rows_with(filters.departement_codes(), size)
    if filters.organisation:
        wanted = db.session.scalars(
            sa.select(Organisation.id).where(Organisation.slug == filters.organisation)
        )
        masks["organisation"] = table.organisations.rows_with(wanted, size)
    if filters.event:
        wanted = db.session.scalars(sa.select(Event.id).where(Event.slug == filters.event))
        masks["event"] = table.events.rows_with(wanted, size)
    if filters.year is not None:
        masks["year"] = table.years == filters.year
    return masks


def _taxonomy_facet(
    name: str, label: str, model, pairs: Pairs, mask: np.ndarray, selected: tuple[str, ...]
) -> Facet:
    counts = pairs.count(mask)
    rows = db.session.execute(
        sa.select(model.id, model.slug, model.name).order_by(model.position, model.name)
    ).all()
    values = [
        FacetValue(slug, title, counts[key], slug in selected)
        for key, slug, title in rows
        if counts.get(key)
    ]
    shown = {value.value for value in values}
    values += [
        FacetValue(slug, title, 0, True)
        for _, slug, title in rows
        if slug in selected and slug not in shown
    ]
    return Facet(name, label, tuple(values))


def _stage_facet(table: FacetTable, mask: np.ndarray, selected: tuple[str, ...]) -> Facet:
    known = table.stages[mask]
    numbers = np.bincount(known[known >= 0], minlength=len(STAGES))
    counts = {stage: int(numbers[number]) for number, stage in enumerate(STAGES)}
    return Facet(
        "stage",
        "Étape",
        tuple(
            FacetValue(stage.value, stage.label, counts[stage], stage.value in selected)
            for stage in Stage
            if counts[stage] or stage.value in selected
        ),
    )


def _territory_facets(
    table: FacetTable, mask: np.ndarray, filters: InitiativeFilters
) -> tuple[Facet, Facet]:
    """Département and région counts over the other filters without any territory.

    Choosing a région then keeps the chosen départements of that région only, as
    ``InitiativeFilters.departement_codes`` does.
    """
    counts = table.departements.count(mask)
    statement = sa.select(Departement.code, Departement.name).order_by(Departement.code)
    if filters.region:  # only the département of the chosen région can be chosen
        statement = statement.where(Departement.code.in_(REGION_GROUPS[filters.region][1]))
    departements = Facet(
        "departement",
        "Département",
        tuple(
            FacetValue(code, f"{name} ({code})", counts[code], code in filters.departements)
            for code, name in db.session.execute(statement)
            if counts.get(code)
        ),
    )

    keys = FACET_REGIONS + ((filters.region,) if filters.region not in FACET_REGIONS else ())
    keys = tuple(k for k in keys if k)
    region_counts = []
    for key in keys:
        codes = set(REGION_GROUPS[key][1])
        if filters.departements:
            codes &= set(filters.departements)
        in_region = table.departements.rows_with(codes, table.size)
        region_counts.append(int(np.count_nonzero(in_region & mask)))
    regions = Facet(
        "region",
        "Région",
        tuple(
            FacetValue(key, REGION_GROUPS[key][0], count, filters.region == key)
            for key, count in zip(keys, region_counts, strict=True)
            if count or filters.region == key
        ),
        multiple=False,
    )
    return departements, regions


def _event_facet(table: FacetTable, mask: np.ndarray, selected: str) -> Facet:
    counts = table.events.count(mask)
    rows = db.session.execute(
        sa.select(Event.id, Event.slug, Event.title)
        .where(Event.status == Status.PUBLISHED)
        .order_by(Event.date, Event.title)
    ).all()
    return Facet(
        "evenement",
        "Événement",
        tuple(
            FacetValue(slug, title, counts[key], slug == selected)
            for key, slug, title in rows
            if counts.get(key)
        ),
        multiple=False,
    )


def _year_facet(table: FacetTable, mask: np.ndarray, selected: int | None) -> Facet:
    years, counts = np.unique(table.years[mask], return_counts=True)
    rows = sorted(
        ((int(year), int(count)) for year, count in zip(years, counts, strict=True)),
        reverse=True,
    )
    return Facet(
        "annee",
        "Année de lancement",
        tuple(
            FacetValue(str(year), str(year), count, year == selected)
            for year, count in rows
            if year != NO_YEAR
        ),
        multiple=False,
    )


def organisation_kind_facet(restriction: sa.ColumnElement[bool] | None, selected: str) -> Facet:
    statement = (
        sa.select(Organisation.kind, sa.func.count())
        .where(Organisation.status == Status.PUBLISHED)
        .group_by(Organisation.kind)
    )
    if restriction is not None:
        statement = statement.where(restriction)
    counts = dict(db.session.execute(statement).all())
    return Facet(
        "type",
        "Type d’organisation",
        tuple(
            FacetValue(kind.value, kind.label, counts.get(kind, 0), kind.value == selected)
            for kind in OrganisationKind
            if counts.get(kind) or kind.value == selected
        ),
        multiple=False,
    )
