"""The filters shared by the initiative list, the search, the map and the exports.

One parser for the query string and one SQL translation, so the list, the map and every export
show exactly the same initiatives for the same address (DESIGN.md §7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import sqlalchemy as sa

from ..models import (
    Commune,
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
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
from ..search.matching import id_in, matching_initiative_ids
from ..territories import REGION_GROUPS

MAX_VALUES = 20  # per multi-valued filter: bounds the SQL whatever the address says
MAX_QUERY_LENGTH = 500


@dataclass(frozen=True)
class InitiativeFilters:
    q: str = ""
    themes: tuple[str, ...] = ()  # theme slugs
    publics: tuple[str, ...] = ()  # public slugs
    stages: tuple[str, ...] = ()  # Stage values
    departements: tuple[str, ...] = ()  # INSEE codes
    region: str = ""  # key of REGION_GROUPS
    organisation: str = ""  # organisation slug
    event: str = ""  # event slug
    year: int | None = None  # start year
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping) -> InitiativeFilters:
        """Parse a query string leniently: bad values are dropped and reported, never raised."""
        getlist = (
            args.getlist
            if hasattr(args, "getlist")
            else (lambda key: [args[key]] if key in args else [])
        )
        errors: list[str] = []

        def many(key: str) -> tuple[str, ...]:
            values = []
            for raw in getlist(key):
                values.extend(part.strip() for part in _clean(raw, 2000).split(","))
            cleaned = tuple(dict.fromkeys(v for v in values if v))
            return cleaned[:MAX_VALUES]

        stages = many("stage")
        valid_stages = {stage.value for stage in Stage}
        if any(stage not in valid_stages for stage in stages):
            errors.append("Étape inconnue ignorée.")
            stages = tuple(stage for stage in stages if stage in valid_stages)

        departements = many("departement")
        if any(not _is_departement_code(code) for code in departements):
            errors.append("Code de département invalide ignoré.")
            departements = tuple(code for code in departements if _is_departement_code(code))

        region = _clean(args.get("region", ""))
        if region and region not in REGION_GROUPS:
            errors.append("Région inconnue ignorée.")
            region = ""

        year = None
        raw_year = _clean(args.get("annee", args.get("year", "")))
        if raw_year:
            if raw_year.isdigit() and 1900 <= int(raw_year) <= 2100:
                year = int(raw_year)
            else:
                errors.append("Année invalide ignorée.")

        q = _clean(args.get("q", ""), MAX_QUERY_LENGTH)
        return cls(
            q=q,
            themes=many("theme"),
            publics=many("public"),
            stages=stages,
            departements=departements,
            region=region,
            organisation=_clean(args.get("organisation", "")),
            event=_clean(args.get("evenement", args.get("event", ""))),
            year=year,
            errors=tuple(errors),
        )

    def to_args(self) -> dict[str, str | list[str]]:
        """The query-string form, for links (pagination, map <-> list, exports)."""
        args: dict[str, str | list[str]] = {}
        if self.q:
            args["q"] = self.q
        for key, values in (
            ("theme", self.themes),
            ("public", self.publics),
            ("stage", self.stages),
            ("departement", self.departements),
        ):
            if values:
                args[key] = list(values)
        if self.region:
            args["region"] = self.region
        if self.organisation:
            args["organisation"] = self.organisation
        if self.event:
            args["evenement"] = self.event
        if self.year is not None:
            args["annee"] = str(self.year)
        return args

    @property
    def is_empty(self) -> bool:
        return not self.to_args()

    def without(self, name: str) -> InitiativeFilters:
        """The same filters less one (facet counts are computed that way)."""
        empty = next(f for f in fields(self) if f.name == name)
        return replace(self, **{name: empty.default})

    def departement_codes(self) -> tuple[str, ...]:
        """Explicit départements, intersected with the région when both are given."""
        codes = set(self.departements)
        if self.region:
            group = set(REGION_GROUPS[self.region][1])
            codes = codes & group if codes else group
        return tuple(sorted(codes))

    @property
    def restricts_territory(self) -> bool:
        return bool(self.departements or self.region)


def _clean(value: object, max_length: int = 200) -> str:
    """A bounded, stripped string without NUL bytes (PostgreSQL refuses them in text)."""
    return str(value).replace("\x00", "").strip()[:max_length]


def _is_departement_code(code: str) -> bool:
    return len(code) in (2, 3) and (code.isdigit() or code.upper() in ("2A", "2B"))


def published_initiatives() -> sa.Select:
    return sa.select(Initiative).where(Initiative.status == Status.PUBLISHED)


def apply(statement: sa.Select, filters: InitiativeFilters, *, text: bool = True) -> sa.Select:
    """Restrict a select over ``Initiative`` to the filters.

    The free-text query ``q`` goes through the search engine, so the list, the map, the API and
    the exports find what ``/recherche`` finds; ``text=False`` leaves it to the caller.
    """
    if text and filters.q:
        matching = matching_initiative_ids(filters.q)
        if matching is not None:
            statement = statement.where(id_in(Initiative.id, matching))
    if filters.themes:
        statement = statement.where(
            sa.exists().where(
                initiative_theme.c.initiative_id == Initiative.id,
                initiative_theme.c.theme_id == Theme.id,
                Theme.slug.in_(filters.themes),
            )
        )
    if filters.publics:
        statement = statement.where(
            sa.exists().where(
                initiative_public.c.initiative_id == Initiative.id,
                initiative_public.c.public_id == Public.id,
                Public.slug.in_(filters.publics),
            )
        )
    if filters.stages:
        statement = statement.where(Initiative.stage.in_([Stage(s) for s in filters.stages]))
    if filters.restricts_territory:
        statement = statement.where(in_departements(filters.departement_codes()))
    if filters.organisation:
        statement = statement.where(
            sa.exists().where(
                InitiativeOrganisation.initiative_id == Initiative.id,
                InitiativeOrganisation.organisation_id == Organisation.id,
                Organisation.slug == filters.organisation,
            )
        )
    if filters.event:
        statement = statement.where(
            sa.exists().where(
                event_initiative.c.initiative_id == Initiative.id,
                event_initiative.c.event_id == Event.id,
                Event.slug == filters.event,
            )
        )
    if filters.year is not None:
        statement = statement.where(Initiative.start_year == filters.year)
    return statement


def in_departements(codes: tuple[str, ...]) -> sa.ColumnElement[bool]:
    """An initiative is in a département if one of its places is, or if it acts there."""
    if not codes:
        return sa.false()
    return sa.or_(
        sa.exists().where(
            Place.initiative_id == Initiative.id,
            Place.commune_code == Commune.code,
            Commune.departement_code.in_(codes),
        ),
        sa.exists().where(
            initiative_departement.c.initiative_id == Initiative.id,
            initiative_departement.c.departement_code.in_(codes),
        ),
    )
