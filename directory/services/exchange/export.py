"""Exports of published data: the public lists and searches as files, and the open-data files.

One service behind every download (DESIGN.md §5): the list pages, the search page, the
``/donnees`` page and ``flask export opendata`` all call it.

- Rows are the columns of the Table Schemas in ``docs/opendata/`` (``INITIATIVE_FIELDS``,
  ``ORGANISATION_FIELDS``), the same in every format. Only what the public pages show: published
  entries, their published organisations and events; never a proposer's email, an account or a
  draft. Initiative contact details are left out (they may name a person); an organisation's
  contact is its public one.
- Formats: ``csv`` (UTF-8, comma), ``excel-csv`` (semicolon, UTF-8 with BOM, CRLF), ``xlsx``,
  ``json`` (an array of objects) and ``geojson`` (initiatives with a point).
- Everything streams: ids are read first, rows are then loaded and written by batches, so a
  100,000-row export never holds its rows in memory (the XLSX file is spooled to disk).
- Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
  apostrophe in CSV and XLSX, so that a spreadsheet never runs them as formulas (OWASP "CSV
  injection"). JSON and GeoJSON keep the text as it is.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import html
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nh3
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ...config import public_url
from ...extensions import db
from ...models import (
    Commune,
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Status,
    Theme,
    event_initiative,
    initiative_departement,
    initiative_public,
    initiative_theme,
    organisation_departement,
    organisation_theme,
)
from ..browse import (
    DEFAULT_INITIATIVE_SORT,
    DEFAULT_ORGANISATION_SORT,
    OrganisationFilters,
    initiative_order,
    organisations_query,
    without_nul,
)
from ..filters import InitiativeFilters, apply
from ..gazetteer import find_commune
from ..nearby import initiatives_near

BATCH_SIZE = 500
SEPARATOR = "|"  # between the values of a multi-valued column
COORDINATE_DECIMALS = 6
XLSX_MAX_CELL = 32_767  # characters Excel keeps in one cell

INITIATIVE_FIELDS: tuple[str, ...] = (
    "identifiant",
    "url",
    "titre",
    "resume",
    "description",
    "genese",
    "evaluation",
    "politiques_publiques",
    "soutiens",
    "etape",
    "annee_debut",
    "annee_fin",
    "site_web",
    "themes",
    "publics",
    "communes",
    "noms_communes",
    "departements",
    "organisations_porteuses",
    "partenaires",
    "financeurs",
    "latitude",
    "longitude",
    "evenements",
    "date_creation",
    "date_mise_a_jour",
    "donnees_de_demonstration",
)

ORGANISATION_FIELDS: tuple[str, ...] = (
    "identifiant",
    "url",
    "nom",
    "sigle",
    "type",
    "presentation",
    "description",
    "site_web",
    "courriel",
    "telephone",
    "adresse",
    "commune",
    "nom_commune",
    "departements",
    "themes",
    "date_creation",
    "date_mise_a_jour",
    "donnees_de_demonstration",
)

KINDS = ("initiatives", "organisations")


@dataclass(frozen=True)
class Format:
    key: str
    extension: str  # of the file name, without the dot
    mimetype: str
    label: str  # French, for download menus


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "csv", "text/csv", "CSV"),
    "excel-csv": Format("excel-csv", "csv", "text/csv", "CSV pour Excel"),
    "xlsx": Format(
        "xlsx",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel (XLSX)",
    ),
    "json": Format("json", "json", "application/json", "JSON"),
    "geojson": Format("geojson", "geojson", "application/geo+json", "GeoJSON"),
}
# GeoJSON needs a point: organisations are exported in the other formats only.
KIND_FORMATS: dict[str, tuple[str, ...]] = {
    "initiatives": ("csv", "excel-csv", "xlsx", "json", "geojson"),
    "organisations": ("csv", "excel-csv", "xlsx", "json"),
}


class ExportError(Exception):
    """An export that cannot be made as asked (unknown kind or format)."""


def check(kind: str, fmt: str) -> Format:
    if kind not in KIND_FORMATS or fmt not in KIND_FORMATS[kind]:
        raise ExportError(f"Format d’export inconnu : {kind}/{fmt}.")
    return FORMATS[fmt]


def file_name(kind: str, fmt: str, today: date | None = None, prefix: str = "") -> str:
    """``annuaire-initiatives-2026-11-25.csv``, ``…-excel.csv`` for the Excel CSV."""
    today = today or datetime.now(UTC).date()
    suffix = "-excel" if fmt == "excel-csv" else ""
    stem = f"annuaire-{prefix}{kind}-{today.isoformat()}{suffix}"
    return f"{stem}.{FORMATS[fmt].extension}"


# --- Which entries ---------------------------------------------------------------------------


def initiative_ids(
    filters: InitiativeFilters | None = None, sort: str = DEFAULT_INITIATIVE_SORT
) -> list[int]:
    """Published initiatives of the list page for these filters, in the page's order."""
    statement = sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED)
    statement = apply(statement, without_nul(filters or InitiativeFilters()))
    return list(db.session.scalars(statement.order_by(*initiative_order(sort))))


def organisation_ids(
    filters: OrganisationFilters | None = None, sort: str = DEFAULT_ORGANISATION_SORT
) -> list[int]:
    """Published organisations of the list page for these filters, in the page's order."""
    filters = filters or OrganisationFilters()
    statement, _count = organisations_query(filters.kind, filters.departement, sort)
    ids = statement.with_only_columns(Organisation.id).options()
    return list(db.session.scalars(ids))


def search_ids(search_request) -> tuple[str, list[int]]:
    """The entries of a ``/recherche`` address, all pages, in the page's order.

    Returns ``("initiatives" | "organisations", ids)`` after the page's tab. Words are matched
    strictly (every word, as for the lists and the map): an export never widens to "any word"
    or approaching spellings the way the page may suggest them.
    """
    from ...search import indexing
    from ...search.backend import Sort
    from ...search.documents import INITIATIVE, ORGANISATION
    from ...search.matching import id_in
    from ...search.query import parse

    filters = without_nul(search_request.filters)
    parsed = parse(filters.q)
    kind = "organisations" if search_request.tab == "organisations" else "initiatives"
    updated = search_request.sort == Sort.UPDATED

    if kind == "initiatives":
        statement = apply(
            sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED),
            replace(filters, q=""),
            text=False,
        )
        near_text = search_request.near.replace("\x00", "")  # PostgreSQL refuses NUL
        if near_text:
            commune = find_commune(near_text)
            if commune is not None:
                near = initiatives_near(commune, search_request.radius)
                statement = statement.where(id_in(Initiative.id, near))
        order = [Initiative.updated_at.desc() if updated else Initiative.title, Initiative.id]
    else:
        statement = sa.select(Organisation.id).where(Organisation.status == Status.PUBLISHED)
        if search_request.kind:
            statement = statement.where(Organisation.kind == OrganisationKind(search_request.kind))
        order = [Organisation.updated_at.desc() if updated else Organisation.name, Organisation.id]

    if _blank(search_request):
        return kind, []  # the page shows its help, not the catalogue
    if parsed.is_empty:
        return kind, list(db.session.scalars(statement.order_by(*order)))

    import numpy as np

    from ...search.backend import Mode

    allowed = np.fromiter(db.session.scalars(statement), dtype=np.int64)
    indexing.drain_quietly(timeout=0.0)
    backend = indexing.get_backend()
    entity = INITIATIVE if kind == "initiatives" else ORGANISATION
    with backend.pinned():
        matches = backend.match(entity, parsed, Mode.ALL).restricted(allowed)
        ranked = backend.rank(matches, search_request.sort, 0, max(len(matches), 1))
    return kind, list(ranked)


def _blank(search_request) -> bool:
    return search_request.filters.is_empty and not search_request.near and not search_request.kind


# --- Rows ------------------------------------------------------------------------------------


_BLOCK_END = re.compile(r"</(?:p|li|ul|ol)\s*>|<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_RUNS = re.compile(r"\n\s*\n+")


def plain_text(value: str | None) -> str:
    """Stored rich text as plain text, paragraphs kept apart by a blank line."""
    if not value:
        return ""
    text = str(value).replace("\r\n", "\n")
    if "<" not in text and "&" not in text:  # typed as plain text: kept as typed
        return text.strip()
    text = _BLOCK_END.sub("\n\n", text)
    text = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _joined(values: Iterable[str]) -> str:
    return SEPARATOR.join(dict.fromkeys(v for v in values if v))


def _stamp(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() if moment else None


class _Links:
    """Builds the public addresses of entries outside any request (CLI) as inside one."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.adapter = current_app.url_map.bind("localhost")

    def __call__(self, endpoint: str, slug: str) -> str:
        return self.base + self.adapter.build(endpoint, {"slug": slug})


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


def initiative_rows(ids: Sequence[int], base_url: str) -> Iterator[dict[str, Any]]:
    """One dict per published initiative of ``ids``, in that order, loaded by batches.

    Plain SQL rows rather than ORM objects: one query per linked table and batch, and no
    identity map to fill, which makes a 100,000-row export several times faster.
    """
    link = _Links(base_url)
    for batch in _batches(ids):
        links = _InitiativeLinks(batch)
        rows = db.session.execute(
            sa.select(*_INITIATIVE_COLUMNS).where(
                Initiative.id.in_(batch), Initiative.status == Status.PUBLISHED
            )
        )
        by_id = {row.id: row for row in rows}
        for initiative_id in batch:
            row = by_id.get(initiative_id)
            if row is not None:
                yield _initiative_row(row, links, link)


_INITIATIVE_COLUMNS = (
    Initiative.id,
    Initiative.slug,
    Initiative.title,
    Initiative.summary,
    Initiative.description,
    Initiative.genesis,
    Initiative.evaluation,
    Initiative.policy_impact,
    Initiative.public_support,
    Initiative.stage,
    Initiative.start_year,
    Initiative.end_year,
    Initiative.website,
    Initiative.created_at,
    Initiative.updated_at,
    Initiative.is_demo,
)


class _InitiativeLinks:
    """What a batch of initiatives links to, grouped by initiative id, in display order."""

    def __init__(self, batch: Sequence[int]) -> None:
        def grouped(statement: sa.Select) -> dict[int, list]:
            result: dict[int, list] = {}
            for owner, *values in db.session.execute(statement):
                result.setdefault(owner, []).append(values[0] if len(values) == 1 else values)
            return result

        theme_link, public_link = initiative_theme.c, initiative_public.c
        self.themes = grouped(
            sa.select(theme_link.initiative_id, Theme.slug)
            .join(Theme, Theme.id == theme_link.theme_id)
            .where(theme_link.initiative_id.in_(batch))
            .order_by(Theme.position, Theme.id)
        )
        self.publics = grouped(
            sa.select(public_link.initiative_id, Public.slug)
            .join(Public, Public.id == public_link.public_id)
            .where(public_link.initiative_id.in_(batch))
            .order_by(Public.position, Public.id)
        )
        departement_link = initiative_departement.c
        self.departements = grouped(
            sa.select(departement_link.initiative_id, departement_link.departement_code)
            .where(departement_link.initiative_id.in_(batch))
            .order_by(departement_link.departement_code)
        )
        self.places = grouped(
            sa.select(
                Place.initiative_id,
                Place.commune_code,
                Commune.name,
                Place.latitude,
                Place.longitude,
                Commune.latitude,
                Commune.longitude,
            )
            .outerjoin(Commune, Commune.code == Place.commune_code)
            .where(Place.initiative_id.in_(batch))
            .order_by(Place.id)
        )
        self.organisations = grouped(
            sa.select(
                InitiativeOrganisation.initiative_id, InitiativeOrganisation.role, Organisation.slug
            )
            .join(Organisation, Organisation.id == InitiativeOrganisation.organisation_id)
            .where(
                InitiativeOrganisation.initiative_id.in_(batch),
                Organisation.status == Status.PUBLISHED,
            )
            .order_by(InitiativeOrganisation.position, Organisation.slug)
        )
        event_link = event_initiative.c
        self.events = grouped(
            sa.select(event_link.initiative_id, Event.slug)
            .join(Event, Event.id == event_link.event_id)
            .where(event_link.initiative_id.in_(batch), Event.status == Status.PUBLISHED)
            .order_by(Event.date.asc().nulls_last(), Event.slug)
        )


def _initiative_row(row: Any, links: _InitiativeLinks, link: _Links) -> dict[str, Any]:
    organisations = links.organisations.get(row.id, [])

    def with_role(role: OrganisationRole) -> str | None:
        return _joined(slug for each_role, slug in organisations if each_role == role) or None

    places = links.places.get(row.id, [])
    communes = {code: name for code, name, *_point in places if code}
    latitude, longitude = _point(places)
    return {
        "identifiant": row.slug,
        "url": link("public.initiative", row.slug),
        "titre": row.title,
        "resume": row.summary or None,
        "description": plain_text(row.description) or None,
        "genese": plain_text(row.genesis) or None,
        "evaluation": plain_text(row.evaluation) or None,
        "politiques_publiques": plain_text(row.policy_impact) or None,
        "soutiens": plain_text(row.public_support) or None,
        "etape": row.stage.value if row.stage else None,
        "annee_debut": row.start_year,
        "annee_fin": row.end_year,
        "site_web": row.website or None,
        "themes": _joined(links.themes.get(row.id, ())) or None,
        "publics": _joined(links.publics.get(row.id, ())) or None,
        "communes": _joined(communes) or None,
        "noms_communes": _joined(communes.values()) or None,
        "departements": _joined(links.departements.get(row.id, ())) or None,
        "organisations_porteuses": with_role(OrganisationRole.PORTEUR),
        "partenaires": with_role(OrganisationRole.PARTENAIRE),
        "financeurs": with_role(OrganisationRole.FINANCEUR),
        "latitude": latitude,
        "longitude": longitude,
        "evenements": _joined(links.events.get(row.id, ())) or None,
        "date_creation": _stamp(row.created_at),
        "date_mise_a_jour": _stamp(row.updated_at),
        "donnees_de_demonstration": bool(row.is_demo),
    }


def _point(places: Iterable[Sequence]) -> tuple[float | None, float | None]:
    """The first precise point, else the centre of the first located commune.

    ``places``: ``(commune code, commune name, lat, lon, commune lat, commune lon)`` rows.
    """
    places = list(places)
    for *_commune, latitude, longitude, _clat, _clon in places:
        if latitude is not None and longitude is not None:
            return _round(latitude), _round(longitude)
    for *_place, latitude, longitude in places:
        if latitude is not None and longitude is not None:
            return _round(latitude), _round(longitude)
    return None, None


def _round(value: float) -> float:
    return round(float(value), COORDINATE_DECIMALS)


def organisation_rows(ids: Sequence[int], base_url: str) -> Iterator[dict[str, Any]]:
    """One dict per published organisation of ``ids``, in that order, loaded by batches."""
    link = _Links(base_url)
    for batch in _batches(ids):
        rows = db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.id.in_(batch), Organisation.status == Status.PUBLISHED)
            .options(
                selectinload(Organisation.commune),
                selectinload(Organisation.themes),
                selectinload(Organisation.departements),
            )
        )
        by_id = {organisation.id: organisation for organisation in rows}
        for organisation_id in batch:
            organisation = by_id.get(organisation_id)
            if organisation is not None:
                yield _organisation_row(organisation, link)


def _organisation_row(organisation: Organisation, link: _Links) -> dict[str, Any]:
    return {
        "identifiant": organisation.slug,
        "url": link("public.organisation", organisation.slug),
        "nom": organisation.name,
        "sigle": organisation.acronym or None,
        "type": organisation.kind.value,
        "presentation": organisation.tagline or None,
        "description": plain_text(organisation.description) or None,
        "site_web": organisation.website or None,
        "courriel": organisation.email or None,
        "telephone": organisation.phone or None,
        "adresse": organisation.address or None,
        "commune": organisation.commune_code or None,
        "nom_commune": organisation.commune.name if organisation.commune else None,
        "departements": _joined(d.code for d in organisation.departements) or None,
        "themes": _joined(t.slug for t in organisation.themes) or None,
        "date_creation": _stamp(organisation.created_at),
        "date_mise_a_jour": _stamp(organisation.updated_at),
        "donnees_de_demonstration": bool(organisation.is_demo),
    }


def rows(kind: str, ids: Sequence[int], base_url: str) -> Iterator[dict[str, Any]]:
    return (initiative_rows if kind == "initiatives" else organisation_rows)(ids, base_url)


def fields_of(kind: str) -> tuple[str, ...]:
    return INITIATIVE_FIELDS if kind == "initiatives" else ORGANISATION_FIELDS


# --- Writers ---------------------------------------------------------------------------------


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 (hence XLSX) cannot hold.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: str) -> str:
    """A text a spreadsheet shows as text: a leading apostrophe before a formula-like start."""
    if value.startswith(_FORMULA_START) or value.lstrip().startswith(_FORMULA_START[:4]):
        return "'" + value
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return neutralise(str(value))


def write_csv(
    kind: str, records: Iterable[dict[str, Any]], *, excel: bool = False
) -> Iterator[bytes]:
    """CSV chunks: UTF-8 with commas, or for Excel: BOM, semicolons and CRLF."""
    names = fields_of(kind)
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=";" if excel else ",", lineterminator="\r\n" if excel else "\n"
    )
    writer.writerow(names)
    prefix = "\ufeff" if excel else ""
    for count, record in enumerate(records, start=1):
        writer.writerow([_csv_cell(record.get(name)) for name in names])
        if count % BATCH_SIZE == 0:
            yield (prefix + buffer.getvalue()).encode()
            prefix = ""
            buffer.seek(0)
            buffer.truncate()
    yield (prefix + buffer.getvalue()).encode()


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = _ILLEGAL_XML.sub("", str(value))
    return neutralise(text)[:XLSX_MAX_CELL]


def write_xlsx(kind: str, records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """An XLSX workbook written row by row (openpyxl write-only), then read back in chunks."""
    from openpyxl import Workbook

    names = fields_of(kind)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=kind.capitalize())
    sheet.freeze_panes = "A2"
    sheet.append(list(names))
    for record in records:
        sheet.append([_xlsx_cell(record.get(name)) for name in names])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(256 * 1024):
            yield chunk


def write_json(kind: str, records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A JSON array of objects, one object per line."""
    names = fields_of(kind)
    yield b"["
    first = True
    parts: list[str] = []
    for record in records:
        parts.append(
            ("\n" if first else ",\n") + _dumps({name: record.get(name) for name in names})
        )
        first = False
        if len(parts) >= BATCH_SIZE:
            yield "".join(parts).encode()
            parts = []
    parts.append("\n]\n")
    yield "".join(parts).encode()


def write_geojson(kind: str, records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A FeatureCollection of the initiatives that have a point (WGS 84, [lon, lat])."""
    names = [name for name in fields_of(kind) if name not in ("latitude", "longitude")]
    yield b'{"type":"FeatureCollection","features":['
    first = True
    parts: list[str] = []
    for record in records:
        if record.get("latitude") is None or record.get("longitude") is None:
            continue
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [record["longitude"], record["latitude"]]},
            "properties": {name: record.get(name) for name in names},
        }
        parts.append(("\n" if first else ",\n") + _dumps(feature))
        first = False
        if len(parts) >= BATCH_SIZE:
            yield "".join(parts).encode()
            parts = []
    parts.append("\n]}\n")
    yield "".join(parts).encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


WRITERS: dict[str, Callable[[str, Iterable[dict[str, Any]]], Iterator[bytes]]] = {
    "csv": write_csv,
    "excel-csv": lambda kind, records: write_csv(kind, records, excel=True),
    "xlsx": write_xlsx,
    "json": write_json,
    "geojson": write_geojson,
}


def stream(kind: str, fmt: str, ids: Sequence[int], base_url: str) -> Iterator[bytes]:
    """The bytes of an export of these entries, chunk by chunk."""
    check(kind, fmt)
    return WRITERS[fmt](kind, rows(kind, ids, base_url))


# --- Open data -------------------------------------------------------------------------------


OPENDATA_FILES: dict[str, tuple[str, str]] = {
    # file name -> (kind, format)
    "initiatives.csv": ("initiatives", "csv"),
    "initiatives.json": ("initiatives", "json"),
    "initiatives.geojson": ("initiatives", "geojson"),
    "initiatives.xlsx": ("initiatives", "xlsx"),
    "organisations.csv": ("organisations", "csv"),
    "organisations.json": ("organisations", "json"),
    "organisations.xlsx": ("organisations", "xlsx"),
}
SCHEMA_FILES = ("initiatives.schema.json", "organisations.schema.json")
MANIFEST = "manifest.json"
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "opendata"


@dataclass(frozen=True)
class OpenDataFile:
    name: str
    kind: str
    fmt: str
    size: int


@dataclass(frozen=True)
class OpenDataRelease:
    directory: Path
    generated_at: datetime
    stamp: str
    counts: dict[str, int]
    files: list[OpenDataFile]
    # The site address the files' links start with (PUBLIC_URL unless the CLI said otherwise).
    base_url: str = ""


def opendata_directory() -> Path:
    return Path(current_app.instance_path) / "opendata"


def catalogue_stamp() -> str:
    """Changes whenever anything the open-data files show changes."""
    parts: list[Any] = []
    for model in (Initiative, Organisation, Event, Place):
        parts.extend(
            db.session.execute(
                sa.select(sa.func.count(), sa.func.max(model.updated_at), sa.func.max(model.id))
            ).one()
        )
    for model in (Initiative, Organisation, Event):
        parts.append(
            db.session.scalar(sa.select(sa.func.count()).where(model.status == Status.PUBLISHED))
        )
    # Links change without touching their entry's row: count them and sum a pair checksum,
    # so that swapping one theme for another changes the stamp too.
    links = InitiativeOrganisation.__table__
    for table, left, right in (
        (initiative_theme, "initiative_id", "theme_id"),
        (initiative_public, "initiative_id", "public_id"),
        (initiative_departement, "initiative_id", "departement_code"),
        (organisation_theme, "organisation_id", "theme_id"),
        (organisation_departement, "organisation_id", "departement_code"),
        (event_initiative, "event_id", "initiative_id"),
        (links, "initiative_id", "organisation_id"),
    ):
        right_column = table.c[right]
        right_value = (
            sa.cast(sa.func.replace(sa.func.replace(right_column, "A", "0"), "B", "1"), sa.Integer)
            if right == "departement_code"
            else right_column
        )
        checksum = sa.func.sum(table.c[left] * 1_000_003 + right_value)
        parts.extend(db.session.execute(sa.select(sa.func.count(), checksum)).one())
    for model in (Theme, Public):
        parts.extend(db.session.execute(sa.select(model.id, model.slug).order_by(model.id)).all())
    parts.extend(
        db.session.execute(
            sa.select(Commune.code, Commune.name)
            .where(
                Commune.code.in_(
                    sa.select(Place.commune_code).union(sa.select(Organisation.commune_code))
                )
            )
            .order_by(Commune.code)
        ).all()
    )
    digest = hashlib.sha256(json.dumps(parts, default=str).encode())
    return digest.hexdigest()[:24]


def write_opendata(
    directory: Path | None = None,
    base_url: str = "",
    progress: Callable[[str], None] | None = None,
) -> OpenDataRelease:
    """Write every open-data file, the schemas and a manifest into ``directory``.

    Files are written beside the old ones and renamed into place, so a download running
    meanwhile reads a whole old file or a whole new one.
    """
    directory = directory or opendata_directory()
    directory.mkdir(parents=True, exist_ok=True)
    base_url = (base_url or public_url(current_app.config)).rstrip("/")
    stamp = catalogue_stamp()
    ids = {"initiatives": initiative_ids(), "organisations": organisation_ids()}
    files: list[OpenDataFile] = []
    for name, (kind, fmt) in OPENDATA_FILES.items():
        if progress:
            progress(name)
        target = directory / name
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".", delete=False) as handle:
            for chunk in stream(kind, fmt, ids[kind], base_url):
                handle.write(chunk)
        os.replace(handle.name, target)
        files.append(OpenDataFile(name, kind, fmt, target.stat().st_size))
    for name in SCHEMA_FILES:
        shutil.copyfile(SCHEMA_DIR / name, directory / name)
    release = OpenDataRelease(
        directory=directory,
        generated_at=datetime.now(UTC).replace(microsecond=0, tzinfo=None),
        stamp=stamp,
        counts={kind: len(values) for kind, values in ids.items()},
        files=files,
        base_url=base_url,
    )
    manifest = {
        "generated_at": release.generated_at.isoformat(),
        "stamp": stamp,
        "counts": release.counts,
        "base_url": base_url,
        "files": [{"name": f.name, "kind": f.kind, "format": f.fmt, "size": f.size} for f in files],
    }
    with tempfile.NamedTemporaryFile(
        "w", dir=directory, prefix=".", delete=False, encoding="utf-8"
    ) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=2)
    os.replace(handle.name, directory / MANIFEST)
    return release


def read_release(directory: Path | None = None) -> OpenDataRelease | None:
    """The last release written into ``directory``, or ``None``."""
    directory = directory or opendata_directory()
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = [
            OpenDataFile(f["name"], f["kind"], f["format"], int(f["size"]))
            for f in manifest["files"]
            if f["name"] in OPENDATA_FILES and (directory / f["name"]).is_file()
        ]
        return OpenDataRelease(
            directory=directory,
            generated_at=datetime.fromisoformat(manifest["generated_at"]),
            stamp=str(manifest["stamp"]),
            counts={k: int(v) for k, v in manifest["counts"].items()},
            files=files,
            base_url=str(manifest.get("base_url", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current_release() -> OpenDataRelease:
    """The open-data files for the catalogue as it is now: regenerated after any change.

    Their links start with PUBLIC_URL, never with the Host of the request that asked for them.

    One process regenerates at a time (a lock file beside the files); the others wait for it,
    then find the files fresh.
    """
    release = _fresh_release()
    if release is not None:
        return release
    directory = opendata_directory()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _fresh_release() or write_opendata(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fresh_release() -> OpenDataRelease | None:
    release = read_release()
    if (
        release is not None
        and release.stamp == catalogue_stamp()
        and release.base_url == public_url(current_app.config)
        and len(release.files) == len(OPENDATA_FILES)
    ):
        return release
    return None
