"""Keeping the index true to the database: outbox, replay, rebuild and verify.

Every change to an indexed entry adds a ``SearchOutbox`` row in the same transaction (a session
``after_flush`` hook). After commit the rows are applied to the index and deleted; a process that
dies before that leaves them for the next one to replay. Only the holder of the index's single
writer lock reads the outbox, so several worker processes never index the same change twice at once
and no ``LockError`` reaches a user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import (
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    Place,
    Public,
    SearchOutbox,
    Theme,
    event_initiative,
    initiative_public,
    initiative_theme,
)
from . import facet_table
from .backend import IndexBusy
from .documents import (
    ENTITY_TYPES,
    INITIATIVE,
    ORGANISATION,
    count_published,
    iter_all_documents,
    load_documents,
)
from .whoosh_backend import WhooshBackend

EXTENSION_KEY = "search_backend"
DRAIN_BATCH = 1000
PENDING_FLAG = "search_outbox_pending"
CHANGED_INITIATIVES = "search_changed_initiatives"  # for the facet table


def init_app(app: Flask) -> None:
    """Give the app its backend and make sessions record index changes."""
    app.extensions[EXTENSION_KEY] = WhooshBackend(app.config["SEARCH_INDEX_DIR"])
    if not event.contains(Session, "after_flush", _record_changes):
        event.listen(Session, "after_flush", _record_changes)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _forget_pending)


def get_backend(app: Flask | None = None) -> WhooshBackend:
    return (app or current_app).extensions[EXTENSION_KEY]


# Recording ----------------------------------------------------------------------------------


def _record_changes(session: Session, _flush_context) -> None:
    """Add an outbox row for every indexed entry this flush touched (same transaction)."""
    changes: dict[tuple[str, int], str] = {}
    initiative_lookups: list[sa.Select] = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        deleted = obj in session.deleted
        if obj in session.dirty and not session.is_modified(obj):
            continue
        if isinstance(obj, Initiative) and obj.id is not None:
            changes[(INITIATIVE, obj.id)] = "delete" if deleted else "upsert"
        elif isinstance(obj, Organisation) and obj.id is not None:
            changes[(ORGANISATION, obj.id)] = "delete" if deleted else "upsert"
            # Organisation names are indexed with their initiatives.
            initiative_lookups.append(
                sa.select(InitiativeOrganisation.initiative_id).where(
                    InitiativeOrganisation.organisation_id == obj.id
                )
            )
        elif isinstance(obj, (InitiativeOrganisation, Place)) and obj.initiative_id is not None:
            changes.setdefault((INITIATIVE, obj.initiative_id), "upsert")
        elif isinstance(obj, Theme) and obj.id is not None:
            initiative_lookups.append(
                sa.select(initiative_theme.c.initiative_id).where(
                    initiative_theme.c.theme_id == obj.id
                )
            )
        elif isinstance(obj, Public) and obj.id is not None:
            initiative_lookups.append(
                sa.select(initiative_public.c.initiative_id).where(
                    initiative_public.c.public_id == obj.id
                )
            )
        elif isinstance(obj, Event) and obj.id is not None:
            initiative_lookups.append(
                sa.select(event_initiative.c.initiative_id).where(
                    event_initiative.c.event_id == obj.id
                )
            )
            history = sa.inspect(obj).attrs.initiatives.history
            for initiative in history.deleted or ():
                if initiative.id is not None:
                    changes.setdefault((INITIATIVE, initiative.id), "upsert")
    if not changes and not initiative_lookups:
        return
    connection = session.connection()
    for lookup in initiative_lookups:
        for initiative_id in connection.scalars(lookup):
            changes.setdefault((INITIATIVE, initiative_id), "upsert")
    if changes:
        connection.execute(
            sa.insert(SearchOutbox.__table__),
            [
                {"entity_type": entity_type, "entity_id": entity_id, "action": action}
                for (entity_type, entity_id), action in changes.items()
            ],
        )
        session.info[PENDING_FLAG] = True
        session.info.setdefault(CHANGED_INITIATIVES, set()).update(
            entity_id for entity_type, entity_id in changes if entity_type == INITIATIVE
        )


def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING_FLAG, None)
    session.info.pop(CHANGED_INITIATIVES, None)


def _after_commit(session: Session) -> None:
    changed = session.info.pop(CHANGED_INITIATIVES, set())
    if not session.info.pop(PENDING_FLAG, False):
        return
    facet_table.note_changes(changed)  # the same changes reach the facet counts
    if not has_app_context():
        return
    if EXTENSION_KEY not in current_app.extensions:
        return
    # The committing session cannot emit SQL here: drain() uses a session of its own.
    drain_quietly(timeout=current_app.config["SEARCH_WRITER_TIMEOUT"])


def drain_quietly(timeout: float = 0.0) -> int:
    """``drain``, logging instead of raising: the data is committed and the outbox keeps the
    work, so a failing index must not turn a successful save or a search into an error page.

    Nothing with ``SEARCH_INDEXER = "worker"``: ``run_worker`` applies the outbox then.
    """
    if current_app.config["SEARCH_INDEXER"] == "worker":
        return 0
    try:
        return drain(timeout=timeout)
    except Exception:
        current_app.logger.exception("Search index update failed; the outbox keeps the changes.")
        return 0


# Applying -----------------------------------------------------------------------------------


def pending_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) or 0


def has_pending() -> bool:
    with Session(db.engine) as session:
        return session.scalar(sa.select(SearchOutbox.id).limit(1)) is not None


def ensure_index() -> bool:
    """Build the index from the database if there is none yet; True if it was built."""
    backend = get_backend()
    if backend.exists():
        return False
    try:
        rebuild()
    except IndexBusy:
        return False  # another process is building it
    return True


def drain(timeout: float = 0.0, limit: int = DRAIN_BATCH, max_batches: int = 10) -> int:
    """Apply pending outbox rows to the index; returns how many were applied.

    Does nothing (the rows wait) when another process holds the writer: that process, the next
    commit or the next search will apply them.
    """
    if ensure_index():
        return 0
    applied = 0
    backend = get_backend()
    for _ in range(max_batches):
        if not has_pending():
            break
        try:
            done = _apply_batch(backend, timeout, limit)
        except IndexBusy:
            break
        applied += done
        if done < limit:
            break
    return applied


def _apply_batch(backend: WhooshBackend, timeout: float, limit: int) -> int:
    with Session(db.engine) as session:
        with backend.writer(timeout=timeout) as writer:
            rows = session.execute(
                sa.select(SearchOutbox.id, SearchOutbox.entity_type, SearchOutbox.entity_id)
                .order_by(SearchOutbox.id)
                .limit(limit)
            ).all()
            if not rows:
                writer.discard()
                return 0
            for entity_type in ENTITY_TYPES:
                ids = sorted({r.entity_id for r in rows if r.entity_type == entity_type})
                documents = load_documents(session, entity_type, ids)
                for entity_id in ids:
                    # The database decides: published entries are (re)indexed, others removed.
                    if entity_id in documents:
                        writer.upsert(documents[entity_id])
                    else:
                        writer.remove(entity_type, entity_id)
        # Only now that the index has committed may the rows go.
        session.execute(sa.delete(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows])))
        session.commit()
        return len(rows)


WORKER_POLL = 0.2  # seconds between two looks at an empty outbox


def run_worker(stop: Callable[[], bool], on_applied: Callable[[int], None]) -> None:
    """Apply the outbox as it fills, until ``stop()``: the one writer of the index when
    ``SEARCH_INDEXER = "worker"``. A failing batch is logged and tried again; the rows wait."""
    while not stop():
        try:
            applied = drain(timeout=5.0, max_batches=100)
        except Exception:
            current_app.logger.exception("Search index update failed; retrying.")
            applied = 0
        finally:
            db.session.remove()
        if applied:
            on_applied(applied)
        else:
            time.sleep(WORKER_POLL)


def rebuild(
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    processes: int = 1,
) -> int:
    """Rebuild the whole index from the database; returns the number of entries indexed.

    ``processes`` > 1 analyses in that many processes: for the command line, not for a web
    worker (which should not fork).
    """
    backend = get_backend()
    with Session(db.engine) as session:
        # Rows recorded before the build are covered by it; later ones will be replayed.
        covered = list(session.scalars(sa.select(SearchOutbox.id)))
        total = count_published(session)
        if on_total:
            on_total(total)
        count = backend.rebuild(iter_all_documents(session), total, progress, processes)
        for start in range(0, len(covered), 5000):
            session.execute(
                sa.delete(SearchOutbox).where(SearchOutbox.id.in_(covered[start : start + 5000]))
            )
        session.commit()
    return count


@dataclass
class VerifyReport:
    missing: list[tuple[str, int]] = field(default_factory=list)
    extra: list[tuple[str, int]] = field(default_factory=list)
    stale: list[tuple[str, int]] = field(default_factory=list)
    repaired: bool = False

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.stale)


def verify(repair: bool = True) -> VerifyReport:
    """Compare the index with the database entry by entry, and repair what differs."""
    if ensure_index():
        return VerifyReport(repaired=True)
    backend = get_backend()
    indexed = backend.digests()
    report = VerifyReport()
    to_write = []
    with Session(db.engine) as session:
        seen = set()
        for document in iter_all_documents(session):
            key = (document.entity_type, document.entity_id)
            seen.add(key)
            if key not in indexed:
                report.missing.append(key)
                to_write.append(document)
            elif indexed[key] != document.digest:
                report.stale.append(key)
                to_write.append(document)
        report.extra = sorted(set(indexed) - seen)
    if repair and report.differences:
        with backend.writer(timeout=30.0) as writer:
            for document in to_write:
                writer.upsert(document)
            for entity_type, entity_id in report.extra:
                writer.remove(entity_type, entity_id)
        report.repaired = True
    return report


def prepare() -> None:
    """Build the search index if one is needed, then apply any pending change (set-up)."""
    if not ensure_index():
        drain(timeout=30.0, max_batches=1_000_000)
