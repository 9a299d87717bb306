"""The search service behind ``/recherche``: text from the backend, filters from SQL, facets
from memory.

The backend finds and ranks; the shared filters (``services.filters``) decide which initiatives
qualify, so the search, the list and the map agree on the same address.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Commune,
    Initiative,
    Organisation,
    OrganisationKind,
    Place,
    Status,
)
from ..richtext import plain_text
from ..search import indexing
from ..search.backend import Mode, Sort
from ..search.documents import INITIATIVE, ORGANISATION
from ..search.facet_table import FacetTable, get_table
from ..search.highlight import excerpt, mark
from ..search.matching import id_in
from ..search.query import ParsedQuery, parse
from ..text import fold
from .facets import Facet, filtered_ids, initiative_facets, organisation_kind_facet
from .filters import InitiativeFilters, apply
from .gazetteer import find_commune
from .nearby import initiatives_near

TABS = ("initiatives", "organisations")
RADII = (5, 10, 20, 50, 100)
DEFAULT_RADIUS = 20
MAX_PAGE = 500


@dataclass(frozen=True)
class SearchRequest:
    """Everything the search page's address says, parsed leniently (never raises)."""

    filters: InitiativeFilters
    tab: str = "initiatives"
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    near: str = ""  # INSEE code of a commune
    radius: int = DEFAULT_RADIUS
    kind: str = ""  # organisation kind
    per_page: int = 20
    errors: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: Mapping, per_page: int = 20) -> SearchRequest:
        filters = InitiativeFilters.from_args(args)
        errors = list(filters.errors)
        tab = str(args.get("onglet", "initiatives"))
        tab = tab if tab in TABS else "initiatives"
        try:
            sort = Sort(str(args.get("tri", Sort.RELEVANCE.value)))
        except ValueError:
            sort = Sort.RELEVANCE
        raw_page = str(args.get("page", "1"))
        page = min(int(raw_page), MAX_PAGE) if raw_page.isdigit() and int(raw_page) > 0 else 1
        near = str(args.get("commune", "")).strip()[:100]
        raw_radius = str(args.get("rayon", ""))
        radius = int(raw_radius) if raw_radius.isdigit() else DEFAULT_RADIUS
        radius = min(max(radius, 1), 200)
        kind = str(args.get("type", ""))
        if kind and kind not in {k.value for k in OrganisationKind}:
            errors.append("Type d’organisation inconnu ignoré.")
            kind = ""
        return cls(filters, tab, sort, page, near, radius, kind, per_page, tuple(errors))

    def to_args(self, **changes) -> dict:
        """The address of this search with some parameters changed (page back to 1)."""
        request = replace(self, page=1)
        args: dict = request.filters.to_args()
        if request.tab != "initiatives":
            args["onglet"] = request.tab
        if request.sort != Sort.RELEVANCE:
            args["tri"] = request.sort.value
        if request.near:
            args["commune"] = request.near
            args["rayon"] = str(request.radius)
        if request.kind:
            args["type"] = request.kind
        for key, value in changes.items():
            if value in (None, "", [], ()):
                args.pop(key, None)
            else:
                args[key] = value
        return args

    def toggle_args(self, facet: Facet, value: str) -> dict:
        """The address after choosing (or un-choosing) one facet value."""
        current = self.to_args()
        existing = current.get(facet.name, [])
        existing = [existing] if isinstance(existing, str) else list(existing)
        if value in existing:
            existing.remove(value)
        elif facet.multiple:
            existing.append(value)
        else:
            existing = [value]
        if facet.name == "type":
            current["onglet"] = "organisations"
        current[facet.name] = existing
        if not existing:
            current.pop(facet.name)
        return current


@dataclass
class Hit:
    entry: Initiative | Organisation
    title: Markup
    excerpt: Markup


@dataclass
class ResultGroup:
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    page: int = 1
    per_page: int = 20

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass
class SearchOutcome:
    request: SearchRequest
    initiatives: ResultGroup
    organisations: ResultGroup
    facets: list[Facet] = field(default_factory=list)
    kind_facet: Facet | None = None
    mode: Mode = Mode.ALL
    corrections: dict[str, str] = field(default_factory=dict)  # unknown word -> suggestion
    near_commune: Commune | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def corrected_query(self) -> str:
        text = self.request.filters.q
        for word, suggestion in self.corrections.items():
            text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", suggestion, text)
        return text

    @property
    def is_blank(self) -> bool:
        """Nothing asked at all: the page shows its help instead of results."""
        return self.request.filters.is_empty and not self.request.near and not self.request.kind


def search(request: SearchRequest) -> SearchOutcome:
    """Run one search: both result groups, the facets and the suggestions."""
    indexing.drain_quietly(timeout=0.0)  # this process sees every committed change
    with indexing.get_backend().pinned():
        return _search(request)


def _search(request: SearchRequest) -> SearchOutcome:
    backend = indexing.get_backend()
    filters = request.filters
    parsed = parse(filters.q)
    outcome = SearchOutcome(
        request, ResultGroup(per_page=request.per_page), ResultGroup(per_page=request.per_page)
    )
    notes = outcome.notes
    near_ids = None
    if request.near:
        outcome.near_commune = find_commune(request.near)
        if outcome.near_commune is None:
            notes.append("Commune inconnue : le filtre « à proximité » est ignoré.")
        else:
            near_ids = initiatives_near(outcome.near_commune, request.radius)
    if filters.q and parsed.is_empty:
        notes.append("Les mots recherchés sont trop courants pour être cherchés seuls.")

    if parsed.is_empty:
        _browse(outcome, near_ids)
        return outcome

    table = get_table()  # one freshness check for the whole search
    sql_ids = _filtered_ids(filters, near_ids, table)
    kind_ids = _organisations_of_kind(request.kind)
    modes = [Mode.ALL] + ([Mode.ANY] if len(parsed.units) > 1 else []) + [Mode.FUZZY]
    # Fall back on the words alone: filters that exclude everything must not loosen the words.
    for mode in modes:
        text_initiatives = backend.match(INITIATIVE, parsed, mode)
        text_organisations = backend.match(ORGANISATION, parsed, mode)
        if len(text_initiatives) or len(text_organisations):
            break
    initiatives = text_initiatives.restricted(sql_ids)
    organisations = text_organisations.restricted(kind_ids)
    outcome.mode = mode
    if mode == Mode.ANY:
        notes.append(
            "Aucun résultat ne contient tous les mots : résultats contenant au moins l’un d’eux."
        )
    elif mode == Mode.FUZZY and (len(initiatives) or len(organisations)):
        notes.append("Aucun résultat exact : voici des résultats approchants.")

    terms = backend.highlight_terms(parsed, mode)
    offset = (request.page - 1) * request.per_page
    outcome.initiatives.total = len(initiatives)
    outcome.organisations.total = len(organisations)
    if request.tab == "initiatives":
        ids = backend.rank(initiatives, request.sort, offset, request.per_page)
        outcome.initiatives.hits = _initiative_hits(ids, terms)
        outcome.initiatives.page = request.page
    else:
        ids = backend.rank(organisations, request.sort, offset, request.per_page)
        outcome.organisations.hits = _organisation_hits(ids, terms)
        outcome.organisations.page = request.page

    text_matches = text_initiatives.entity_ids
    if near_ids is not None:
        text_matches = text_matches[np.isin(text_matches, _array(near_ids))]
    outcome.facets = initiative_facets(filters, text_matches, table)
    outcome.kind_facet = organisation_kind_facet(
        id_in(Organisation.id, text_organisations.entity_ids.tolist()), request.kind
    )
    unknown = backend.unknown_words(parsed.words)
    for word in unknown:
        suggestion = backend.suggest(word)
        if suggestion:
            outcome.corrections[word] = _as_written(suggestion, backend)
    return outcome


def _as_written(folded: str, backend) -> str:
    """The catalogue's own spelling of a folded word ("mediation" -> "médiation")."""
    for entity_type, entity_id in backend.entries_with_word(folded):
        model = Initiative if entity_type == INITIATIVE else Organisation
        entry = db.session.get(model, entity_id)
        if entry is None:
            continue
        texts = (
            [entry.title, entry.summary, entry.description]
            if model is Initiative
            else [entry.name, entry.tagline, entry.description]
        )
        for text in texts:
            for written in re.findall(r"\w+", text or ""):
                if fold(written) == folded:
                    return written.lower()
    return folded


def _filtered_ids(
    filters: InitiativeFilters, near_ids: set[int] | None, table: FacetTable
) -> np.ndarray | None:
    """Initiatives passing the non-text filters (None: no filter, all published qualify).

    Read from the facet table, like the facet counts: the results and the counts beside them
    always agree, and no query runs over the catalogue.
    """
    plain = replace(filters, q="")
    if plain.is_empty and near_ids is None:
        return None
    ids = filtered_ids(plain, table)
    return ids[np.isin(ids, _array(near_ids))] if near_ids is not None else ids


def _array(ids: set[int]) -> np.ndarray:
    return np.fromiter(ids, dtype=np.int64, count=len(ids))


def _organisations_of_kind(kind: str) -> np.ndarray | None:
    if not kind:
        return None
    return _array(
        set(
            db.session.scalars(
                sa.select(Organisation.id).where(
                    Organisation.status == Status.PUBLISHED,
                    Organisation.kind == OrganisationKind(kind),
                )
            )
        )
    )


def _browse(outcome: SearchOutcome, near_ids: set[int] | None) -> None:
    """No words to search: the filtered catalogue, ordered by title or last update."""
    request = outcome.request
    filters = replace(request.filters, q="")
    restriction = id_in(Initiative.id, near_ids) if near_ids is not None else None
    if outcome.is_blank:
        return
    offset = (request.page - 1) * request.per_page
    order = Initiative.updated_at.desc() if request.sort == Sort.UPDATED else Initiative.title
    statement = apply(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED), filters, text=False
    )
    if restriction is not None:
        statement = statement.where(restriction)
    outcome.initiatives.total = (
        db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0
    )
    organisations = sa.select(Organisation.id).where(Organisation.status == Status.PUBLISHED)
    if request.kind:
        organisations = organisations.where(Organisation.kind == OrganisationKind(request.kind))
    outcome.organisations.total = (
        db.session.scalar(sa.select(sa.func.count()).select_from(organisations.subquery())) or 0
    )
    if request.tab == "initiatives":
        ids = list(
            db.session.scalars(
                statement.order_by(order, Initiative.id).offset(offset).limit(request.per_page)
            )
        )
        outcome.initiatives.hits = _initiative_hits(ids, frozenset())
        outcome.initiatives.page = request.page
    else:
        org_order = (
            Organisation.updated_at.desc() if request.sort == Sort.UPDATED else Organisation.name
        )
        ids = list(
            db.session.scalars(
                organisations.order_by(org_order, Organisation.id)
                .offset(offset)
                .limit(request.per_page)
            )
        )
        outcome.organisations.hits = _organisation_hits(ids, frozenset())
        outcome.organisations.page = request.page
    outcome.facets = initiative_facets(request.filters, near_ids)
    outcome.kind_facet = organisation_kind_facet(None, request.kind)


def _initiative_hits(ids: list[int], terms: frozenset[str]) -> list[Hit]:
    if not ids:
        return []
    rows = {
        row.id: row
        for row in db.session.scalars(
            sa.select(Initiative)
            .where(Initiative.id.in_(ids))
            .options(
                selectinload(Initiative.themes),
                selectinload(Initiative.places).selectinload(Place.commune),
            )  # what a result shows: no more (loading rows is most of a warm search)
        )
    }
    return [
        Hit(
            row,
            mark(row.title, terms),
            excerpt(
                [
                    row.summary,
                    plain_text(row.description),
                    plain_text(row.genesis),
                    plain_text(row.evaluation),
                    plain_text(row.policy_impact),
                    plain_text(row.public_support),
                ],
                terms,
            ),
        )
        for row in (rows.get(i) for i in ids)
        if row is not None
    ]


def _organisation_hits(ids: list[int], terms: frozenset[str]) -> list[Hit]:
    if not ids:
        return []
    rows = {
        row.id: row
        for row in db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.id.in_(ids))
            .options(selectinload(Organisation.commune))
        )
    }
    return [
        Hit(row, mark(row.name, terms), excerpt([row.tagline, plain_text(row.description)], terms))
        for row in (rows.get(i) for i in ids)
        if row is not None
    ]


# Autocomplete --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    type: str  # "initiative", "organisation" or "commune"
    label: str
    key: str  # slug, or INSEE code for a commune


def autocomplete(text: str, limit: int = 5) -> list[Suggestion]:
    """Titles, organisations and communes starting like what is being typed."""
    text = (text or "").replace("\x00", "")[:100].strip()
    if len(text) < 2:
        return []
    indexing.ensure_index()
    backend = indexing.get_backend()
    suggestions = [
        Suggestion("initiative", row.title, row.slug)
        for row in _ordered(Initiative, backend.complete(INITIATIVE, text, limit))
    ]
    suggestions += [
        Suggestion("organisation", row.name, row.slug)
        for row in _ordered(Organisation, backend.complete(ORGANISATION, text, limit))
    ]
    communes = db.session.scalars(
        sa.select(Commune)
        .where(Commune.search_name.startswith(fold(text), autoescape=True), Commune.kind == "COM")
        .order_by(Commune.population.desc().nulls_last(), Commune.name)
        .limit(limit)
    )
    suggestions += [Suggestion("commune", c.label, c.code) for c in communes]
    return suggestions


def _ordered(model, ids: list[int]) -> list:
    if not ids:
        return []
    rows = {
        row.id: row
        for row in db.session.scalars(
            sa.select(model).where(model.id.in_(ids), model.status == Status.PUBLISHED)
        )
    }
    return [rows[i] for i in ids if i in rows]


__all__ = ["ParsedQuery", "SearchOutcome", "SearchRequest", "autocomplete", "search"]
