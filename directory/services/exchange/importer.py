"""Import of initiatives and organisations from a spreadsheet: one service for web and CLI.

``run_import(data, filename, kind=..., user=..., dry_run=...)`` reads the file
(``readers``), maps its columns (``mapping``), checks every row and returns an
``ImportReport``: per row, what would be (or was) created, updated, left unchanged or refused
and why, with the geocoding result of each place.

Rules
-----
- A row is checked cell by cell (NUL bytes, formula injection ``= + - @``, overlong cells),
  references are resolved against the directory (communes by INSEE code, postcode or name;
  themes, publics and organisations by slug or name; stage and kind by value or label), then
  the whole entry goes through the workflow's validation (``entry_data.normalise_*``), so an
  import accepts exactly what the edit forms accept.
- Matching: on the external id column when the row has one, else on title (name) and commune,
  compared folded (``text.fold``). A matched entry is updated with the mapped columns only;
  an unmapped field keeps its value. Two rows of one file that designate the same entry are
  refused (the second one).
- The real run is one transaction: if any row is refused nothing is written, unless
  ``only_valid`` is set, in which case the valid rows are written and the others reported.
- Each written entry gets an APPLIED revision authored by the curator, holding
  ``workflow.snapshot(entry)``; an existing entry without history first gets its baseline
  revision, as the workflow does. Entries are published (archived ones stay archived).
  The run is logged in the audit log as ``import.run``.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import (
    AuditLog,
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Revision,
    RevisionAction,
    RevisionState,
    Stage,
    Status,
    Theme,
)
from ...richtext import sanitize
from ...text import fold, slugify
from .. import entry_data, permissions, revisions, workflow
from ..gazetteer import normalize_name
from . import mapping as mappings
from .mapping import INITIATIVE, ORGANISATION
from .readers import DEFAULT_MAX_BYTES, MAX_CELL_CHARS, ImportFileError, Table, read_table

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
OUTCOME_LABELS = {
    CREATE: "Créée",
    UPDATE: "Mise à jour",
    UNCHANGED: "Inchangée",
    ERROR: "Refusée",
}
FOUND, AMBIGUOUS, NOT_FOUND = "found", "ambiguous", "not_found"
GEOCODING_LABELS = {
    FOUND: "Commune trouvée",
    AMBIGUOUS: "Commune ambiguë",
    NOT_FOUND: "Commune introuvable",
}
RICH_FIELDS = ("description", "genesis", "evaluation", "policy_impact", "public_support")
FLUSH_EVERY = 500
# A dry run looks for likely duplicates of every created row, within this many seconds: one
# look-up takes a few milliseconds, tens in a directory of 100,000 look-alike entries.
DUPLICATE_SECONDS = 30.0
_SPLIT = re.compile(r"\s*[;|\n]\s*")
# Digits, spaces and separators only (a number, a phone number such as +33 4 91 00 00 00):
# harmless in a spreadsheet, so not refused for its leading + or -.
_NUMBER = re.compile(r"[+-]?[\d\s.,()/]*\d[\d\s.,()/]*")
_FORMULA_START = ("=", "+", "-", "@")
_YEAR = re.compile(r"(\d{4})(?:[-/.]\d{1,2}[-/.]\d{1,2}|\.0)?")
_DAY_FIRST_DATE = re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.](\d{4})")
_DEPT_HINT = re.compile(r"^(.*?)\s*\((\d[0-9AB]|\d{5})\)\s*$")
_CODE = re.compile(r"\d{4,5}|2[ABab]\d{3}")
_POSTCODE_PREFIX = re.compile(r"^(\d{5})\s+(.+)$")


@dataclass
class PlaceResult:
    """The geocoding of one place of a row."""

    query: str
    status: str
    commune_code: str | None = None
    commune_name: str | None = None
    candidates: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return GEOCODING_LABELS[self.status]


@dataclass
class RowResult:
    line: int
    label: str
    outcome: str = CREATE
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    places: list[PlaceResult] = field(default_factory=list)
    entry_id: int | None = None
    external_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    snapshot: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    def refuse(self, message: str) -> None:
        self.outcome = ERROR
        if message not in self.errors:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "label": self.label,
            "outcome": self.outcome,
            "errors": self.errors,
            "warnings": self.warnings,
            "places": [asdict(place) for place in self.places],
            "entry_id": self.entry_id,
        }


@dataclass
class ImportReport:
    kind: str
    filename: str
    dry_run: bool = True
    only_valid: bool = False
    file_error: str | None = None
    headings: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    rows: list[RowResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False
    format: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(row.outcome for row in self.rows)
        return {outcome: counter.get(outcome, 0) for outcome in OUTCOME_LABELS}

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if row.outcome == ERROR]

    @property
    def ok(self) -> bool:
        """True when the file can be imported as a whole (no file or row error)."""
        return self.file_error is None and not self.error_rows

    @property
    def warning_count(self) -> int:
        return sum(1 for row in self.rows if row.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "only_valid": self.only_valid,
            "file_error": self.file_error,
            "headings": self.headings,
            "mapping": self.mapping,
            "rows": [row.to_dict() for row in self.rows],
            "notes": self.notes,
            "written": self.written,
            "format": self.format,
            "counts": self.counts,
        }


class ImportNotAllowed(Exception):
    """Only staff import (views answer 403, the CLI refuses)."""


# -- look-up tables, loaded once per import -----------------------------------------------


class _Lookups:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.communes: dict[str, tuple[str, str, float | None, float | None, str]] = {}
        self.commune_names: dict[str, list[str]] = defaultdict(list)
        self.postcodes: dict[str, list[str]] = defaultdict(list)
        statement = sa.select(
            Commune.code,
            Commune.name,
            Commune.departement_code,
            Commune.latitude,
            Commune.longitude,
            Commune.postcodes,
            Commune.kind,
        )
        for code, name, departement, lat, lon, postcodes, commune_kind in db.session.execute(
            statement
        ):
            self.communes[code] = (name, departement, lat, lon, postcodes or "")
            if commune_kind != "ARM":
                self.commune_names[normalize_name(name)].append(code)
            for postcode in (postcodes or "").split():
                self.postcodes[postcode].append(code)
        self.order: dict[tuple[str, str], tuple[int, int]] = {}
        self.themes = self._taxonomy(Theme)
        self.publics = self._taxonomy(Public)
        self.departements: dict[str, str] = {}
        for code, name in db.session.execute(sa.select(Departement.code, Departement.name)):
            self.departements[code.casefold()] = code
            self.departements[fold(name)] = code
            self.departements[fold(f"{name} ({code})")] = code
        self.stages = _choices(Stage)
        self.org_kinds = _choices(OrganisationKind)
        self.organisations: dict[str, str] = {}
        for slug, name, acronym, external_id in db.session.execute(
            sa.select(
                Organisation.slug, Organisation.name, Organisation.acronym, Organisation.external_id
            )
        ):
            self.organisations[slug] = slug
            if external_id:
                self.organisations.setdefault(external_id, slug)
            self.organisations.setdefault(fold(name), slug)
            if acronym:
                self.organisations.setdefault(fold(acronym), slug)
        model = Initiative if kind == INITIATIVE else Organisation
        self.by_external_id: dict[str, int] = {}
        self.by_title: dict[tuple[str, str | None], int] = {}
        title = model.title if kind == INITIATIVE else model.name
        rows = db.session.execute(
            sa.select(model.id, title, model.external_id, model.slug).order_by(model.id)
        ).all()
        self.by_slug: dict[str, int] = {row.slug: row.id for row in rows}
        communes: dict[int, list[str]] = defaultdict(list)
        if kind == INITIATIVE:
            for entry_id, code in db.session.execute(
                sa.select(Place.initiative_id, Place.commune_code).where(
                    Place.commune_code.is_not(None)
                )
            ):
                communes[entry_id].append(code)
        else:
            for entry_id, code in db.session.execute(
                sa.select(Organisation.id, Organisation.commune_code).where(
                    Organisation.commune_code.is_not(None)
                )
            ):
                communes[entry_id].append(code)
        for entry_id, text, external_id, _slug in rows:
            if external_id:
                self.by_external_id.setdefault(external_id, entry_id)
            for code in communes.get(entry_id) or [None]:
                self.by_title.setdefault((fold(text), code), entry_id)

    def _taxonomy(self, model: type) -> dict[str, str]:
        index: dict[str, str] = {}
        statement = sa.select(model.slug, model.name, model.position, model.id)
        for slug, name, position, row_id in db.session.execute(statement):
            index[slug] = slug
            index[fold(name)] = slug
            index[slugify(name)] = slug
            self.order[(model.__name__, slug)] = (position, row_id)
        return index

    def in_order(self, model: type, slugs: list[str]) -> list[str]:
        """Slugs in the order the entry's relationship lists them (position)."""
        return sorted(slugs, key=lambda slug: self.order[(model.__name__, slug)])


def _choices(enum_cls: type) -> dict[str, str]:
    index = {}
    for member in enum_cls:
        index[member.value] = member.value
        index[fold(member.label)] = member.value
        index[slugify(member.label)] = member.value
    return index


# -- cells --------------------------------------------------------------------------------


def _split(value: str) -> list[str]:
    return [part for part in _SPLIT.split(value) if part]


def _clean_cell(value: str, label: str, row: RowResult) -> str | None:
    """The cell's text, or None after recording why the cell is refused."""
    if "\x00" in value:
        row.refuse(f"« {label} » contient un caractère nul (octet 0) : cellule refusée.")
        return None
    if len(value) > MAX_CELL_CHARS:
        row.refuse(f"« {label} » compte {len(value)} caractères ({MAX_CELL_CHARS} au plus).")
        return None
    text = value.strip()
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        # Neutralised by a spreadsheet export: the apostrophe is not part of the text.
        return text[1:]
    if text[:1] in _FORMULA_START and not _NUMBER.fullmatch(text):
        row.refuse(
            f"« {label} » commence par « {text[:1]} » : une cellule qui commence par =, +, - ou @ "
            f"peut être exécutée comme une formule par un tableur (« {_excerpt(text)} »). "
            "Retirez ce caractère ou faites-le précéder d'une apostrophe."
        )
        return None
    return text


def _excerpt(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _year(value: str, label: str, row: RowResult) -> int | str | None:
    if not value:
        return None
    match = _YEAR.fullmatch(value) or _DAY_FIRST_DATE.fullmatch(value)
    if match is None:
        row.refuse(f"« {label} » : « {_excerpt(value)} » n'est pas une année (par exemple 2011).")
        return None
    return int(match.group(1))


def _url(value: str, label: str, row: RowResult) -> str | None:
    if not value:
        return None
    if value.lower().startswith("www."):
        row.warnings.append(f"« {label} » : https:// ajouté devant « {_excerpt(value)} ».")
        value = "https://" + value
    if not re.fullmatch(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", value, re.IGNORECASE):
        row.refuse(f"« {label} » : « {_excerpt(value)} » n'est pas une adresse web valide.")
        return None
    return value


# -- rows ---------------------------------------------------------------------------------


class _RowReader:
    """Turns one row of the file into ``data`` (workflow snapshot format) and a match."""

    def __init__(self, kind: str, lookups: _Lookups, mapping: dict[str, str]) -> None:
        self.kind = kind
        self.lookups = lookups
        self.mapping = {heading: key for heading, key in mapping.items() if key}
        self.fields = set(self.mapping.values())
        self.labels = mappings.field_labels(kind)
        self.seen: dict[Any, int] = {}

    def read(self, line: int, record: dict[str, str]) -> RowResult:
        row = RowResult(line=line, label="")
        cells: dict[str, str] = {}
        for heading, key in self.mapping.items():
            text = _clean_cell(record.get(heading, "") or "", heading, row)
            if text is not None:
                cells[key] = text
        title_key = mappings.REQUIRED[self.kind]
        row.label = _excerpt(cells.get(title_key, ""), 120)
        row.external_id = cells.get("external_id") or None
        if row.external_id and len(row.external_id) > 100:
            row.refuse("« Identifiant externe » : 100 caractères au plus.")
        if cells.get(title_key) == "":
            row.refuse(f"« {self.labels[title_key]} » manque : ligne refusée.")
        if self.kind == INITIATIVE:
            row.data = self._initiative(cells, row)
        else:
            row.data = self._organisation(cells, row)
        self._match(row, cells)
        return row

    # shared pieces

    def _text_fields(self, cells: dict[str, str], names: Iterable[str]) -> dict[str, Any]:
        return {name: cells[name] or None for name in names if name in cells}

    def _lookup_list(
        self, value: str, index: dict[str, str], what: str, row: RowResult
    ) -> list[str]:
        found = []
        for item in _split(value):
            slug = index.get(item) or index.get(fold(item)) or index.get(slugify(item))
            if slug is None:
                row.refuse(f"{what} inconnu(e) : « {_excerpt(item)} ».")
            elif slug not in found:
                found.append(slug)
        return found

    def _communes(self, cells: dict[str, str], row: RowResult) -> list[PlaceResult]:
        names = _split(cells.get("commune", ""))
        codes = _split(cells.get("commune_code", ""))
        postcodes = _split(cells.get("postcode", ""))
        count = max(len(names), len(codes))
        results = []
        for index in range(count):
            code = codes[index] if index < len(codes) else ""
            name = names[index] if index < len(names) else ""
            postcode = postcodes[index] if index < len(postcodes) else ""
            results.append(self._geocode(name, code, postcode))
        for place in results:
            row.places.append(place)
            if place.status == NOT_FOUND:
                row.refuse(f"Commune introuvable : « {_excerpt(place.query)} ».")
            elif place.status == AMBIGUOUS:
                row.refuse(
                    f"Commune ambiguë : « {_excerpt(place.query)} » désigne plusieurs communes "
                    f"({', '.join(place.candidates[:5])}) ; indiquez le code INSEE ou le code "
                    "postal."
                )
        return results

    def _geocode(self, name: str, code: str, postcode: str) -> PlaceResult:
        lookups = self.lookups
        query = " ".join(part for part in (postcode, name) if part) or code
        if code and not _CODE.fullmatch(code):
            # A name in the code column (a list of communes by name, for instance).
            name, code = name or code, ""
            query = query or name
        if code:
            code = code.upper().zfill(5) if code.isdigit() else code.upper()
            if code in lookups.communes:
                return self._found(query or code, code)
            if not name:
                return PlaceResult(query=code, status=NOT_FOUND)
        hint = None
        match = _DEPT_HINT.match(name)
        if match:
            name, hint = match.group(1), match.group(2)
        match = _POSTCODE_PREFIX.match(name)
        if match:
            postcode, name = postcode or match.group(1), match.group(2)
        if name.isdigit():
            candidates = lookups.postcodes.get(name) or ([name] if name in lookups.communes else [])
        else:
            candidates = list(lookups.commune_names.get(normalize_name(name), []))
        if postcode:
            by_postcode = lookups.postcodes.get(postcode, [])
            narrowed = [code for code in candidates if code in by_postcode] if name else by_postcode
            candidates = narrowed or ([] if name else candidates)
        if hint and len(candidates) > 1:
            candidates = [
                code
                for code in candidates
                if lookups.communes[code][1] == hint
                or lookups.communes[code][4].startswith(hint)
                or hint in lookups.communes[code][4].split()
            ] or candidates
        if len(candidates) == 1:
            return self._found(query, candidates[0])
        if not candidates:
            return PlaceResult(query=query, status=NOT_FOUND)
        return PlaceResult(
            query=query,
            status=AMBIGUOUS,
            candidates=[
                f"{lookups.communes[code][0]} ({lookups.communes[code][1]})" for code in candidates
            ],
        )

    def _found(self, query: str, code: str) -> PlaceResult:
        name, departement = self.lookups.communes[code][:2]
        return PlaceResult(
            query=query,
            status=FOUND,
            commune_code=code,
            commune_name=f"{name} ({departement})",
        )

    def _coordinate(self, cells: dict[str, str], key: str, row: RowResult) -> float | None:
        value = cells.get(key, "")
        if not value:
            return None
        limit = 90 if key == "latitude" else 180
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            number = None
        if number is None or not -limit <= number <= limit:
            row.refuse(
                f"« {self.labels[key]} » : « {_excerpt(value)} » n'est pas un nombre entre "
                f"-{limit} et {limit}."
            )
            return None
        return number

    # initiatives

    def _initiative(self, cells: dict[str, str], row: RowResult) -> dict[str, Any]:
        lookups = self.lookups
        data = self._text_fields(
            cells,
            (
                "title", "summary", "description", "contact_email", "contact_phone",
                "genesis", "evaluation", "policy_impact", "public_support", "source",
            ),
        )  # fmt: skip
        if "website" in cells:
            data["website"] = _url(cells["website"], self.labels["website"], row)
        if "stage" in cells:
            value = cells["stage"]
            stage = lookups.stages.get(fold(value)) if value else None
            if value and stage is None:
                row.refuse(
                    f"Stade inconnu : « {_excerpt(value)} » (idée, expérimentation, déploiement, "
                    "essaimage ou terminée)."
                )
            data["stage"] = stage
        for key in ("start_year", "end_year"):
            if key in cells:
                data[key] = _year(cells[key], self.labels[key], row)
        if "themes" in cells:
            themes = self._lookup_list(cells["themes"], lookups.themes, "Thème", row)
            data["themes"] = lookups.in_order(Theme, themes)
        if "publics" in cells:
            publics = self._lookup_list(cells["publics"], lookups.publics, "Public", row)
            data["publics"] = lookups.in_order(Public, publics)
        if self.fields & {
            "commune",
            "commune_code",
            "postcode",
            "address",
            "latitude",
            "longitude",
            "place_label",
        }:
            places = self._communes(cells, row)
            latitude = self._coordinate(cells, "latitude", row)
            longitude = self._coordinate(cells, "longitude", row)
            label = cells.get("place_label") or None
            address = cells.get("address") or None
            for key, value, limit in (("place_label", label, 200), ("address", address, 300)):
                if value and len(value) > limit:
                    row.refuse(
                        f"« {self.labels[key]} » compte {len(value)} caractères ({limit} au plus)."
                    )
            data["places"] = []
            for index, place in enumerate(places):
                point = self.lookups.communes.get(place.commune_code or "", (None,) * 4)[2:4]
                if index == 0 and latitude is not None and longitude is not None:
                    point = (latitude, longitude)
                data["places"].append(
                    {
                        "label": label if index == 0 else None,
                        "address": address if index == 0 else None,
                        "commune_code": place.commune_code,
                        "latitude": point[0],
                        "longitude": point[1],
                    }
                )
            if not places and (label or address or latitude is not None):
                data["places"].append(
                    {
                        "label": label,
                        "address": address,
                        "commune_code": None,
                        "latitude": latitude,
                        "longitude": longitude,
                    }
                )
        roles = (("organisations", "porteur"), ("partners", "partenaire"), ("funders", "financeur"))
        if self.fields & {key for key, _ in roles}:
            links = []
            for key, role in roles:
                for slug in self._lookup_list(
                    cells.get(key, ""), lookups.organisations, "Organisation", row
                ):
                    links.append({"slug": slug, "role": role})
            data["organisations"] = links
            data["_roles"] = [role for key, role in roles if key in self.fields]
        return data

    # organisations

    def _organisation(self, cells: dict[str, str], row: RowResult) -> dict[str, Any]:
        lookups = self.lookups
        data = self._text_fields(
            cells, ("name", "acronym", "tagline", "description", "email", "phone", "address")
        )
        if "website" in cells:
            data["website"] = _url(cells["website"], self.labels["website"], row)
        if "kind" in cells:
            value = cells["kind"]
            kind = lookups.org_kinds.get(fold(value)) if value else None
            if value and kind is None:
                row.refuse(
                    f"Type de structure inconnu : « {_excerpt(value)} » (association, "
                    "collectivité, service de l'État, entreprise de l'ESS, collectif ou autre)."
                )
            data["kind"] = kind
        if self.fields & {"commune", "commune_code", "postcode"}:
            places = self._communes(cells, row)
            if len(places) > 1:
                row.refuse("Une organisation n'a qu'une commune : la cellule en nomme plusieurs.")
            data["commune_code"] = places[0].commune_code if places else None
        if "themes" in cells:
            themes = self._lookup_list(cells["themes"], lookups.themes, "Thème", row)
            data["themes"] = lookups.in_order(Theme, themes)
        if "departements" in cells:
            data["departements"] = sorted(
                self._lookup_list(cells["departements"], lookups.departements, "Département", row)
            )
        return data

    # matching

    def _match(self, row: RowResult, cells: dict[str, str]) -> None:
        lookups = self.lookups
        title = cells.get(mappings.REQUIRED[self.kind], "")
        commune = next((place.commune_code for place in row.places if place.commune_code), None)
        keys: list[tuple] = []
        if row.external_id:
            keys.append(("id", row.external_id))
            # The open-data export's identifier is the entry's slug.
            row.entry_id = lookups.by_external_id.get(row.external_id) or lookups.by_slug.get(
                row.external_id
            )
        elif title:
            keys.append(("title", fold(title), commune))
        if row.entry_id is None and title:
            # An entry never imported (seed, form, another file) is found by title and commune.
            row.entry_id = lookups.by_title.get((fold(title), commune))
        if row.entry_id is not None:
            keys.append(("entry", row.entry_id))
        for key in keys:
            if key in self.seen:
                what = {
                    "id": "le même identifiant",
                    "title": "le même titre et la même commune"
                    if self.kind == INITIATIVE
                    else "le même nom et la même commune",
                    "entry": "la même fiche de l'annuaire",
                }[key[0]]
                row.refuse(f"Doublon dans le fichier : {what} que la ligne {self.seen[key]}.")
                break
        for key in keys:
            self.seen.setdefault(key, row.line)


# -- the service --------------------------------------------------------------------------


def kind_from(value: str) -> str:
    """ "initiatives" / "organisations" (or the singular) to the entity type; ValueError else."""
    value = (value or "").strip().lower()
    if value in mappings.KINDS:
        return mappings.KINDS[value]
    if value in (INITIATIVE, ORGANISATION):
        return value
    raise ValueError(value)


def run_import(
    data: bytes,
    filename: str,
    *,
    kind: str,
    user: Any,
    columns: dict[str, str] | None = None,
    dry_run: bool = True,
    only_valid: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
    check_duplicates: bool = True,
    defer_index: bool = False,
) -> ImportReport:
    """Check (``dry_run``) or import the file; see the module docstring.

    ``columns`` is a mapping ``{heading: field}`` that overrides the automatic guess.
    ``progress(n)`` is called as rows are processed (n rows at a time).
    ``defer_index`` leaves the search index alone after the commit (the changes wait in its
    outbox): a caller importing thousands of rows rebuilds the index in one go instead, which
    is much faster than updating it entry by entry.
    """
    if not permissions.is_staff(user):
        raise ImportNotAllowed("Seule l'équipe de la DRJSCS peut importer des fichiers.")
    report = ImportReport(kind=kind, filename=filename, dry_run=dry_run, only_valid=only_valid)
    try:
        table = read_table(data, filename, max_bytes=max_bytes)
    except ImportFileError as error:
        report.file_error = error.message
        return report
    report.format = table.format
    report.notes.extend(table.notes)
    report.headings = table.headings
    report.mapping = mappings.resolve(table.headings, kind, columns)
    problems = mappings.check(report.mapping, kind)
    if problems:
        report.file_error = " ".join(problems)
        return report
    try:
        _check_rows(report, table, kind, progress, check_duplicates and dry_run)
        if dry_run or report.file_error:
            return report
        if report.error_rows and not only_valid:
            return report
        _write(report, kind, user, progress, defer_index=defer_index)
    finally:
        if not report.written:
            db.session.rollback()
    return report


def _check_rows(
    report: ImportReport,
    table: Table,
    kind: str,
    progress: Callable[[int], None] | None,
    check_duplicates: bool,
) -> None:
    lookups = _Lookups(kind)
    reader = _RowReader(kind, lookups, report.mapping)
    with db.session.no_autoflush:
        for number, (line, cells) in enumerate(table.rows, start=1):
            report.rows.append(reader.read(line, table.record(cells)))
            if progress and number % 200 == 0:
                progress(100)
        entries = _load_entries(kind, [row.entry_id for row in report.rows if row.entry_id])
        finder = _DuplicateChecks(kind) if check_duplicates else None
        for number, row in enumerate(report.rows, start=1):
            if progress and number % 200 == 0:
                progress(100)
            if row.outcome == ERROR:
                continue
            entry = entries.get(row.entry_id) if row.entry_id else None
            base = workflow.snapshot(entry) if entry is not None else None
            data = dict(row.data)
            roles = data.pop("_roles", None)
            if base is not None and roles is not None:
                # Links of the roles the file does not give are kept.
                kept = [link for link in base["organisations"] if link["role"] not in roles]
                data["organisations"] = data["organisations"] + kept
            _rich_text(data, base)
            _keep_places(data, base, reader.lookups)
            try:
                snap = _normalise(kind, data, base)
            except workflow.WorkflowError as error:
                row.refuse(error.message)
                continue
            row.snapshot = snap
            if entry is None:
                row.outcome = CREATE
                if finder is not None:
                    finder.warn(row, snap)
            else:
                row.outcome = UNCHANGED if snap == base else UPDATE
        if progress:
            progress(len(report.rows) % 200)
    if finder is not None and finder.skipped:
        report.notes.append(
            f"Doublons probables recherchés pour {finder.checked} des "
            f"{finder.checked + finder.skipped} créations seulement, faute de temps : "
            "les suivantes n'ont pas été vérifiées."
        )


# References already resolved against the directory by ``_RowReader``: the workflow's
# validation sees them empty (it would query the database for each row) and they are put back.
_REFERENCES = {
    INITIATIVE: ("themes", "publics", "organisations", "places"),
    ORGANISATION: ("themes", "departements", "commune_code"),
}


def _normalise(kind: str, data: dict, base: dict | None) -> dict:
    """``entry_data.normalise_*`` over ``data`` (merged over ``base``), without a query per row."""
    references = {}
    data = dict(data)
    base = dict(base) if base is not None else None
    for key in _REFERENCES[kind]:
        source = data if key in data else (base or {})
        references[key] = source.get(key)
        empty = None if key == "commune_code" else []
        data[key] = empty
        if base is not None:
            base[key] = empty
    if kind == INITIATIVE:
        snap = workflow.normalise_initiative(data, base)
        links = []
        for link in references["organisations"] or []:
            if link not in links:
                links.append(link)
        references["organisations"] = links
        references["places"] = references["places"] or []
    else:
        snap = workflow.normalise_organisation(data, base)
    for key, value in references.items():
        snap[key] = value if value is not None else ([] if key != "commune_code" else None)
    return snap


def _rich_text(data: dict, base: dict | None) -> None:
    """Rich text fields as the edit forms store them (sanitised HTML paragraphs), except that
    a text whose words did not change keeps its stored form (links, lists, or plain text):
    a file gives plain text, the open-data export among others."""
    from .export import plain_text

    for name in RICH_FIELDS:
        value = data.get(name)
        if not value:
            continue
        current = base.get(name) if base else None
        if current and plain_text(value) == plain_text(current):
            data[name] = current
        else:
            data[name] = sanitize(value) or None


def _close(a: tuple | None, b: tuple | None) -> bool:
    if a is None or b is None or None in a or None in b:
        return False
    return abs(a[0] - b[0]) < 1e-3 and abs(a[1] - b[1]) < 1e-3


def _keep_places(data: dict, base: dict | None, lookups: _Lookups) -> None:
    """Places in the same communes as the entry's keep their name, address and point unless
    the file gives others (a point at the commune's centre is no news)."""
    places = data.get("places")
    if base is None or places is None:
        return
    current = base.get("places") or []
    if [p["commune_code"] for p in places] != [p["commune_code"] for p in current]:
        return
    merged = []
    for new, old in zip(places, current, strict=True):
        place = dict(old)
        for key in ("label", "address"):
            if new.get(key):
                place[key] = new[key]
        point = (new.get("latitude"), new.get("longitude"))
        centre = lookups.communes.get(new.get("commune_code") or "", (None,) * 4)[2:4]
        moved = not _close(point, (old["latitude"], old["longitude"]))
        if None not in point and moved and not _close(point, tuple(centre)):
            place["latitude"], place["longitude"] = point
        merged.append(place)
    data["places"] = merged


class _DuplicateChecks:
    """Likely duplicates of the created rows, with one index and its look-ups shared by the
    whole file, until ``DUPLICATE_SECONDS`` are spent."""

    def __init__(self, kind: str) -> None:
        from .. import duplicates

        self.finder = duplicates.DuplicateFinder(kind)
        self.deadline = time.monotonic() + DUPLICATE_SECONDS
        self.checked = 0
        self.skipped = 0

    def warn(self, row: RowResult, snap: dict) -> None:
        if time.monotonic() > self.deadline:
            self.skipped += 1
            return
        self.checked += 1
        for candidate in self.finder.find(snap, limit=3):
            row.warnings.append(
                f"Doublon probable : « {_excerpt(candidate.title, 80)} » "
                f"({', '.join(candidate.reasons)})."
            )


def _load_entries(kind: str, ids: list[int]) -> dict[int, Initiative | Organisation]:
    if not ids:
        return {}
    if kind == INITIATIVE:
        model = Initiative
        options = (
            selectinload(Initiative.themes),
            selectinload(Initiative.publics),
            selectinload(Initiative.places),
            selectinload(Initiative.departements),
            selectinload(Initiative.organisation_links).selectinload(
                InitiativeOrganisation.organisation
            ),
        )
    else:
        model = Organisation
        options = (selectinload(Organisation.themes), selectinload(Organisation.departements))
    entries: dict[int, Any] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for entry in db.session.scalars(
            sa.select(model).where(model.id.in_(chunk)).options(*options)
        ):
            entries[entry.id] = entry
    return entries


# -- writing ------------------------------------------------------------------------------


class _Cache(entry_data.References):
    """Themes, publics, départements and organisations kept in memory while a file is
    written: the rows were checked when the file was read, so a look-up is a dictionary's."""

    def __init__(self) -> None:
        self._themes = {row.slug: row for row in db.session.scalars(sa.select(Theme))}
        self._publics = {row.slug: row for row in db.session.scalars(sa.select(Public))}
        self._departements = {row.code: row for row in db.session.scalars(sa.select(Departement))}
        self._commune_departements = dict(
            db.session.execute(sa.select(Commune.code, Commune.departement_code)).all()
        )
        self._organisations: dict[str, Organisation] = {}

    def themes(self, slugs: list[str]) -> list[Theme]:
        return [self._themes[slug] for slug in slugs]

    def publics(self, slugs: list[str]) -> list[Public]:
        return [self._publics[slug] for slug in slugs]

    def departements(self, codes: list[str]) -> list[Departement]:
        return [self._departements[code] for code in codes if code in self._departements]

    def departements_of_communes(self, codes: set[str]) -> list[str]:
        return sorted({self._commune_departements[code] for code in codes})

    def organisations(self, slugs: list[str]) -> dict[str, Organisation]:
        missing = [slug for slug in slugs if slug not in self._organisations]
        if missing:
            for row in db.session.scalars(
                sa.select(Organisation).where(Organisation.slug.in_(missing))
            ):
                self._organisations[row.slug] = row
        return {slug: self._organisations[slug] for slug in slugs}


def _write(
    report: ImportReport,
    kind: str,
    user: Any,
    progress: Callable[[int], None] | None,
    *,
    defer_index: bool = False,
) -> None:
    """Write the valid rows in one transaction, with their revisions and the audit entry."""
    model = Initiative if kind == INITIATIVE else Organisation
    cache = _Cache()
    lookups_slugs = set(db.session.scalars(sa.select(model.slug)))
    rows = [row for row in report.rows if row.outcome in (CREATE, UPDATE)]
    entries = _load_entries(kind, [row.entry_id for row in rows if row.entry_id])
    with_history = _with_history(kind, list(entries))
    comment = f"Import du fichier « {_excerpt(report.filename, 200)} »."
    author_id = getattr(user, "id", None)
    with db.session.no_autoflush:
        pending: list[tuple[RowResult, Any, RevisionAction]] = []
        for row in rows:
            snap = row.snapshot or {}
            if row.outcome == CREATE:
                title = snap["title"] if kind == INITIATIVE else snap["name"]
                entry = model(slug=_unique_slug(title, lookups_slugs), status=Status.PUBLISHED)
                if kind == INITIATIVE:
                    entry.title = title
                else:
                    entry.name = title
                db.session.add(entry)
                action = RevisionAction.CREATE
            else:
                entry = entries[row.entry_id]
                if entry.id not in with_history:
                    db.session.add(
                        Revision(
                            entity_type=kind,
                            entity_id=entry.id,
                            action=RevisionAction.CREATE,
                            state=RevisionState.APPLIED,
                            snapshot=workflow.snapshot(entry),
                            organisation_id=_organisation_id(entry),
                            comment=revisions.BASELINE_COMMENT,
                        )
                    )
                    with_history.add(entry.id)
                if entry.status in (Status.DRAFT, Status.PROPOSED):
                    revisions.close_superseded(revisions.pending_revisions(entry))
                if entry.status != Status.ARCHIVED:
                    entry.status = Status.PUBLISHED
                action = RevisionAction.UPDATE
            if row.external_id:
                entry.external_id = row.external_id
            entry_data.apply_snapshot(entry, snap, cache)
            pending.append((row, entry, action))
            if len(pending) >= FLUSH_EVERY:
                _flush_revisions(pending, kind, author_id, comment)
                if progress:
                    progress(len(pending))
                pending = []
        count = len(pending)
        _flush_revisions(pending, kind, author_id, comment)
        if progress and count:
            progress(count)
    counts = report.counts
    db.session.add(
        AuditLog(
            user_id=author_id,
            action="import.run",
            details={
                "filename": report.filename[:200],
                "kind": kind,
                "only_valid": report.only_valid,
                "created": counts[CREATE],
                "updated": counts[UPDATE],
                "unchanged": counts[UNCHANGED],
                "refused": counts[ERROR],
            },
        )
    )
    if defer_index:
        from ...search import indexing

        db.session.flush()
        db.session.info.pop(indexing.PENDING_FLAG, None)
    db.session.commit()
    report.written = True
    report.dry_run = False


def _unique_slug(text: str, taken: set[str]) -> str:
    base = slugify(text, max_length=150)
    slug, number = base, 2
    while slug in taken:
        slug = f"{base}-{number}"
        number += 1
    taken.add(slug)
    return slug


def _with_history(kind: str, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            db.session.scalars(
                sa.select(Revision.entity_id)
                .where(Revision.entity_type == kind, Revision.entity_id.in_(chunk))
                .distinct()
            )
        )
    return found


def _organisation_id(entry: Initiative | Organisation) -> int | None:
    if isinstance(entry, Organisation):
        return entry.id
    for link in sorted(entry.organisation_links, key=lambda link: link.position):
        if OrganisationRole(link.role) == OrganisationRole.PORTEUR:
            return link.organisation.id
    return None


def _flush_revisions(
    pending: list[tuple[RowResult, Any, RevisionAction]],
    kind: str,
    author_id: int | None,
    comment: str,
) -> None:
    if not pending:
        return
    db.session.flush()
    for row, entry, action in pending:
        row.entry_id = entry.id
        db.session.add(
            Revision(
                entity_type=kind,
                entity_id=entry.id,
                action=action,
                state=RevisionState.APPLIED,
                snapshot=workflow.snapshot(entry),
                organisation_id=_organisation_id(entry),
                author_id=author_id,
                comment=comment,
            )
        )
    db.session.flush()
