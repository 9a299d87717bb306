"""A per-process, in-memory table of the published initiatives' facet values.

Counting facets in SQL over sets of thousands of ids costs 100–200 ms per search; the same counts
over numpy arrays cost well under a millisecond. The table holds, for every published initiative,
its themes, publics, stage, départements (places' communes and territories of action, as
``services.filters.in_departements`` defines them), events, organisations and start year.

Freshness:
- this process's own commits name the initiatives they changed (the hook that feeds the search
  outbox): the next search re-reads those rows only and patches the table, so an edit shows at
  once without reloading 10^5 rows;
- a cheap SQL stamp of ``initiative`` (latest ``updated_at`` of each status, highest id: index
  seeks), read once per search and just after each own commit, tells another process's
  publishing, archiving or editing: the table is then reloaded whole;
- an age limit (``MAX_AGE``) bounds the rest of another process's changes (a place alone, say).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from flask import current_app, has_app_context

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

INCREMENTAL_LIMIT = 2000  # changed initiatives patched in; more, and the table is reloaded

_lock = threading.Lock()
_generation = 0  # bumped by a commit outside any app: every table of the process is reloaded


def note_changes(initiative_ids: set[int]) -> None:
    """Called after a commit that changed indexed data: ``initiative_ids`` are the initiatives
    it touched."""
    global _generation
    if not has_app_context():
        with _lock:
            _generation += 1
        return
    holder = current_app.extensions.setdefault(EXTENSION_KEY, {})
    expected = _sql_stamp(use_engine=True)  # the committing session cannot run SQL any more
    with _lock:
        holder["pending"] = holder.get("pending", set()) | initiative_ids
        holder["expected"] = expected


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
    stamp: tuple  # ``_sql_stamp()`` of the data it holds
    generation: int
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
    """The table of the current app, patched or reloaded first if it is stale."""
    stamp = _sql_stamp()
    holder = current_app.extensions.setdefault(EXTENSION_KEY, {})
    with _lock:
        table: FacetTable | None = holder.get("table")
        pending = holder.pop("pending", set())
        expected = holder.pop("expected", None)
    if (
        table is None
        or table.generation != _generation
        or time.monotonic() - table.loaded_at > MAX_AGE
        or len(pending) > INCREMENTAL_LIMIT
    ):
        table = _load(stamp)
    elif pending and stamp == expected:  # only this process's changes since the table was read
        table = _patched(table, pending, stamp)
    elif stamp != table.stamp:  # another process changed the catalogue
        table = _load(stamp)
    with _lock:
        holder["table"] = table
    return table


def _sql_stamp(use_engine: bool = False) -> tuple:
    """What changes when any process publishes, archives, adds or edits an initiative.

    Index seeks only (``ix_initiative_status_updated_at`` and the primary key): the latest
    update of each status and the highest id. A count would read the whole table at every
    search (tens of milliseconds at 100,000 initiatives).
    """
    latest = [
        sa.select(sa.func.max(Initiative.updated_at))
        .where(Initiative.status == status)
        .scalar_subquery()
        for status in Status
    ]
    statement = sa.select(*latest, sa.func.max(Initiative.id))
    if use_engine:
        with db.engine.connect() as connection:
            return tuple(connection.execute(statement).one())
    return tuple(db.session.execute(statement).one())


@dataclass
class _Rows:
    """What the table holds, as read from the database (for all or some initiatives)."""

    initiatives: list[tuple]  # (id, stage value, start year) of the published ones
    themes: list[tuple]  # (initiative id, value) pairs, of any initiative
    publics: list[tuple]
    departements: list[tuple]
    events: list[tuple]
    organisations: list[tuple]

    PAIRS = ("themes", "publics", "departements", "events", "organisations")


def _read(only: list[int] | None) -> _Rows:
    """The rows of every initiative, or of the initiatives ``only``, straight from the driver
    (in this session's transaction): SQLAlchemy's result rows and type conversions cost ten
    times the queries for the 10^5 pairs of a full read."""
    connection = db.session.connection()

    def fetch(statement: sa.Select, column) -> list[tuple]:
        if only is not None:
            statement = statement.where(column.in_(only))
        sql = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        cursor = connection.connection.cursor()
        try:
            cursor.execute(str(sql))
            return cursor.fetchall()
        finally:
            cursor.close()

    published = Status.PUBLISHED.value
    initiatives = [
        (row[0], row[2], row[3])
        for row in fetch(
            sa.select(Initiative.id, Initiative.status, Initiative.stage, Initiative.start_year),
            Initiative.id,
        )
        if row[1] == published
    ]
    # The départements of an initiative: its places' communes and its territories of action
    # (as ``services.filters.in_departements`` defines them).
    places = fetch(
        sa.select(Place.initiative_id, Commune.departement_code).join(
            Commune, Commune.code == Place.commune_code
        ),
        Place.initiative_id,
    )
    link = initiative_departement.c
    return _Rows(
        initiatives=sorted(initiatives),
        themes=fetch(
            sa.select(initiative_theme.c.initiative_id, initiative_theme.c.theme_id),
            initiative_theme.c.initiative_id,
        ),
        publics=fetch(
            sa.select(initiative_public.c.initiative_id, initiative_public.c.public_id),
            initiative_public.c.initiative_id,
        ),
        departements=places
        + fetch(sa.select(link.initiative_id, link.departement_code), link.initiative_id),
        events=fetch(
            sa.select(event_initiative.c.initiative_id, event_initiative.c.event_id),
            event_initiative.c.initiative_id,
        ),
        organisations=fetch(
            sa.select(InitiativeOrganisation.initiative_id, InitiativeOrganisation.organisation_id),
            InitiativeOrganisation.initiative_id,
        ),
    )


_STAGE_CODES = {stage.value: number for number, stage in enumerate(STAGES)}


def _columns(initiatives: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = len(initiatives)
    ids = np.fromiter((row[0] for row in initiatives), np.int64, count)
    stages = np.fromiter((_STAGE_CODES.get(row[1], -1) for row in initiatives), np.int64, count)
    years = np.fromiter(
        (NO_YEAR if row[2] is None else row[2] for row in initiatives), np.int64, count
    )
    return ids, stages, years


_NOTHING_KEPT = (np.zeros(0, np.int64), np.zeros(0, np.int64), ())


def _pairs(
    ids: np.ndarray, found: list[tuple], kept: tuple[np.ndarray, np.ndarray, tuple] = _NOTHING_KEPT
) -> Pairs:
    """Pairs of the initiatives of ``ids`` among ``found`` (initiative id, value) and ``kept``
    (rows, codes, values of an older table already renumbered), distinct: an organisation may
    hold two roles in one initiative."""
    kept_rows, kept_codes, kept_values = kept
    values = tuple(sorted(set(kept_values) | {row[1] for row in found}))
    width = max(len(values), 1)
    codes = {value: code for code, value in enumerate(values)}
    initiative_ids = np.fromiter((row[0] for row in found), np.int64, len(found))
    value_codes = np.fromiter((codes[row[1]] for row in found), np.int64, len(found))
    rows = np.searchsorted(ids, initiative_ids).clip(max=max(len(ids) - 1, 0))
    # Each query reads its own snapshot; unpublished initiatives are not in ``ids``.
    present = ids[rows] == initiative_ids if len(ids) else np.zeros(len(found), dtype=bool)
    recoded = np.array([codes[value] for value in kept_values], dtype=np.int64)
    keys = np.unique(
        np.concatenate(
            [
                rows[present] * width + value_codes[present],
                kept_rows * width + (recoded[kept_codes] if len(kept_codes) else kept_codes),
            ]
        )
    )
    return Pairs(keys // width, keys % width, values)


def _load(stamp: tuple) -> FacetTable:
    loaded_at = time.monotonic()
    generation = _generation
    rows = _read(None)
    ids, stages, years = _columns(rows.initiatives)
    pairs = {name: _pairs(ids, getattr(rows, name)) for name in _Rows.PAIRS}
    return FacetTable(
        ids, stages, years, **pairs, stamp=stamp, generation=generation, loaded_at=loaded_at
    )


def _patched(table: FacetTable, changed: set[int], stamp: tuple) -> FacetTable:
    """``table`` with the rows of the ``changed`` initiatives read again."""
    wanted = sorted(changed)
    rows = _read(wanted)
    keep = ~np.isin(table.ids, np.array(wanted, dtype=np.int64))
    fresh_ids, fresh_stages, fresh_years = _columns(rows.initiatives)
    ids = np.concatenate([table.ids[keep], fresh_ids])
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    stages = np.concatenate([table.stages[keep], fresh_stages])[order]
    years = np.concatenate([table.years[keep], fresh_years])[order]
    renumbered = np.full(table.size, -1, dtype=np.int64)  # old row -> new row
    renumbered[keep] = np.searchsorted(ids, table.ids[keep])
    pairs = {}
    for name in _Rows.PAIRS:
        old: Pairs = getattr(table, name)
        still = keep[old.rows] if len(old.rows) else np.zeros(0, dtype=bool)
        kept = (renumbered[old.rows[still]], old.codes[still], old.values)
        pairs[name] = _pairs(ids, getattr(rows, name), kept)
    return FacetTable(
        ids,
        stages,
        years,
        **pairs,
        stamp=stamp,
        generation=table.generation,
        loaded_at=table.loaded_at,
    )
