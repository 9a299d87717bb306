"""Curators' edits of who and what an event gathered: speakers of its programme items, its
workshops (sous-groupes) with their restitution, and its organisers, partners and host.

Same conventions as ``events_admin``: every function takes the acting staff user, writes an
AuditLog row and commits; messages for the curator are raised as ``EventError`` (in French).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Event,
    EventOrganisation,
    EventRole,
    Organisation,
    ProgrammeItem,
    ProgrammeSpeaker,
    Speaker,
    SpeakerPart,
    Status,
    Workshop,
)
from .events_admin import EventError, _audit, _commit, delete_orphan_speakers, reorder

SPEAKER_FIELDS = ("name", "role", "organisation_id", "organisation_name")
WORKSHOP_FIELDS = ("title", "description", "restitution")


@dataclass
class SpeakerData:
    name: str
    role: str | None = None
    organisation_slug: str | None = None  # a published organisation of the directory...
    organisation_name: str | None = None  # ...or the name of one that is not in it


@dataclass
class WorkshopData:
    title: str
    description: str | None = None
    restitution: str | None = None


def _published_organisation(slug: str) -> Organisation:
    organisation = db.session.scalar(
        sa.select(Organisation).where(Organisation.slug == slug.replace("\x00", "")[:200])
    )
    if organisation is None or organisation.status != Status.PUBLISHED:
        raise EventError("Choisissez une organisation publiée de l’annuaire.")
    return organisation


# -- speakers ----------------------------------------------------------------------------------


def event_speakers(event: Event) -> list[Speaker]:
    """The people who speak at this event, each once, in programme order."""
    seen: dict[int, Speaker] = {}
    for item in event.programme:
        for link in item.speaker_links:
            seen.setdefault(link.speaker_id, link.speaker)
    return list(seen.values())


def speaker_choices(event: Event) -> list[Speaker]:
    """Speakers a curator may add to an item: this event's first, then everyone else's."""
    own = event_speakers(event)
    others = db.session.scalars(
        sa.select(Speaker)
        .where(Speaker.id.not_in([speaker.id for speaker in own] or [0]))
        .order_by(Speaker.name, Speaker.id)
    )
    return own + list(others)


def get_speaker_link(item: ProgrammeItem, speaker_id: int) -> ProgrammeSpeaker | None:
    return next((link for link in item.speaker_links if link.speaker_id == speaker_id), None)


def other_uses(speaker: Speaker, item: ProgrammeItem) -> int:
    """How many other programme items (of any event) this speaker is on."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ProgrammeSpeaker)
        .where(ProgrammeSpeaker.speaker_id == speaker.id, ProgrammeSpeaker.item_id != item.id)
    )


def _apply_speaker(speaker: Speaker, data: SpeakerData) -> list[str]:
    if data.organisation_slug and data.organisation_name:
        raise EventError(
            "Choisissez une organisation de l’annuaire ou saisissez un nom d’organisation, "
            "pas les deux."
        )
    organisation = None
    if speaker.organisation and speaker.organisation.slug == data.organisation_slug:
        organisation = speaker.organisation  # kept, even if no longer published
    elif data.organisation_slug:
        organisation = _published_organisation(data.organisation_slug)
    values = {
        "name": data.name,
        "role": data.role,
        "organisation_id": organisation.id if organisation else None,
        "organisation_name": data.organisation_name,
    }
    changed = [name for name in SPEAKER_FIELDS if getattr(speaker, name) != values[name]]
    for name in changed:
        setattr(speaker, name, values[name])
    if "organisation_id" in changed:
        speaker.organisation = organisation
    return changed


def add_speaker(
    user: Any,
    event: Event,
    item: ProgrammeItem,
    part: SpeakerPart,
    *,
    speaker_id: int | None = None,
    data: SpeakerData | None = None,
) -> ProgrammeSpeaker:
    """Put an existing speaker (``speaker_id``) or a new one (``data``) on ``item``."""
    if speaker_id is not None and data is not None:
        raise EventError(
            "Choisissez un intervenant déjà enregistré ou saisissez un nouvel intervenant, "
            "pas les deux."
        )
    if speaker_id is not None:
        speaker = next((s for s in speaker_choices(event) if s.id == speaker_id), None)
        if speaker is None:
            raise EventError("Cet intervenant n’existe pas ou plus.")
        if get_speaker_link(item, speaker.id) is not None:
            raise EventError(f"« {speaker.name} » intervient déjà dans « {item.title} ».")
    elif data is not None and data.name:
        speaker = Speaker(name=data.name)
        _apply_speaker(speaker, data)
        db.session.add(speaker)
    else:
        raise EventError("Indiquez le nom de l’intervenant ou choisissez-le dans la liste.")
    link = ProgrammeSpeaker(speaker=speaker, part=part, position=len(item.speaker_links))
    item.speaker_links.append(link)
    db.session.flush()
    _audit(
        user,
        "event.speakers_changed",
        slug=event.slug,
        item=item.id,
        added=speaker.id,
        name=speaker.name,
        part=part.value,
    )
    _commit()
    return link


def update_speaker(user: Any, event: Event, speaker: Speaker, data: SpeakerData) -> Speaker:
    """Change a speaker's name, role or organisation (wherever they speak)."""
    changed = _apply_speaker(speaker, data)
    if changed:
        _audit(user, "event.speakers_changed", slug=event.slug, updated=speaker.id, fields=changed)
    _commit()
    return speaker


def remove_speaker(user: Any, event: Event, item: ProgrammeItem, link: ProgrammeSpeaker) -> bool:
    """Take a speaker off ``item``; return True when they spoke nowhere else (then deleted)."""
    speaker = link.speaker
    rest = [other for other in item.speaker_links if other is not link]
    item.speaker_links.remove(link)
    for position, other in enumerate(rest):
        other.position = position
    deleted = delete_orphan_speakers([speaker])
    _audit(
        user,
        "event.speakers_changed",
        slug=event.slug,
        item=item.id,
        removed=speaker.id,
        name=speaker.name,
        deleted=bool(deleted),
    )
    _commit()
    return bool(deleted)


def move_speaker(
    user: Any, event: Event, item: ProgrammeItem, link: ProgrammeSpeaker, direction: str
) -> None:
    reorder(item.speaker_links, link, direction)
    _audit(
        user,
        "event.speakers_changed",
        slug=event.slug,
        item=item.id,
        moved=link.speaker_id,
        direction=direction,
    )
    _commit()


# -- workshops ---------------------------------------------------------------------------------


def get_workshop(event: Event, workshop_id: int) -> Workshop | None:
    return next((workshop for workshop in event.workshops if workshop.id == workshop_id), None)


def add_workshop(user: Any, event: Event, data: WorkshopData) -> Workshop:
    workshop = Workshop(position=len(event.workshops))
    for name in WORKSHOP_FIELDS:
        setattr(workshop, name, getattr(data, name))
    event.workshops.append(workshop)
    db.session.flush()
    _audit(
        user, "event.workshops_changed", slug=event.slug, added=workshop.id, title=workshop.title
    )
    _commit()
    return workshop


def update_workshop(user: Any, event: Event, workshop: Workshop, data: WorkshopData) -> Workshop:
    changed = [name for name in WORKSHOP_FIELDS if getattr(workshop, name) != getattr(data, name)]
    for name in changed:
        setattr(workshop, name, getattr(data, name))
    if changed:
        _audit(
            user, "event.workshops_changed", slug=event.slug, updated=workshop.id, fields=changed
        )
    _commit()
    return workshop


def delete_workshop(user: Any, event: Event, workshop: Workshop) -> None:
    rest = [other for other in event.workshops if other is not workshop]
    event.workshops.remove(workshop)
    for position, other in enumerate(rest):
        other.position = position
    _audit(
        user, "event.workshops_changed", slug=event.slug, deleted=workshop.id, title=workshop.title
    )
    _commit()


def move_workshop(user: Any, event: Event, workshop: Workshop, direction: str) -> None:
    reorder(event.workshops, workshop, direction)
    _audit(user, "event.workshops_changed", slug=event.slug, moved=workshop.id, direction=direction)
    _commit()


# -- organisers, partners and host -------------------------------------------------------------


def get_organisation_link(
    event: Event, organisation_id: int, role: str
) -> EventOrganisation | None:
    return next(
        (
            link
            for link in event.organisation_links
            if link.organisation_id == organisation_id and link.role.value == role
        ),
        None,
    )


def organisation_links_by_role(event: Event) -> list[tuple[EventRole, list[EventOrganisation]]]:
    """The event's organisations grouped by role, each group in its own order."""
    return [
        (role, [link for link in event.organisation_links if link.role == role])
        for role in EventRole
    ]


def add_organisation(user: Any, event: Event, slug: str, role: EventRole) -> EventOrganisation:
    organisation = _published_organisation(slug)
    if get_organisation_link(event, organisation.id, role.value) is not None:
        raise EventError(
            f"« {organisation.name} » figure déjà comme « {role.label.lower()} » de cet événement."
        )
    same_role = [link for link in event.organisation_links if link.role == role]
    link = EventOrganisation(
        organisation=organisation,
        role=role,
        position=max((other.position for other in same_role), default=-1) + 1,
    )
    event.organisation_links.append(link)
    _audit(
        user,
        "event.organisations_changed",
        slug=event.slug,
        added=organisation.slug,
        role=role.value,
    )
    _commit()
    return link


def remove_organisation(user: Any, event: Event, link: EventOrganisation) -> Organisation:
    organisation = link.organisation
    event.organisation_links.remove(link)
    _audit(
        user,
        "event.organisations_changed",
        slug=event.slug,
        removed=organisation.slug,
        role=link.role.value,
    )
    _commit()
    return organisation


def move_organisation(user: Any, event: Event, link: EventOrganisation, direction: str) -> None:
    """Move among the organisations of the same role (the public page lists them by role)."""
    same_role = [other for other in event.organisation_links if other.role == link.role]
    reorder(same_role, link, direction)
    _audit(
        user,
        "event.organisations_changed",
        slug=event.slug,
        moved=link.organisation.slug,
        role=link.role.value,
        direction=direction,
    )
    _commit()
