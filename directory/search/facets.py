"""Facet counts for a search, counted in SQL over the shared filters.

Each facet is counted with every *other* filter applied, so a count says how many results choosing
that value would give. (Whoosh ``groupedby`` takes seconds at 100,000 entries; SQL does not.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Event,
    Initiative,
    Organisation,
    OrganisationKind,
    Place,
    Public,
    Stage,
    Status,
    Theme,
    event_initiative,
    initiative_departement,
    initiative_public,
    initiative_theme,
)
from ..services.filters import InitiativeFilters, apply
from ..territories import REGION_GROUPS

FACET_REGIONS = ("paca", "languedoc-roussillon")  # "occitanie" is listed only when chosen
_SMALL_SET = 500


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


def id_in(column: sa.ColumnElement, ids: set[int] | list[int]) -> sa.ColumnElement[bool]:
    """``column IN ids`` with one bound parameter, however many ids (no SQL parameter limit)."""
    ids = sorted(ids)
    if len(ids) <= _SMALL_SET:
        return column.in_(ids) if ids else sa.false()
    if db.engine.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Integer)))
    values = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.String))
    return column.in_(sa.select(values.table_valued("value").c.value))


def matching_ids(
    filters: InitiativeFilters, restriction: sa.ColumnElement[bool] | None
) -> sa.Select:
    """Ids of the published initiatives passing ``filters`` (and the text restriction)."""
    statement = apply(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED), filters, text=False
    )
    return statement.where(restriction) if restriction is not None else statement


def initiative_facets(
    filters: InitiativeFilters, restriction: sa.ColumnElement[bool] | None
) -> list[Facet]:
    def ids_without(name: str) -> sa.Select:
        return matching_ids(filters.without(name), restriction)

    facets = [
        _taxonomy_facet(
            "theme",
            "Thème",
            Theme,
            initiative_theme.c.theme_id,
            initiative_theme.c.initiative_id,
            ids_without("themes"),
            filters.themes,
        ),
        _taxonomy_facet(
            "public",
            "Public visé",
            Public,
            initiative_public.c.public_id,
            initiative_public.c.initiative_id,
            ids_without("publics"),
            filters.publics,
        ),
        _stage_facet(ids_without("stages"), filters.stages),
        *_territory_facets(filters, restriction),
        _event_facet(ids_without("event"), filters.event),
        _year_facet(ids_without("year"), filters.year),
    ]
    return [facet for facet in facets if facet.values]


def _taxonomy_facet(
    name, label, model, value_column, initiative_column, ids: sa.Select, selected: tuple[str, ...]
) -> Facet:
    rows = db.session.execute(
        sa.select(model.slug, model.name, sa.func.count(sa.distinct(initiative_column)))
        .join(model, model.id == value_column)
        .where(initiative_column.in_(ids))
        .group_by(model.id, model.slug, model.name, model.position)
        .order_by(model.position, model.name)
    ).all()
    values = [FacetValue(slug, title, count, slug in selected) for slug, title, count in rows]
    values += [
        FacetValue(slug, title, 0, True)
        for slug, title in db.session.execute(
            sa.select(model.slug, model.name).where(
                model.slug.in_(set(selected) - {v.value for v in values})
            )
        )
    ]
    return Facet(name, label, tuple(values))


def _stage_facet(ids: sa.Select, selected: tuple[str, ...]) -> Facet:
    counts = dict(
        db.session.execute(
            sa.select(Initiative.stage, sa.func.count())
            .where(Initiative.id.in_(ids), Initiative.stage.is_not(None))
            .group_by(Initiative.stage)
        ).all()
    )
    return Facet(
        "stage",
        "Étape",
        tuple(
            FacetValue(stage.value, stage.label, counts.get(stage, 0), stage.value in selected)
            for stage in Stage
            if counts.get(stage) or stage.value in selected
        ),
    )


def _territory_facets(
    filters: InitiativeFilters, restriction: sa.ColumnElement[bool] | None
) -> tuple[Facet, Facet]:
    """Département and région counts from one set of (initiative, département) pairs.

    Both are counted over the other filters without any territory; choosing a région then keeps
    the chosen départements of that région only, as ``InitiativeFilters.departement_codes`` does.
    """
    ids = matching_ids(filters.without("departements").without("region"), restriction)
    pairs = sa.union(
        sa.select(
            Place.initiative_id.label("initiative_id"), Commune.departement_code.label("code")
        )
        .join(Commune, Commune.code == Place.commune_code)
        .where(Place.initiative_id.in_(ids)),
        sa.select(
            initiative_departement.c.initiative_id.label("initiative_id"),
            initiative_departement.c.departement_code.label("code"),
        ).where(initiative_departement.c.initiative_id.in_(ids)),
    ).subquery()
    statement = (
        sa.select(Departement.code, Departement.name, sa.func.count())
        .join(pairs, pairs.c.code == Departement.code)
        .group_by(Departement.code, Departement.name)
        .order_by(Departement.code)
    )
    if filters.region:  # only the département of the chosen région can be chosen
        statement = statement.where(Departement.code.in_(REGION_GROUPS[filters.region][1]))
    departements = Facet(
        "departement",
        "Département",
        tuple(
            FacetValue(code, f"{name} ({code})", count, code in filters.departements)
            for code, name, count in db.session.execute(statement)
        ),
    )

    keys = FACET_REGIONS + ((filters.region,) if filters.region not in FACET_REGIONS else ())
    keys = tuple(k for k in keys if k)
    columns = []
    for key in keys:
        codes = set(REGION_GROUPS[key][1])
        if filters.departements:
            codes &= set(filters.departements)
        condition = pairs.c.code.in_(sorted(codes)) if codes else sa.false()
        columns.append(sa.func.count(sa.distinct(sa.case((condition, pairs.c.initiative_id)))))
    counts = db.session.execute(sa.select(*columns)).one()
    regions = Facet(
        "region",
        "Région",
        tuple(
            FacetValue(key, REGION_GROUPS[key][0], count, filters.region == key)
            for key, count in zip(keys, counts, strict=True)
            if count or filters.region == key
        ),
        multiple=False,
    )
    return departements, regions


def _event_facet(ids: sa.Select, selected: str) -> Facet:
    rows = db.session.execute(
        sa.select(
            Event.slug, Event.title, sa.func.count(sa.distinct(event_initiative.c.initiative_id))
        )
        .join(event_initiative, event_initiative.c.event_id == Event.id)
        .where(event_initiative.c.initiative_id.in_(ids), Event.status == Status.PUBLISHED)
        .group_by(Event.id, Event.slug, Event.title, Event.date)
        .order_by(Event.date, Event.title)
    ).all()
    return Facet(
        "evenement",
        "Événement",
        tuple(FacetValue(slug, title, count, slug == selected) for slug, title, count in rows),
        multiple=False,
    )


def _year_facet(ids: sa.Select, selected: int | None) -> Facet:
    rows = db.session.execute(
        sa.select(Initiative.start_year, sa.func.count())
        .where(Initiative.id.in_(ids), Initiative.start_year.is_not(None))
        .group_by(Initiative.start_year)
        .order_by(Initiative.start_year.desc())
    ).all()
    return Facet(
        "annee",
        "Année de lancement",
        tuple(FacetValue(str(year), str(year), count, year == selected) for year, count in rows),
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
