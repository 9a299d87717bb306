"""From the index to SQL: the initiatives a text query matches, and a condition selecting ids.

What the lists, the map, the API and the exports need from the engine to filter by text the way
``/recherche`` does (``services.filters.apply``), without depending on the search page.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..extensions import db
from . import indexing
from .backend import Mode
from .documents import INITIATIVE
from .query import parse

_SMALL_SET = 500


def matching_initiative_ids(q: str) -> set[int] | None:
    """Ids of the initiatives containing every word of ``q``, filters aside.

    The analysis of ``/recherche`` (accents, word forms, synonyms, phrases, prefixes, exclusions)
    without its fall-backs to any word or to approaching spellings: a list, a map or an export
    filtered by text must not silently widen. ``None`` when ``q`` has no searchable word.
    """
    parsed = parse(q)
    if parsed.is_empty:
        return None
    indexing.drain_quietly(timeout=0.0)
    backend = indexing.get_backend()
    with backend.pinned():
        return backend.match(INITIATIVE, parsed, Mode.ALL).ids


def id_in(column: sa.ColumnElement, ids: set[int] | list[int]) -> sa.ColumnElement[bool]:
    """``column IN ids`` with one bound parameter, however many ids (no SQL parameter limit)."""
    ids = sorted(ids)
    if len(ids) <= _SMALL_SET:
        return column.in_(ids) if ids else sa.false()
    if db.engine.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Integer)))
    values = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.String))
    return column.in_(sa.select(values.table_valued("value").c.value))
