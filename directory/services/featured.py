"""Initiatives chosen by curators for the home page (« À la une »), in their order."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import AuditLog, Initiative, Status, User
from .ordering import moved

MAX_FEATURED = 6


class FeaturedError(ValueError):
    """The message is for the curator."""


def featured(published_only: bool = True) -> list[Initiative]:
    statement = sa.select(Initiative).where(Initiative.featured_position.is_not(None))
    if published_only:
        statement = statement.where(Initiative.status == Status.PUBLISHED)
    return list(db.session.scalars(statement.order_by(Initiative.featured_position)))


def _set_position(initiative: Initiative, position: int | None) -> None:
    # Featuring is not an edit of the entry: its last-update date and version stay as they are
    # (an open edit form must not become stale because the entry went on the home page).
    db.session.execute(
        sa.update(Initiative)
        .where(Initiative.id == initiative.id)
        .values(featured_position=position, updated_at=Initiative.updated_at)
        .execution_options(synchronize_session=False)
    )


def _renumber(items: list[Initiative]) -> None:
    for position, initiative in enumerate(items, start=1):
        _set_position(initiative, position)


def add(user: User, slug: str) -> Initiative:
    slug = (slug or "").strip().replace("\x00", "")[:200]
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    if initiative is None or initiative.status != Status.PUBLISHED:
        raise FeaturedError("Aucune initiative publiée ne porte cette adresse.")
    current = featured(published_only=False)
    if initiative in current:
        raise FeaturedError(f"« {initiative.title} » est déjà à la une.")
    if len([item for item in current if item.status == Status.PUBLISHED]) >= MAX_FEATURED:
        raise FeaturedError(
            f"La une compte déjà {MAX_FEATURED} initiatives : retirez-en une d’abord."
        )
    _renumber([*current, initiative])
    db.session.add(AuditLog(user_id=user.id, action="featured.added", details={"slug": slug}))
    db.session.commit()
    return initiative


def remove(user: User, initiative: Initiative) -> None:
    current = [item for item in featured(published_only=False) if item.id != initiative.id]
    _set_position(initiative, None)
    _renumber(current)
    db.session.add(
        AuditLog(user_id=user.id, action="featured.removed", details={"slug": initiative.slug})
    )
    db.session.commit()


def move(initiative: Initiative, direction: str) -> None:
    current = featured(published_only=False)
    if initiative not in current:
        return
    _renumber(moved(current, initiative, direction))
    db.session.commit()
