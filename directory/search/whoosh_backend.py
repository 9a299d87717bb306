"""The Whoosh search backend: schema, one writer at a time, ranking and spelling."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from whoosh import columns, fields, index
from whoosh import query as wq
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import CLEAR

from ..text import fold
from . import mapped_files, vectors
from .analysis import analyze, plain_analyzer, plain_words, weighted_analyzer, weighted_text
from .backend import IndexBusy, Matches, Mode, Sort
from .documents import (
    FIELD_WEIGHTS,
    INITIATIVE,
    ORGANISATION,
    TEXT_FIELDS,
    Document,
    document_key,
)
from .postings import WeightedPositions
from .query import ParsedQuery, Unit

mapped_files.install()  # before any index is opened

PREFIX_EXPANSION = 60  # words a ``solid*`` may stand for: bounds the cost of short prefixes
REBUILD_MEMORY_MB = 256  # per process
PARALLEL_REBUILD_FROM = 2000  # documents; below, starting processes costs more than it saves
PARALLEL_BATCH = 250  # documents handed to a process at a time
FUZZY_MIN_LENGTH = 4
READY_MARKER = "built"  # holds the schema version of the last full build
SCHEMA_VERSION = "5"  # bump when the schema or the analysis changes: the index is rebuilt


# One weighted field per kind of entry: a query on one kind then reads no posting of the other
# and needs no "kind" clause, which keeps Whoosh's top-N skipping effective.
CONTENT_FIELDS = {INITIATIVE: "content", ORGANISATION: "org_content"}
# The vocabulary (spelling, prefixes, fuzzy) comes from the short fields only: the long texts
# would double the indexing work for little gain.
VOCABULARY_FIELDS = (
    "title",
    "organisations",
    "summary",
    "themes",
    "publics",
    "territory",
    "events",
)


def _weighted_field() -> fields.TEXT:
    field = fields.TEXT(analyzer=weighted_analyzer())
    field.format = WeightedPositions()  # per-token weights (see WeightedTokenizer)
    return field


def build_schema() -> fields.Schema:
    return fields.Schema(
        key=fields.ID(unique=True, stored=True),
        kind=fields.ID,
        # Columns only (read whole by ``vectors``): an indexed NUMERIC field would add 16 terms
        # per document and value, a third of the postings written by a rebuild.
        entity_id=fields.COLUMN(columns.NumericColumn("q")),
        digest=fields.STORED,
        title_sort=fields.ID(sortable=True),
        updated=fields.COLUMN(columns.NumericColumn("q")),
        # Folded, unstemmed words: spelling suggestions, prefixes and fuzzy matching.
        words=fields.TEXT(analyzer=plain_analyzer(), phrase=False),
        title_words=fields.TEXT(analyzer=plain_analyzer(), phrase=False),
        content=_weighted_field(),
        org_content=_weighted_field(),
    )


class _Writer:
    """Adapts a Whoosh writer to the backend's ``IndexWriter``."""

    def __init__(self, writer) -> None:
        self._writer = writer
        self.discarded = False

    def discard(self) -> None:
        """Nothing to write after all: release the lock without a commit."""
        self.discarded = True

    def upsert(self, document: Document) -> None:
        self._writer.update_document(**_fields(document))

    def remove(self, entity_type: str, entity_id: int) -> None:
        self._writer.delete_by_term("key", document_key(entity_type, entity_id))


def _fields(document: Document) -> dict:
    text = document.fields
    return {
        "key": document.key,
        "kind": document.entity_type,
        "entity_id": document.entity_id,
        "digest": document.digest,
        "title_sort": document.title_sort or " ",
        "updated": document.updated,
        "words": "\n".join(text.get(name, "") for name in VOCABULARY_FIELDS),
        "title_words": text.get("title", ""),
        CONTENT_FIELDS[document.entity_type]: weighted_text(
            [(FIELD_WEIGHTS[name], text.get(name, "")) for name in TEXT_FIELDS]
        ),
    }


class WhooshBackend:
    """A Whoosh index in one folder of the instance."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._index: index.Index | None = None
        self._searcher: Searcher | None = None

    # Index and searcher --------------------------------------------------------------------

    def exists(self) -> bool:
        """True once a first full build has completed (an empty folder is not an index)."""
        marker = self.path / READY_MARKER
        return (
            marker.exists()
            and marker.read_text().strip() == SCHEMA_VERSION
            and index.exists_in(str(self.path))
        )

    def _open(self) -> index.Index:
        if self._index is None:
            self.path.mkdir(parents=True, exist_ok=True)
            # Two processes starting on an empty folder must not both create the index.
            with open(self.path / "create.lock", "w") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                if not index.exists_in(str(self.path)):
                    index.create_in(str(self.path), build_schema())
            self._index = index.open_dir(str(self.path))
        return self._index

    @contextmanager
    def _searching(self) -> Iterator[Searcher]:
        """The process's searcher, reopened when another commit has changed the index.

        Not ``Searcher.refresh()``: it reuses segment readers and so keeps deleted documents
        visible when a segment only gained deletions (measured with whoosh-reloaded 2.7.5).
        A replaced searcher is left to the garbage collector, as a pinned call may still use it.
        """
        pinned = getattr(self._local, "searcher", None)
        if pinned is not None:
            yield pinned
            return
        with self._lock:
            if self._searcher is None or not self._searcher.up_to_date():
                self._searcher = self._open().searcher()
            searcher = self._searcher
        yield searcher

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Use one searcher for every call in the block, so that handles stay valid."""
        with self._searching() as searcher:
            self._local.searcher = searcher
        try:
            yield
        finally:
            self._local.searcher = None

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._index = None

    # Writing --------------------------------------------------------------------------------

    @contextmanager
    def writer(self, timeout: float = 0.0) -> Iterator[_Writer]:
        try:
            writer = self._open().writer(timeout=timeout)
        except LockError as error:
            raise IndexBusy(str(error)) from error
        adapter = _Writer(writer)
        try:
            yield adapter
        except BaseException:
            writer.cancel()
            raise
        if adapter.discarded:
            writer.cancel()
        else:
            writer.commit()

    def rebuild(
        self,
        documents: Iterable[Document],
        total: int,
        progress: Callable[[int], None] | None = None,
        processes: int = 1,
        timeout: float = 60.0,
    ) -> int:
        """Replace the whole index with ``documents`` in one commit (searches go on meanwhile).

        With ``processes`` > 1 and enough documents, that many processes analyse them, each
        writing its own segment (the analysis is most of a rebuild's time). An index of an
        older schema version is recreated first.
        """
        if index.exists_in(str(self.path)) and not self.exists():
            self.close()
            self.path.mkdir(parents=True, exist_ok=True)
            index.create_in(str(self.path), build_schema())
        options: dict = {"limitmb": REBUILD_MEMORY_MB}
        # Whoosh's writer processes are started with the default method, and only "fork" (the
        # default on Linux up to Python 3.13) hands them what they need.
        forks = multiprocessing.get_start_method(allow_none=False) == "fork"
        if processes > 1 and total >= PARALLEL_REBUILD_FROM and forks:
            options.update(procs=processes, multisegment=True, batchsize=PARALLEL_BATCH)
        try:
            writer = self._open().writer(timeout=timeout, **options)
        except LockError as error:
            raise IndexBusy(str(error)) from error
        count = 0
        try:
            for document in documents:
                writer.add_document(**_fields(document))
                count += 1
                if progress:
                    progress(1)
        except BaseException:
            writer.cancel()
            raise
        # One segment per process, not merged: merging would take as long as one process did.
        writer.commit(mergetype=CLEAR, optimize="procs" not in options)
        (self.path / READY_MARKER).write_text(SCHEMA_VERSION)
        return count

    # Querying -------------------------------------------------------------------------------

    def _unit_query(self, unit: Unit, field: str, searcher: Searcher) -> wq.Query | None:
        if unit.prefix:
            return self._prefix_query(unit.text, field, searcher)
        expressions = (unit.text, *unit.alternatives)
        options = list({q: None for q in (_expression_query(e, field) for e in expressions) if q})
        if not options:
            return None
        return options[0] if len(options) == 1 else wq.Or(options)

    def _prefix_query(self, text: str, field: str, searcher: Searcher) -> wq.Query | None:
        words = self._expand_prefix(text, searcher)
        options = list({q: None for q in (_expression_query(w, field) for w in words) if q})
        return wq.Or(options) if options else wq.NullQuery

    def _expand_prefix(self, text: str, searcher: Searcher) -> list[str]:
        prefix = fold(text)
        words: list[str] = []
        for term in searcher.reader().expand_prefix("words", prefix):
            words.append(term.decode() if isinstance(term, bytes) else term)
            if len(words) >= PREFIX_EXPANSION:
                break
        return words

    def _build(
        self, entity_type: str, parsed: ParsedQuery, mode: Mode, searcher: Searcher
    ) -> wq.Query:
        field = CONTENT_FIELDS[entity_type]
        if mode == Mode.FUZZY:
            parts: list[wq.Query] = []
            for word in parsed.words:
                for folded in plain_words(word):
                    if len(folded) >= FUZZY_MIN_LENGTH:
                        parts.append(
                            wq.FuzzyTerm(
                                "words", folded, maxdist=_max_edits(folded), prefixlength=1
                            )
                        )
            main: wq.Query = wq.Or(parts) if parts else wq.NullQuery
        else:
            units = [q for q in (self._unit_query(u, field, searcher) for u in parsed.units) if q]
            if not units:
                main = wq.NullQuery
            elif len(units) == 1:
                main = units[0]
            else:
                main = wq.And(units) if mode == Mode.ALL else wq.Or(units)
        excluded = [q for q in (_expression_query(w, field) for w in parsed.excluded) if q]
        if excluded:
            main = wq.AndNot(main, wq.Or(excluded))
        # Only the fuzzy words field is shared by both kinds of entry.
        return wq.And([wq.Term("kind", entity_type), main]) if mode == Mode.FUZZY else main

    def match(self, entity_type: str, parsed: ParsedQuery, mode: Mode) -> Matches:
        """Every entry of ``entity_type`` matching the query, with its relevance score.

        Evaluated over arrays of postings (``vectors``), and remembered for this searcher: the
        same query on the same state of the index (a next page, a facet click) costs nothing.
        """
        with self._searching() as searcher:
            return vectors.cached_result(
                searcher,
                ("match", entity_type, parsed, mode),
                lambda: self._match(searcher, entity_type, parsed, mode),
            )

    def _match(
        self, searcher: Searcher, entity_type: str, parsed: ParsedQuery, mode: Mode
    ) -> Matches:
        found = vectors.evaluate(searcher, self._build(entity_type, parsed, mode, searcher))
        ids = vectors.column(searcher, "entity_id")
        return Matches(found.docs, ids[found.docs], found.scores, complete=True)

    def rank(self, matches: Matches, sort: Sort, offset: int, limit: int) -> list[int]:
        """Entity ids of one page: best score first, or latest update, or title order."""
        if not len(matches) or limit <= 0:
            return []
        with self._searching() as searcher:
            key = None
            if sort == Sort.UPDATED:  # latest first; within a second, the latest written
                updated = vectors.column(searcher, "updated")[matches.handles]
                key = -((updated << 21) + matches.handles)
            elif sort == Sort.TITLE:
                key = self._title_ranks(searcher)[matches.handles]
            found = vectors.Scored(matches.handles, matches.scores)
            docnums = vectors.top(found, offset, limit, key)
        positions = np.searchsorted(matches.handles, docnums)
        return matches.entity_ids[positions].tolist()

    def _title_ranks(self, searcher: Searcher) -> np.ndarray:
        """Position of every document in title order (computed once per searcher)."""

        def compute() -> np.ndarray:
            titles = vectors.column(searcher, "title_sort", dtype=object)
            order = np.argsort(titles, kind="stable")
            ranks = np.empty(len(order), dtype=np.int64)
            ranks[order] = np.arange(len(order))
            return ranks

        return vectors.cached_result(searcher, ("title-ranks",), compute)

    def highlight_terms(self, parsed: ParsedQuery, mode: Mode) -> frozenset[str]:
        """The indexed terms an excerpt should mark for this query."""
        terms: set[str] = set()
        with self._searching() as searcher:
            for unit in parsed.units:
                if unit.prefix:
                    for word in self._expand_prefix(unit.text, searcher):
                        terms.update(analyze(word))
                    continue
                for expression in (unit.text, *unit.alternatives):
                    terms.update(analyze(expression))
                    if mode == Mode.FUZZY:
                        corrected = self._suggest(searcher, expression)
                        if corrected:
                            terms.update(analyze(corrected))
        return frozenset(terms)

    # Vocabulary -----------------------------------------------------------------------------

    def unknown_words(self, words: Iterable[str]) -> list[str]:
        """The typed words that appear nowhere in the catalogue."""
        unknown = []
        with self._searching() as searcher:
            reader = searcher.reader()
            for word in words:
                folded = plain_words(word)
                if not folded or any(reader.frequency("words", f) for f in folded):
                    continue
                stems = analyze(word)
                if not any(reader.frequency(f, t) for f in CONTENT_FIELDS.values() for t in stems):
                    unknown.append(word)
        return unknown

    def suggest(self, word: str) -> str | None:
        with self._searching() as searcher:
            return self._suggest(searcher, word)

    def _suggest(self, searcher: Searcher, word: str) -> str | None:
        folded = plain_words(word)
        if len(folded) != 1 or len(folded[0]) < FUZZY_MIN_LENGTH:
            return None
        candidates = searcher.suggest(
            "words", folded[0], limit=1, maxdist=_max_edits(folded[0]), prefix=1
        )
        return candidates[0] if candidates and candidates[0] != folded[0] else None

    def entries_with_word(self, word: str, limit: int = 3) -> list[tuple[str, int]]:
        """A few entries whose text contains the folded ``word`` (to recover its accents)."""
        with self._searching() as searcher:
            results = searcher.search(wq.Term("words", word), limit=limit)
            return [_split_key(hit["key"]) for hit in results]

    def complete(self, entity_type: str, text: str, limit: int) -> list[int]:
        """Entries whose title contains every typed word, the last one as a prefix."""
        words = plain_words(text) or [fold(w) for w in text.split() if w.strip()]
        if not words:
            return []
        with self._searching() as searcher:
            parts: list[wq.Query] = [wq.Term("title_words", w) for w in words[:-1]]
            parts.append(wq.Prefix("title_words", words[-1]))
            built = wq.And([wq.Term("kind", entity_type), *parts])
            results = searcher.search(built, limit=limit, sortedby="title_sort")
            ids = searcher.reader().column_reader("entity_id")
            return [ids[hit.docnum] for hit in results]

    def digests(self) -> dict[tuple[str, int], str]:
        """Every indexed entry and the digest of its indexed text (for ``verify``)."""
        found: dict[tuple[str, int], str] = {}
        with self._searching() as searcher:
            for stored in searcher.reader().all_stored_fields():
                found[_split_key(stored["key"])] = stored.get("digest", "")
        return found

    def doc_count(self) -> int:
        with self._searching() as searcher:
            return searcher.doc_count()


def _split_key(key: str) -> tuple[str, int]:
    entity_type, _, raw_id = key.partition(":")
    return entity_type, int(raw_id)


def _expression_query(expression: str, field: str) -> wq.Query | None:
    """One word or phrase, searched in a weighted content field."""
    terms = analyze(expression)
    if not terms:
        return None
    if len(terms) == 1:
        return wq.Term(field, terms[0])
    return wq.Phrase(field, terms)


def _max_edits(word: str) -> int:
    return 1 if len(word) < 7 else 2
