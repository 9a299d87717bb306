"""Accounts and their memberships of organisations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from .organisation import Organisation


class Role(enum.StrEnum):
    PARTNER = "partner"
    CURATOR = "curator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {
            "partner": "Partenaire",
            "curator": "Chargé·e de mission (DRJSCS)",
            "admin": "Administrateur",
        }[self.value]


class User(UserMixin, TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(sa.String(300))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.PARTNER)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped to end every session of the account (sign-out everywhere, password change).
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the version invalidates old sessions
        return f"{self.id}:{self.session_version}"

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.CURATOR, Role.ADMIN)


class Membership(db.Model):
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
