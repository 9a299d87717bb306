"""Throttle attempts: the counted events of the sign-in, reset, invitation and proposal limits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ThrottleAttempt(db.Model):
    """One counted event (a sign-in attempt, a reset request...) under one throttle key.

    Used when no Redis is configured (``services/throttle.py``): every worker and server on the
    database counts in this one table, as django-axes does for Django. Only allowed events are
    kept, so a key holds at most its limit of rows; rows go once ``expires_at`` is past.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # "login-email/camille@example.org": the namespace and identifiers of the counter.
    key: Mapped[str] = mapped_column(sa.String(255))
    at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (sa.Index("ix_throttle_attempt_key_at", "key", "at"),)
