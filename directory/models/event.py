"""Events of the cycle (journée régionale, ateliers territoriaux) and their programme."""

from __future__ import annotations

import enum
from datetime import date, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import EntryMixin, enum_column

if TYPE_CHECKING:
    from .initiative import Initiative
    from .organisation import Organisation
    from .territory import Commune


class EventKind(enum.StrEnum):
    JOURNEE_REGIONALE = "journee_regionale"
    ATELIER_TERRITORIAL = "atelier_territorial"

    @property
    def label(self) -> str:
        return {
            "journee_regionale": "Journée régionale",
            "atelier_territorial": "Atelier territorial",
        }[self.value]


class ProgrammeKind(enum.StrEnum):
    ACCUEIL = "accueil"
    ALLOCUTION = "allocution"
    CONFERENCE = "conference"
    TABLE_RONDE = "table_ronde"
    ECHANGES = "echanges"
    ATELIER = "atelier"
    PAUSE = "pause"
    RESTITUTION = "restitution"
    SYNTHESE = "synthese"
    PRESENTATION = "presentation"
    CLOTURE = "cloture"

    @property
    def label(self) -> str:
        return PROGRAMME_KIND_LABELS[self]


PROGRAMME_KIND_LABELS = {
    ProgrammeKind.ACCUEIL: "Accueil",
    ProgrammeKind.ALLOCUTION: "Allocution",
    ProgrammeKind.CONFERENCE: "Conférence",
    ProgrammeKind.TABLE_RONDE: "Table ronde",
    ProgrammeKind.ECHANGES: "Échanges",
    ProgrammeKind.ATELIER: "Atelier",
    ProgrammeKind.PAUSE: "Pause",
    ProgrammeKind.RESTITUTION: "Restitution",
    ProgrammeKind.SYNTHESE: "Synthèse",
    ProgrammeKind.PRESENTATION: "Présentation",
    ProgrammeKind.CLOTURE: "Clôture",
}


class EventRole(enum.StrEnum):
    ORGANISATEUR = "organisateur"
    PARTENAIRE = "partenaire"
    LIEU = "lieu"  # the host of the venue

    @property
    def label(self) -> str:
        return {
            "organisateur": "Organisateur",
            "partenaire": "Partenaire",
            "lieu": "Lieu d'accueil",
        }[self.value]


class SpeakerPart(enum.StrEnum):
    INTERVENANT = "intervenant"
    MODERATEUR = "moderateur"

    @property
    def label(self) -> str:
        return {"intervenant": "Intervenant", "moderateur": "Animateur et modérateur"}[self.value]


event_initiative = sa.Table(
    "event_initiative",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("event.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "initiative_id",
        sa.ForeignKey("initiative.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    # The round table where it was presented, when known.
    sa.Column("programme_item_id", sa.ForeignKey("programme_item.id", ondelete="SET NULL")),
)


class Event(EntryMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(
        enum_column(EventKind), default=EventKind.ATELIER_TERRITORIAL
    )
    cycle: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(300))
    theme: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    date: Mapped[date | None] = mapped_column(sa.Date, index=True)
    starts_at: Mapped[time | None] = mapped_column(sa.Time)
    ends_at: Mapped[time | None] = mapped_column(sa.Time)
    venue: Mapped[str | None] = mapped_column(sa.String(300))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    commune_code: Mapped[str | None] = mapped_column(sa.ForeignKey("commune.code"))
    source: Mapped[str | None] = mapped_column(sa.String(300))

    commune: Mapped[Commune | None] = relationship()
    organisation_links: Mapped[list[EventOrganisation]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        order_by="EventOrganisation.position",
    )
    programme: Mapped[list[ProgrammeItem]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="ProgrammeItem.position"
    )
    workshops: Mapped[list[Workshop]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Workshop.position"
    )
    initiatives: Mapped[list[Initiative]] = relationship(
        secondary=event_initiative, back_populates="events", order_by="Initiative.title"
    )


class EventOrganisation(db.Model):
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[EventRole] = mapped_column(enum_column(EventRole), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="organisation_links")
    organisation: Mapped[Organisation] = relationship()


class ProgrammeItem(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    section: Mapped[str | None] = mapped_column(sa.String(200))  # "Matinée – Appels d'air"
    starts_at: Mapped[time | None] = mapped_column(sa.Time)
    ends_at: Mapped[time | None] = mapped_column(sa.Time)
    kind: Mapped[ProgrammeKind] = mapped_column(enum_column(ProgrammeKind))
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    # Questions asked at a round table, one per line.
    questions: Mapped[str | None] = mapped_column(sa.Text)

    event: Mapped[Event] = relationship(back_populates="programme")
    speaker_links: Mapped[list[ProgrammeSpeaker]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ProgrammeSpeaker.position"
    )

    @property
    def question_list(self) -> list[str]:
        return [line for line in (self.questions or "").splitlines() if line.strip()]


class Speaker(db.Model):
    """A person who spoke at an event, with the role they held then."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(300))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    organisation_name: Mapped[str | None] = mapped_column(sa.String(300))

    organisation: Mapped[Organisation | None] = relationship()


class ProgrammeSpeaker(db.Model):
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme_item.id", ondelete="CASCADE"), primary_key=True
    )
    speaker_id: Mapped[int] = mapped_column(
        sa.ForeignKey("speaker.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    part: Mapped[SpeakerPart] = mapped_column(
        enum_column(SpeakerPart), default=SpeakerPart.INTERVENANT
    )
    position: Mapped[int] = mapped_column(default=0)

    item: Mapped[ProgrammeItem] = relationship(back_populates="speaker_links")
    speaker: Mapped[Speaker] = relationship()


class Workshop(db.Model):
    """A sous-groupe of an event's afternoon, with its restitution."""

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    restitution: Mapped[str | None] = mapped_column(sa.Text)

    event: Mapped[Event] = relationship(back_populates="workshops")
