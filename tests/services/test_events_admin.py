"""The events service: slugs, stale edits, initiatives presented, programme order."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_user

from directory.extensions import db
from directory.models import AuditLog, Event, ProgrammeKind, Role, Status
from directory.services import events_admin
from directory.services.events_admin import EventData, EventError, ItemData


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    db.session.commit()
    return user


def test_slugs_are_unique_and_never_empty(curator):
    first = events_admin.create_event(curator, EventData(title="Atelier de Nice"))
    second = events_admin.create_event(curator, EventData(title="Atelier de Nice"))
    odd = events_admin.create_event(curator, EventData(title="« ! »"))
    assert (first.slug, second.slug) == ("atelier-de-nice", "atelier-de-nice-2")
    assert odd.slug == "sans-titre"
    assert first.status == Status.DRAFT


def test_times_in_the_wrong_order_are_refused(curator):
    from datetime import time

    with pytest.raises(EventError):
        events_admin.create_event(
            curator, EventData(title="Atelier", starts_at=time(10), ends_at=time(9))
        )
    assert db.session.scalar(sa.select(Event).where(Event.slug == "atelier")) is None


def test_stale_version_and_audit_of_changed_fields(curator):
    event = events_admin.create_event(curator, EventData(title="Atelier de Digne"))
    with pytest.raises(EventError):
        events_admin.update_event(
            curator, event, EventData(title="Autre"), version=event.version + 1
        )
    events_admin.update_event(
        curator,
        event,
        EventData(title="Atelier de Digne", theme="Mobilité", status=Status.PUBLISHED),
        version=event.version,
    )
    log = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "event.updated"))
    assert sorted(log.details["fields"]) == ["status", "theme"]


@pytest.mark.parametrize(
    ("reference", "slug"),
    [
        ("jardin", "jardin"),
        ("/initiatives/jardin", "jardin"),
        ("https://exemple.fr/initiatives/jardin/?page=2#haut", "jardin"),
        ("  jardin  ", "jardin"),
    ],
)
def test_initiative_reference(reference, slug):
    assert events_admin.initiative_slug(reference) == slug


def test_initiatives_and_programme(curator):
    event = events_admin.create_event(curator, EventData(title="Atelier"))
    initiative = make_initiative(slug="jardin")
    make_initiative(slug="archivee", status=Status.ARCHIVED)
    db.session.commit()
    events_admin.add_initiative(curator, event, "jardin")
    assert events_admin.presented_count(event) == 1
    with pytest.raises(EventError):
        events_admin.add_initiative(curator, event, "archivee")
    with pytest.raises(EventError):
        events_admin.remove_initiative(curator, event, "archivee")
    events_admin.remove_initiative(curator, event, initiative.slug)
    assert events_admin.presented_count(event) == 0

    a = events_admin.add_item(curator, event, ItemData(title="A", kind=ProgrammeKind.ACCUEIL))
    b = events_admin.add_item(curator, event, ItemData(title="B", kind=ProgrammeKind.PAUSE))
    c = events_admin.add_item(curator, event, ItemData(title="C", kind=ProgrammeKind.CLOTURE))
    events_admin.move_item(curator, event, c, "up")
    events_admin.move_item(curator, event, a, "up")  # already first: no change
    db.session.expire_all()
    assert [item.title for item in event.programme] == ["A", "C", "B"]
    events_admin.delete_item(curator, event, events_admin.get_item(event, b.id))
    db.session.expire_all()
    assert [(item.title, item.position) for item in event.programme] == [("A", 0), ("C", 1)]
