"""Shared column types and mixins for the domain models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Status(enum.StrEnum):
    """Lifecycle of every public entry (DESIGN.md §4)."""

    DRAFT = "draft"
    PROPOSED = "proposed"
    PUBLISHED = "published"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.DRAFT: "Brouillon",
    Status.PROPOSED: "Proposé",
    Status.PUBLISHED: "Publié",
    Status.ARCHIVED: "Archivé",
}


def enum_column(enum_cls: type[enum.Enum], **kwargs):
    """A portable enum column stored as its value (VARCHAR + CHECK, no native PG type)."""
    return sa.Enum(
        enum_cls,
        values_callable=lambda cls: [member.value for member in cls],
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=32,
        name=kwargs.pop("name", enum_cls.__name__.lower()),
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EntryMixin(TimestampMixin):
    """A public, sluggable, versioned entry with a lifecycle status."""

    slug: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[Status] = mapped_column(
        enum_column(Status, name="status"), default=Status.DRAFT, index=True
    )
    # Demo rows are generated, never facts: flagged so they can be shown and removed as such.
    is_demo: Mapped[bool] = mapped_column(default=False, index=True)
    # Optimistic locking: SQLAlchemy refuses a stale UPDATE (DESIGN.md §4).
    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}

    @property
    def is_published(self) -> bool:
        return self.status == Status.PUBLISHED
