"""The map's data and page shell.

Points come from the same filtered query as the list (``services.filters``), so nothing
unpublished reaches the map and the map and the list always agree. folium builds only the page
shell (tiles, layer switcher, département layer): its size does not grow with the catalogue; the
points are fetched by the browser and clustered there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import branca.colormap
import folium
import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy import orm

from . import catalogue_version
from .extensions import db
from .models import (
    Commune,
    Departement,
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationRole,
    Place,
    Status,
    initiative_departement,
)
from .services.filters import InitiativeFilters, apply
from .territories import COVERED_DEPARTEMENTS

# Five decimals: about one metre, enough for an address point and half the bytes of a float.
COORDINATE_DECIMALS = 5
# PACA and Languedoc-Roussillon, south-west corner then north-east corner.
DEFAULT_BOUNDS = ((42.3, 1.6), (45.2, 7.8))
OSM_FRANCE_URL = "https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png"
OSM_FRANCE_ATTRIBUTION = "© les contributeurs d'OpenStreetMap, fond OSM France"
MAX_ZOOM = 18
# Places cluster up to this zoom, then show one by one (those sharing a point fan out).
CLUSTER_MAX_ZOOM = 15
ZERO_COLOUR = "#f6f6f6"
COLOUR_SCALE = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")

# Leaflet only: no jQuery, Bootstrap or awesome-markers, since the page builds its own popups.
LEAFLET_JS = [("leaflet", "/static/vendor/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]


# --- Points -----------------------------------------------------------------------------------


def points_statement(filters: InitiativeFilters) -> sa.Select:
    """``(lon, lat, initiative_id)`` of every located place of the filtered initiatives.

    Only published initiatives: drafts, proposals and archives never reach the map. A place's
    own point wins; otherwise its commune's centre. Place and Commune are aliased so that the
    shared filters' sub-queries on those tables stay independent of this query's rows.
    """
    place = orm.aliased(Place)
    commune = orm.aliased(Commune)
    precise = sa.and_(place.longitude.is_not(None), place.latitude.is_not(None))
    lon = sa.case((precise, place.longitude), else_=commune.longitude)
    lat = sa.case((precise, place.latitude), else_=commune.latitude)
    statement = (
        sa.select(lon, lat, place.initiative_id)
        .select_from(place)
        .join(Initiative, Initiative.id == place.initiative_id)
        .outerjoin(commune, commune.code == place.commune_code)
        .where(Initiative.status == Status.PUBLISHED, lon.is_not(None), lat.is_not(None))
        .order_by(place.id)
    )
    return apply(statement, filters)


def points(filters: InitiativeFilters) -> list[tuple[float, float, int]]:
    """The located places of the filtered initiatives, as ``(lon, lat, initiative_id)``."""
    rows = db.session.execute(points_statement(filters))
    return [
        (round(lon, COORDINATE_DECIMALS), round(lat, COORDINATE_DECIMALS), initiative_id)
        for lon, lat, initiative_id in rows
    ]


def encode_points(rows: Sequence[tuple[float, float, int]], fmt: str) -> bytes:
    """``compact``: ``{"points": [[lon, lat, id], ...]}``; otherwise a GeoJSON FeatureCollection."""
    if fmt == "compact":
        document: dict = {"count": len(rows), "points": rows}
    else:
        document = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {"initiative": initiative_id},
                }
                for lon, lat, initiative_id in rows
            ],
        }
    return json.dumps(document, separators=(",", ":")).encode()


def points_etag(filters: InitiativeFilters, fmt: str) -> str:
    """A strong validator for one points payload: catalogue state + filters + format."""
    stamp = catalogue_version.membership_stamp(filters.q)
    key = json.dumps([stamp, filters.to_args(), fmt], sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Payload:
    raw: bytes
    gzipped: bytes
    count: int


class PayloadCache:
    """A small per-process LRU of encoded payloads, keyed by ETag (so never stale)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Payload] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Payload | None:
        with self._lock:
            payload = self._entries.get(key)
            if payload is not None:
                self._entries.move_to_end(key)
            return payload

    def put(self, key: str, payload: Payload) -> None:
        with self._lock:
            self._entries[key] = payload
            while len(self._entries) > 1 and self._size() > self.max_bytes:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _size(self) -> int:
        return sum(len(p.raw) + len(p.gzipped) for p in self._entries.values())


payload_cache = PayloadCache()


def points_payload(filters: InitiativeFilters, fmt: str) -> tuple[str, Payload]:
    """The ETag and the encoded points for these filters, from the cache when possible."""
    etag = points_etag(filters, fmt)
    payload = payload_cache.get(etag)
    if payload is None:
        rows = points(filters)
        raw = encode_points(rows, fmt)
        payload = Payload(raw=raw, gzipped=gzip.compress(raw, compresslevel=6), count=len(rows))
        payload_cache.put(etag, payload)
    return etag, payload


# --- Départements -------------------------------------------------------------------------------


def departement_counts(filters: InitiativeFilters) -> dict[str, int]:
    """Number of filtered published initiatives per département (by place or declared area)."""
    matching = apply(sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED), filters)
    by_place = sa.select(
        Commune.departement_code.label("code"), Place.initiative_id.label("initiative")
    ).join(Commune, Commune.code == Place.commune_code)
    by_area = sa.select(
        initiative_departement.c.departement_code.label("code"),
        initiative_departement.c.initiative_id.label("initiative"),
    )
    pairs = sa.union(by_place, by_area).subquery()
    statement = (
        sa.select(pairs.c.code, sa.func.count())
        .where(pairs.c.initiative.in_(matching.scalar_subquery()))
        .group_by(pairs.c.code)
    )
    return {row[0]: row[1] for row in db.session.execute(statement)}


def covered_departements() -> list[Departement]:
    """PACA and Occitanie (Languedoc-Roussillon included), in code order."""
    return list(
        db.session.scalars(
            sa.select(Departement)
            .where(Departement.code.in_(COVERED_DEPARTEMENTS))
            .order_by(Departement.code)
        )
    )


def colour_scale(counts: Iterable[int]) -> branca.colormap.StepColormap:
    """A step scale from 1 to the largest count (0 is drawn apart, in grey)."""
    top = max([1, *counts])
    steps = min(len(COLOUR_SCALE), top)
    index = [1 + (top - 1) * i / steps for i in range(steps)] + [top + 1]
    return branca.colormap.StepColormap(
        list(COLOUR_SCALE[:steps]),
        index=index,
        vmin=1,
        vmax=top + 1,
        caption="Nombre d'initiatives",
    )


def fill_colour(scale: branca.colormap.StepColormap, count: int) -> str:
    return ZERO_COLOUR if count <= 0 else scale.rgb_hex_str(count)


@dataclass(frozen=True)
class DepartementCount:
    code: str
    name: str
    count: int
    fill: str
    outline: dict | None


_layers: OrderedDict[str, list[DepartementCount]] = OrderedDict()
_layers_lock = threading.Lock()
MAX_CACHED_LAYERS = 64


def departement_layer(filters: InitiativeFilters) -> list[DepartementCount]:
    """Covered départements with their count, colour and outline (None until loaded).

    Cached per membership stamp and filters: the counts scan the catalogue.
    """
    stamp = catalogue_version.membership_stamp(filters.q)
    key = json.dumps([stamp, filters.to_args()], sort_keys=True, default=str)
    with _layers_lock:
        cached = _layers.get(key)
    if cached is not None:
        return cached
    layer = _departement_layer(filters)
    with _layers_lock:
        _layers[key] = layer
        while len(_layers) > MAX_CACHED_LAYERS:
            _layers.popitem(last=False)
    return layer


def _departement_layer(filters: InitiativeFilters) -> list[DepartementCount]:
    counts = departement_counts(filters)
    departements = covered_departements()
    scale = colour_scale(counts.get(d.code, 0) for d in departements)
    layer = []
    for departement in departements:
        count = counts.get(departement.code, 0)
        layer.append(
            DepartementCount(
                code=departement.code,
                name=departement.name,
                count=count,
                fill=fill_colour(scale, count),
                outline=_geometry(departement.outline),
            )
        )
    return layer


def legend(layer: Sequence[DepartementCount]) -> list[tuple[str, str]]:
    """``(colour, label)`` pairs describing the colour scale in words."""
    scale = colour_scale(item.count for item in layer)
    entries = [(ZERO_COLOUR, "aucune initiative")]
    for low, high in zip(scale.index, scale.index[1:], strict=False):
        first, last = math.ceil(low), math.ceil(high) - 1
        if last < first:
            continue
        label = str(first) if first == last else f"de {first} à {last}"
        entries.append((scale.rgb_hex_str(first), label))
    return entries


def departements_geojson(layer: Sequence[DepartementCount]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": item.code,
                "geometry": item.outline,
                "properties": {
                    "code": item.code,
                    "name": item.name,
                    "count": item.count,
                    "fill": item.fill,
                },
            }
            for item in layer
        ],
    }


def territory_bounds(
    layer: Sequence[DepartementCount], codes: Iterable[str]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """South-west and north-east corners of these départements' outlines (default: PACA + L-R)."""
    wanted = set(codes)
    lons: list[float] = []
    lats: list[float] = []

    def walk(coordinates) -> None:
        if coordinates and isinstance(coordinates[0], (int, float)):
            lons.append(coordinates[0])
            lats.append(coordinates[1])
        else:
            for part in coordinates or ():
                walk(part)

    for item in layer:
        if item.code in wanted and item.outline:
            walk(item.outline.get("coordinates"))
    if not lons:
        return DEFAULT_BOUNDS
    return (min(lats), min(lons)), (max(lats), max(lons))


def _geometry(outline: str | None) -> dict | None:
    if not outline:
        return None
    try:
        geometry = json.loads(outline)
    except ValueError:
        return None
    return geometry if isinstance(geometry, dict) and "type" in geometry else None


# --- Popups -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopupDetails:
    id: int
    slug: str
    title: str
    organisations: list[str]
    communes: list[str]
    themes: list[str]


def popup_details(initiative_id: int) -> PopupDetails | None:
    """What a marker's popup shows; None unless the initiative is published."""
    initiative = db.session.get(Initiative, initiative_id)
    if initiative is None or initiative.status != Status.PUBLISHED:
        return None
    leads = db.session.scalars(
        sa.select(Organisation.name)
        .join(InitiativeOrganisation, InitiativeOrganisation.organisation_id == Organisation.id)
        .where(
            InitiativeOrganisation.initiative_id == initiative.id,
            InitiativeOrganisation.role == OrganisationRole.PORTEUR,
            Organisation.status == Status.PUBLISHED,
        )
        .order_by(InitiativeOrganisation.position)
    )
    communes = db.session.scalars(
        sa.select(Commune.name)
        .join(Place, Place.commune_code == Commune.code)
        .where(Place.initiative_id == initiative.id)
        .order_by(Place.id)
    )
    return PopupDetails(
        id=initiative.id,
        slug=initiative.slug,
        title=initiative.title,
        organisations=list(dict.fromkeys(leads)),
        communes=list(dict.fromkeys(communes)),
        themes=[theme.name for theme in initiative.themes],
    )


# --- Filter choices ----------------------------------------------------------------------------

MAX_ORGANISATION_CHOICES = 200  # beyond, the organisation filter is chosen from its page


@dataclass(frozen=True)
class ExtraChoices:
    """Choices of the map's panel beyond the shared ones: events and organisations."""

    events: list[tuple[str, str]]
    organisations: list[tuple[str, str]] | None  # None: too many to list


def extra_choices() -> ExtraChoices:
    events = db.session.execute(
        sa.select(Event.slug, Event.title)
        .where(Event.status == Status.PUBLISHED)
        .order_by(Event.date.desc(), Event.title)
    )
    leading = (
        sa.select(Organisation.slug, Organisation.name)
        .where(
            Organisation.status == Status.PUBLISHED,
            Organisation.id.in_(sa.select(InitiativeOrganisation.organisation_id)),
        )
        .order_by(Organisation.name)
        .limit(MAX_ORGANISATION_CHOICES + 1)
    )
    organisations = [(slug, name) for slug, name in db.session.execute(leading)]
    return ExtraChoices(
        events=[(slug, title) for slug, title in events],
        organisations=organisations if len(organisations) <= MAX_ORGANISATION_CHOICES else None,
    )


# --- Small maps -------------------------------------------------------------------------------

MINI_MAP_LIMIT = 300  # a département page shows at most this many places; the full map has all


@dataclass(frozen=True)
class MiniPoint:
    lat: float
    lon: float
    label: str


@dataclass(frozen=True)
class MiniMap:
    """The places of one initiative, organisation or département, for a small map."""

    caption: str
    points: list[MiniPoint]
    total: int  # located places in all (more than ``points`` when limited)
    filters: dict[str, str]  # the full map's filters for the same subject
    outline: dict | None = None  # a département's outline (GeoJSON geometry)

    def as_data(self) -> list[list]:
        return [[p.lat, p.lon, p.label] for p in self.points]


def mini_map(subject: Initiative | Organisation | Departement) -> MiniMap | None:
    """A small map's places for an initiative sheet, an organisation or a département page."""
    if isinstance(subject, Initiative):
        filters: dict[str, str] = {}
        caption = "Lieux de l’initiative"
        where = [Initiative.id == subject.id]
    elif isinstance(subject, Organisation):
        filters = {"organisation": subject.slug}
        caption = f"Lieux des initiatives de {subject.name}"
        where = [
            Initiative.id.in_(
                sa.select(InitiativeOrganisation.initiative_id).where(
                    InitiativeOrganisation.organisation_id == subject.id
                )
            )
        ]
    elif isinstance(subject, Departement):
        filters = {"departement": subject.code}
        caption = f"Initiatives du département {subject.label}"
        where = []
    else:
        return None
    place = orm.aliased(Place)
    commune = orm.aliased(Commune)
    precise = sa.and_(place.longitude.is_not(None), place.latitude.is_not(None))
    lon = sa.case((precise, place.longitude), else_=commune.longitude)
    lat = sa.case((precise, place.latitude), else_=commune.latitude)
    statement = (
        sa.select(lat, lon, Initiative.title, place.label, commune.name)
        .select_from(place)
        .join(Initiative, Initiative.id == place.initiative_id)
        .outerjoin(commune, commune.code == place.commune_code)
        .where(Initiative.status == Status.PUBLISHED, lon.is_not(None), lat.is_not(None), *where)
    )
    if isinstance(subject, Departement):
        statement = statement.where(commune.departement_code == subject.code)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    rows = db.session.execute(statement.order_by(place.id).limit(MINI_MAP_LIMIT))
    points = []
    for row_lat, row_lon, title, label, commune_name in rows:
        if isinstance(subject, Initiative):
            text = label or commune_name or title
        else:
            text = title + (f" ({commune_name})" if commune_name else "")
        points.append(
            MiniPoint(
                round(row_lat, COORDINATE_DECIMALS), round(row_lon, COORDINATE_DECIMALS), text
            )
        )
    outline = _geometry(subject.outline) if isinstance(subject, Departement) else None
    return MiniMap(
        caption=caption, points=points, total=total or 0, filters=filters, outline=outline
    )


# --- Page shell -----------------------------------------------------------------------------------


class LocalMap(folium.Map):
    """A folium map that loads Leaflet from ``static/vendor`` and nothing else."""

    default_js: ClassVar[list[tuple[str, str]]] = LEAFLET_JS
    default_css: ClassVar[list[tuple[str, str]]] = LEAFLET_CSS


class LocalGeoJson(folium.GeoJson):
    """folium's GeoJSON layer without any external script."""

    default_js: ClassVar[list[tuple[str, str]]] = []
    default_css: ClassVar[list[tuple[str, str]]] = []


@dataclass(frozen=True)
class MapShell:
    """folium's rendered parts, placed by our own templates (which add the CSP nonce)."""

    map_name: str
    departements_name: str
    html: Markup
    script: Markup
    css: tuple[str, ...]
    js: tuple[str, ...]


def build_shell(
    layer: Sequence[DepartementCount],
    *,
    tiles_url: str,
    tiles_attribution: str,
    bounds: tuple[tuple[float, float], tuple[float, float]] = DEFAULT_BOUNDS,
) -> MapShell:
    """The folium page shell: tiles, layer switcher and the département layer. Pure."""
    fmap = LocalMap(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom_start=7,
        tiles=None,
        max_zoom=MAX_ZOOM,
        width="100%",
        height="100%",
        control_scale=True,
        prefer_canvas=False,
    )
    folium.TileLayer(
        tiles=tiles_url,
        attr=tiles_attribution,
        name="Plan IGN",
        max_zoom=MAX_ZOOM,
        max_native_zoom=18,
    ).add_to(fmap)
    folium.TileLayer(
        tiles=OSM_FRANCE_URL,
        attr=OSM_FRANCE_ATTRIBUTION,
        name="OpenStreetMap France",
        max_zoom=MAX_ZOOM,
        subdomains="abc",
        show=False,
        overlay=False,
    ).add_to(fmap)
    collection = departements_geojson([item for item in layer if item.outline])
    departements = LocalGeoJson(
        collection,
        name="Initiatives par département",
        style_function=lambda feature: {
            "fillColor": feature["properties"]["fill"],
            "color": "#3a3a3a",
            "weight": 1,
            "fillOpacity": 0.45,
        },
        control=True,
        show=True,
        interactive=False,  # clicks and focus belong to the markers drawn above
    )
    departements.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    fit = folium.map.FitBounds([list(bounds[0]), list(bounds[1])])
    fit.options["animate"] = False  # open on the territory at once, without a zoom animation
    fmap.add_child(fit)

    root = fmap.get_root()
    root.render()
    css = tuple(url for _name, url in LEAFLET_CSS)
    js = tuple(url for _name, url in LEAFLET_JS)
    return MapShell(
        map_name=fmap.get_name(),
        departements_name=departements.get_name(),
        # folium's own output from our data (outlines, names, config): no user input.
        html=Markup(root.html.render()),  # noqa: S704
        script=Markup(root.script.render()),  # noqa: S704
        css=css,
        js=js,
    )
