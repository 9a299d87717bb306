"""Likely duplicates of an initiative or an organisation (issue #6, "Duplicates and merging").

``find_duplicates(kind, data)`` compares a new or edited entry (``data`` in the workflow's
snapshot format) with the entries already in the directory and returns the likely duplicates,
best first, each with the reasons in French. ``duplicate_pairs(kind)`` lists likely duplicate
pairs among published entries for the staff page.

Similarity of titles: both titles are folded (lower case, no accents), cut into words, stop
words dropped and plurals reduced; the score is the best of the Jaccard index of the two word
sets and difflib's ratio of the two word sequences.

Candidates come from an index kept in memory per application process (``_TitleIndex``): the
significant words of every title (and their first letters, so that « aidant » meets
« aidante »), the status and the website of every entry. It is built once (a few seconds for
100,000 entries) and then brought up to date by reading only the rows changed since, which a
cheap fingerprint of the table detects, so a look-up does not scan the directory: the entries
sharing the most title words are compared, those with the same website host and, in SQL, those
of the same lead organisation in the same commune. ``DuplicateFinder`` serves many look-ups
(an import) with one refresh and the communes and leads it read kept.
"""

from __future__ import annotations

import bisect
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationRole,
    Place,
    Status,
)
from ..text import fold
from .browse import Page

INITIATIVE = "initiative"
ORGANISATION = "organisation"
KINDS = (INITIATIVE, ORGANISATION)

REASON_TITLE_VERY_CLOSE = "titre très proche"
REASON_TITLE_CLOSE = "titre proche"
REASON_SAME_COMMUNE = "même commune"
REASON_SAME_LEAD = "même organisation porteuse"
REASON_SAME_WEBSITE = "même site web"

VERY_CLOSE = 0.85  # a title this close is a likely duplicate on its own
CLOSE = 0.6  # ... this close, with the same commune or lead organisation
TITLE_CANDIDATES = 150  # entries compared per title: those sharing the most title words
OTHER_CANDIDATES = 200
LARGE_BLOCK = 200  # pair listing: a word shared by more entries than this is not a clue
PREFIX = 5  # a longer word is also indexed by its first letters (« aidant », « aidante »)
# A transaction commits rows stamped when it flushed, possibly before rows already seen:
# each refresh re-reads the rows updated this long before the latest update it saw.
REFRESH_MARGIN = timedelta(minutes=10)
FULL_RELOAD_SECONDS = 3600  # and a full reload now and then bounds any staleness left
EXTENSION_KEY = "duplicates_index"
REBUILD_PAIRS_AFTER = 2000  # changed entries beyond which the pair listing is built again
BACKGROUND_PAIRS_FROM = 5000  # published entries from which the first build runs in a thread
YIELD_EVERY = 50  # pair comparisons between two pauses of the build (a few ms)
RESORT_FROM = 2000  # changed verdicts from which the listing is sorted again, not patched
WHOLE_TABLE_FACTS = 5000  # communes and leads of more entries are read table by table

_STOP_TEXT = """
a au aux avec ce ces d dans de des du elle en et l la le les leur leurs lui ma mais me
meme mes mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes
toi ton tu un une vos votre vous y c est sont ete etre plus tout tous toute toutes
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Candidate:
    """An existing entry that may be the same as the one being entered."""

    entry: Initiative | Organisation
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return INITIATIVE if isinstance(self.entry, Initiative) else ORGANISATION

    @property
    def title(self) -> str:
        return self.entry.title if isinstance(self.entry, Initiative) else self.entry.name


@dataclass
class Pair:
    """Two published entries that look like the same one (staff listing)."""

    first: Initiative | Organisation
    second: Initiative | Organisation
    score: float
    reasons: list[str]


# -- text helpers ---------------------------------------------------------------------------


def _fold_char(char: str) -> str:
    return fold(f"a{char}a")[1:-1]  # padded: fold() strips, and a space must stay one


# ``fold`` character by character, as one C-level ``str.translate`` (Latin letters, punctuation
# and symbols): building the index folds every title of the directory.
_FOLD_TABLE = {code: _fold_char(chr(code)) for code in range(0x80, 0x2500)}


def _fast_fold(text: str) -> str:
    folded = text.translate(_FOLD_TABLE)
    return folded.lower() if folded.isascii() else fold(text)


def words(title: str | None) -> list[str]:
    """Significant words of a title: folded, stop words dropped, plurals reduced."""
    result = []
    for word in _WORD.findall(_fast_fold(title or "")):
        if word in STOP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if len(word) > 3 and word[-1] in "sx":
            word = word[:-1]
        result.append(word)
    return result


def title_similarity(first: str | None, second: str | None) -> float:
    """0 (nothing in common) to 1 (the same significant words)."""
    a, b = words(first), words(second)
    return _similarity(a, b)


def _similarity(a: list[str], b: list[str], at_least: float = 0.0) -> float:
    """Best of Jaccard and difflib ratio (see ``_Scorer``)."""
    return _Scorer(b)(a, at_least)


class _Scorer:
    """Compares many titles with one: difflib analyses the fixed title once (its costly part),
    and its cheap upper bounds skip the full comparison of titles that cannot reach
    ``at_least`` (below it the answer may be an underestimate)."""

    def __init__(self, fixed: list[str]) -> None:
        self.key: int | None = None  # what ``fixed`` belongs to, for the caller
        self.words = set(fixed)
        self.matcher = SequenceMatcher(None, autojunk=False)
        self.matcher.set_seq2(" ".join(fixed))

    def __call__(self, other: list[str], at_least: float = 0.0) -> float:
        if not other or not self.words:
            return 0.0
        others = set(other)
        jaccard = len(self.words & others) / len(self.words | others)
        matcher = self.matcher
        matcher.set_seq1(" ".join(other))
        if jaccard < at_least and (
            matcher.real_quick_ratio() < at_least or matcher.quick_ratio() < at_least
        ):
            return jaccard
        return max(jaccard, matcher.ratio())


def website_key(url: str | None) -> str | None:
    """Host (without www.) and path (without trailing slash), lower case; None if unusable."""
    if not url or not isinstance(url, str):
        return None
    text = url.strip().lower()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        return None
    path = parts.path.rstrip("/")
    for index in ("/index.html", "/index.php", "/index.htm"):
        path = path.removesuffix(index)
    return host + path


# -- reading the data being entered -----------------------------------------------------------


@dataclass
class _Probe:
    title: str
    words: list[str]
    communes: set[str]
    leads: set[int]
    website: str | None


def _probe(
    kind: str, data: dict[str, Any], organisation_ids: Callable[[list[str]], set[int]]
) -> _Probe:
    title_key = "title" if kind == INITIATIVE else "name"
    title = data.get(title_key) if isinstance(data.get(title_key), str) else ""
    communes: set[str] = set()
    leads: set[int] = set()
    if kind == INITIATIVE:
        for place in data.get("places") or []:
            code = place.get("commune_code") if isinstance(place, dict) else None
            if isinstance(code, str) and code.strip():
                communes.add(code.strip())
        slugs = [
            link["slug"]
            for link in data.get("organisations") or []
            if isinstance(link, dict)
            and isinstance(link.get("slug"), str)
            and (link.get("role") or OrganisationRole.PORTEUR.value) == OrganisationRole.PORTEUR
        ]
        if slugs:
            leads = organisation_ids(slugs)
    else:
        code = data.get("commune_code")
        if isinstance(code, str) and code.strip():
            communes.add(code.strip())
    website = data.get("website") if isinstance(data.get("website"), str) else None
    return _Probe(title or "", words(title), communes, leads, website_key(website))


# -- the in-memory index ------------------------------------------------------------------------


def _model(kind: str) -> type:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return Initiative if kind == INITIATIVE else Organisation


def _title_column(model: type):
    return model.title if model is Initiative else model.name


def _keys(entry_words: Iterable[str]) -> set[str]:
    """Index keys of a title: its words, and the first letters of its longer words."""
    keys = set(entry_words)
    keys.update(word[:PREFIX] + "*" for word in list(keys) if len(word) > PREFIX)
    return keys


class _Row:
    __slots__ = ("site", "status", "title", "website", "words")

    def __init__(
        self, title: str, entry_words: tuple[str, ...], status: Status, website: str | None
    ) -> None:
        self.title = title
        self.words = entry_words
        self.status = status
        self.website = website
        self.site = website_key(website)


def _block_words(row: _Row | None) -> set[str]:
    """What puts a published entry in a block of the pair listing: its title words, and its
    website written ``//site`` (no title word holds a slash)."""
    if row is None or row.status != Status.PUBLISHED:
        return set()
    found = {word for word in row.words if len(word) >= 3 or word.isdigit()}
    if row.site:
        found.add("//" + row.site)
    return found


class _TitleIndex:
    """Title words, status and website key of every entry of one kind (see the module doc)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lock = threading.RLock()
        self.rows: dict[int, _Row] = {}
        self.by_key: dict[str, set[int]] = defaultdict(set)
        self.by_host: dict[str, set[int]] = defaultdict(set)
        self.block_size: dict[str, int] = defaultdict(int)  # published entries per block word
        self.fingerprint: tuple | None = None
        self.loaded_at = 0.0
        # The pair listing, once asked for, is kept up to date from the entries changed since
        # (``changes``: their rows as the listing last saw them, None if they were not there).
        self.pairs: _PairGraph | None = None
        self.changes: dict[int, _Row | None] = {}
        self.tracking = False  # whether changes are recorded (from the listing's first build)
        self.builder: threading.Thread | None = None  # the first build, when in the background

    def _columns(self) -> tuple:
        model = _model(self.kind)
        return (model.id, _title_column(model), model.status, model.website)

    def refresh(self) -> None:
        """Bring the index up to date with what the session sees (call with ``lock`` held)."""
        model = _model(self.kind)
        # The latest update per status reads the (status, updated_at) index, not the table.
        latest = [
            sa.select(sa.func.max(model.updated_at)).where(model.status == status).scalar_subquery()
            for status in Status
        ]
        row = db.session.execute(
            sa.select(sa.func.count(model.id), sa.func.max(model.id), *latest)
        ).one()
        stamps = [stamp for stamp in row[2:] if stamp is not None]
        fingerprint = (row[0], row[1], max(stamps) if stamps else None)
        expired = time.monotonic() - self.loaded_at > FULL_RELOAD_SECONDS
        if fingerprint == self.fingerprint and not expired:
            return
        previous = self.fingerprint
        if previous is None or expired or fingerprint[0] < len(self.rows):
            self._reload(fingerprint)
            return
        _, seen_top, seen_last = previous
        changed = []
        if seen_last is not None:
            # Every status is named so that SQLite reads the (status, updated_at) index.
            changed += db.session.execute(
                sa.select(*self._columns()).where(
                    model.status.in_(list(Status)), model.updated_at >= seen_last - REFRESH_MARGIN
                )
            ).all()
        # Rows may be inserted with an old update time (demo data, restored backups).
        changed += db.session.execute(
            sa.select(*self._columns()).where(model.id > (seen_top or 0))
        ).all()
        for row in changed:
            self._put(*row)
        if len(self.rows) != fingerprint[0]:  # rows were deleted
            self._reload(fingerprint)
            return
        self.fingerprint = fingerprint

    def _reload(self, fingerprint: tuple) -> None:
        seen = set()
        for entry_id, title, status, website in db.session.execute(sa.select(*self._columns())):
            self._put(entry_id, title, status, website)
            seen.add(entry_id)
        for entry_id in set(self.rows) - seen:
            self._note(entry_id)
            self._drop(entry_id, self.rows.pop(entry_id))
        self.fingerprint = fingerprint
        self.loaded_at = time.monotonic()

    def _note(self, entry_id: int) -> None:
        if self.tracking and entry_id not in self.changes:
            self.changes[entry_id] = self.rows.get(entry_id)

    def _put(self, entry_id: int, title: str, status: Status, website: str | None) -> None:
        title = title or ""
        old = self.rows.get(entry_id)
        if old is not None:
            if old.title == title and old.status == status and old.website == website:
                return
            self._drop(entry_id, old)
        self._note(entry_id)
        if old is not None and old.title == title:
            entry_words = old.words  # folding is the costly part of a reload
        else:
            entry_words = tuple(sys.intern(word) for word in words(title))
        row = _Row(title, entry_words, status, website)
        self.rows[entry_id] = row
        for key in _keys(row.words):
            self.by_key[key].add(entry_id)
        if row.site:
            self.by_host[row.site.split("/", 1)[0]].add(entry_id)
        for word in _block_words(row):
            self.block_size[word] += 1

    def _drop(self, entry_id: int, row: _Row) -> None:
        for key in _keys(row.words):
            self.by_key[key].discard(entry_id)
        if row.site:
            self.by_host[row.site.split("/", 1)[0]].discard(entry_id)
        for word in _block_words(row):
            self.block_size[word] -= 1

    def title_candidates(
        self, probe_words: list[str], statuses: frozenset, exclude_id: int | None
    ) -> list[int]:
        """The entries sharing the most title keys with the probe, the rarest keys counting
        double (a commune's name says more than « atelier »), at most ``TITLE_CANDIDATES``."""
        postings = sorted(
            (ids for key in _keys(probe_words) if (ids := self.by_key.get(key))), key=len
        )
        shared: Counter[int] = Counter()
        for ids in postings:
            shared.update(ids)  # counted in C: common words have thousands of entries
        for ids in postings[: (len(postings) + 2) // 3]:
            shared.update(ids)  # the rarest third of the keys counts double
        rows = self.rows
        found: list[int] = []
        boundary: int | None = None
        for entry_id, weight in shared.most_common():
            if boundary is not None and weight < boundary:
                break
            if entry_id == exclude_id or rows[entry_id].status not in statuses:
                continue
            found.append(entry_id)
            if len(found) == TITLE_CANDIDATES:
                boundary = weight  # ties with the last one are kept, the lowest ids chosen
        if len(found) > TITLE_CANDIDATES:
            last = shared[found[TITLE_CANDIDATES - 1]]
            kept = [i for i in found if shared[i] > last]
            ties = sorted(i for i in found if shared[i] == last)
            found = kept + ties[: TITLE_CANDIDATES - len(kept)]
        return found

    # pair listing

    def snapshot_for_pairs(self) -> tuple[dict[int, _Row], list[list[int]]]:
        """What the first build of the listing compares: the rows and the blocks as they are
        now (``lock`` held); the changes made while it runs are recorded, then applied."""
        self.tracking = True
        self.changes = {}
        blocks = [
            self.block(word) for word, size in self.block_size.items() if self.eligible(word, size)
        ]
        return dict(self.rows), blocks

    def eligible(self, word: str, size: int | None = None) -> bool:
        size = self.block_size.get(word, 0) if size is None else size
        return 2 <= size <= LARGE_BLOCK

    def block(self, word: str) -> list[int]:
        """Published entries having ``word`` (a block of the pair listing)."""
        rows = self.rows
        if word.startswith("//"):
            site = word[2:]
            return [
                i
                for i in self.by_host.get(site.split("/", 1)[0], ())
                if rows[i].site == site and rows[i].status == Status.PUBLISHED
            ]
        return [i for i in self.by_key.get(word, ()) if rows[i].status == Status.PUBLISHED]

    def compared(self, first: int, second: int) -> bool:
        """Whether the listing compares the two entries (a shared block or website)."""
        a, b = self.rows.get(first), self.rows.get(second)
        if a is None or b is None:
            return False
        return any(self.eligible(word) for word in _block_words(a) & _block_words(b))


class _PairGraph:
    """Title similarity of every compared pair of published entries that is close enough
    (or shares the website), kept up to date entry by entry: an edit costs the comparisons
    of one entry with its blocks, not the whole listing again."""

    def __init__(self, rows: dict[int, _Row], blocks: list[list[int]]) -> None:
        """The build from scratch: no lock and no database needed (see ``snapshot_for_pairs``);
        about a minute of CPU for 100,000 look-alike demo entries."""
        self.similar: dict[tuple[int, int], float] = {}
        self.partners: dict[int, set[int]] = defaultdict(set)
        # Verdicts of the similar pairs, judged again when a pair or its entries' communes or
        # leads change (``dirty``), and the listing sorted from them.
        self.verdicts: dict[tuple[int, int], tuple[float, list[str]]] = {}
        self.dirty: set[tuple[int, int]] = set()
        self.communes: dict[int, frozenset] = {}
        self.leads: dict[int, frozenset] = {}
        self.facts_state: tuple | None = None
        self.sorted: list[tuple[float, int, int, list[str]]] | None = None
        compared: set[tuple[int, int]] = set()
        for block in blocks:
            ordered = sorted(block)
            for position, first in enumerate(ordered):
                for second in ordered[position + 1 :]:
                    compared.add((first, second))
        scorer: _Scorer | None = None
        pause = _pause_for_requests()
        for count, (first, second) in enumerate(sorted(compared)):
            if count % YIELD_EVERY == 0:
                pause()
            if scorer is None or scorer.key != first:
                scorer = _Scorer(rows[first].words)
                scorer.key = first
            self._judge(rows, scorer, first, second)

    def _judge(self, rows: dict[int, _Row], scorer: _Scorer, first: int, second: int) -> None:
        a, b = (first, second) if first < second else (second, first)
        value = scorer(rows[second if scorer.key == first else first].words, CLOSE)
        site = rows[a].site
        if value >= CLOSE or (site and site == rows[b].site):
            self.similar[(a, b)] = value
            self.partners[a].add(b)
            self.partners[b].add(a)
            self.dirty.add((a, b))

    def _forget(self, first: int, second: int) -> None:
        a, b = (first, second) if first < second else (second, first)
        self.similar.pop((a, b), None)
        self.partners[a].discard(b)
        self.partners[b].discard(a)
        self.dirty.add((a, b))

    def update(self, index: _TitleIndex, changes: dict[int, _Row | None]) -> None:
        """Account for the entries changed since (``changes``: their rows as last seen)."""
        rows = index.rows
        # Blocks that crossed the size limit gain or lose the pairs of their other members.
        touched: set[str] = set()
        for entry_id, old in changes.items():
            touched |= _block_words(old) | _block_words(rows.get(entry_id))
        for word in touched:
            now = index.block_size.get(word, 0)
            before = now
            for entry_id, old in changes.items():
                before += (word in _block_words(old)) - (word in _block_words(rows.get(entry_id)))
            if index.eligible(word, before) == index.eligible(word, now):
                continue
            members = sorted(index.block(word))
            if index.eligible(word, now):
                for position, first in enumerate(members):
                    scorer = _Scorer(rows[first].words)
                    scorer.key = first
                    for second in members[position + 1 :]:
                        self._judge(rows, scorer, first, second)
            else:
                for first in members:
                    for second in list(self.partners.get(first, ())):
                        if not index.compared(first, second):
                            self._forget(first, second)
        # The changed entries themselves are compared again with their blocks.
        for entry_id in changes:
            for partner in list(self.partners.pop(entry_id, ())):
                self._forget(entry_id, partner)
            self.communes.pop(entry_id, None)  # an organisation's commune is on its row
            self.leads.pop(entry_id, None)
            row = rows.get(entry_id)
            if row is None or row.status != Status.PUBLISHED:
                continue
            others: set[int] = set()
            for word in _block_words(row):
                if index.eligible(word):
                    others.update(index.block(word))
            others.discard(entry_id)
            scorer = _Scorer(row.words)
            scorer.key = entry_id
            for other in others:
                self._judge(rows, scorer, entry_id, other)

    def listing(self, kind: str, index: _TitleIndex) -> list[tuple[float, int, int, list[str]]]:
        """Likely pairs as ``(-score, first, second, reasons)``, most likely first."""
        if kind == INITIATIVE:
            # Places and links may change without their initiative's row: when they did, the
            # communes and leads of the listed entries are read again and compared.
            state = _links_fingerprint(kind)
            if state != self.facts_state:
                involved = [entry_id for entry_id, partners in self.partners.items() if partners]
                communes, leads = _facts(kind, involved)
                for entry_id in involved:
                    here = frozenset(communes.get(entry_id, ()))
                    lead = frozenset(leads.get(entry_id, ()))
                    if self.communes.get(entry_id) != here or self.leads.get(entry_id) != lead:
                        self.communes[entry_id], self.leads[entry_id] = here, lead
                        for partner in self.partners[entry_id]:
                            self.dirty.add((min(entry_id, partner), max(entry_id, partner)))
                self.facts_state = state
        missing = {entry_id for pair in self.dirty for entry_id in pair} - set(self.communes)
        if missing:
            communes, leads = _facts(kind, missing)
            for entry_id in missing:
                self.communes[entry_id] = frozenset(communes.get(entry_id, ()))
                self.leads[entry_id] = frozenset(leads.get(entry_id, ()))
        rows = index.rows
        # A few changed pairs move in the sorted listing; many sort it again.
        ordered = self.sorted if len(self.dirty) <= RESORT_FROM else None
        for first, second in self.dirty:
            value = self.similar.get((first, second))
            verdict = None
            if value is not None:
                site = rows[first].site
                verdict = _judge(
                    value,
                    bool(self.communes[first] & self.communes[second]),
                    bool(self.leads[first] & self.leads[second]),
                    bool(site) and site == rows[second].site,
                )
            old = self.verdicts.pop((first, second), None)
            if verdict:
                self.verdicts[(first, second)] = verdict
            if ordered is not None and old != verdict:
                at = bisect.bisect_left(ordered, (-old[0], first, second)) if old else None
                if at is not None and ordered[at : at + 1] and ordered[at][1:3] == (first, second):
                    del ordered[at]
                elif at is not None:  # not where it should be: sort everything again
                    ordered = None
                    continue
                if verdict:
                    bisect.insort(ordered, (-verdict[0], first, second, verdict[1]))
        self.dirty = set()
        if ordered is None:
            ordered = sorted(
                (-score, first, second, reasons)
                for (first, second), (score, reasons) in self.verdicts.items()
            )
        self.sorted = ordered
        return ordered


def _pause_for_requests() -> Callable[[], None]:
    """What the background build calls between two chunks of comparisons.

    Under gevent (deploy/gunicorn.conf.py) the build's "thread" is a greenlet of a worker: it
    waits until the worker has nothing else to do, so that requests go first; without a pause
    it would hold every request of its worker for the whole build. A real thread only gives
    up the GIL for a moment.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        return gevent.idle
    return lambda: time.sleep(0)


def _index(kind: str) -> _TitleIndex:
    """The application's index of ``kind`` (one per process, shared by its threads)."""
    _model(kind)
    indexes = current_app.extensions.setdefault(EXTENSION_KEY, {})
    index = indexes.get(kind)
    if index is None:
        index = indexes.setdefault(kind, _TitleIndex(kind))
    return index


def _facts(kind: str, ids: Iterable[int]) -> tuple[dict[int, set[str]], dict[int, set[int]]]:
    """Communes and lead organisations of the given entries."""
    ids = list(ids)
    communes: dict[int, set[str]] = defaultdict(set)
    leads: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return communes, leads
    # Many ids (the pair listing): reading the whole tables once beats hundreds of IN lists.
    whole = len(ids) > WHOLE_TABLE_FACTS
    wanted = set(ids)

    def collect(query: sa.Select, id_column, found: dict[int, set], chunk: list[int] | None):
        if chunk is not None:
            query = query.where(id_column.in_(chunk))
        for entry_id, value in db.session.execute(query):
            if entry_id in wanted:
                found[entry_id].add(value)

    for chunk in [None] if whole else _chunks(ids):
        if kind == INITIATIVE:
            collect(
                sa.select(Place.initiative_id, Place.commune_code).where(
                    Place.commune_code.is_not(None)
                ),
                Place.initiative_id,
                communes,
                chunk,
            )
            collect(
                sa.select(
                    InitiativeOrganisation.initiative_id, InitiativeOrganisation.organisation_id
                ).where(InitiativeOrganisation.role == OrganisationRole.PORTEUR),
                InitiativeOrganisation.initiative_id,
                leads,
                chunk,
            )
        else:
            collect(
                sa.select(Organisation.id, Organisation.commune_code).where(
                    Organisation.commune_code.is_not(None)
                ),
                Organisation.id,
                communes,
                chunk,
            )
    return communes, leads


def _chunks(ids: list[int], size: int = 900) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _judge(
    similarity: float, same_commune: bool, same_lead: bool, same_website: bool
) -> tuple[float, list[str]] | None:
    """Score and reasons of a comparison, or None when it is not a likely duplicate."""
    reasons: list[str] = []
    if similarity >= VERY_CLOSE:
        reasons.append(REASON_TITLE_VERY_CLOSE)
    elif similarity >= CLOSE:
        reasons.append(REASON_TITLE_CLOSE)
    if same_commune:
        reasons.append(REASON_SAME_COMMUNE)
    if same_lead:
        reasons.append(REASON_SAME_LEAD)
    if same_website:
        reasons.append(REASON_SAME_WEBSITE)
    likely = (
        same_website
        or similarity >= VERY_CLOSE
        or (similarity >= CLOSE and (same_commune or same_lead))
    )
    if not likely:
        return None
    score = similarity + 0.1 * same_commune + 0.1 * same_lead
    if same_website:
        score = max(score, 0.9)
    return round(min(score, 1.0), 3), reasons


def find_duplicates(
    kind: str,
    data: dict[str, Any],
    exclude_id: int | None = None,
    limit: int = 5,
    *,
    statuses: tuple[Status, ...] = (Status.PUBLISHED, Status.PROPOSED),
) -> list[Candidate]:
    """Likely duplicates of ``data`` (snapshot format) among existing entries, best first.

    ``kind`` is "initiative" or "organisation"; ``exclude_id`` leaves out the entry being
    edited. Archived and draft entries are left out unless ``statuses`` says otherwise.
    """
    return DuplicateFinder(kind).find(data, exclude_id, limit, statuses=statuses)


class DuplicateFinder:
    """``find_duplicates`` for many entries of one kind (an import checks thousands of rows):
    the index is brought up to date once, and the communes, lead organisations and
    organisation slugs read along the way are kept. Use it within one transaction."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.model = _model(kind)
        self.index = _index(kind)
        with self.index.lock:
            self.index.refresh()
        self.communes: dict[int, set[str]] = {}
        self.leads: dict[int, set[int]] = {}
        self.organisation_ids: dict[str, int | None] = {}

    def find(
        self,
        data: dict[str, Any],
        exclude_id: int | None = None,
        limit: int = 5,
        *,
        statuses: tuple[Status, ...] = (Status.PUBLISHED, Status.PROPOSED),
    ) -> list[Candidate]:
        if not isinstance(data, dict):
            return []
        probe = _probe(self.kind, data, self._organisation_ids)
        if not probe.words and not probe.website:
            return []
        wanted = frozenset(statuses)
        index = self.index
        scorer = _Scorer(probe.words)
        similar: dict[int, float] = {}
        with index.lock:
            rows = index.rows
            for entry_id in index.title_candidates(probe.words, wanted, exclude_id):
                similar[entry_id] = scorer(rows[entry_id].words, CLOSE)
            same_site: set[int] = set()
            if probe.website:
                host = probe.website.split("/", 1)[0]
                for entry_id in index.by_host.get(host, ()):
                    row = rows[entry_id]
                    if entry_id == exclude_id or row.status not in wanted:
                        continue
                    if row.site == probe.website:
                        same_site.add(entry_id)
                    if entry_id not in similar:
                        similar[entry_id] = scorer(row.words, CLOSE)
            sites = {entry_id: rows[entry_id].site for entry_id in similar}
        # Below CLOSE only the same website makes a likely duplicate: the communes and leads of
        # the others are not needed.
        hopeful = sorted(i for i, value in similar.items() if value >= CLOSE or i in same_site)
        if self.kind == INITIATIVE and probe.leads and probe.communes:
            for entry_id in self._same_lead_and_commune(probe, statuses, exclude_id):
                if entry_id not in similar:
                    with index.lock:
                        row = index.rows.get(entry_id)
                        similar[entry_id] = scorer(row.words, CLOSE) if row else 0.0
                        sites[entry_id] = row.site if row else None
                    if similar[entry_id] >= CLOSE:
                        hopeful.append(entry_id)
        self._read_facts(hopeful)
        scored: list[tuple[float, list[str], int]] = []
        for entry_id in hopeful:
            verdict = _judge(
                similar[entry_id],
                bool(probe.communes & self.communes.get(entry_id, set())),
                bool(probe.leads & self.leads.get(entry_id, set())),
                probe.website is not None and sites.get(entry_id) == probe.website,
            )
            if verdict:
                scored.append((verdict[0], verdict[1], entry_id))
        scored.sort(key=lambda item: (-item[0], item[2]))
        scored = scored[: max(0, limit)]
        if not scored:
            return []
        model = self.model
        entries = {
            row.id: row
            for row in db.session.scalars(
                sa.select(model).where(model.id.in_([entry_id for _, _, entry_id in scored]))
            )
        }
        return [
            Candidate(entries[i], score, reasons) for score, reasons, i in scored if i in entries
        ]

    def _organisation_ids(self, slugs: list[str]) -> set[int]:
        missing = [slug for slug in slugs if slug not in self.organisation_ids]
        if missing:
            found = dict(
                db.session.execute(
                    sa.select(Organisation.slug, Organisation.id).where(
                        Organisation.slug.in_(missing)
                    )
                ).all()
            )
            for slug in missing:
                self.organisation_ids[slug] = found.get(slug)
        return {self.organisation_ids[slug] for slug in slugs} - {None}

    def _same_lead_and_commune(
        self, probe: _Probe, statuses: tuple[Status, ...], exclude_id: int | None
    ) -> list[int]:
        model = self.model
        query = (
            sa.select(model.id)
            .join(InitiativeOrganisation, InitiativeOrganisation.initiative_id == model.id)
            .join(Place, Place.initiative_id == model.id)
            .where(
                model.status.in_(statuses),
                InitiativeOrganisation.organisation_id.in_(probe.leads),
                InitiativeOrganisation.role == OrganisationRole.PORTEUR,
                Place.commune_code.in_(probe.communes),
            )
            .distinct()
            .limit(OTHER_CANDIDATES)
        )
        if exclude_id is not None:
            query = query.where(model.id != exclude_id)
        return list(db.session.scalars(query))

    def _read_facts(self, ids: list[int]) -> None:
        missing = [entry_id for entry_id in ids if entry_id not in self.communes]
        if not missing:
            return
        communes, leads = _facts(self.kind, missing)
        for entry_id in missing:
            self.communes[entry_id] = communes.get(entry_id, set())
            self.leads[entry_id] = leads.get(entry_id, set())


# -- pairs among published entries (staff page) ----------------------------------------------


@dataclass(frozen=True)
class PairPage(Page):
    """A page of the listing; ``computing`` while its first build runs in the background."""

    computing: bool = False


def duplicate_pairs(kind: str, page: int = 1, per_page: int = 20) -> PairPage:
    """Likely duplicate pairs among published entries, most likely first, paginated.

    Entries are compared within blocks: those sharing a significant title word and those
    sharing a website (a word or website shared by more than ``LARGE_BLOCK`` entries is not a
    clue). The similar pairs are kept in memory and brought up to date from the entries changed
    since (``_PairGraph``); the listing itself is kept until entries, places or lead
    organisations change, so that the next pages cost a query or two. The first build takes a
    minute for 100,000 look-alike entries: from ``BACKGROUND_PAIRS_FROM`` published entries it
    runs in a thread of its own and the page says so (``computing``) meanwhile.
    """
    model = _model(kind)
    index = _index(kind)
    page = max(1, page)
    with index.lock:
        index.refresh()
        changes, index.changes = index.changes, {}
        if index.pairs is not None and len(changes) > REBUILD_PAIRS_AFTER:
            index.pairs = None
        if index.pairs is not None and changes:
            index.pairs.update(index, changes)
        if index.pairs is None:
            if index.builder is not None and index.builder.is_alive():
                return PairPage(items=[], total=0, page=page, per_page=per_page, computing=True)
            rows, blocks = index.snapshot_for_pairs()
            published = sum(1 for row in rows.values() if row.status == Status.PUBLISHED)
            if published >= BACKGROUND_PAIRS_FROM:
                index.builder = threading.Thread(
                    target=_build_pairs,
                    args=(current_app._get_current_object(), index, rows, blocks),
                    name=f"duplicate-pairs-{kind}",
                    daemon=True,
                )
                index.builder.start()
                return PairPage(items=[], total=0, page=page, per_page=per_page, computing=True)
            _build_pairs(None, index, rows, blocks)
        found = index.pairs.listing(kind, index)
        total = len(found)
        shown = found[(page - 1) * per_page : page * per_page]  # the list changes in place

    ids = {entry_id for _, a, b, _ in shown for entry_id in (a, b)}
    entries = {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}
    items = [
        Pair(entries[a], entries[b], -score, reasons)
        for score, a, b, reasons in shown
        if a in entries and b in entries
    ]
    return PairPage(items=items, total=total, page=page, per_page=per_page)


def _build_pairs(
    app: Any, index: _TitleIndex, rows: dict[int, _Row], blocks: list[list[int]]
) -> None:
    """Build the listing from a snapshot, then apply the changes recorded meanwhile."""
    try:
        graph = _PairGraph(rows, blocks)
        with index.lock:
            changes, index.changes = index.changes, {}
            graph.update(index, changes)
            if app is not None:  # in the background: the verdicts too, while nobody waits
                with app.app_context():
                    graph.listing(index.kind, index)
            index.pairs = graph
    except Exception:
        if app is None:
            raise
        app.logger.exception("Building the duplicate pair listing failed.")


def _links_fingerprint(kind: str) -> tuple:
    """What changes when places or lead organisations change (new rows replace old ones)."""
    if kind != INITIATIVE:
        return ()
    places = db.session.execute(
        sa.select(sa.func.count(Place.id), sa.func.max(Place.id), sa.func.max(Place.updated_at))
    ).one()
    links = db.session.execute(
        sa.select(
            sa.func.count(InitiativeOrganisation.organisation_id),
            sa.func.sum(InitiativeOrganisation.organisation_id),
        ).where(InitiativeOrganisation.role == OrganisationRole.PORTEUR)
    ).one()
    return (*places, *links)
