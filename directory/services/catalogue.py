"""Seed catalogue: the facts of the 2011 Journée régionale, read from ``seed/catalogue/*.yaml``.

Loading is idempotent and never overwrites: an entry whose slug already exists is left as it
is, since curators may have edited it. Every entry is validated even when it is skipped, so a
broken file is reported on every run, and the whole load is one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, time
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
import yaml

from ..config import ROOT
from ..extensions import db
from ..models import (
    SUMMARY_MAX_LENGTH,
    Commune,
    Departement,
    Event,
    EventKind,
    EventOrganisation,
    EventRole,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Public,
    Speaker,
    SpeakerPart,
    Stage,
    Status,
    Theme,
    Workshop,
    event_initiative,
)
from ..territories import REGION_GROUPS
from ..text import slugify

SEED_DIRECTORY = ROOT / "seed" / "catalogue"

# Loaded in this order: each kind may refer to the kinds before it.
KINDS = ("themes", "publics", "organisations", "initiatives", "events")
# French names of the kinds, for messages such as the set-up report.
KIND_LABELS = {
    "themes": "thèmes",
    "publics": "publics",
    "organisations": "organisations",
    "initiatives": "initiatives",
    "events": "événements",
}

# Municipal arrondissements fall back to their commune when the gazetteer lacks them.
_ARRONDISSEMENT_PARENTS = {
    **{f"132{n:02d}": "13055" for n in range(1, 17)},  # Marseille
    **{f"6938{n}": "69123" for n in range(1, 10)},  # Lyon
    **{f"751{n:02d}": "75056" for n in range(1, 21)},  # Paris
}

# The fields each kind of entry may have: anything else is a typo, reported.
# fmt: off
_ORGANISATION_FIELDS = (
    "slug", "name", "acronym", "kind", "tagline", "description", "website", "email", "phone",
    "address", "commune", "departements", "themes", "is_event_partner", "status",
)
_INITIATIVE_FIELDS = (
    "slug", "title", "summary", "description", "stage", "start_year", "end_year", "website",
    "contact_email", "contact_phone", "genesis", "evaluation", "policy_impact", "public_support",
    "source", "organisations", "themes", "publics", "departements", "places", "status",
)
_EVENT_FIELDS = (
    "slug", "kind", "cycle", "title", "theme", "description", "date", "starts_at", "ends_at",
    "venue", "address", "commune", "source", "organisations", "speakers", "programme",
    "workshops", "initiatives", "status",
)
# fmt: on

_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TIME_RE = re.compile(r"^(\d{1,2})[:hH](\d{2})$")

E = TypeVar("E")


class SeedError(ValueError):
    """A seed file is invalid; the message names the file and the entry."""

    def __init__(self, filename: str, entry: str | None, message: str) -> None:
        self.filename = filename
        self.entry = entry
        where = f"{filename}, entrée « {entry} »" if entry else filename
        super().__init__(f"{where} : {message}")


def load_seed(directory: Path | None = None) -> dict[str, int]:
    """Load the seed catalogue and return how many entries of each kind were created.

    Raises ``SeedError`` on invalid data, after rolling back everything this call wrote.
    """
    directory = Path(directory) if directory is not None else SEED_DIRECTORY
    if not directory.is_dir():
        raise SeedError(str(directory), None, "dossier du catalogue introuvable.")
    loader = _Loader(directory)
    try:
        counts = loader.run()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


class _Entry:
    """Reads the fields of one YAML entry and reports errors with its file and name."""

    def __init__(self, filename: str, label: str, raw: Any, allowed: Iterable[str]) -> None:
        self.filename = filename
        self.label = label
        if not isinstance(raw, dict):
            self.fail("chaque entrée doit être un ensemble de champs « clé: valeur ».")
        unknown = sorted(set(map(str, raw)) - set(allowed))
        if unknown:
            self.fail(f"champ inconnu « {unknown[0]} ».")
        self.raw: dict[str, Any] = raw

    def fail(self, message: str) -> NoReturn:
        raise SeedError(self.filename, self.label, message)

    def child(self, label: str, raw: Any, allowed: Iterable[str]) -> _Entry:
        return _Entry(self.filename, f"{self.label} › {label}", raw, allowed)

    def text(
        self, key: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self.raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"le champ « {key} » est obligatoire.")
            return None
        if isinstance(value, list | dict):
            self.fail(f"le champ « {key} » doit être un texte.")
        value = str(value).strip()
        if max_length is not None and len(value) > max_length:
            self.fail(f"« {key} » compte {len(value)} caractères ({max_length} au plus).")
        return value

    def choice(self, key: str, enum_cls: Callable[[str], E], default: E | None = None) -> E | None:
        value = self.text(key)
        if value is None:
            return default
        try:
            return enum_cls(value)
        except ValueError:
            self.fail(f"valeur inconnue « {value} » pour « {key} ».")

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"« {key} » doit valoir true ou false.")
        return value

    def year(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
            self.fail(f"« {key} » doit être une année (par exemple 2011).")
        return value

    def coordinate(self, key: str, limit: float) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > limit:
            self.fail(f"« {key} » doit être un nombre entre -{limit:g} et {limit:g}.")
        return float(value)

    def url(self, key: str) -> str | None:
        value = self.text(key, max_length=300)
        if value is not None and not value.startswith(("https://", "http://")):
            self.fail(f"« {key} » doit commencer par https:// ou http://.")
        return value

    def email(self, key: str) -> str | None:
        value = self.text(key, max_length=254)
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            self.fail(f"« {key} » n'est pas une adresse électronique.")
        return value

    def day(self, key: str) -> date | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"« {key} » doit être une date AAAA-MM-JJ.")

    def clock(self, key: str) -> time | None:
        value = self.raw.get(key)
        if value is None:
            return None
        # Unquoted 10:30 is a base-60 integer in YAML 1.1: ask for quotes rather than guess.
        match = _TIME_RE.match(value) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(f'« {key} » doit être une heure entre guillemets, par exemple "09:30".')
        return time(int(match[1]), int(match[2]))

    def items(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"« {key} » doit être une liste.")
        return value

    def slug(self, source_key: str) -> str:
        slug = self.text("slug")
        if slug is None:
            slug = slugify(self.text(source_key, required=True) or "")
        elif not _SLUG_RE.match(slug):
            self.fail(f"slug invalide « {slug} » (minuscules, chiffres et tirets).")
        return slug


class _Loader:
    """One pass over the seed files, in dependency order, inside one transaction."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counts = dict.fromkeys(KINDS, 0)

    def run(self) -> dict[str, int]:
        loaders = {
            "themes": lambda e, pos: self._taxon(Theme, e, pos, "themes"),
            "publics": lambda e, pos: self._taxon(Public, e, pos, "publics"),
            "organisations": self._organisation,
            "initiatives": self._initiative,
            "events": self._event,
        }
        for kind in KINDS:
            filename = f"{kind}.yaml"
            seen: set[str] = set()
            for position, raw in enumerate(self._read(filename)):
                label = _entry_label(raw, position)
                slug = loaders[kind](_RawEntry(filename, label, raw), position)
                if slug in seen:
                    raise SeedError(filename, label, f"slug « {slug} » en double.")
                seen.add(slug)
            db.session.flush()
        return self.counts

    def _read(self, filename: str) -> list[Any]:
        path = self.directory / filename
        if not path.exists():
            return []
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise SeedError(filename, None, f"YAML illisible ({error}).") from error
        if data is None:
            return []
        if not isinstance(data, list):
            raise SeedError(filename, None, "le fichier doit contenir une liste d'entrées.")
        return data

    # -- kinds ---------------------------------------------------------------------------

    def _taxon(
        self, model: type[Theme] | type[Public], raw: _RawEntry, position: int, kind: str
    ) -> str:
        allowed = ("slug", "name", "description") if model is Theme else ("slug", "name")
        entry = raw.open(allowed)
        name = entry.text("name", required=True, max_length=120) or ""
        slug = entry.slug("name")
        description = entry.text("description")
        exists = db.session.scalar(
            sa.select(model.id).where(sa.or_(model.slug == slug, model.name == name))
        )
        if exists is None:
            taxon = model(slug=slug, name=name, position=position)
            if isinstance(taxon, Theme):
                taxon.description = description
            db.session.add(taxon)
            self.counts[kind] += 1
        return slug

    def _organisation(self, raw: _RawEntry, position: int) -> str:
        entry = raw.open(_ORGANISATION_FIELDS)
        fields = {
            "name": entry.text("name", required=True, max_length=200),
            "acronym": entry.text("acronym", max_length=40),
            "kind": entry.choice("kind", OrganisationKind, OrganisationKind.AUTRE),
            "tagline": entry.text("tagline", max_length=300),
            "description": entry.text("description"),
            "website": entry.url("website"),
            "email": entry.email("email"),
            "phone": entry.text("phone", max_length=40),
            "address": entry.text("address", max_length=300),
            "commune_code": self._commune_code(entry, entry.text("commune")),
            "is_event_partner": entry.flag("is_event_partner"),
            "status": entry.choice("status", Status, Status.PUBLISHED),
        }
        departements = self._departements(entry)
        themes = self._taxa(entry, Theme, "themes")
        slug = entry.slug("name")
        if not self._exists(Organisation, slug):
            db.session.add(
                Organisation(slug=slug, departements=departements, themes=themes, **fields)
            )
            self.counts["organisations"] += 1
        return slug

    def _initiative(self, raw: _RawEntry, position: int) -> str:
        entry = raw.open(_INITIATIVE_FIELDS)
        fields = {
            "title": entry.text("title", required=True, max_length=200),
            "summary": entry.text("summary", max_length=SUMMARY_MAX_LENGTH),
            "description": entry.text("description"),
            "stage": entry.choice("stage", Stage),
            "start_year": entry.year("start_year"),
            "end_year": entry.year("end_year"),
            "website": entry.url("website"),
            "contact_email": entry.email("contact_email"),
            "contact_phone": entry.text("contact_phone", max_length=40),
            "genesis": entry.text("genesis"),
            "evaluation": entry.text("evaluation"),
            "policy_impact": entry.text("policy_impact"),
            "public_support": entry.text("public_support"),
            "source": entry.text("source", max_length=300),
            "status": entry.choice("status", Status, Status.PUBLISHED),
        }
        # Plain values first: an ORM link to a persistent organisation would join the session
        # through its back-reference even when the initiative already exists and is skipped.
        links = []
        for index, item in enumerate(entry.items("organisations")):
            link = entry.child(f"organisations n° {index + 1}", item, ("organisation", "role"))
            links.append(
                (
                    self._organisation_ref(link, required=True),
                    link.choice("role", OrganisationRole, OrganisationRole.PORTEUR),
                )
            )
        places = []
        for index, item in enumerate(entry.items("places")):
            spot = entry.child(
                f"places n° {index + 1}",
                item,
                ("label", "address", "commune", "latitude", "longitude"),
            )
            places.append(
                {
                    "label": spot.text("label", max_length=200),
                    "address": spot.text("address", max_length=300),
                    "commune_code": self._commune_code(spot, spot.text("commune")),
                    "latitude": spot.coordinate("latitude", 90),
                    "longitude": spot.coordinate("longitude", 180),
                }
            )
        themes = self._taxa(entry, Theme, "themes")
        publics = self._taxa(entry, Public, "publics")
        departements = self._departements(entry)
        slug = entry.slug("title")
        if not self._exists(Initiative, slug):
            db.session.add(
                Initiative(
                    slug=slug,
                    organisation_links=[
                        InitiativeOrganisation(organisation=organisation, role=role, position=rank)
                        for rank, (organisation, role) in enumerate(links)
                    ],
                    places=[Place(**place) for place in places],
                    themes=themes,
                    publics=publics,
                    departements=departements,
                    **fields,
                )
            )
            self.counts["initiatives"] += 1
        return slug

    def _event(self, raw: _RawEntry, position: int) -> str:
        entry = raw.open(_EVENT_FIELDS)
        event = Event(
            kind=entry.choice("kind", EventKind, EventKind.ATELIER_TERRITORIAL),
            cycle=entry.text("cycle", max_length=200),
            title=entry.text("title", required=True, max_length=300),
            theme=entry.text("theme", max_length=300),
            description=entry.text("description"),
            date=entry.day("date"),
            starts_at=entry.clock("starts_at"),
            ends_at=entry.clock("ends_at"),
            venue=entry.text("venue", max_length=300),
            address=entry.text("address", max_length=300),
            commune_code=self._commune_code(entry, entry.text("commune")),
            source=entry.text("source", max_length=300),
            status=entry.choice("status", Status, Status.PUBLISHED),
        )
        for index, item in enumerate(entry.items("organisations")):
            link = entry.child(f"organisations n° {index + 1}", item, ("organisation", "role"))
            event.organisation_links.append(
                EventOrganisation(
                    organisation=self._organisation_ref(link, required=True),
                    role=link.choice("role", EventRole, EventRole.PARTENAIRE),
                    position=index,
                )
            )
        speakers = self._speakers(entry)
        for index, item in enumerate(entry.items("programme")):
            event.programme.append(self._programme_item(entry, index, item, speakers))
        for index, item in enumerate(entry.items("workshops")):
            part = entry.child(
                f"workshops n° {index + 1}", item, ("title", "description", "restitution")
            )
            event.workshops.append(
                Workshop(
                    position=index,
                    title=part.text("title", required=True, max_length=300),
                    description=part.text("description"),
                    restitution=part.text("restitution"),
                )
            )
        presented = self._presented(entry, len(event.programme))
        event.slug = entry.slug("title")
        if self._exists(Event, event.slug):
            return event.slug
        db.session.add(event)
        db.session.flush()
        for initiative, item_index in presented:
            db.session.execute(
                sa.insert(event_initiative).values(
                    event_id=event.id,
                    initiative_id=initiative.id,
                    programme_item_id=event.programme[item_index].id
                    if item_index is not None
                    else None,
                )
            )
        self.counts["events"] += 1
        return event.slug

    def _speakers(self, entry: _Entry) -> dict[str, Speaker]:
        speakers: dict[str, Speaker] = {}
        for index, item in enumerate(entry.items("speakers")):
            person = entry.child(
                f"speakers n° {index + 1}",
                item,
                ("id", "name", "role", "organisation", "organisation_name"),
            )
            key = person.text("id", required=True) or ""
            if key in speakers:
                person.fail(f"identifiant d'intervenant « {key} » en double.")
            speakers[key] = Speaker(
                name=person.text("name", required=True, max_length=200),
                role=person.text("role", max_length=300),
                organisation=self._organisation_ref(person),
                organisation_name=person.text("organisation_name", max_length=300),
            )
        return speakers

    def _programme_item(
        self, entry: _Entry, index: int, raw: Any, speakers: dict[str, Speaker]
    ) -> ProgrammeItem:
        part = entry.child(
            f"programme n° {index + 1}",
            raw,
            (
                "section",
                "starts_at",
                "ends_at",
                "kind",
                "title",
                "description",
                "questions",
                "speakers",
            ),
        )
        kind = part.choice("kind", ProgrammeKind)
        if kind is None:
            part.fail("le champ « kind » est obligatoire.")
        questions = [str(q).strip() for q in part.items("questions") if str(q).strip()]
        item = ProgrammeItem(
            position=index,
            section=part.text("section", max_length=200),
            starts_at=part.clock("starts_at"),
            ends_at=part.clock("ends_at"),
            kind=kind,
            title=part.text("title", required=True, max_length=300),
            description=part.text("description"),
            questions="\n".join(questions) or None,
        )
        for rank, ref in enumerate(part.items("speakers")):
            if isinstance(ref, str):
                ref = {"speaker": ref}
            link = part.child(f"speakers n° {rank + 1}", ref, ("speaker", "part"))
            key = link.text("speaker", required=True) or ""
            if key not in speakers:
                link.fail(f"intervenant inconnu « {key} » (absent de « speakers »).")
            item.speaker_links.append(
                ProgrammeSpeaker(
                    speaker=speakers[key],
                    part=link.choice("part", SpeakerPart, SpeakerPart.INTERVENANT),
                    position=rank,
                )
            )
        return item

    def _presented(
        self, entry: _Entry, programme_length: int
    ) -> list[tuple[Initiative, int | None]]:
        presented = []
        for index, item in enumerate(entry.items("initiatives")):
            link = entry.child(
                f"initiatives n° {index + 1}", item, ("initiative", "programme_item")
            )
            slug = link.text("initiative", required=True)
            initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
            if initiative is None:
                link.fail(f"initiative inconnue « {slug} ».")
            rank = link.raw.get("programme_item")
            if rank is not None and (
                isinstance(rank, bool)
                or not isinstance(rank, int)
                or not 1 <= rank <= programme_length
            ):
                link.fail(f"« programme_item » doit être un rang entre 1 et {programme_length}.")
            presented.append((initiative, rank - 1 if rank is not None else None))
        return presented

    # -- references ----------------------------------------------------------------------

    @staticmethod
    def _exists(model: type[Organisation] | type[Initiative] | type[Event], slug: str) -> bool:
        return db.session.scalar(sa.select(model.id).where(model.slug == slug)) is not None

    @staticmethod
    def _commune_code(entry: _Entry, code: str | None) -> str | None:
        if code is None:
            return None
        for candidate in (code, _ARRONDISSEMENT_PARENTS.get(code)):
            if candidate and db.session.get(Commune, candidate) is not None:
                return candidate
        entry.fail(f"code commune inconnu « {code} ».")

    @staticmethod
    def _departements(entry: _Entry) -> list[Departement]:
        codes: list[str] = []
        for value in entry.items("departements"):
            value = str(value).strip()
            group = REGION_GROUPS.get(value)
            codes.extend(group[1] if group else [value])
        found = []
        for code in dict.fromkeys(codes):
            departement = db.session.get(Departement, code)
            if departement is None:
                entry.fail(f"département inconnu « {code} ».")
            found.append(departement)
        return found

    @staticmethod
    def _taxa(entry: _Entry, model: type[E], key: str) -> list[E]:
        found = []
        for slug in entry.items(key):
            taxon = db.session.scalar(sa.select(model).where(model.slug == str(slug)))
            if taxon is None:
                entry.fail(f"{'thème' if model is Theme else 'public'} inconnu « {slug} ».")
            found.append(taxon)
        return found

    @staticmethod
    def _organisation_ref(entry: _Entry, *, required: bool = False) -> Organisation | None:
        slug = entry.text("organisation", required=required)
        if slug is None:
            return None
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))
        if organisation is None:
            entry.fail(f"organisation inconnue « {slug} ».")
        return organisation


class _RawEntry:
    """An entry not yet checked: knows where it comes from until its fields are known."""

    def __init__(self, filename: str, label: str, raw: Any) -> None:
        self.filename, self.label, self.raw = filename, label, raw

    def open(self, allowed: Iterable[str]) -> _Entry:
        return _Entry(self.filename, self.label, self.raw, allowed)


def _entry_label(raw: Any, position: int) -> str:
    """How an entry is named in errors: its slug, else its name or title, else its rank."""
    if isinstance(raw, dict):
        for key in ("slug", "name", "title"):
            if isinstance(raw.get(key), str) and raw[key].strip():
                return raw[key].strip()
    return f"n° {position + 1}"
