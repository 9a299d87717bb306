"""History of every change (full snapshots) and the audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import enum_column, utcnow

if TYPE_CHECKING:
    from .organisation import Organisation
    from .user import User


class RevisionState(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


class RevisionAction(enum.StrEnum):
    """What a revision does to its entry."""

    CREATE = "create"
    UPDATE = "update"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    RESTORE = "restore"  # an old version brought back by a curator

    @property
    def label(self) -> str:
        return {
            "create": "Création",
            "update": "Modification",
            "archive": "Archivage",
            "unarchive": "Désarchivage",
            "restore": "Restauration d'une version",
        }[self.value]


class Revision(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(sa.String(40))  # organisation, initiative, event
    entity_id: Mapped[int | None]
    action: Mapped[RevisionAction] = mapped_column(
        enum_column(RevisionAction), default=RevisionAction.UPDATE, server_default="update"
    )
    # The organisation the change is made for (queue filter, partner dashboard).
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    # Anonymous proposals (/proposer): private, never shown publicly or exported.
    proposer_name: Mapped[str | None] = mapped_column(sa.String(200))
    proposer_email: Mapped[str | None] = mapped_column(sa.String(254))
    snapshot: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    base_version: Mapped[int | None]
    state: Mapped[RevisionState] = mapped_column(enum_column(RevisionState), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reviewed_at: Mapped[datetime | None]

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    organisation: Mapped[Organisation | None] = relationship()
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    __table_args__ = (sa.Index("ix_revision_entity", "entity_type", "entity_id"),)


class AuditLog(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    user: Mapped[User | None] = relationship()
