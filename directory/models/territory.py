"""Régions, départements and communes from the official geographic code (INSEE)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Region(db.Model):
    code: Mapped[str] = mapped_column(sa.String(3), primary_key=True)  # INSEE, e.g. "93"
    name: Mapped[str] = mapped_column(sa.String(100))
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)

    departements: Mapped[list[Departement]] = relationship(
        back_populates="region", order_by="Departement.code"
    )


class Departement(db.Model):
    code: Mapped[str] = mapped_column(sa.String(3), primary_key=True)  # "13", "2A"
    name: Mapped[str] = mapped_column(sa.String(100))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("region.code"), index=True)
    # Simplified outline as GeoJSON geometry text (served to the map, never queried in SQL).
    outline: Mapped[str | None] = mapped_column(sa.Text)

    region: Mapped[Region] = relationship(back_populates="departements")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


class Commune(db.Model):
    code: Mapped[str] = mapped_column(sa.String(5), primary_key=True)  # INSEE code
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    # Lower-case, accent-free name for look-ups typed without accents.
    search_name: Mapped[str] = mapped_column(sa.String(100), index=True)
    kind: Mapped[str] = mapped_column(sa.String(4), default="COM")  # COM, ARM (arrondissement)
    parent_code: Mapped[str | None] = mapped_column(sa.String(5))  # ARM -> its commune
    departement_code: Mapped[str] = mapped_column(sa.ForeignKey("departement.code"), index=True)
    postcodes: Mapped[str] = mapped_column(sa.String(200), default="")  # space separated
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    population: Mapped[int | None]

    departement: Mapped[Departement] = relationship()

    @property
    def postcode_list(self) -> list[str]:
        return self.postcodes.split() if self.postcodes else []

    @property
    def label(self) -> str:
        return f"{self.name} ({self.departement_code})"
