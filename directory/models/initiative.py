"""Initiatives (projets innovants), their places and their organisations."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import EntryMixin, TimestampMixin, enum_column

if TYPE_CHECKING:
    from .event import Event
    from .organisation import Organisation
    from .taxonomy import Public, Theme
    from .territory import Commune, Departement

SUMMARY_MAX_LENGTH = 300


class Stage(enum.StrEnum):
    IDEE = "idee"
    EXPERIMENTATION = "experimentation"
    DEPLOIEMENT = "deploiement"
    ESSAIMAGE = "essaimage"
    TERMINEE = "terminee"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {
    Stage.IDEE: "Idée",
    Stage.EXPERIMENTATION: "Expérimentation",
    Stage.DEPLOIEMENT: "Déploiement",
    Stage.ESSAIMAGE: "Essaimage",
    Stage.TERMINEE: "Terminée",
}


class OrganisationRole(enum.StrEnum):
    PORTEUR = "porteur"
    PARTENAIRE = "partenaire"
    FINANCEUR = "financeur"

    @property
    def label(self) -> str:
        return {"porteur": "Porteur", "partenaire": "Partenaire", "financeur": "Financeur"}[
            self.value
        ]


initiative_theme = sa.Table(
    "initiative_theme",
    db.metadata,
    sa.Column(
        "initiative_id", sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "theme_id", sa.ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

initiative_public = sa.Table(
    "initiative_public",
    db.metadata,
    sa.Column(
        "initiative_id", sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "public_id", sa.ForeignKey("public.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

initiative_departement = sa.Table(
    "initiative_departement",
    db.metadata,
    sa.Column(
        "initiative_id", sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("departement_code", sa.ForeignKey("departement.code"), primary_key=True, index=True),
)


# An initiative's own texts: what a revision snapshots, and what no filter reads.
INITIATIVE_TEXT_FIELDS = (
    "title",
    "summary",
    "description",
    "website",
    "contact_email",
    "contact_phone",
    "genesis",
    "evaluation",
    "policy_impact",
    "public_support",
    "source",
)


class Initiative(EntryMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    summary: Mapped[str | None] = mapped_column(sa.String(SUMMARY_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[Stage | None] = mapped_column(enum_column(Stage), index=True)
    start_year: Mapped[int | None] = mapped_column(index=True)
    end_year: Mapped[int | None]
    website: Mapped[str | None] = mapped_column(sa.String(300))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    # The four questions the round tables asked of every innovation.
    genesis: Mapped[str | None] = mapped_column(sa.Text)  # Comment est-elle née ?
    evaluation: Mapped[str | None] = mapped_column(sa.Text)  # évaluée et valorisée ?
    policy_impact: Mapped[str | None] = mapped_column(sa.Text)  # transforme les politiques
    public_support: Mapped[str | None] = mapped_column(sa.Text)  # soutiens, financements
    # Where the fact came from (for the seed: the 2011 programme).
    source: Mapped[str | None] = mapped_column(sa.String(300))
    # Identifier in an imported file: re-importing the same file updates instead of duplicating.
    external_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    # Chosen by curators for the home page, in this order (None: not featured).
    featured_position: Mapped[int | None]

    themes: Mapped[list[Theme]] = relationship(
        secondary=initiative_theme, order_by="Theme.position"
    )
    publics: Mapped[list[Public]] = relationship(
        secondary=initiative_public, order_by="Public.position"
    )
    departements: Mapped[list[Departement]] = relationship(
        secondary=initiative_departement, order_by="Departement.code"
    )
    places: Mapped[list[Place]] = relationship(
        back_populates="initiative", cascade="all, delete-orphan", order_by="Place.id"
    )
    organisation_links: Mapped[list[InitiativeOrganisation]] = relationship(
        back_populates="initiative",
        cascade="all, delete-orphan",
        order_by="InitiativeOrganisation.position",
    )
    events: Mapped[list[Event]] = relationship(
        secondary="event_initiative", back_populates="initiatives", viewonly=True
    )

    # The public lists and the home page show the latest published changes first.
    __table_args__ = (sa.Index("ix_initiative_status_updated_at", "status", "updated_at"),)

    @property
    def lead_organisations(self) -> list[Organisation]:
        return [
            link.organisation
            for link in self.organisation_links
            if link.role == OrganisationRole.PORTEUR
        ]

    def __repr__(self) -> str:
        return f"<Initiative {self.slug}>"


class InitiativeOrganisation(db.Model):
    """An organisation's part in an initiative: porteur, partenaire or financeur."""

    initiative_id: Mapped[int] = mapped_column(
        sa.ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[OrganisationRole] = mapped_column(
        enum_column(OrganisationRole), primary_key=True, default=OrganisationRole.PORTEUR
    )
    position: Mapped[int] = mapped_column(default=0)

    initiative: Mapped[Initiative] = relationship(back_populates="organisation_links")
    organisation: Mapped[Organisation] = relationship(back_populates="initiative_links")


class Place(TimestampMixin, db.Model):
    """Where an initiative happens: a commune, optionally an address and a precise point."""

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        sa.ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    commune_code: Mapped[str | None] = mapped_column(sa.ForeignKey("commune.code"), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    initiative: Mapped[Initiative] = relationship(back_populates="places")
    commune: Mapped[Commune | None] = relationship()
