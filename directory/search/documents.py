"""What the search index holds for each entry: model -> indexed fields.

Only published entries are indexed. The index stores no long text (excerpts are cut from the
database rows of the page shown), only the key, the sort columns and a digest of the indexed text
that ``search verify`` compares with the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..models import (
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    Place,
    Status,
)
from ..richtext import plain_text
from ..territories import REGION_GROUPS
from ..text import fold

INITIATIVE = "initiative"
ORGANISATION = "organisation"
ENTITY_TYPES = (INITIATIVE, ORGANISATION)

# Full-text fields and their weight in the ranking (title first, event titles last).
FIELD_WEIGHTS: dict[str, float] = {
    "title": 8.0,
    "organisations": 4.0,
    "summary": 4.0,
    "description": 2.0,
    "sections": 1.6,
    "themes": 1.4,
    "publics": 1.3,
    "territory": 1.2,
    "events": 1.1,
}
TEXT_FIELDS = tuple(FIELD_WEIGHTS)
BATCH_SIZE = 500


@dataclass(frozen=True)
class Document:
    """The indexed form of one entry."""

    entity_type: str
    entity_id: int
    fields: dict[str, str]
    title_sort: str
    updated: int  # seconds since the epoch, for "last updated" ordering

    @property
    def key(self) -> str:
        return document_key(self.entity_type, self.entity_id)

    @property
    def digest(self) -> str:
        """A short fingerprint of everything indexed, to detect a stale index entry."""
        parts = [self.title_sort, str(self.updated)]
        parts += [f"{name}={self.fields.get(name, '')}" for name in TEXT_FIELDS]
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def document_key(entity_type: str, entity_id: int) -> str:
    return f"{entity_type}:{entity_id}"


def _join(values) -> str:
    return "\n".join(v for v in values if v)


def _territory_words(departements: list[Departement], communes: list[Commune]) -> str:
    names: list[str] = []
    codes = set()
    for commune in communes:
        names.append(commune.name)
        departements = [*departements, commune.departement]
    for departement in departements:
        if departement is None or departement.code in codes:
            continue
        codes.add(departement.code)
        names.append(departement.name)
        if departement.region is not None:
            names.append(departement.region.name)
    for label, group_codes in REGION_GROUPS.values():
        if codes & set(group_codes):
            names.append(label)
    return _join(dict.fromkeys(names))


def _timestamp(entry) -> int:
    moment = entry.updated_at or entry.created_at
    return int(moment.timestamp()) if moment else 0


def initiative_document(initiative: Initiative) -> Document:
    organisations = [
        link.organisation
        for link in initiative.organisation_links
        if link.organisation is not None and link.organisation.status == Status.PUBLISHED
    ]
    communes = [place.commune for place in initiative.places if place.commune is not None]
    fields = {
        "title": initiative.title,
        "organisations": _join(dict.fromkeys(_join([o.name, o.acronym]) for o in organisations)),
        "summary": initiative.summary or "",
        "description": plain_text(initiative.description),
        "sections": _join(
            [
                plain_text(initiative.genesis),
                plain_text(initiative.evaluation),
                plain_text(initiative.policy_impact),
                plain_text(initiative.public_support),
            ]
        ),
        "themes": _join(theme.name for theme in initiative.themes),
        "publics": _join(public.name for public in initiative.publics),
        "territory": _territory_words(list(initiative.departements), communes),
        "events": _join(
            event.title for event in initiative.events if event.status == Status.PUBLISHED
        ),
    }
    return Document(
        INITIATIVE, initiative.id, fields, fold(initiative.title)[:100], _timestamp(initiative)
    )


def organisation_document(organisation: Organisation) -> Document:
    communes = [organisation.commune] if organisation.commune is not None else []
    fields = {
        "title": _join([organisation.name, organisation.acronym]),
        "summary": organisation.tagline or "",
        "description": plain_text(organisation.description),
        "themes": _join(theme.name for theme in organisation.themes),
        "territory": _territory_words(list(organisation.departements), communes),
    }
    return Document(
        ORGANISATION,
        organisation.id,
        fields,
        fold(organisation.name)[:100],
        _timestamp(organisation),
    )


def _initiative_loader():
    return (
        selectinload(Initiative.themes),
        selectinload(Initiative.publics),
        selectinload(Initiative.departements).selectinload(Departement.region),
        selectinload(Initiative.places)
        .selectinload(Place.commune)
        .selectinload(Commune.departement)
        .selectinload(Departement.region),
        selectinload(Initiative.organisation_links).selectinload(
            InitiativeOrganisation.organisation
        ),
        selectinload(Initiative.events),
    )


def _organisation_loader():
    return (
        selectinload(Organisation.themes),
        selectinload(Organisation.departements).selectinload(Departement.region),
        selectinload(Organisation.commune)
        .selectinload(Commune.departement)
        .selectinload(Departement.region),
    )


def load_documents(session: Session, entity_type: str, ids: list[int]) -> dict[int, Document]:
    """Documents of the *published* entries among ``ids`` (the others must leave the index)."""
    documents: dict[int, Document] = {}
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        if entity_type == INITIATIVE:
            rows = session.scalars(
                sa.select(Initiative)
                .options(*_initiative_loader())
                .where(Initiative.id.in_(chunk), Initiative.status == Status.PUBLISHED)
            )
            documents.update((row.id, initiative_document(row)) for row in rows)
        else:
            rows = session.scalars(
                sa.select(Organisation)
                .options(*_organisation_loader())
                .where(Organisation.id.in_(chunk), Organisation.status == Status.PUBLISHED)
            )
            documents.update((row.id, organisation_document(row)) for row in rows)
        session.expunge_all()  # keeps memory flat over 100,000 entries
    return documents


def published_ids(session: Session, entity_type: str) -> list[int]:
    model = Initiative if entity_type == INITIATIVE else Organisation
    return list(
        session.scalars(
            sa.select(model.id).where(model.status == Status.PUBLISHED).order_by(model.id)
        )
    )


def iter_all_documents(session: Session) -> Iterator[Document]:
    """Every published entry's document, in batches (for rebuild and verify)."""
    for entity_type in ENTITY_TYPES:
        ids = published_ids(session, entity_type)
        for start in range(0, len(ids), BATCH_SIZE):
            yield from load_documents(
                session, entity_type, ids[start : start + BATCH_SIZE]
            ).values()


def count_published(session: Session) -> int:
    return sum(len(published_ids(session, t)) for t in ENTITY_TYPES)
