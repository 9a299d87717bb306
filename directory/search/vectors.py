"""Whoosh queries evaluated over numpy arrays of postings: match, count and rank at once.

Whoosh's own collector walks every matching document in Python (a matcher step, a length read
and a BM25F score per document), which costs most of a broad search. Here each term's postings
(document numbers and weights) are read block by block into arrays, once per segment, and a
query becomes a few array operations: intersections for ``And``, unions for ``Or``, set
differences for ``AndNot``, BM25F computed for every posting at once.

The result is the one Whoosh gives: the same documents (phrases are checked on the positions
of ``postings.WeightedPositions``, decoded a block at a time; the tests compare them with
Whoosh's own phrase matcher), the same BM25F scores (same formula, statistics read from the
same searcher) and the same order (score descending, then document number).

Caches follow the index: postings and per-document columns are kept per segment (a segment's
postings never change; its deletions are applied per searcher), query results per searcher
(``Searcher`` objects are replaced whenever the index changes, so a cached result can never
outlive the index it came from).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from .postings import (
    POSITION_BITS,
    WeightedPositions,
    distinct_sorted,
    position_keys,
    sorted_member,
)

POSTINGS_CACHE_BYTES = 96 * 2**20  # decoded postings kept across searches (all segments)
POSITIONS_CACHE_BYTES = 64 * 2**20  # decoded positions of the words of phrases
WHOLE_LIST_FACTOR = 8  # a word's positions are read whole when its phrase may check 1/8 of them
RESULTS_PER_SEARCHER = 256  # query results kept per searcher (per index generation)
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_EMPTY_DOCS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)
_STATE = "_directory_vectors"  # attribute holding our per-searcher state


@dataclass(frozen=True)
class Scored:
    """Matching documents (sorted global numbers, no duplicates) and their scores."""

    docs: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.docs)


EMPTY = Scored(_EMPTY_DOCS, _EMPTY_SCORES)


# Caches --------------------------------------------------------------------------------------


class _Postings:
    """Decoded postings by (segment, field, term), bounded by their size in bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._items: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], tuple[np.ndarray, np.ndarray]]):
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        found = load()
        size = found[0].nbytes + found[1].nbytes
        with self._lock:
            if key not in self._items:
                self._items[key] = found
                self._size += size
            while self._size > self._limit and len(self._items) > 1:
                _, (ids, weights) = self._items.popitem(last=False)
                self._size -= ids.nbytes + weights.nbytes
        return found

    def peek(self, key: tuple):
        """The value kept for ``key``, or None (nothing loaded)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, value: tuple[np.ndarray, np.ndarray]) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[0].nbytes + old[1].nbytes
        self.get(key, lambda: value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


_postings = _Postings(POSTINGS_CACHE_BYTES)
_segment_columns: dict[tuple, np.ndarray] = {}  # (segment id, column) -> array
_segment_lock = threading.Lock()


def clear_caches() -> None:
    """Forget every cached posting and column (tests, or after deleting an index folder)."""
    _postings.clear()
    _phrases.clear()
    _positions.clear()
    with _segment_lock:
        _segment_columns.clear()


class _SearcherState:
    """What we keep on one searcher: global columns, live documents and recent results."""

    def __init__(self, searcher: Searcher) -> None:
        self.leaves = [(reader, offset) for reader, offset in searcher.reader().leaf_readers()]
        self.size = searcher.reader().doc_count_all()
        self.lock = threading.Lock()
        self.columns: dict[str, np.ndarray] = {}
        self.lengths: dict[str, np.ndarray] = {}
        self.results: OrderedDict[Hashable, object] = OrderedDict()
        self._live: np.ndarray | None = None
        # Columns of segments merged away are dropped (postings age out of their LRU).
        current = {_segment_key(reader) for reader, _ in self.leaves}
        with _segment_lock:
            for key in [k for k in _segment_columns if k[0] not in current]:
                del _segment_columns[key]

    @property
    def live(self) -> np.ndarray | None:
        """Mask of the documents not deleted (None: no deletion at all)."""
        if self._live is None:
            deleted = []
            for reader, offset in self.leaves:
                found = reader.deleted_docs_set if hasattr(reader, "deleted_docs_set") else None
                if callable(found):
                    found = found()
                if found:
                    deleted.append(np.fromiter(found, dtype=np.int64) + offset)
            if deleted:
                live = np.ones(self.size, dtype=bool)
                live[np.concatenate(deleted)] = False
                self._live = live
            else:
                self._live = np.ones(0, dtype=bool)
        return self._live if len(self._live) else None


def _state(searcher: Searcher) -> _SearcherState:
    state = getattr(searcher, _STATE, None)
    if state is None:
        state = _SearcherState(searcher)
        setattr(searcher, _STATE, state)
    return state


def cached_result(searcher: Searcher, key: Hashable, compute: Callable[[], object]):
    """``compute()``, remembered for this searcher (so for this state of the index)."""
    state = _state(searcher)
    with state.lock:
        if key in state.results:
            state.results.move_to_end(key)
            return state.results[key]
    value = compute()
    with state.lock:
        state.results[key] = value
        while len(state.results) > RESULTS_PER_SEARCHER:
            state.results.popitem(last=False)
    return value


def _segment_key(reader) -> str:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else str(id(reader))


def column(searcher: Searcher, name: str, dtype=np.int64) -> np.ndarray:
    """A sortable column of every document (deleted ones included), by global number."""
    state = _state(searcher)
    found = state.columns.get(name)
    if found is not None:
        return found
    parts = []
    for reader, _offset in state.leaves:
        key = (_segment_key(reader), name)
        with _segment_lock:
            part = _segment_columns.get(key)
        if part is None:
            values = list(reader.column_reader(name)) if reader.has_column(name) else []
            part = np.array(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)
            if len(part) != reader.doc_count_all():
                part = np.resize(part, reader.doc_count_all())
            with _segment_lock:
                _segment_columns[key] = part
        parts.append(part)
    found = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    state.columns[name] = found
    return found


def _lengths(searcher: Searcher, reader, field: str) -> np.ndarray:
    """Field lengths of one segment's documents, as Whoosh's scorer reads them."""
    key = (_segment_key(reader), f"length:{field}")
    with _segment_lock:
        found = _segment_columns.get(key)
    if found is not None:
        return found
    perdoc = getattr(reader, "_perdoc", None)
    lengths_reader = (
        perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN) if perdoc is not None else None
    )
    if lengths_reader is not None:
        encoded = np.fromiter(lengths_reader, dtype=np.int64, count=reader.doc_count_all())
        found = _LENGTH_OF_BYTE[encoded]
    else:
        found = np.array(
            [reader.doc_field_length(n, field, 1) or 1 for n in range(reader.doc_count_all())],
            dtype=np.float64,
        )
    with _segment_lock:
        _segment_columns[key] = found
    return found


# Postings ------------------------------------------------------------------------------------


def _read_postings(reader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Every posting of a term in one segment, deleted documents included."""
    ids, weights, _keys = _read_blocks(reader, field, btext, positions=False)
    return ids, weights


def _read_blocks(
    reader, field: str, btext: bytes, positions: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Documents and weights of every posting of a term in one segment, and with
    ``positions`` their position keys too, from one pass over the posting blocks."""
    fieldobj = reader.schema[field]
    matcher = reader._terms.matcher(field, btext, fieldobj.format)
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    if isinstance(matcher, W3LeafMatcher):
        by_block = positions and isinstance(fieldobj.format, WeightedPositions)
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            raw_ids, raw_weights = matcher._data[0], matcher._data[1]
            block = np.asarray(raw_ids, dtype=np.int64)
            ids.append(block if matcher._byteids else np.cumsum(block))
            count = matcher._blocklength
            if raw_weights is None:
                weights.append(np.ones(count, dtype=np.float64))
            elif isinstance(raw_weights, float):
                weights.append(np.full(count, raw_weights, dtype=np.float64))
            else:
                weights.append(np.asarray(raw_weights, dtype=np.float64))
            if by_block:
                keys.append(position_keys(ids[-1], matcher._data[2]))
            matcher._next_block()
    else:  # inlined postings of a rare term, or another codec
        found_ids, found_weights = [], []
        while matcher.is_active():
            found_ids.append(matcher.id())
            found_weights.append(matcher.weight())
            matcher.next()
        ids.append(np.array(found_ids, dtype=np.int64))
        weights.append(np.array(found_weights, dtype=np.float64))
    if not ids:
        return _EMPTY_DOCS, _EMPTY_SCORES, (_EMPTY_DOCS if positions else None)
    if positions and len(keys) != len(ids):  # inlined postings, or another format
        keys = [_occurrences_one_by_one(reader._terms.matcher(field, btext, fieldobj.format), None)]
    return (
        np.concatenate(ids),
        np.concatenate(weights),
        np.concatenate(keys) if positions else None,
    )


def term(searcher: Searcher, field: str, btext: bytes, scored: bool = True) -> Scored:
    """Documents containing a term, with their BM25F score (Whoosh's default weighting)."""
    state = _state(searcher)
    if state.size == 0:  # an index not built yet: no document (and Whoosh's idf would fail)
        return Scored(_EMPTY_DOCS, _EMPTY_SCORES)
    fieldobj = searcher.schema[field]
    weighting = searcher.weighting
    bm25 = scored and fieldobj.scorable and isinstance(weighting, BM25F)
    if bm25:
        idf = searcher.idf(field, btext)
        avgfl = searcher.avg_field_length(field) or 1
        b = weighting._field_B.get(field, weighting.B)
        k1 = weighting.K1
    docs: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for reader, offset in state.leaves:
        if (field, btext) not in reader:
            continue
        ids, weights = _postings.get(
            (_segment_key(reader), field, btext),
            lambda reader=reader: _read_postings(reader, field, btext),
        )
        if not len(ids):
            continue
        if bm25:
            lengths = _lengths(searcher, reader, field)[ids]
            values = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / avgfl)))
        elif scored:
            values = weights  # Whoosh's WeightScorer for unscored fields
        else:
            values = np.ones(len(ids), dtype=np.float64)
        docs.append(ids + offset)
        scores.append(values)
    if not docs:
        return EMPTY
    return Scored(np.concatenate(docs), np.concatenate(scores))


# Combining -----------------------------------------------------------------------------------


def intersect(parts: list[Scored]) -> Scored:
    if not parts:
        return EMPTY
    parts = sorted(parts, key=len)
    result = parts[0]
    for part in parts[1:]:
        if not len(result):
            return EMPTY
        docs, left, right = np.intersect1d(
            result.docs, part.docs, assume_unique=True, return_indices=True
        )
        result = Scored(docs, result.scores[left] + part.scores[right])
    return result


def union(parts: list[Scored]) -> Scored:
    parts = [p for p in parts if len(p)]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p.docs for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    unique, inverse = np.unique(docs, return_inverse=True)
    return Scored(unique, np.bincount(inverse, weights=scores, minlength=len(unique)))


def difference(kept: Scored, removed: Scored) -> Scored:
    if not len(kept) or not len(removed):
        return kept
    mask = ~np.isin(kept.docs, removed.docs, assume_unique=True)
    return Scored(kept.docs[mask], kept.scores[mask])


def restrict(found: Scored, docs: np.ndarray) -> Scored:
    """The documents of ``found`` among ``docs`` (sorted)."""
    mask = np.isin(found.docs, docs, assume_unique=True)
    return Scored(found.docs[mask], found.scores[mask])


# Evaluating a query --------------------------------------------------------------------------


def evaluate(searcher: Searcher, query: wq.Query) -> Scored:
    """Every live document matching ``query``, with Whoosh's score for it."""
    found = _evaluate(searcher, query, True, None)
    live = _state(searcher).live
    if live is not None and len(found):
        mask = live[found.docs]
        found = Scored(found.docs[mask], found.scores[mask])
    return found


def _evaluate(
    searcher: Searcher, query: wq.Query, scored: bool, within: np.ndarray | None
) -> Scored:
    """``query``'s documents; ``within`` (sorted), when given, is the only part the caller keeps
    (phrases then check positions there only; other parts may return more)."""
    if query is wq.NullQuery or isinstance(query, type(wq.NullQuery)):
        return EMPTY
    if isinstance(query, wq.Term):
        fieldobj = searcher.schema[query.fieldname]
        try:
            btext = fieldobj.to_bytes(query.text)
        except ValueError:
            return EMPTY
        return _boosted(term(searcher, query.fieldname, btext, scored), query.boost)
    if isinstance(query, wq.AndNot):
        kept = _evaluate(searcher, query.a, scored, within)
        if not len(kept):
            return EMPTY
        return difference(kept, _evaluate(searcher, query.b, False, kept.docs))
    if isinstance(query, wq.And):
        return _boosted(_and(searcher, query.subqueries, scored, within), query.boost)
    if isinstance(query, wq.Or) and not query.minmatch and query.scale is None:
        parts = [_evaluate(searcher, q, scored, within) for q in query.subqueries]
        return _boosted(union(parts), query.boost)
    if isinstance(query, wq.Phrase):
        return _phrase(searcher, query, scored, within)
    if isinstance(query, wq.MultiTerm):
        reader = searcher.reader()
        fieldobj = searcher.schema[query.fieldname]
        words = [w if isinstance(w, bytes) else fieldobj.to_bytes(w) for w in query._btexts(reader)]
        words = [w for w in words if w]
        constant = query.constantscore and len(words) > 1
        parts = [term(searcher, query.fieldname, w, scored and not constant) for w in words]
        return _boosted(union(parts), query.boost)
    return _by_whoosh(searcher, query)


def _and(searcher: Searcher, subqueries, scored: bool, within: np.ndarray | None) -> Scored:
    """Parts without positions first; their intersection bounds where phrases are checked."""
    plain = [q for q in subqueries if not _has_phrase(q)]
    positional = [q for q in subqueries if _has_phrase(q)]
    result = intersect([_evaluate(searcher, q, scored, within) for q in plain]) if plain else None
    for query in positional:
        bound = result.docs if result is not None else within
        if bound is not None and within is not None and result is not None:
            bound = np.intersect1d(bound, within, assume_unique=True)
        found = _evaluate(searcher, query, scored, bound)
        result = found if result is None else intersect([result, found])
        if not len(result):
            return EMPTY
    return result if result is not None else EMPTY


def _has_phrase(query: wq.Query) -> bool:
    if isinstance(query, wq.Phrase):
        return True
    return any(_has_phrase(q) for q in query.children())


def _boosted(found: Scored, boost: float) -> Scored:
    return found if boost == 1.0 else Scored(found.docs, found.scores * boost)


_phrases = _Postings(16 * 2**20)  # (segment, field, words) -> (documents checked, documents found)


def _phrase(
    searcher: Searcher, query: wq.Phrase, scored: bool, within: np.ndarray | None
) -> Scored:
    """Words in order: candidates from the postings, then their positions checked.

    Only candidates are checked: documents having every word, within the bound the caller
    gives. What a segment's check found is remembered (segments never change), so a frequent
    phrase, such as a synonym's, is checked once per document.
    """
    fieldobj = searcher.schema[query.fieldname]
    try:
        words = [fieldobj.to_bytes(word) for word in query.words]
    except ValueError:
        return EMPTY
    _prefetch_positions(searcher, query.fieldname, words)
    candidates = intersect([term(searcher, query.fieldname, word, scored) for word in words])
    if within is not None:
        candidates = restrict(candidates, within)
    if not len(candidates):
        return EMPTY
    confirmed = []
    leaves = searcher.leaf_searchers()
    offsets = [offset for _, offset in leaves] + [_state(searcher).size]
    for number, (leaf, offset) in enumerate(leaves):
        low, high = np.searchsorted(candidates.docs, [offset, offsets[number + 1]])
        if low == high:
            continue
        local = candidates.docs[low:high] - offset
        confirmed.append(_checked_phrase(leaf, query, local) + offset)
    found = restrict(candidates, np.concatenate(confirmed)) if confirmed else EMPTY
    return _boosted(found, query.boost)


def _prefetch_positions(searcher: Searcher, field: str, words: list[bytes]) -> None:
    """Read the positions a phrase check will want whole (see ``_term_occurrences``) in the
    same pass over the posting blocks as the documents and weights the candidates come from,
    so that each block is decompressed and unpickled once, not twice."""
    for reader, _offset in _state(searcher).leaves:
        if not all((field, word) in reader for word in words):
            continue
        frequencies = {word: reader.doc_frequency(field, word) for word in words}
        bound = min(frequencies.values())  # there are at most this many candidates
        for word, frequency in frequencies.items():
            key = (_segment_key(reader), field, word)
            if frequency <= WHOLE_LIST_FACTOR * bound and _positions.peek(key) is None:
                _read_whole(reader, field, word)


def _checked_phrase(leaf: Searcher, query: wq.Phrase, local: np.ndarray) -> np.ndarray:
    """The documents of ``local`` (one segment's numbers) where the phrase occurs."""
    key = (_segment_key(leaf.reader()), query.fieldname, tuple(query.words))
    checked, hits = _phrases.get(key, lambda: (_EMPTY_DOCS, _EMPTY_DOCS))
    unchecked = np.setdiff1d(local, checked, assume_unique=True)
    if len(unchecked):
        checked = np.union1d(checked, unchecked)
        hits = np.union1d(hits, _phrase_documents(leaf, query, unchecked))
        _phrases.put(key, (checked, hits))
    return hits[np.isin(hits, local, assume_unique=True)]


def _phrase_documents(leaf: Searcher, query: wq.Phrase, docnums: np.ndarray) -> np.ndarray:
    """Which of ``docnums`` (one segment's, sorted) hold the words in order, each within
    ``query.slop`` positions of the previous one.

    Each word's positions in those documents become keys (document << 32 | position), so
    following the phrase word by word is an array membership test; each word narrows the
    documents whose positions the next word reads.
    """
    reader = leaf.reader()
    fieldobj = leaf.schema[query.fieldname]
    reached = None
    for word in query.words:
        try:
            keys = _term_occurrences(reader, query.fieldname, fieldobj.to_bytes(word), docnums)
        except (TermNotFound, ValueError):  # a word this segment does not hold
            return _EMPTY_DOCS
        if reached is not None:
            following = np.concatenate([reached + gap for gap in range(1, query.slop + 1)])
            keys = keys[sorted_member(keys, np.sort(following))]
        reached = keys
        if not len(reached):
            return _EMPTY_DOCS
        docnums = distinct_sorted(reached >> POSITION_BITS)  # keys are sorted
    return docnums


_positions = _Postings(POSITIONS_CACHE_BYTES)  # (segment, field, term) -> (keys, documents)


def _term_occurrences(reader, field: str, btext: bytes, docnums: np.ndarray) -> np.ndarray:
    """A term's position keys in ``docnums``. Decoding positions is the cost of a phrase
    (one unpickling per posting), so a term's whole list is decoded once and kept when the
    documents asked for are a good part of it; a few documents are read alone."""
    key = (_segment_key(reader), field, btext)
    found = _positions.peek(key)
    if found is None:
        if len(docnums) * WHOLE_LIST_FACTOR < reader.doc_frequency(field, btext):
            return _occurrences(reader, field, btext, docnums)
        found = _read_whole(reader, field, btext)
    keys, documents = found
    return keys[sorted_member(documents, docnums)]


def _read_whole(reader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A term's whole posting list in one pass over its blocks: documents and weights kept for
    ``term``, position keys (and their documents) kept for phrases and returned."""
    key = (_segment_key(reader), field, btext)
    ids, weights, keys = _read_blocks(reader, field, btext, positions=True)
    _postings.put(key, (ids, weights))
    found = (keys, keys >> POSITION_BITS)
    _positions.put(key, found)
    return found


def _occurrences(reader, field: str, btext: bytes, docnums: np.ndarray) -> np.ndarray:
    """Positions of a term in some documents of one segment, as sorted keys
    (document << 32 | position). Blocks holding none of them are not read."""
    fmt = reader.schema[field].format
    matcher = reader._terms.matcher(field, btext, fmt)
    if not isinstance(matcher, W3LeafMatcher) or not isinstance(fmt, WeightedPositions):
        return _occurrences_one_by_one(matcher, docnums)  # inlined postings of a rare term
    parts = []
    start = 0
    while matcher.is_active() and start < len(docnums):
        if matcher._maxid >= docnums[start]:
            matcher._read_ids()
            matcher._read_values()
            ids = np.asarray(matcher._ids, dtype=np.int64)
            chosen = np.flatnonzero(np.isin(ids, docnums[start:]))
            start = int(np.searchsorted(docnums, ids[-1], side="right"))
            values = [matcher._values[i] for i in chosen.tolist()]
            parts.append(position_keys(ids[chosen], values))
        matcher._next_block()
    return np.concatenate(parts) if parts else _EMPTY_DOCS


def _occurrences_one_by_one(matcher, docnums: np.ndarray | None) -> np.ndarray:
    wanted = None if docnums is None else set(docnums.tolist())
    keys: list[int] = []
    while matcher.is_active():
        docnum = matcher.id()
        if wanted is None or docnum in wanted:
            base = docnum << POSITION_BITS
            keys.extend(base | p for p in matcher.value_as("positions"))
        matcher.next()
    return np.array(keys, dtype=np.int64)


def _by_whoosh(searcher: Searcher, query: wq.Query) -> Scored:
    """Any other query: Whoosh finds and scores (rare; kept for completeness)."""
    results = searcher.search(query, limit=None)
    if not len(results):
        return EMPTY
    pairs = sorted((hit.docnum, hit.score or 0.0) for hit in results)
    return Scored(
        np.array([d for d, _ in pairs], dtype=np.int64),
        np.array([s for _, s in pairs], dtype=np.float64),
    )


# Ordering ------------------------------------------------------------------------------------


def top(found: Scored, offset: int, limit: int, key: np.ndarray | None = None) -> np.ndarray:
    """Document numbers of one page: by ``key`` ascending (None: score descending), ties by
    document number."""
    if not len(found) or limit <= 0 or offset >= len(found):
        return _EMPTY_DOCS
    primary = -found.scores if key is None else key
    wanted = min(offset + limit, len(found))
    if wanted < len(found) // 4:
        # A partial selection first: only the best ``wanted`` are sorted (ties kept whole).
        threshold = np.partition(primary, wanted - 1)[wanted - 1]
        chosen = np.flatnonzero(primary <= threshold)
        order = chosen[np.lexsort((found.docs[chosen], primary[chosen]))]
    else:
        order = np.lexsort((found.docs, primary))
    return found.docs[order[offset:wanted]]
