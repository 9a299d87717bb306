"""Curators' edits of the cycle's events: the event itself, its initiatives and its programme.

Speakers, workshops and the organisations of an event are in ``event_people``.

Every function takes the acting staff user, writes an AuditLog row and commits. Errors meant
for the curator are raised as ``EventError`` (the message is in French).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models import (
    AuditLog,
    Event,
    EventKind,
    Initiative,
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Speaker,
    Status,
)
from ..models.event import event_initiative
from ..text import slugify
from .ordering import moved

SLUG_MAX_LENGTH = 120
EVENT_FIELDS = (
    "title", "kind", "cycle", "theme", "description", "date", "starts_at", "ends_at",
    "venue", "address", "commune_code", "source", "status",
)  # fmt: skip
ITEM_FIELDS = ("section", "starts_at", "ends_at", "kind", "title", "description", "questions")


class EventError(ValueError):
    """The message is for the curator."""


@dataclass
class EventData:
    title: str
    kind: EventKind = EventKind.ATELIER_TERRITORIAL
    status: Status = Status.DRAFT
    cycle: str | None = None
    theme: str | None = None
    description: str | None = None
    date: date | None = None
    starts_at: time | None = None
    ends_at: time | None = None
    venue: str | None = None
    address: str | None = None
    commune_code: str | None = None
    source: str | None = None


@dataclass
class ItemData:
    title: str
    kind: ProgrammeKind
    section: str | None = None
    starts_at: time | None = None
    ends_at: time | None = None
    description: str | None = None
    questions: str | None = None


def _audit(user: Any, action: str, **details: Any) -> None:
    db.session.add(AuditLog(user_id=user.id, action=action, details=details))


def _commit() -> None:
    try:
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        raise EventError(
            "L’événement a été modifié entre-temps par une autre personne : "
            "rechargez la page et refaites vos changements."
        ) from error


# -- events -----------------------------------------------------------------------------------


def list_events() -> list[Event]:
    """Every event, whatever its status, latest first (undated last)."""
    return list(
        db.session.scalars(
            sa.select(Event).order_by(Event.date.desc().nulls_last(), Event.title, Event.id)
        )
    )


def get_event(slug: str) -> Event | None:
    slug = (slug or "")[:200]
    if "\x00" in slug:  # PostgreSQL refuses NUL bytes in text: no such event
        return None
    return db.session.scalar(sa.select(Event).where(Event.slug == slug))


def unique_slug(title: str) -> str:
    base = slugify(title, max_length=SLUG_MAX_LENGTH) or "evenement"
    taken = set(
        db.session.scalars(
            sa.select(Event.slug).where(sa.or_(Event.slug == base, Event.slug.like(f"{base}-%")))
        )
    )
    slug, number = base, 2
    while slug in taken:
        slug = f"{base}-{number}"
        number += 1
    return slug


def _check_times(starts_at: time | None, ends_at: time | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise EventError("L’heure de fin doit suivre l’heure de début.")


def create_event(user: Any, data: EventData) -> Event:
    _check_times(data.starts_at, data.ends_at)
    event = Event(slug=unique_slug(data.title))
    for name in EVENT_FIELDS:
        setattr(event, name, getattr(data, name))
    db.session.add(event)
    db.session.flush()
    _audit(user, "event.created", slug=event.slug, title=event.title)
    _commit()
    return event


def update_event(user: Any, event: Event, data: EventData, version: int | None = None) -> Event:
    """Apply ``data``; ``version`` is the one the form was opened on (stale → EventError)."""
    _check_times(data.starts_at, data.ends_at)
    if version is not None and version != event.version:
        raise EventError(
            "L’événement a été modifié entre-temps par une autre personne : "
            "rechargez la page et refaites vos changements."
        )
    changed = [name for name in EVENT_FIELDS if getattr(event, name) != getattr(data, name)]
    for name in changed:
        setattr(event, name, getattr(data, name))
    if changed:
        _audit(user, "event.updated", slug=event.slug, fields=changed)
    _commit()
    return event


# -- initiatives presented ---------------------------------------------------------------------


def initiative_slug(reference: str) -> str:
    """The slug in what a curator typed: a slug or a sheet's address (/initiatives/<slug>)."""
    text = (reference or "").strip().replace("\x00", "")[:500]
    text = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return text.rsplit("/initiatives/", 1)[-1].strip("/")[:200]


def round_tables(event: Event) -> list[ProgrammeItem]:
    """The event's round tables, where an initiative may have been presented."""
    return [item for item in event.programme if item.kind == ProgrammeKind.TABLE_RONDE]


def _round_table(event: Event, item_id: int | None) -> ProgrammeItem | None:
    if item_id is None:
        return None
    item = next((item for item in round_tables(event) if item.id == item_id), None)
    if item is None:
        raise EventError("Choisissez une table ronde du programme de cet événement.")
    return item


def presented_at(event: Event) -> dict[int, int | None]:
    """Initiative id → id of the round table where it was presented (None: not given)."""
    rows = db.session.execute(
        sa.select(event_initiative.c.initiative_id, event_initiative.c.programme_item_id).where(
            event_initiative.c.event_id == event.id
        )
    )
    return dict(rows.all())


def _set_round_table(event: Event, initiative: Initiative, item: ProgrammeItem | None) -> None:
    db.session.execute(
        sa.update(event_initiative)
        .where(
            event_initiative.c.event_id == event.id,
            event_initiative.c.initiative_id == initiative.id,
        )
        .values(programme_item_id=item.id if item else None)
    )


def add_initiative(
    user: Any, event: Event, reference: str, round_table_id: int | None = None
) -> Initiative:
    """Attach a published initiative, presented at the round table ``round_table_id`` if given."""
    slug = initiative_slug(reference)
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    if initiative is None or initiative.status != Status.PUBLISHED:
        raise EventError("Aucune initiative publiée ne porte cette adresse.")
    if initiative in event.initiatives:
        raise EventError(f"« {initiative.title} » est déjà présentée à cet événement.")
    item = _round_table(event, round_table_id)
    event.initiatives.append(initiative)
    details: dict[str, Any] = {"added": initiative.slug}
    if item is not None:
        db.session.flush()  # the association row must exist before it is given its round table
        _set_round_table(event, initiative, item)
        details["round_table"] = item.id
    _audit(user, "event.initiatives_changed", slug=event.slug, **details)
    _commit()
    return initiative


def _presented(event: Event, slug: str) -> Initiative:
    initiative = next((item for item in event.initiatives if item.slug == slug), None)
    if initiative is None:
        raise EventError("Cette initiative n’est pas présentée à cet événement.")
    return initiative


def change_round_table(
    user: Any, event: Event, slug: str, round_table_id: int | None
) -> tuple[Initiative, ProgrammeItem | None]:
    """Say at which round table (None: not given) an initiative was presented."""
    initiative = _presented(event, slug)
    item = _round_table(event, round_table_id)
    if presented_at(event).get(initiative.id) != (item.id if item else None):
        _set_round_table(event, initiative, item)
        _audit(
            user,
            "event.initiatives_changed",
            slug=event.slug,
            moved=initiative.slug,
            round_table=item.id if item else None,
        )
    _commit()
    return initiative, item


def remove_initiative(user: Any, event: Event, slug: str) -> Initiative:
    initiative = _presented(event, slug)
    event.initiatives.remove(initiative)
    _audit(user, "event.initiatives_changed", slug=event.slug, removed=initiative.slug)
    _commit()
    return initiative


def presented_count(event: Event) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(event_initiative.c.event_id == event.id)
    )


# -- programme ---------------------------------------------------------------------------------


def get_item(event: Event, item_id: int) -> ProgrammeItem | None:
    return next((item for item in event.programme if item.id == item_id), None)


def _renumber(event: Event, items: list[ProgrammeItem]) -> None:
    for position, item in enumerate(items):
        item.position = position


def reorder(rows: list[Any], row: Any, direction: str) -> None:
    """Swap ``row`` with its neighbour ("up" or "down") and number ``rows`` from 0."""
    ordered = sorted(rows, key=lambda other: other.position)  # stable: ties keep list order
    for position, each in enumerate(moved(ordered, row, direction)):
        each.position = position


def add_item(user: Any, event: Event, data: ItemData) -> ProgrammeItem:
    _check_times(data.starts_at, data.ends_at)
    item = ProgrammeItem(position=len(event.programme))
    for name in ITEM_FIELDS:
        setattr(item, name, getattr(data, name))
    event.programme.append(item)
    db.session.flush()
    _audit(user, "event.programme_changed", slug=event.slug, added=item.id, title=item.title)
    _commit()
    return item


def update_item(user: Any, event: Event, item: ProgrammeItem, data: ItemData) -> ProgrammeItem:
    _check_times(data.starts_at, data.ends_at)
    changed = [name for name in ITEM_FIELDS if getattr(item, name) != getattr(data, name)]
    for name in changed:
        setattr(item, name, getattr(data, name))
    if changed:
        _audit(user, "event.programme_changed", slug=event.slug, updated=item.id, fields=changed)
    _commit()
    return item


def delete_orphan_speakers(speakers: list[Speaker]) -> list[int]:
    """Delete those of ``speakers`` who speak nowhere any more; return their former ids."""
    db.session.flush()
    if not speakers:
        return []
    used = set(
        db.session.scalars(
            sa.select(ProgrammeSpeaker.speaker_id).where(
                ProgrammeSpeaker.speaker_id.in_([speaker.id for speaker in speakers])
            )
        )
    )
    orphans = [speaker for speaker in speakers if speaker.id not in used]
    for speaker in orphans:
        db.session.delete(speaker)
    return [speaker.id for speaker in orphans]


def delete_item(user: Any, event: Event, item: ProgrammeItem) -> None:
    title = item.title
    speakers = [link.speaker for link in item.speaker_links]
    items = [other for other in event.programme if other.id != item.id]
    event.programme.remove(item)
    _renumber(event, items)
    # A speaker of this item alone would stay behind, invisible and unreachable.
    delete_orphan_speakers(speakers)
    _audit(user, "event.programme_changed", slug=event.slug, deleted=item.id, title=title)
    _commit()


def move_item(user: Any, event: Event, item: ProgrammeItem, direction: str) -> None:
    items = sorted(event.programme, key=lambda other: (other.position, other.id))
    _renumber(event, moved(items, item, direction))
    _audit(user, "event.programme_changed", slug=event.slug, moved=item.id, direction=direction)
    _commit()
