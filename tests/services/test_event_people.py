"""The event people service: order kept per role, orphan speakers, changes audited once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_event, make_organisation, make_user

from directory.extensions import db
from directory.models import (
    AuditLog,
    EventRole,
    ProgrammeItem,
    ProgrammeKind,
    Role,
    Speaker,
    SpeakerPart,
)
from directory.services import event_people
from directory.services.event_people import SpeakerData, WorkshopData
from directory.services.events_admin import EventError


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    db.session.commit()
    return user


def _audits(action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == action)
    )


def test_organisations_move_within_their_role(curator):
    a, b, c = (make_organisation(slug=slug, name=slug.upper()) for slug in ("a", "b", "c"))
    event = make_event(organisers=(a, b), partners=(c,))
    db.session.commit()
    event_people.add_organisation(curator, event, "a", EventRole.PARTENAIRE)
    first = event_people.get_organisation_link(event, b.id, "organisateur")
    event_people.move_organisation(curator, event, first, "up")
    event_people.move_organisation(curator, event, first, "up")  # already first: no change
    db.session.expire_all()
    groups = {
        role.value: [link.organisation.slug for link in links]
        for role, links in event_people.organisation_links_by_role(event)
    }
    assert groups == {"organisateur": ["b", "a"], "partenaire": ["c", "a"], "lieu": []}
    with pytest.raises(EventError, match="figure déjà"):
        event_people.add_organisation(curator, event, "c", EventRole.PARTENAIRE)
    assert _audits("event.organisations_changed") == 3


def test_unchanged_saves_write_no_audit_row_and_orphans_go(curator):
    event = make_event()
    event.programme.append(ProgrammeItem(kind=ProgrammeKind.TABLE_RONDE, title="Table"))
    db.session.commit()
    item = event.programme[0]
    link = event_people.add_speaker(
        curator, event, item, SpeakerPart.INTERVENANT, data=SpeakerData(name="Jo", role="Élu")
    )
    event_people.update_speaker(curator, event, link.speaker, SpeakerData(name="Jo", role="Élu"))
    workshop = event_people.add_workshop(curator, event, WorkshopData(title="Atelier"))
    event_people.update_workshop(curator, event, workshop, WorkshopData(title="Atelier"))
    assert _audits("event.speakers_changed") == 1
    assert _audits("event.workshops_changed") == 1
    speaker_id = link.speaker_id
    assert event_people.remove_speaker(curator, event, item, link) is True
    assert db.session.get(Speaker, speaker_id) is None
    with pytest.raises(EventError, match="nom de l’intervenant"):
        event_people.add_speaker(curator, event, item, SpeakerPart.INTERVENANT)
    with pytest.raises(EventError, match="n’existe pas"):
        event_people.add_speaker(curator, event, item, SpeakerPart.INTERVENANT, speaker_id=10**12)
