"""Curation records: old addresses of merged entries and remembered import mappings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import TimestampMixin, utcnow


class SlugRedirect(db.Model):
    """An address that moved: a merged entry's old slug answers 301 to the surviving entry."""

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(sa.String(40))  # initiative, organisation
    old_slug: Mapped[str] = mapped_column(sa.String(200))
    target_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("entity_type", "old_slug"),)


class ImportMapping(TimestampMixin, db.Model):
    """How the columns of a spreadsheet map to fields, remembered for the next import."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    entity_type: Mapped[str] = mapped_column(sa.String(40))  # initiative, organisation
    # {"column heading as in the file": "field name"}
    columns: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    __table_args__ = (sa.UniqueConstraint("entity_type", "name"),)
