"""One version of the catalogue, bumped in the same transaction as every change to it.

Caches of what the public sees (home and territory pages, map payloads) key on it instead of
re-deriving "has anything changed?" from the data. It is one row of ``catalogue_version``:

- ``content`` moves with every write to a catalogue table (initiatives, their places and
  links, organisations, events, themes, publics);
- ``membership`` moves too, except when the only change is to an initiative's own text
  (title, summary, description, contact...): what no filter reads and no map point shows. A
  summary edited every second then leaves the map payloads and the counts alone.
- ``epoch`` is drawn at random when the row is made and when a backup is restored, so that a
  process never mistakes a restored database's version for one it has already cached.

Reading it is one primary-key lookup, so every process and every server sees each commit at
once. The invariant: catalogue rows are written through a session of the app (flushes and
ORM-enabled ``session.execute``), never through a bare connection.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event, orm

from .extensions import db
from .models import (
    INITIATIVE_TEXT_FIELDS,
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    Place,
    Public,
    Theme,
)
from .models.version import CatalogueVersion

CATALOGUE_MODELS = (Initiative, Place, InitiativeOrganisation, Organisation, Event, Public, Theme)

# Initiative attributes that no filter reads and no map point shows.
TEXT_ONLY = frozenset(INITIATIVE_TEXT_FIELDS) | {
    "external_id",
    "end_year",
    "slug",
    "updated_at",
    "version",
}

CONTENT, MEMBERSHIP = 1, 2
_BUMPED = "catalogue_version_bumped"  # the strongest bump already written in this transaction


@dataclass(frozen=True)
class Version:
    epoch: str
    content: int
    membership: int


def current() -> Version:
    """The committed version, read on a connection of its own: a session's own uncommitted
    bump must not name a cache entry built from what is committed."""
    with db.engine.connect() as connection:
        row = connection.execute(
            sa.select(CatalogueVersion.epoch, CatalogueVersion.content, CatalogueVersion.membership)
        ).first()
    if row is None:  # a schema made without the row: treated as never cached
        return Version(epoch=secrets.token_hex(8), content=0, membership=0)
    return Version(*row)


def catalogue_stamp() -> str:
    """Changes with every commit that changes the published catalogue: the home and territory
    pages' caches key on it."""
    version = current()
    return f"{version.epoch}.{version.content}"


def membership_stamp(text_query: str = "") -> str:
    """Changes whenever a point may move or an entry may enter or leave a filter: the map
    payloads and the counts key on it. An initiative's text edited leaves it alone, except under
    a word search (``text_query``), whose matches follow the text."""
    version = current()
    if text_query:
        return f"{version.epoch}.{version.content}"
    return f"{version.epoch}.m{version.membership}"


def new_epoch(connection: sa.Connection) -> None:
    """After a restore: no cache keyed on a version of the old database may match."""
    connection.execute(
        sa.update(CatalogueVersion.__table__).values(
            epoch=secrets.token_hex(8), content=CatalogueVersion.content + 1
        )
    )


# Recording ----------------------------------------------------------------------------------


def _change_kind(session: orm.Session) -> int:
    kind = 0
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, CATALOGUE_MODELS):
            return MEMBERSHIP
    for obj in session.dirty:
        if not isinstance(obj, CATALOGUE_MODELS) or not session.is_modified(obj):
            continue
        if not isinstance(obj, Initiative):
            return MEMBERSHIP
        state = sa.inspect(obj)
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
        if changed - TEXT_ONLY:
            return MEMBERSHIP
        kind = CONTENT
    return kind


def _bump(connection: sa.Connection, session: orm.Session, kind: int) -> None:
    if session.info.get(_BUMPED, 0) >= kind:
        return
    table = CatalogueVersion.__table__
    values = {"content": table.c.content + 1}
    if kind == MEMBERSHIP:
        values["membership"] = table.c.membership + 1
    connection.execute(sa.update(table).values(**values))
    session.info[_BUMPED] = kind


@event.listens_for(orm.Session, "after_flush")
def _after_flush(session: orm.Session, _context) -> None:
    kind = _change_kind(session)
    if kind:
        _bump(session.connection(), session, kind)


# Bulk statements name a table: the models' own, and the association tables of their links
# (read from the relationships, so a new link table is covered without being listed here).
_CATALOGUE_TABLES = frozenset(
    [table.name for model in CATALOGUE_MODELS for table in sa.inspect(model).tables]
    + [
        relationship.secondary.name
        for model in CATALOGUE_MODELS
        for relationship in sa.inspect(model).relationships
        if relationship.secondary is not None
    ]
)


@event.listens_for(orm.Session, "do_orm_execute")
def _bulk_writes(state: orm.ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _CATALOGUE_TABLES:
        _bump(state.session.connection(), state.session, MEMBERSHIP)


@event.listens_for(orm.Session, "after_commit")
@event.listens_for(orm.Session, "after_rollback")
@event.listens_for(orm.Session, "after_soft_rollback")
def _new_transaction(session: orm.Session, *_args) -> None:
    # A rolled-back savepoint may have taken the bump with it: the next write bumps again.
    session.info.pop(_BUMPED, None)
