"""Partner organisations (associations, collectivités, services de l'État...)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import EntryMixin, enum_column

if TYPE_CHECKING:
    from .initiative import InitiativeOrganisation
    from .taxonomy import Theme
    from .territory import Commune, Departement
    from .user import Membership


class OrganisationKind(enum.StrEnum):
    ASSOCIATION = "association"
    COLLECTIVITE = "collectivite"
    ETAT = "etat"
    ENTREPRISE_ESS = "entreprise_ess"
    COLLECTIF = "collectif"
    AUTRE = "autre"

    @property
    def label(self) -> str:
        return ORGANISATION_KIND_LABELS[self]


ORGANISATION_KIND_LABELS = {
    OrganisationKind.ASSOCIATION: "Association",
    OrganisationKind.COLLECTIVITE: "Collectivité",
    OrganisationKind.ETAT: "Service de l'État",
    OrganisationKind.ENTREPRISE_ESS: "Entreprise de l'ESS",
    OrganisationKind.COLLECTIF: "Collectif",
    OrganisationKind.AUTRE: "Autre",
}

organisation_theme = sa.Table(
    "organisation_theme",
    db.metadata,
    sa.Column(
        "organisation_id", sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("theme_id", sa.ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True),
)

organisation_departement = sa.Table(
    "organisation_departement",
    db.metadata,
    sa.Column(
        "organisation_id", sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("departement_code", sa.ForeignKey("departement.code"), primary_key=True),
)


class Organisation(EntryMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    acronym: Mapped[str | None] = mapped_column(sa.String(40))
    kind: Mapped[OrganisationKind] = mapped_column(
        enum_column(OrganisationKind), default=OrganisationKind.AUTRE
    )
    tagline: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    website: Mapped[str | None] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    commune_code: Mapped[str | None] = mapped_column(sa.ForeignKey("commune.code"), index=True)
    logo_path: Mapped[str | None] = mapped_column(sa.String(200))
    is_event_partner: Mapped[bool] = mapped_column(default=False)
    # Trusted organisations publish their changes directly (DESIGN.md §3).
    trusted: Mapped[bool] = mapped_column(default=False)
    # Identifier in an imported file: re-importing the same file updates instead of duplicating.
    external_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)

    commune: Mapped[Commune | None] = relationship()
    themes: Mapped[list[Theme]] = relationship(
        secondary=organisation_theme, order_by="Theme.position"
    )
    departements: Mapped[list[Departement]] = relationship(
        secondary=organisation_departement, order_by="Departement.code"
    )
    initiative_links: Mapped[list[InitiativeOrganisation]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
