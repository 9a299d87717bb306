"""The revision log: how every change of an entry is recorded.

Each change leaves a ``Revision`` with the full snapshot of the entry after it, its author
and its state; an entry with no history yet (seed, import) first gets a baseline. Used by
the moderation workflow, merges and imports, which decide what is recorded; ``guarded``
makes each of their changes all-or-nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models import (
    AuditLog,
    Initiative,
    Organisation,
    Revision,
    RevisionAction,
    RevisionState,
)
from ..models.base import utcnow
from . import permissions
from .entry_data import StaleEdit, entity_type, lead_organisations, snapshot

# -- messages -------------------------------------------------------------------------------


STALE_MESSAGE = (
    "Cette fiche a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte. "
    "Vos modifications n'ont pas été enregistrées : rechargez la fiche pour voir la "
    "nouvelle version, puis reportez-y vos changements."
)

SUPERSEDED_COMMENT = "Remplacée par une proposition plus récente."

BASELINE_COMMENT = "Version d'origine, enregistrée avant la première modification."


# -- recording ------------------------------------------------------------------------------


def latest_revision_id(entry: Initiative | Organisation) -> int:
    if entry.id is None:
        return 0
    return (
        db.session.scalar(
            sa.select(sa.func.max(Revision.id)).where(
                Revision.entity_type == entity_type(entry), Revision.entity_id == entry.id
            )
        )
        or 0
    )


def user_id(user: Any) -> int | None:
    return getattr(user, "id", None) if permissions._signed_in(user) else None


def entry_organisation(entry: Initiative | Organisation) -> Organisation | None:
    if isinstance(entry, Organisation):
        return entry
    leads = lead_organisations(entry)
    return leads[0] if leads else None


def record(
    entry: Initiative | Organisation,
    *,
    user: Any,
    action: RevisionAction,
    state: RevisionState,
    snap: dict,
    organisation: Organisation | None,
    base_version: int | None = None,
    comment: str | None = None,
) -> Revision:
    revision = Revision(
        entity_type=entity_type(entry),
        entity_id=entry.id,
        action=action,
        state=state,
        snapshot=snap,
        base_version=base_version,
        author_id=user_id(user),
        organisation_id=organisation.id if organisation is not None else None,
        comment=comment,
    )
    db.session.add(revision)
    return revision


def ensure_baseline(entry: Initiative | Organisation) -> None:
    """Record an entry that has no history yet (seed, import) as it is, before it changes,
    so that its history shows what changed and its original version can be restored."""
    if latest_revision_id(entry):
        return
    record(
        entry,
        user=None,
        action=RevisionAction.CREATE,
        state=RevisionState.APPLIED,
        snap=snapshot(entry),
        organisation=entry_organisation(entry),
        comment=BASELINE_COMMENT,
    )
    db.session.flush()


def pending_revisions(
    entry: Initiative | Organisation, author_id: int | None = None
) -> list[Revision]:
    query = sa.select(Revision).where(
        Revision.entity_type == entity_type(entry),
        Revision.entity_id == entry.id,
        Revision.state == RevisionState.PROPOSED,
    )
    if author_id is not None:
        query = query.where(Revision.author_id == author_id)
    return list(db.session.scalars(query.order_by(Revision.id)))


def close_superseded(revisions: list[Revision]) -> None:
    for revision in revisions:
        revision.state = RevisionState.REJECTED
        revision.comment = SUPERSEDED_COMMENT
        revision.reviewed_at = utcnow()


def has_applied(entry: Initiative | Organisation) -> bool:
    return (
        db.session.scalar(
            sa.select(Revision.id)
            .where(
                Revision.entity_type == entity_type(entry),
                Revision.entity_id == entry.id,
                Revision.state.in_((RevisionState.APPLIED, RevisionState.APPROVED)),
                # The baseline of a seeded entry is not a publication by anyone.
                sa.or_(Revision.comment.is_(None), Revision.comment != BASELINE_COMMENT),
            )
            .limit(1)
        )
        is not None
    )


def audit(user: Any, action: str, **details: Any) -> None:
    db.session.add(AuditLog(user_id=user_id(user), action=action, details=details))


def commit() -> None:
    """Commit, turning a concurrent update of a versioned row into ``StaleEdit``."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise StaleEdit(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise


def guarded(work):
    """Run ``work`` and commit; any error rolls everything back (nothing half-written)."""
    try:
        result = work()
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleEdit(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise
    commit()
    return result
