"""Read-only queries behind the public catalogue pages.

Every query here shows published entries only, eager-loads what the page displays (no N+1),
and pages lists with a separate COUNT so that a list of 100,000 initiatives stays fast.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ..catalogue_version import catalogue_stamp, membership_stamp
from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Event,
    EventOrganisation,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    Place,
    ProgrammeItem,
    ProgrammeSpeaker,
    Public,
    Speaker,
    Stage,
    Status,
    Theme,
    event_initiative,
    initiative_theme,
    organisation_departement,
)
from ..territories import COVERED_DEPARTEMENTS, REGION_GROUPS
from .filters import InitiativeFilters, apply

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PAGE = 1_000_000  # bounds OFFSET whatever the address says

INITIATIVE_SORTS: dict[str, str] = {
    "titre": "Titre (A → Z)",
    "recent": "Mises à jour récentes",
    "annee": "Année de lancement (récentes d'abord)",
}
DEFAULT_INITIATIVE_SORT = "titre"

ORGANISATION_SORTS: dict[str, str] = {
    "nom": "Nom (A → Z)",
    "recent": "Mises à jour récentes",
}
DEFAULT_ORGANISATION_SORT = "nom"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with what the pagination links need."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """1-based rank of the first item shown (0 when the list is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, ``None`` standing for an ellipsis: 1 … 4 5 [6] 7 8 … 20."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in shown if 1 <= n <= self.pages)
        result: list[int | None] = []
        for number in numbers:
            if result and number - (result[-1] or 0) > 1:
                result.append(None)
            result.append(number)
        return result


def parse_page(raw: str | None) -> int:
    """A page number from the address: anything not a positive integer means page 1."""
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 7:
        return 1
    return min(max(int(text), 1), MAX_PAGE)


def parse_sort(raw: str | None, choices: Mapping[str, str], default: str) -> str:
    value = (raw or "").strip()
    return value if value in choices else default


def _paginate(statement: sa.Select, count: sa.Select, page: int, per_page: int) -> Page:
    """Count first, then fetch one page; a page past the end shows the last one."""
    total = db.session.scalar(count) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    items = list(db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)


def load_in_order(model: type, ids: list[int], options: list) -> list:
    """Rows of ``model`` for ``ids``, in the order of ``ids``."""
    if not ids:
        return []
    rows = db.session.scalars(sa.select(model).where(model.id.in_(ids)).options(*options))
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _plausible_slug(slug: str) -> bool:
    """Slugs from the address: NUL (refused by PostgreSQL) or oversized ones match nothing."""
    return bool(slug) and "\x00" not in slug and len(slug) <= 200


# --- Initiatives -----------------------------------------------------------------------------


def initiative_card_options() -> list:
    """What an initiative card shows: lead organisation, communes, themes."""
    return [
        selectinload(Initiative.organisation_links).selectinload(
            InitiativeOrganisation.organisation
        ),
        selectinload(Initiative.places).selectinload(Place.commune),
        selectinload(Initiative.themes),
    ]


def initiative_order(sort: str) -> list:
    """ORDER BY for an initiative sort: ``titre`` (default), ``recent`` or ``annee``."""
    if sort == "recent":
        return [Initiative.updated_at.desc(), Initiative.id.desc()]
    if sort == "annee":
        return [Initiative.start_year.desc().nulls_last(), Initiative.title, Initiative.id]
    return [Initiative.title, Initiative.id]


def list_initiatives(
    filters: InitiativeFilters | None = None,
    sort: str = DEFAULT_INITIATIVE_SORT,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[Initiative]:
    """Published initiatives matching the shared filters, one page of cards."""
    filters = without_nul(filters or InitiativeFilters())
    published = Initiative.status == Status.PUBLISHED
    # Page through ids only, then load the page's rows: a deep OFFSET then skips narrow
    # index entries instead of whole rows (5 to 10 times faster on page 2,500 of 100,000).
    ids = apply(sa.select(Initiative.id).where(published), filters)
    ids = ids.order_by(*initiative_order(sort))
    count = apply(sa.select(sa.func.count(Initiative.id)).where(published), filters)
    id_page = _paginate(ids, count, page, per_page)
    items = load_in_order(Initiative, id_page.items, initiative_card_options())
    return replace(id_page, items=items)


def without_nul(filters: InitiativeFilters) -> InitiativeFilters:
    """Drop NUL characters from slug filters: PostgreSQL refuses them in any text parameter."""

    def clean(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v in (value.replace("\x00", "") for value in values) if v)

    return replace(
        filters,
        themes=clean(filters.themes),
        publics=clean(filters.publics),
        organisation=filters.organisation.replace("\x00", ""),
        event=filters.event.replace("\x00", ""),
    )


@dataclass(frozen=True)
class InitiativeSheet:
    """An initiative with only the public parts of what it links to."""

    initiative: Initiative
    organisation_links: list[InitiativeOrganisation]
    events: list[Event]
    communes: list[Commune]


def get_initiative(slug: str) -> InitiativeSheet | None:
    """The published initiative with this slug, or ``None``."""
    if not _plausible_slug(slug):
        return None
    initiative = db.session.scalar(
        sa.select(Initiative)
        .where(Initiative.slug == slug, Initiative.status == Status.PUBLISHED)
        .options(
            *initiative_card_options(),
            selectinload(Initiative.places)
            .selectinload(Place.commune)
            .selectinload(Commune.departement),
            selectinload(Initiative.publics),
            selectinload(Initiative.departements),
            selectinload(Initiative.events),
        )
    )
    if initiative is None:
        return None
    links = [link for link in initiative.organisation_links if link.organisation.is_published]
    events = sorted(
        (e for e in initiative.events if e.is_published), key=lambda e: (e.date is None, e.date)
    )
    communes = list({p.commune.code: p.commune for p in initiative.places if p.commune}.values())
    return InitiativeSheet(
        initiative=initiative, organisation_links=links, events=events, communes=communes
    )


# --- Organisations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationFilters:
    """Filters of the organisation list: kind and département, parsed leniently."""

    kind: str = ""
    departement: str = ""
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping) -> OrganisationFilters:
        errors: list[str] = []
        kind = str(args.get("type", "")).strip()
        if kind and kind not in {k.value for k in OrganisationKind}:
            errors.append("Type d'organisation inconnu ignoré.")
            kind = ""
        departement = str(args.get("departement", "")).strip().upper()
        if departement and departement not in COVERED_DEPARTEMENTS:
            errors.append("Département inconnu ignoré.")
            departement = ""
        return cls(kind=kind, departement=departement, errors=tuple(errors))

    def to_args(self) -> dict[str, str]:
        args = {}
        if self.kind:
            args["type"] = self.kind
        if self.departement:
            args["departement"] = self.departement
        return args


def organisation_in_departement(code: str) -> sa.ColumnElement[bool]:
    """Based there (its commune) or acting there (its territories)."""
    return sa.or_(
        sa.exists().where(
            Commune.code == Organisation.commune_code, Commune.departement_code == code
        ),
        sa.exists().where(
            organisation_departement.c.organisation_id == Organisation.id,
            organisation_departement.c.departement_code == code,
        ),
    )


def organisations_query(
    kind: str = "",
    departement: str = "",
    sort: str = DEFAULT_ORGANISATION_SORT,
    extra: tuple[sa.ColumnElement[bool], ...] = (),
) -> tuple[sa.Select, sa.Select]:
    """The rows and the count of published organisations of a kind and a département."""
    conditions: list[sa.ColumnElement[bool]] = [Organisation.status == Status.PUBLISHED, *extra]
    if kind:
        conditions.append(Organisation.kind == OrganisationKind(kind))
    if departement:
        conditions.append(organisation_in_departement(departement))
    order = (
        [Organisation.updated_at.desc(), Organisation.id.desc()]
        if sort == "recent"
        else [Organisation.name, Organisation.id]
    )
    statement = (
        sa.select(Organisation)
        .where(*conditions)
        .options(selectinload(Organisation.commune), selectinload(Organisation.themes))
        .order_by(*order)
    )
    return statement, sa.select(sa.func.count(Organisation.id)).where(*conditions)


def list_organisations(
    filters: OrganisationFilters | None = None,
    sort: str = DEFAULT_ORGANISATION_SORT,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[Organisation]:
    """Published organisations, filtered by kind and département."""
    filters = filters or OrganisationFilters()
    statement, count = organisations_query(filters.kind, filters.departement, sort)
    return _paginate(statement, count, page, per_page)


@dataclass(frozen=True)
class OrganisationProfile:
    organisation: Organisation
    initiative_links: list[InitiativeOrganisation]  # published initiatives, with the role
    initiative_count: int  # all of them, when the list above is cut
    events: list[tuple[Event, list[str]]]  # published events, with the roles held


def get_organisation(slug: str, initiatives: int = 50) -> OrganisationProfile | None:
    """The published organisation with this slug, its first public initiatives and its events.

    The initiatives are cut at ``initiatives``: the page links to the filtered list for the rest.
    """
    if not _plausible_slug(slug):
        return None
    organisation = db.session.scalar(
        sa.select(Organisation)
        .where(Organisation.slug == slug, Organisation.status == Status.PUBLISHED)
        .options(
            selectinload(Organisation.commune).selectinload(Commune.departement),
            selectinload(Organisation.themes),
            selectinload(Organisation.departements),
        )
    )
    if organisation is None:
        return None
    in_organisation = sa.and_(
        InitiativeOrganisation.organisation_id == organisation.id,
        Initiative.status == Status.PUBLISHED,
    )
    initiative_count = _count(
        sa.select(sa.func.count(sa.distinct(Initiative.id)))
        .join(InitiativeOrganisation, InitiativeOrganisation.initiative_id == Initiative.id)
        .where(in_organisation)
    )
    links = list(
        db.session.scalars(
            sa.select(InitiativeOrganisation)
            .join(InitiativeOrganisation.initiative)
            .where(in_organisation)
            .options(
                selectinload(InitiativeOrganisation.initiative)
                .selectinload(Initiative.places)
                .selectinload(Place.commune)
            )
            .order_by(Initiative.title, Initiative.id, InitiativeOrganisation.role)
            .limit(initiatives)
        )
    )
    event_links = db.session.scalars(
        sa.select(EventOrganisation)
        .join(EventOrganisation.event)
        .where(
            EventOrganisation.organisation_id == organisation.id, Event.status == Status.PUBLISHED
        )
        .options(selectinload(EventOrganisation.event))
        .order_by(Event.date, Event.id, EventOrganisation.position)
    )
    events: dict[int, tuple[Event, list[str]]] = {}
    for link in event_links:
        events.setdefault(link.event_id, (link.event, []))[1].append(link.role.label)
    return OrganisationProfile(
        organisation=organisation,
        initiative_links=links,
        initiative_count=initiative_count,
        events=list(events.values()),
    )


# --- Events ----------------------------------------------------------------------------------


def list_events() -> list[Event]:
    """Published events of the cycle, in date order."""
    return list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.status == Status.PUBLISHED)
            .options(selectinload(Event.commune))
            .order_by(Event.date.asc().nulls_last(), Event.title)
        )
    )


@dataclass(frozen=True)
class ProgrammeSection:
    title: str | None
    items: list[ProgrammeItem]


@dataclass(frozen=True)
class EventPage:
    event: Event
    organisers: list[EventOrganisation]
    partners: list[EventOrganisation]
    sections: list[ProgrammeSection]
    initiatives: list[Initiative]
    # Programme item id → the published initiatives presented at that round table.
    presented_at: dict[int, list[Initiative]] = field(default_factory=dict)


def get_event(slug: str) -> EventPage | None:
    """The published event with its programme grouped by section, in running order."""
    if not _plausible_slug(slug):
        return None
    event = db.session.scalar(
        sa.select(Event)
        .where(Event.slug == slug, Event.status == Status.PUBLISHED)
        .options(
            selectinload(Event.commune),
            selectinload(Event.organisation_links).selectinload(EventOrganisation.organisation),
            selectinload(Event.programme)
            .selectinload(ProgrammeItem.speaker_links)
            .selectinload(ProgrammeSpeaker.speaker)
            .selectinload(Speaker.organisation),
            selectinload(Event.workshops),
            selectinload(Event.initiatives).options(*initiative_card_options()),
        )
    )
    if event is None:
        return None
    public_links = [link for link in event.organisation_links if link.organisation.is_published]
    sections: list[ProgrammeSection] = []
    for item in event.programme:
        if not sections or sections[-1].title != item.section:
            sections.append(ProgrammeSection(title=item.section, items=[]))
        sections[-1].items.append(item)
    initiatives = [i for i in event.initiatives if i.is_published]
    round_table_of = dict(
        db.session.execute(
            sa.select(event_initiative.c.initiative_id, event_initiative.c.programme_item_id).where(
                event_initiative.c.event_id == event.id
            )
        ).all()
    )
    presented_at: dict[int, list[Initiative]] = {}
    for initiative in initiatives:
        if round_table_of.get(initiative.id) is not None:
            presented_at.setdefault(round_table_of[initiative.id], []).append(initiative)
    return EventPage(
        event=event,
        organisers=[link for link in public_links if link.role.value == "organisateur"],
        partners=[link for link in public_links if link.role.value != "organisateur"],
        sections=sections,
        initiatives=initiatives,
        presented_at=presented_at,
    )


# --- Home and territories --------------------------------------------------------------------


class CatalogueCache:
    """Per-process values computed from the published catalogue, kept while the catalogue's
    version (``catalogue_version.catalogue_stamp``, or the ``stamp`` given) stays the same, the
    oldest dropped beyond ``size``.

    The version is one row, bumped in the transaction of every change: each process and server
    sees a commit at once, for one primary-key read per use instead of the dozen counts a home
    page costs.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, build: Callable[[], T], stamp: Callable[[], str] = catalogue_stamp
    ) -> T:
        database = db.engine.url.render_as_string(hide_password=True)
        full_key = (database, stamp(), key)
        with self._lock:
            if full_key in self._values:
                self._values.move_to_end(full_key)
                return self._values[full_key]
        # A session of its own, closed after the build: the rows stay loaded (detached) and no
        # later commit of the request expires them under another request's feet.
        with current_app.app_context():
            value = build()
        with self._lock:
            self._values[full_key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


# The home page and a few hundred territory pages; entries of an old stamp age out.
catalogue_cache = CatalogueCache(size=256)


@dataclass(frozen=True)
class KeyFigures:
    initiatives: int
    organisations: int
    communes: int
    events: int = 0


@dataclass(frozen=True)
class HomeOverview:
    figures: KeyFigures
    recent: list[Initiative]
    events: list[Event]
    themes: list[tuple[Theme, int]]  # each theme with its number of published initiatives
    featured: list[Initiative]  # chosen by curators, in their order


def _count(statement: sa.Select) -> int:
    return db.session.scalar(statement) or 0


def _communes_covered(condition: sa.ColumnElement[bool] | None = None) -> int:
    statement = (
        sa.select(sa.func.count(sa.distinct(Place.commune_code)))
        .join(Initiative, Initiative.id == Place.initiative_id)
        .where(Initiative.status == Status.PUBLISHED, Place.commune_code.is_not(None))
    )
    if condition is not None:
        statement = statement.join(Commune, Commune.code == Place.commune_code).where(condition)
    return _count(statement)


def home_overview(recent: int = 6) -> HomeOverview:
    """Key figures, the latest initiatives, the events and the themes for the home page.

    Served from ``catalogue_cache``: a change shows at once in every worker and server. The
    counts, which scan the catalogue, key on the membership stamp (an edited summary leaves
    them be); the cards, a few rows, on every change.
    """
    counts = catalogue_cache.get(("home-counts",), _home_counts, stamp=membership_stamp)
    return catalogue_cache.get(("home", recent), lambda: _home_overview(recent, *counts))


def _home_counts() -> tuple[KeyFigures, list[tuple[Theme, int]]]:
    return _key_figures(), theme_counts()


def _key_figures() -> KeyFigures:
    return KeyFigures(
        initiatives=_count(
            sa.select(sa.func.count(Initiative.id)).where(Initiative.status == Status.PUBLISHED)
        ),
        organisations=_count(
            sa.select(sa.func.count(Organisation.id)).where(Organisation.status == Status.PUBLISHED)
        ),
        communes=_communes_covered(),
        events=_count(sa.select(sa.func.count(Event.id)).where(Event.status == Status.PUBLISHED)),
    )


def _home_overview(
    recent: int, figures: KeyFigures, themes: list[tuple[Theme, int]]
) -> HomeOverview:
    latest = list_initiatives(sort="recent", per_page=recent).items
    featured = load_in_order(
        Initiative,
        list(
            db.session.scalars(
                sa.select(Initiative.id)
                .where(
                    Initiative.featured_position.is_not(None),
                    Initiative.status == Status.PUBLISHED,
                )
                .order_by(Initiative.featured_position)
            )
        ),
        initiative_card_options(),
    )
    return HomeOverview(
        figures=figures,
        recent=latest,
        events=list_events(),
        themes=themes,
        featured=featured,
    )


def theme_counts() -> list[tuple[Theme, int]]:
    """Every theme with its number of published initiatives, in curated order."""
    counts = (
        sa.select(initiative_theme.c.theme_id, sa.func.count().label("n"))
        .join(Initiative, Initiative.id == initiative_theme.c.initiative_id)
        .where(Initiative.status == Status.PUBLISHED)
        .group_by(initiative_theme.c.theme_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Theme, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.theme_id == Theme.id)
        .order_by(Theme.position, Theme.name)
    )
    return [(theme, int(n)) for theme, n in rows]


@dataclass(frozen=True)
class DepartementOverview:
    departement: Departement
    groupings: list[tuple[str, str]]  # (region filter slug, label)
    figures: KeyFigures
    initiatives: Page[Initiative]
    organisations: list[Organisation]


def departement_overview(
    code: str, page: int = 1, per_page: int = DEFAULT_PER_PAGE, organisations: int = 50
) -> DepartementOverview | None:
    """A département's page: its groupings, figures, initiatives and organisations.

    Served from ``catalogue_cache``, as the home page is (same freshness).
    """
    code = (code or "").strip().upper()
    if not (code.isascii() and code.isalnum() and len(code) <= 3):
        return None
    return catalogue_cache.get(
        ("territory", code, page, per_page, organisations),
        lambda: _departement_overview(code, page, per_page, organisations),
    )


def _departement_overview(
    code: str, page: int, per_page: int, organisations: int
) -> DepartementOverview | None:
    departement = db.session.scalar(
        sa.select(Departement)
        .where(Departement.code == code)
        .options(selectinload(Departement.region))
    )
    if departement is None:
        return None
    groupings = [(slug, label) for slug, (label, codes) in REGION_GROUPS.items() if code in codes]
    initiatives = list_initiatives(
        InitiativeFilters(departements=(code,)), page=page, per_page=per_page
    )
    org_condition = sa.and_(
        Organisation.status == Status.PUBLISHED, organisation_in_departement(code)
    )
    based = list(
        db.session.scalars(
            sa.select(Organisation)
            .where(org_condition)
            .options(selectinload(Organisation.commune))
            .order_by(Organisation.name, Organisation.id)
            .limit(organisations)
        )
    )
    figures = KeyFigures(
        initiatives=initiatives.total,
        organisations=_count(sa.select(sa.func.count(Organisation.id)).where(org_condition)),
        communes=_communes_covered(Commune.departement_code == code),
    )
    return DepartementOverview(
        departement=departement,
        groupings=groupings,
        figures=figures,
        initiatives=initiatives,
        organisations=based,
    )


# --- Filter form -----------------------------------------------------------------------------


Option = tuple[str, str]  # (value in the address, French label)


@dataclass(frozen=True)
class FilterChoices:
    """The options of the filter forms' labelled selects."""

    themes: list[Option]
    publics: list[Option]
    stages: list[Option]
    departements: list[Option]
    regions: list[Option]
    kinds: list[Option]


def filter_choices() -> FilterChoices:
    themes = db.session.scalars(sa.select(Theme).order_by(Theme.position, Theme.name))
    publics = db.session.scalars(sa.select(Public).order_by(Public.position, Public.name))
    departements = db.session.scalars(
        sa.select(Departement)
        .where(Departement.code.in_(COVERED_DEPARTEMENTS))
        .order_by(Departement.code)
    )
    return FilterChoices(
        themes=[(theme.slug, theme.name) for theme in themes],
        publics=[(public.slug, public.name) for public in publics],
        stages=[(stage.value, stage.label) for stage in Stage],
        departements=[(d.code, d.label) for d in departements],
        regions=[(slug, label) for slug, (label, _codes) in REGION_GROUPS.items()],
        kinds=[(kind.value, kind.label) for kind in OrganisationKind],
    )
