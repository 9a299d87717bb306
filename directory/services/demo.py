"""Generated demo data at scale: initiatives, organisations and places, flagged ``is_demo``.

Rows are built in Python and inserted with SQLAlchemy Core in batches, one transaction per batch,
with ids allocated per batch (max(id) + 1, reserved in the PostgreSQL sequence) so that a batch
inserts its links at once. The content is deterministic for a given ``seed``.
``remove_demo_data`` deletes the demo rows and their links only: seeded and real entries are
left untouched.
"""

from __future__ import annotations

import bisect
import itertools
import random
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update

from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Membership,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Speaker,
    Stage,
    Status,
    Theme,
    event_initiative,
    initiative_departement,
    initiative_public,
    initiative_theme,
    organisation_departement,
    organisation_theme,
)
from ..models.base import utcnow
from ..models.event import EventOrganisation
from ..territories import LANGUEDOC_ROUSSILLON, PACA
from ..text import slugify
from .demo_text import FrenchTextGenerator, acronym

DEMO_DEPARTEMENTS = PACA + LANGUEDOC_ROUSSILLON
BATCH_SIZE = 2000
DELETE_CHUNK = 5000
NO_GAZETTEER_MESSAGE = "Chargez d'abord le référentiel des communes : flask --app directory setup"
DEMO_SOURCE = "Données de démonstration générées automatiquement"

STATUS_WEIGHTS = ((Status.PUBLISHED, 95), (Status.DRAFT, 3), (Status.ARCHIVED, 2))
STAGE_WEIGHTS = (
    (Stage.IDEE, 8),
    (Stage.EXPERIMENTATION, 25),
    (Stage.DEPLOIEMENT, 40),
    (Stage.ESSAIMAGE, 12),
    (Stage.TERMINEE, 15),
)
KIND_WEIGHTS = (
    (OrganisationKind.ASSOCIATION, 50),
    (OrganisationKind.COLLECTIVITE, 15),
    (OrganisationKind.ETAT, 5),
    (OrganisationKind.ENTREPRISE_ESS, 15),
    (OrganisationKind.COLLECTIF, 10),
    (OrganisationKind.AUTRE, 5),
)
PLACE_COUNT_WEIGHTS = ((1, 70), (2, 22), (3, 8))
MAX_PLACES = max(count for count, _ in PLACE_COUNT_WEIGHTS)
PARTNER_COUNT_WEIGHTS = ((0, 35), (1, 35), (2, 20), (3, 10))
ROUND_TABLE_SECTIONS = ("genesis", "evaluation", "policy_impact", "public_support")
FIRST_YEAR, LAST_YEAR = 2005, 2026
HISTORY_DAYS = 8 * 365
# About ±1 km: keeps the jittered point within the commune for all but the smallest ones.
JITTER_DEGREES = 0.008


class DemoDataError(RuntimeError):
    """Demo data cannot be generated here (no gazetteer); the message is for the user."""


@dataclass(frozen=True)
class _Commune:
    code: str
    name: str
    departement_code: str
    latitude: float
    longitude: float


class _Picker:
    """Weighted random choice over a fixed sequence (cumulative weights, bisect)."""

    def __init__(self, items: Sequence, weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum_weights = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random):
        point = rng.random() * self.cum_weights[-1]
        return self.items[bisect.bisect_right(self.cum_weights, point)]


def _weighted(pairs: Sequence[tuple]) -> _Picker:
    return _Picker([value for value, _ in pairs], [weight for _, weight in pairs])


class _Gazetteer:
    """Communes of PACA and Languedoc-Roussillon with a point, weighted by population."""

    def __init__(
        self,
        communes: list[_Commune],
        populations: list[int | None],
        departement_names: dict[str, str],
    ) -> None:
        weights = [max(population or 0, 1) for population in populations]
        self.all = _Picker(communes, weights)
        self.by_departement: dict[str, _Picker] = {}
        for code in {commune.departement_code for commune in communes}:
            pairs = [
                (c, w) for c, w in zip(communes, weights, strict=True) if c.departement_code == code
            ]
            self.by_departement[code] = _weighted(pairs)
        self.departement_names = departement_names

    @classmethod
    def load(cls) -> _Gazetteer:
        rows = db.session.execute(
            select(
                Commune.code,
                Commune.name,
                Commune.departement_code,
                Commune.latitude,
                Commune.longitude,
                Commune.population,
            )
            .where(
                Commune.departement_code.in_(DEMO_DEPARTEMENTS),
                Commune.kind == "COM",
                Commune.latitude.is_not(None),
                Commune.longitude.is_not(None),
            )
            .order_by(Commune.code)
        ).all()
        if not rows:
            raise DemoDataError(NO_GAZETTEER_MESSAGE)
        communes = [
            _Commune(r.code, r.name, r.departement_code, r.latitude, r.longitude) for r in rows
        ]
        names = {
            row.code: row.name
            for row in db.session.execute(select(Departement.code, Departement.name))
        }
        return cls(communes, [r.population for r in rows], names)


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _allocate_ids(model, size: int) -> int:
    """First of ``size`` consecutive free ids for ``model``, allocated just before a batch.

    On PostgreSQL the id sequence is moved past them at once, so that entries created meanwhile
    by the application take later ids instead of colliding with the batch.
    """
    first = _next_id(model)
    if db.session.get_bind().dialect.name == "postgresql":
        table = {"table": model.__table__.name}
        last = db.session.scalar(
            sa.text(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(:table, 'id')::regclass)"
            ),
            table,
        )
        first = max(first, (last or 0) + 1)
        db.session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
            {**table, "value": first + size - 1},
        )
    return first


@contextmanager
def _progress(enabled: bool, length: int, label: str) -> Iterator:
    if enabled:
        with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
            yield bar
    else:
        yield None


class _Builder:
    """Builds the rows of demo organisations and initiatives for one random generator."""

    def __init__(
        self, rng: random.Random, gazetteer: _Gazetteer, theme_ids: list[int], public_ids: list[int]
    ) -> None:
        self.rng = rng
        self.text = FrenchTextGenerator(rng)
        self.gazetteer = gazetteer
        self.theme_ids = theme_ids
        self.public_ids = public_ids
        self.status = _weighted(STATUS_WEIGHTS)
        self.stage = _weighted(STAGE_WEIGHTS)
        self.kind = _weighted(KIND_WEIGHTS)
        self.place_count = _weighted(PLACE_COUNT_WEIGHTS)
        self.partner_count = _weighted(PARTNER_COUNT_WEIGHTS)
        self.now = utcnow().replace(microsecond=0)
        # (id, name, commune) of every organisation generated so far: the pool of porteurs.
        self.organisations: list[tuple[int, str, _Commune]] = []

    def _timestamps(self) -> tuple[datetime, datetime]:
        created = self.now - timedelta(seconds=self.rng.randrange(HISTORY_DAYS * 86400))
        age = int((self.now - created).total_seconds())
        updated = created + timedelta(seconds=self.rng.randrange(age + 1))
        return created, updated

    def _sample(self, ids: list[int], low: int, high: int) -> list[int]:
        if not ids:
            return []
        return self.rng.sample(ids, min(len(ids), self.rng.randint(low, high)))

    def organisation(self, org_id: int, rows: dict[str, list[dict]]) -> None:
        rng = self.rng
        commune = self.gazetteer.all.pick(rng)
        kind = self.kind.pick(rng)
        departement = self.gazetteer.departement_names.get(
            commune.departement_code, commune.departement_code
        )
        name = self.text.organisation_name(kind.value, commune.name, departement)
        slug = f"{slugify(name, max_length=150)}-{org_id:x}"
        created, updated = self._timestamps()
        rows["organisation"].append(
            {
                "id": org_id,
                "slug": slug,
                "name": name[:200],
                "acronym": acronym(name) if rng.random() < 0.3 else None,
                "kind": kind,
                "tagline": self.text.summary(name),
                "description": self.text.description(name, 40, 150),
                "website": f"https://{slug[:60].strip('-')}.example/"
                if rng.random() < 0.6
                else None,
                "email": f"contact.{org_id}@example.org" if rng.random() < 0.7 else None,
                "phone": None,
                "address": self.text.address(),
                "commune_code": commune.code,
                "logo_path": None,
                "is_event_partner": False,
                "trusted": False,
                "status": self.status.pick(rng),
                "is_demo": True,
                "version": 1,
                "created_at": created,
                "updated_at": updated,
            }
        )
        for theme_id in self._sample(self.theme_ids, 1, 2):
            rows["organisation_theme"].append({"organisation_id": org_id, "theme_id": theme_id})
        rows["organisation_departement"].append(
            {"organisation_id": org_id, "departement_code": commune.departement_code}
        )
        self.organisations.append((org_id, name, commune))

    def _place_communes(self, lead_commune: _Commune) -> list[_Commune]:
        rng = self.rng
        first = lead_commune if rng.random() < 0.6 else self.gazetteer.all.pick(rng)
        communes = [first]
        for _ in range(self.place_count.pick(rng) - 1):
            if rng.random() < 0.6:
                communes.append(self.gazetteer.by_departement[first.departement_code].pick(rng))
            else:
                communes.append(self.gazetteer.all.pick(rng))
        return communes

    def _jitter(self, value: float) -> float:
        offset = max(-JITTER_DEGREES, min(JITTER_DEGREES, self.rng.gauss(0, JITTER_DEGREES / 2)))
        return round(value + offset, 6)

    def initiative(
        self, initiative_id: int, next_place_id: int, rows: dict[str, list[dict]]
    ) -> int:
        """Add one initiative and its links to ``rows``; return the next free place id."""
        rng = self.rng
        lead_id, lead_name, lead_commune = rng.choice(self.organisations)
        communes = self._place_communes(lead_commune)
        title = self.text.initiative_title(communes[0].name)[:200]
        stage = self.stage.pick(rng)
        if stage == Stage.IDEE:
            start_year, end_year = rng.randint(2020, LAST_YEAR), None
        elif stage == Stage.TERMINEE:
            start_year = rng.randint(FIRST_YEAR, LAST_YEAR - 2)
            end_year = rng.randint(start_year + 1, min(LAST_YEAR, start_year + 8))
        else:
            start_year, end_year = rng.randint(FIRST_YEAR, LAST_YEAR - 1), None
        slug = f"{slugify(title, max_length=150)}-{initiative_id:x}"
        created, updated = self._timestamps()
        with_sections = rng.random() < 0.35
        row = {
            "id": initiative_id,
            "slug": slug,
            "title": title,
            "summary": self.text.summary(lead_name),
            "description": self.text.description(lead_name),
            "stage": stage,
            "start_year": start_year,
            "end_year": end_year,
            "website": f"https://{slug[:60].strip('-')}.example/" if rng.random() < 0.4 else None,
            "contact_email": f"projet.{initiative_id}@example.org" if rng.random() < 0.5 else None,
            "contact_phone": None,
            "source": DEMO_SOURCE,
            "status": self.status.pick(rng),
            "is_demo": True,
            "version": 1,
            "created_at": created,
            "updated_at": updated,
        }
        for section in ROUND_TABLE_SECTIONS:
            filled = with_sections and rng.random() < 0.8
            row[section] = self.text.section(section, lead_name) if filled else None
        rows["initiative"].append(row)

        for place_id, commune in enumerate(communes, start=next_place_id):
            rows["place"].append(
                {
                    "id": place_id,
                    "initiative_id": initiative_id,
                    "label": f"{self.text.place_label()} – {commune.name}"[:200],
                    "address": self.text.address(),
                    "commune_code": commune.code,
                    "latitude": self._jitter(commune.latitude),
                    "longitude": self._jitter(commune.longitude),
                    "created_at": created,
                    "updated_at": updated,
                }
            )

        links = rows["initiative_organisation"]
        links.append(
            {
                "initiative_id": initiative_id,
                "organisation_id": lead_id,
                "role": OrganisationRole.PORTEUR,
                "position": 0,
            }
        )
        partner_count = min(self.partner_count.pick(rng), len(self.organisations) - 1)
        partners: set[int] = {lead_id}
        for position in range(1, partner_count + 1):
            partner_id = rng.choice(self.organisations)[0]
            if partner_id in partners:
                continue
            partners.add(partner_id)
            role = OrganisationRole.FINANCEUR if rng.random() < 0.3 else OrganisationRole.PARTENAIRE
            links.append(
                {
                    "initiative_id": initiative_id,
                    "organisation_id": partner_id,
                    "role": role,
                    "position": position,
                }
            )

        for theme_id in self._sample(self.theme_ids, 1, 3):
            rows["initiative_theme"].append({"initiative_id": initiative_id, "theme_id": theme_id})
        for public_id in self._sample(self.public_ids, 1, 2):
            rows["initiative_public"].append(
                {"initiative_id": initiative_id, "public_id": public_id}
            )
        for code in sorted({commune.departement_code for commune in communes}):
            rows["initiative_departement"].append(
                {"initiative_id": initiative_id, "departement_code": code}
            )
        return next_place_id + len(communes)


ORGANISATION_TABLES = (Organisation.__table__, organisation_theme, organisation_departement)
INITIATIVE_TABLES = (
    Initiative.__table__,
    Place.__table__,
    InitiativeOrganisation.__table__,
    initiative_theme,
    initiative_public,
    initiative_departement,
)


def _flush(tables: Sequence[sa.Table], rows: dict[str, list[dict]]) -> None:
    """Insert the rows of one batch, parents first, and commit the batch."""
    for table in tables:
        batch = rows.get(table.name)
        if batch:
            db.session.execute(insert(table), batch)
            batch.clear()
    db.session.commit()


def create_demo_data(
    count: int, seed: int | None = None, progress: bool = False, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Create ``count`` demo initiatives, about ``count / 10`` organisations and their places.

    Raises ``DemoDataError`` when the gazetteer (communes with coordinates) is not loaded.
    """
    gazetteer = _Gazetteer.load()
    theme_ids = list(db.session.scalars(select(Theme.id).order_by(Theme.id)))
    public_ids = list(db.session.scalars(select(Public.id).order_by(Public.id)))
    builder = _Builder(random.Random(seed), gazetteer, theme_ids, public_ids)
    organisation_count = max(1, round(count / 10))

    rows: dict[str, list[dict]] = {
        table.name: [] for table in ORGANISATION_TABLES + INITIATIVE_TABLES
    }
    with _progress(progress, organisation_count, "Organisations") as bar:
        for size in _batch_sizes(organisation_count, batch_size):
            first_id = _allocate_ids(Organisation, size)
            for offset in range(size):
                builder.organisation(first_id + offset, rows)
            _flush(ORGANISATION_TABLES, rows)
            if bar:
                bar.update(size)

    places = 0
    with _progress(progress, count, "Initiatives") as bar:
        for size in _batch_sizes(count, batch_size):
            first_id = _allocate_ids(Initiative, size)
            first_place_id = next_place_id = _allocate_ids(Place, size * MAX_PLACES)
            for offset in range(size):
                next_place_id = builder.initiative(first_id + offset, next_place_id, rows)
            places += next_place_id - first_place_id
            _flush(INITIATIVE_TABLES, rows)
            if bar:
                bar.update(size)
    refresh_planner_statistics()
    return {"initiatives": count, "organisations": organisation_count, "places": places}


def refresh_planner_statistics() -> None:
    """ANALYZE after a bulk load: without fresh statistics PostgreSQL picked plans 100× slower."""
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def _batch_sizes(total: int, batch_size: int) -> Iterator[int]:
    for start in range(0, total, batch_size):
        yield min(batch_size, total - start)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), DELETE_CHUNK):
        yield ids[start : start + DELETE_CHUNK]


def remove_demo_data() -> dict[str, int]:
    """Delete every demo initiative and organisation with their places and links, in batches."""
    initiative_ids = list(
        db.session.scalars(
            select(Initiative.id).where(Initiative.is_demo.is_(True)).order_by(Initiative.id)
        )
    )
    places = 0
    for chunk in _chunks(initiative_ids):
        for table in (
            initiative_theme,
            initiative_public,
            initiative_departement,
            event_initiative,
            InitiativeOrganisation.__table__,
        ):
            db.session.execute(delete(table).where(table.c.initiative_id.in_(chunk)))
        place_table = Place.__table__
        places += db.session.execute(
            delete(place_table).where(place_table.c.initiative_id.in_(chunk))
        ).rowcount
        initiative_table = Initiative.__table__
        db.session.execute(delete(initiative_table).where(initiative_table.c.id.in_(chunk)))
        db.session.commit()

    organisation_ids = list(
        db.session.scalars(
            select(Organisation.id).where(Organisation.is_demo.is_(True)).order_by(Organisation.id)
        )
    )
    for chunk in _chunks(organisation_ids):
        for table in (
            organisation_theme,
            organisation_departement,
            InitiativeOrganisation.__table__,
            EventOrganisation.__table__,
            Membership.__table__,
        ):
            db.session.execute(delete(table).where(table.c.organisation_id.in_(chunk)))
        speaker = Speaker.__table__
        db.session.execute(
            update(speaker).where(speaker.c.organisation_id.in_(chunk)).values(organisation_id=None)
        )
        organisation = Organisation.__table__
        db.session.execute(delete(organisation).where(organisation.c.id.in_(chunk)))
        db.session.commit()
    refresh_planner_statistics()
    return {
        "initiatives": len(initiative_ids),
        "organisations": len(organisation_ids),
        "places": places,
    }
