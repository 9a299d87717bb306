"""The search outbox: index changes recorded in the same transaction as the data they follow."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class SearchOutbox(db.Model):
    """One entry to (re)index or remove, applied to the search index after commit.

    Rows are deleted only once the index has committed the change, so a process that dies in
    between leaves them to be replayed: the database stays the truth.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(sa.String(20))  # "initiative", "organisation"
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(10), default="upsert")  # upsert, delete
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
