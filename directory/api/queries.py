"""Read-only queries behind the API, the feeds and the embeddable list.

Published entries only. Lists page with LIMIT/OFFSET and a separate COUNT; a page past the end
is empty (clients that follow ``next`` links stop there), unlike the site, which shows the last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Initiative,
    Organisation,
    Place,
    Public,
    Status,
    Theme,
    initiative_public,
    initiative_theme,
)
from ..services.browse import (
    initiative_card_options,
    initiative_order,
    load_in_order,
    organisations_query,
)
from ..services.filters import InitiativeFilters, apply
from ..text import fold
from .params import Choices

T = TypeVar("T")


@dataclass(frozen=True)
class ResultPage(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _page(statement: sa.Select, count: sa.Select, page: int, per_page: int) -> ResultPage:
    total = db.session.scalar(count) or 0
    items: list = []
    if (page - 1) * per_page < total:
        items = list(db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return ResultPage(items=items, total=total, page=page, per_page=per_page)


def filter_choices() -> Choices:
    """The theme, public and département values the initiative filters accept."""
    return Choices(
        themes=set(db.session.scalars(sa.select(Theme.slug))),
        publics=set(db.session.scalars(sa.select(Public.slug))),
        stages=(),
        departements=set(db.session.scalars(sa.select(Departement.code))),
    )


# --- Initiatives -----------------------------------------------------------------------------


# The API names the year sort in English; the site says « annee ».
_SORTS = {"title": "titre", "recent": "recent", "start_year": "annee"}


def list_initiatives(
    filters: InitiativeFilters, sort: str = "title", page: int = 1, per_page: int = 20
) -> ResultPage:
    """Published initiatives matching the shared filters (``services.filters``).

    Pages through ids only, then loads the page's rows: a deep OFFSET skips narrow index
    entries instead of whole rows.
    """
    published = Initiative.status == Status.PUBLISHED
    ids = apply(sa.select(Initiative.id).where(published), filters).order_by(
        *initiative_order(_SORTS.get(sort, "titre"))
    )
    count = apply(sa.select(sa.func.count(Initiative.id)).where(published), filters)
    id_page = _page(ids, count, page, per_page)
    items = load_in_order(Initiative, id_page.items, initiative_card_options())
    return ResultPage(items=items, total=id_page.total, page=page, per_page=per_page)


@dataclass(frozen=True)
class MapPoint:
    slug: str
    title: str
    is_demo: bool
    commune_code: str | None
    longitude: float
    latitude: float


def map_points(filters: InitiativeFilters) -> list[MapPoint]:
    """One point per place of the matching initiatives: its own point, else its commune's."""
    matching = apply(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED), filters
    ).subquery()
    latitude = sa.func.coalesce(Place.latitude, Commune.latitude)
    longitude = sa.func.coalesce(Place.longitude, Commune.longitude)
    rows = db.session.execute(
        sa.select(
            Initiative.slug,
            Initiative.title,
            Initiative.is_demo,
            Place.commune_code,
            longitude,
            latitude,
        )
        .join(Place, Place.initiative_id == Initiative.id)
        .outerjoin(Commune, Commune.code == Place.commune_code)
        .where(Initiative.id.in_(sa.select(matching.c.id)), latitude.is_not(None))
        .where(longitude.is_not(None))
        .order_by(Initiative.id, Place.id)
    )
    return [MapPoint(*row) for row in rows]


# --- Organisations ---------------------------------------------------------------------------


def list_organisations(
    *,
    q: str = "",
    kind: str = "",
    departement: str = "",
    sort: str = "name",
    page: int = 1,
    per_page: int = 20,
) -> ResultPage:
    """Published organisations, by name (or acronym) fragment, kind and département."""
    text: tuple[sa.ColumnElement[bool], ...] = ()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        text = (
            sa.or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.acronym.ilike(pattern, escape="\\"),
            ),
        )
    statement, count = organisations_query(kind, departement, sort, extra=text)
    return _page(statement, count, page, per_page)


# --- Taxonomies and territories --------------------------------------------------------------


def _published_counts(link_table: sa.Table, column: sa.Column) -> sa.Subquery:
    return (
        sa.select(column.label("key"), sa.func.count().label("n"))
        .join(Initiative, Initiative.id == link_table.c.initiative_id)
        .where(Initiative.status == Status.PUBLISHED)
        .group_by(column)
        .subquery()
    )


def themes() -> list[tuple[Theme, int]]:
    """Every theme with its number of published initiatives, in curated order."""
    counts = _published_counts(initiative_theme, initiative_theme.c.theme_id)
    rows = db.session.execute(
        sa.select(Theme, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.key == Theme.id)
        .order_by(Theme.position, Theme.name)
    )
    return [(theme, int(n)) for theme, n in rows]


def publics() -> list[tuple[Public, int]]:
    """Every public visé with its number of published initiatives, in curated order."""
    counts = _published_counts(initiative_public, initiative_public.c.public_id)
    rows = db.session.execute(
        sa.select(Public, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.key == Public.id)
        .order_by(Public.position, Public.name)
    )
    return [(public, int(n)) for public, n in rows]


def departements() -> list[Departement]:
    return list(
        db.session.scalars(
            sa.select(Departement)
            .options(selectinload(Departement.region))
            .order_by(Departement.code)
        )
    )


def lookup_communes(text: str, departement: str = "", limit: int = 10) -> list[Commune]:
    """Communes for autocomplete: name (accents optional) or postcode prefix, largest first."""
    folded = fold(text).replace("\x00", "")
    if not folded:
        return []
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matches: list[sa.ColumnElement[bool]] = [
        Commune.search_name.like(escaped + "%", escape="\\"),
        # "saint etienne" finds "Saint-Étienne-du-Grès".
        Commune.search_name.like(escaped.replace(" ", "-") + "%", escape="\\"),
    ]
    if folded.isdigit():
        matches += [
            Commune.code == folded,
            Commune.postcodes.like(escaped + "%", escape="\\"),
            Commune.postcodes.like("% " + escaped + "%", escape="\\"),
        ]
    statement = sa.select(Commune).where(sa.or_(*matches))
    if departement:
        statement = statement.where(Commune.departement_code == departement)
    statement = statement.order_by(
        Commune.population.desc().nulls_last(), Commune.name, Commune.code
    ).limit(limit)
    return list(db.session.scalars(statement))


def recent_initiatives(filters: InitiativeFilters, limit: int) -> list[Initiative]:
    """The latest created or updated published initiatives matching the filters (no COUNT)."""
    statement = (
        apply(sa.select(Initiative).where(Initiative.status == Status.PUBLISHED), filters)
        .options(*initiative_card_options())
        .order_by(*initiative_order("recent"))
        .limit(limit)
    )
    return list(db.session.scalars(statement))


def last_catalogue_change() -> datetime | None:
    """When a published initiative last changed (the date of an empty feed)."""
    return db.session.scalar(
        sa.select(sa.func.max(Initiative.updated_at)).where(Initiative.status == Status.PUBLISHED)
    )
