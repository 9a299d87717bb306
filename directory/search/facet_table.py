"""A per-process, in-memory table of the published initiatives' facet values.

Counting facets in SQL over sets of thousands of ids costs 100–200 ms per search; the same counts
over numpy arrays cost well under a millisecond. The table holds, for every published initiative,
its themes, publics, stage, départements (places' communes and territories of action, as
``services.filters.in_departements`` defines them), events, organisations and start year.

Freshness: the table is rebuilt when its stamp changes. The stamp is
- a generation counter bumped after every commit of this process that touched indexed data (the
  same hook that feeds the search outbox), so an edit shows immediately in the same process;
- a cheap SQL read of ``initiative`` (latest ``updated_at`` of each status, highest id: index
  seeks) once per search, so another process's publishing, archiving or editing shows at once;
- an age limit (``MAX_AGE``) for the rest of another process's changes (a place alone, say).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    Commune,
    Initiative,
    InitiativeOrganisation,
    Place,
    Stage,
    Status,
    event_initiative,
    initiative_departement,
    initiative_public,
    initiative_theme,
)

EXTENSION_KEY = "search_facet_table"
MAX_AGE = 60.0  # seconds: bounds how long another process's non-stamped change can go unseen
STAGES = tuple(Stage)
NO_YEAR = -1

_generation = 0
_generation_lock = threading.Lock()


def invalidate() -> None:
    """Mark every table of this process stale (called after a commit that changed the data)."""
    global _generation
    with _generation_lock:
        _generation += 1


@dataclass(frozen=True)
class Pairs:
    """(initiative row, value) pairs of one many-valued attribute, values as codes 0..n-1."""

    rows: np.ndarray
    codes: np.ndarray
    values: tuple  # code -> database value (id or département code)

    def rows_with(self, wanted: Iterable, size: int) -> np.ndarray:
        """Mask of the initiatives having at least one of the ``wanted`` values."""
        index = {value: code for code, value in enumerate(self.values)}
        chosen = [index[value] for value in wanted if value in index]
        mask = np.zeros(size, dtype=bool)
        if chosen:
            mask[self.rows[np.isin(self.codes, chosen)]] = True
        return mask

    def count(self, mask: np.ndarray) -> dict:
        """Value -> number of initiatives of ``mask`` having it (pairs are distinct)."""
        counts = np.bincount(self.codes[mask[self.rows]], minlength=len(self.values))
        return {self.values[code]: int(n) for code, n in enumerate(counts) if n}


@dataclass(frozen=True)
class FacetTable:
    ids: np.ndarray  # sorted initiative ids; a row is a position in it
    stages: np.ndarray  # index in STAGES, -1 when unknown
    years: np.ndarray  # start year, NO_YEAR when unknown
    themes: Pairs
    publics: Pairs
    departements: Pairs
    events: Pairs
    organisations: Pairs
    stamp: tuple
    loaded_at: float

    @property
    def size(self) -> int:
        return len(self.ids)

    def mask_of(self, ids: Iterable[int] | None) -> np.ndarray:
        """Mask of the published initiatives among ``ids`` (None: all of them)."""
        if ids is None:
            return np.ones(self.size, dtype=bool)
        wanted = ids if isinstance(ids, np.ndarray) else np.fromiter(ids, dtype=np.int64)
        mask = np.zeros(self.size, dtype=bool)
        if self.size and len(wanted):
            positions = np.searchsorted(self.ids, wanted).clip(max=self.size - 1)
            mask[positions[self.ids[positions] == wanted]] = True
        return mask


def get_table() -> FacetTable:
    """The table of the current app, rebuilt first if its stamp or age says it is stale."""
    stamp = _stamp()
    holder = current_app.extensions.setdefault(EXTENSION_KEY, {})
    table: FacetTable | None = holder.get("table")
    if table is None or table.stamp != stamp or time.monotonic() - table.loaded_at > MAX_AGE:
        table = _load(stamp)
        holder["table"] = table
    return table


def _stamp() -> tuple:
    """What changes when another process publishes, archives, adds or edits an initiative.

    Index seeks only (``ix_initiative_status_updated_at`` and the primary key): the latest
    update of each status and the highest id. A count would read the whole table at every
    search (tens of milliseconds at 100,000 initiatives).
    """
    generation = _generation
    latest = [
        sa.select(sa.func.max(Initiative.updated_at))
        .where(Initiative.status == status)
        .scalar_subquery()
        for status in Status
    ]
    row = db.session.execute(sa.select(*latest, sa.func.max(Initiative.id))).one()
    return (generation, *row)


def _load(stamp: tuple) -> FacetTable:
    loaded_at = time.monotonic()
    connection = db.session.connection()  # plain Core rows: no ORM loading for 10^5 pairs
    rows = connection.execute(
        sa.select(Initiative.id, Initiative.stage, Initiative.start_year)
        .where(Initiative.status == Status.PUBLISHED)
        .order_by(Initiative.id)
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    stage_index = {stage: number for number, stage in enumerate(STAGES)}
    stages = np.array([stage_index.get(row[1], -1) for row in rows], dtype=np.int64)
    years = np.array([row[2] if row[2] is not None else NO_YEAR for row in rows], dtype=np.int64)
    published = Initiative.status == Status.PUBLISHED

    def pairs(statement: sa.Select) -> Pairs:
        found = {(initiative, value) for initiative, value in connection.execute(statement)}
        values = tuple(sorted({value for _, value in found}))
        codes = {value: code for code, value in enumerate(values)}
        initiative_ids = np.array([initiative for initiative, _ in found], dtype=np.int64)
        rows = np.searchsorted(ids, initiative_ids).clip(max=max(len(ids) - 1, 0))
        # Each query reads its own snapshot: drop pairs of an initiative published meanwhile.
        kept = ids[rows] == initiative_ids if len(ids) else np.zeros(len(found), dtype=bool)
        value_codes = np.array([codes[value] for _, value in found], dtype=np.int64)
        return Pairs(rows[kept].astype(np.int64), value_codes[kept], values)

    def of_published(initiative_column, value_column) -> Pairs:
        return pairs(
            sa.select(initiative_column, value_column)
            .join(Initiative, Initiative.id == initiative_column)
            .where(published)
        )

    departements = pairs(
        sa.union(
            sa.select(Place.initiative_id, Commune.departement_code)
            .join(Commune, Commune.code == Place.commune_code)
            .join(Initiative, Initiative.id == Place.initiative_id)
            .where(published),
            sa.select(
                initiative_departement.c.initiative_id, initiative_departement.c.departement_code
            )
            .join(Initiative, Initiative.id == initiative_departement.c.initiative_id)
            .where(published),
        )
    )
    return FacetTable(
        ids=ids,
        stages=stages,
        years=years,
        themes=of_published(initiative_theme.c.initiative_id, initiative_theme.c.theme_id),
        publics=of_published(initiative_public.c.initiative_id, initiative_public.c.public_id),
        departements=departements,
        events=of_published(event_initiative.c.initiative_id, event_initiative.c.event_id),
        organisations=of_published(
            InitiativeOrganisation.initiative_id, InitiativeOrganisation.organisation_id
        ),
        stamp=stamp,
        loaded_at=loaded_at,
    )
