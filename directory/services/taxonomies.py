"""Curated lists of themes and publics: add, rename, merge, reorder (staff only).

Slugs never change, so filter addresses stay valid after a rename. Links are moved through the
ORM so that the search outbox records every initiative whose indexed theme or public changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    AuditLog,
    Initiative,
    Organisation,
    Public,
    Theme,
    User,
    initiative_public,
    initiative_theme,
    organisation_theme,
)
from ..text import fold, slugify
from .ordering import moved

NAME_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 2000


class TaxonomyError(ValueError):
    """A change that cannot be made; the message is for the curator."""


@dataclass(frozen=True)
class Kind:
    model: type[Theme] | type[Public]
    label: str  # "thème" / "public"
    plural: str


KINDS = {
    "themes": Kind(Theme, "thème", "Thèmes"),
    "publics": Kind(Public, "public", "Publics"),
}


def terms(kind: Kind) -> list[tuple[Theme | Public, int]]:
    """Every term in display order, with the number of initiatives (any status) using it."""
    table = initiative_theme if kind.model is Theme else initiative_public
    column = table.c.theme_id if kind.model is Theme else table.c.public_id
    counts = dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())
    items = db.session.scalars(sa.select(kind.model).order_by(kind.model.position, kind.model.id))
    return [(item, counts.get(item.id, 0)) for item in items]


def _clean_name(kind: Kind, name: str, exclude_id: int | None = None) -> str:
    name = " ".join((name or "").replace("\x00", "").split())
    if not name:
        raise TaxonomyError("Le nom est obligatoire.")
    if len(name) > NAME_MAX_LENGTH:
        raise TaxonomyError(f"Le nom ne peut pas dépasser {NAME_MAX_LENGTH} caractères.")
    folded = fold(name)
    for other in db.session.scalars(sa.select(kind.model)):
        if other.id != exclude_id and fold(other.name) == folded:
            raise TaxonomyError(f"Le {kind.label} « {other.name} » existe déjà.")
    return name


def _audit(user: User, action: str, **details) -> None:
    db.session.add(AuditLog(user_id=user.id, action=action, details=details))


def add(user: User, kind: Kind, name: str, description: str = "") -> Theme | Public:
    name = _clean_name(kind, name)
    base = slugify(name)[:90] or kind.label
    slug, number = base, 1
    while db.session.scalar(sa.select(kind.model.id).where(kind.model.slug == slug)):
        number += 1
        slug = f"{base}-{number}"
    last = db.session.scalar(sa.select(sa.func.max(kind.model.position))) or 0
    term = kind.model(slug=slug, name=name, position=last + 1)
    if kind.model is Theme:
        term.description = (description or "").replace("\x00", "")[:DESCRIPTION_MAX_LENGTH] or None
    db.session.add(term)
    db.session.flush()
    _audit(user, "taxonomy.added", kind=kind.label, slug=slug, name=name)
    db.session.commit()
    return term


def rename(user: User, kind: Kind, term: Theme | Public, name: str) -> None:
    old = term.name
    term.name = _clean_name(kind, name, exclude_id=term.id)
    if term.name == old:
        return
    # The search outbox picks up every initiative of a renamed term (indexing hook on flush).
    _audit(user, "taxonomy.renamed", kind=kind.label, slug=term.slug, old=old, new=term.name)
    db.session.commit()


def merge(user: User, kind: Kind, removed: Theme | Public, kept: Theme | Public) -> int:
    """Move every link of ``removed`` to ``kept``, then delete ``removed``; returns links moved."""
    if removed.id == kept.id:
        raise TaxonomyError("Choisissez deux termes différents à fusionner.")
    moved = 0
    if kind.model is Theme:
        attribute, table, column = "themes", initiative_theme, initiative_theme.c.theme_id
    else:
        attribute, table, column = "publics", initiative_public, initiative_public.c.public_id
    owners = sa.select(table.c.initiative_id).where(column == removed.id)
    initiatives = db.session.scalars(
        sa.select(Initiative)
        .where(Initiative.id.in_(owners))
        .options(selectinload(getattr(Initiative, attribute)))
    )
    for initiative in initiatives:
        moved += _swap(getattr(initiative, attribute), removed, kept)
    if kind.model is Theme:
        organisations = db.session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.id.in_(
                    sa.select(organisation_theme.c.organisation_id).where(
                        organisation_theme.c.theme_id == removed.id
                    )
                )
            )
            .options(selectinload(Organisation.themes))
        )
        for organisation in organisations:
            moved += _swap(organisation.themes, removed, kept)
    db.session.flush()
    _audit(
        user,
        "taxonomy.merged",
        kind=kind.label,
        removed=removed.slug,
        kept=kept.slug,
        links=moved,
    )
    db.session.delete(removed)
    db.session.commit()
    return moved


def _swap(collection: list, removed, kept) -> int:
    collection.remove(removed)
    if kept not in collection:
        collection.append(kept)
    return 1


def move(kind: Kind, term: Theme | Public, direction: str) -> None:
    """Swap a term with its neighbour above ("up") or below ("down")."""
    ordered = list(
        db.session.scalars(sa.select(kind.model).order_by(kind.model.position, kind.model.id))
    )
    # Every position is numbered again, so equal positions (seed data) still move predictably.
    for position, item in enumerate(moved(ordered, term, direction), start=1):
        item.position = position
    db.session.commit()
