"""The small interface every search backend offers (DESIGN.md §5).

Views and services see only this protocol: the Whoosh details live in ``whoosh_backend``, and a
PostgreSQL full-text backend can be one more module behind the same methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from .documents import Document
from .query import ParsedQuery


class Mode(StrEnum):
    """How the query's parts are combined: all of them, any of them, or approximately."""

    ALL = "all"
    ANY = "any"
    FUZZY = "fuzzy"


class Sort(StrEnum):
    RELEVANCE = "pertinence"
    UPDATED = "mise-a-jour"
    TITLE = "titre"


class IndexBusy(Exception):
    """Another process is writing to the index; the outbox keeps the work for later."""


@dataclass(frozen=True, eq=False)
class Matches:
    """The entries a query matches, as arrays: backend handles (ascending), the entity id and
    the relevance score of each."""

    handles: np.ndarray
    entity_ids: np.ndarray
    scores: np.ndarray
    complete: bool = False  # every match of the query, no filter applied

    @property
    def ids(self) -> set[int]:
        return set(self.entity_ids.tolist())

    def __len__(self) -> int:
        return len(self.handles)

    def restricted(self, allowed: np.ndarray | None) -> Matches:
        """The matches whose entity id is in ``allowed`` (None: no restriction)."""
        if allowed is None:
            return self
        kept = np.isin(self.entity_ids, allowed)
        return Matches(self.handles[kept], self.entity_ids[kept], self.scores[kept])


class IndexWriter(Protocol):
    def upsert(self, document: Document) -> None: ...
    def remove(self, entity_type: str, entity_id: int) -> None: ...
    def discard(self) -> None: ...


class SearchBackend(Protocol):
    def exists(self) -> bool: ...

    def pinned(self) -> AbstractContextManager[None]:
        """One consistent view of the index for several calls (handles stay valid)."""

    def writer(self, timeout: float = 0.0) -> AbstractContextManager[IndexWriter]:
        """One writer at a time; raises ``IndexBusy`` after ``timeout`` seconds."""

    def rebuild(
        self,
        documents: Iterable[Document],
        total: int,
        progress: Callable[[int], None] | None = None,
        processes: int = 1,
    ) -> int: ...

    def match(self, entity_type: str, query: ParsedQuery, mode: Mode) -> Matches: ...

    def rank(self, matches: Matches, sort: Sort, offset: int, limit: int) -> list[int]:
        """Entity ids of one page of ``matches`` in result order, from ``offset``."""

    def highlight_terms(self, query: ParsedQuery, mode: Mode) -> frozenset[str]: ...

    def unknown_words(self, words: Iterable[str]) -> list[str]: ...

    def suggest(self, word: str) -> str | None: ...

    def complete(self, entity_type: str, text: str, limit: int) -> list[int]: ...

    def digests(self) -> dict[tuple[str, int], str]: ...
