"""Likely duplicates of an initiative or an organisation (issue #6, "Duplicates and merging").

``find_duplicates(kind, data)`` compares a new or edited entry (``data`` in the workflow's
snapshot format) with the entries already in the directory and returns the likely duplicates,
best first, each with the reasons in French. ``duplicate_pairs(kind)`` lists likely duplicate
pairs among published entries for the staff page.

Similarity of titles: both titles are folded (lower case, no accents), cut into words, stop
words dropped and plurals reduced; the score is the best of the Jaccard index of the two word
sets and difflib's ratio of the two word sequences. Candidates are first narrowed in SQL
(shared significant title word, written with a one-character wildcard on every letter that
may carry an accent so that ``Épicerie`` and ``epicerie`` meet; same website host; same lead
organisation in the same commune), so the cost grows with the candidates, not the directory.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

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
TITLE_CANDIDATES = 2000  # rows read per title prefilter (id and title only)
OTHER_CANDIDATES = 200
LARGE_BLOCK = 200  # pair listing: a word shared by more entries than this is not a clue

_STOP_TEXT = """
a au aux avec ce ces d dans de des du elle en et l la le les leur leurs lui ma mais me
meme mes mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes
toi ton tu un une vos votre vous y c est sont ete etre plus tout tous toute toutes
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")
# Letters that French writes with or without an accent (é, è, ê, à, ç, ï, ô, ù, ÿ...).
_ACCENTABLE = frozenset("aeiouyc")


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


def words(title: str | None) -> list[str]:
    """Significant words of a title: folded, stop words dropped, plurals reduced."""
    result = []
    for word in _WORD.findall(fold(title or "")):
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


def _like_pattern(word: str) -> str:
    """``solidarite`` -> ``%s_l_d_r_t_%``: matches the word with or without accents."""
    return "%" + "".join("_" if char in _ACCENTABLE else char for char in word) + "%"


def _selective(word: str) -> int:
    """How much a word narrows a LIKE search: its letters that are written one way only."""
    return sum(1 for char in word if char not in _ACCENTABLE) + (len(word) > 6)


# -- reading the data being entered -----------------------------------------------------------


@dataclass
class _Probe:
    title: str
    words: list[str]
    communes: set[str]
    leads: set[int]
    website: str | None


def _probe(kind: str, data: dict[str, Any]) -> _Probe:
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
            leads = set(
                db.session.scalars(sa.select(Organisation.id).where(Organisation.slug.in_(slugs)))
            )
    else:
        code = data.get("commune_code")
        if isinstance(code, str) and code.strip():
            communes.add(code.strip())
    website = data.get("website") if isinstance(data.get("website"), str) else None
    return _Probe(title or "", words(title), communes, leads, website_key(website))


# -- candidates ---------------------------------------------------------------------------------


def _model(kind: str) -> type:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return Initiative if kind == INITIATIVE else Organisation


def _title_column(model: type):
    return model.title if model is Initiative else model.name


def _candidate_ids(
    kind: str, probe: _Probe, statuses: tuple[Status, ...], exclude_id: int | None
) -> dict[int, str]:
    """Ids (with their titles) of entries worth comparing, narrowed in SQL."""
    model = _model(kind)
    title = _title_column(model)
    base = sa.select(model.id, title).where(model.status.in_(statuses))
    if exclude_id is not None:
        base = base.where(model.id != exclude_id)
    found: dict[int, str] = {}

    # The two most selective significant words of the title. No other condition here, so that
    # SQLite reads the small title index rather than the table; statuses are checked after.
    chosen = sorted(set(probe.words), key=_selective, reverse=True)[:2]
    by_title: dict[int, str] = {}
    for word in chosen:
        if _selective(word) < 2:
            continue
        query = sa.select(model.id, title).where(title.ilike(_like_pattern(word)))
        by_title.update(db.session.execute(query.limit(TITLE_CANDIDATES)).all())
    for chunk in _chunks(sorted(set(by_title) - {exclude_id})):
        kept = db.session.scalars(
            sa.select(model.id).where(model.id.in_(chunk), model.status.in_(statuses))
        )
        found.update((entry_id, by_title[entry_id]) for entry_id in kept)

    if probe.website:
        host = probe.website.split("/", 1)[0]
        query = base.where(model.website.ilike(f"%{_escape_like(host)}%", escape="\\")).limit(
            OTHER_CANDIDATES
        )
        found.update(db.session.execute(query).all())

    if kind == INITIATIVE and probe.leads and probe.communes:
        query = (
            base.join(InitiativeOrganisation, InitiativeOrganisation.initiative_id == model.id)
            .join(Place, Place.initiative_id == model.id)
            .where(
                InitiativeOrganisation.organisation_id.in_(probe.leads),
                InitiativeOrganisation.role == OrganisationRole.PORTEUR,
                Place.commune_code.in_(probe.communes),
            )
            .distinct()
            .limit(OTHER_CANDIDATES)
        )
        found.update(db.session.execute(query).all())
    return found


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _facts(kind: str, ids: Iterable[int]) -> tuple[dict[int, set[str]], dict[int, set[int]]]:
    """Communes and lead organisations of the given entries."""
    ids = list(ids)
    communes: dict[int, set[str]] = defaultdict(set)
    leads: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return communes, leads
    for chunk in _chunks(ids):
        if kind == INITIATIVE:
            rows = db.session.execute(
                sa.select(Place.initiative_id, Place.commune_code).where(
                    Place.initiative_id.in_(chunk), Place.commune_code.is_not(None)
                )
            )
            for entry_id, code in rows:
                communes[entry_id].add(code)
            rows = db.session.execute(
                sa.select(
                    InitiativeOrganisation.initiative_id, InitiativeOrganisation.organisation_id
                ).where(
                    InitiativeOrganisation.initiative_id.in_(chunk),
                    InitiativeOrganisation.role == OrganisationRole.PORTEUR,
                )
            )
            for entry_id, organisation_id in rows:
                leads[entry_id].add(organisation_id)
        else:
            rows = db.session.execute(
                sa.select(Organisation.id, Organisation.commune_code).where(
                    Organisation.id.in_(chunk), Organisation.commune_code.is_not(None)
                )
            )
            for entry_id, code in rows:
                communes[entry_id].add(code)
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
    model = _model(kind)
    if not isinstance(data, dict):
        return []
    probe = _probe(kind, data)
    if not probe.words and not probe.website:
        return []
    candidates = _candidate_ids(kind, probe, statuses, exclude_id)
    if not candidates:
        return []
    scorer = _Scorer(probe.words)
    similar = {entry_id: scorer(words(text), CLOSE) for entry_id, text in candidates.items()}
    # Only the entries that could pass are read in full.
    hopeful = [i for i, s in similar.items() if s >= CLOSE] + [
        i for i, s in similar.items() if s < CLOSE
    ][: OTHER_CANDIDATES * 2]
    communes, leads = _facts(kind, hopeful)
    websites = dict(
        db.session.execute(sa.select(model.id, model.website).where(model.id.in_(hopeful))).all()
    )
    scored: list[tuple[float, list[str], int]] = []
    for entry_id in hopeful:
        verdict = _judge(
            similar[entry_id],
            bool(probe.communes & communes.get(entry_id, set())),
            bool(probe.leads & leads.get(entry_id, set())),
            probe.website is not None and website_key(websites.get(entry_id)) == probe.website,
        )
        if verdict:
            scored.append((verdict[0], verdict[1], entry_id))
    scored.sort(key=lambda item: (-item[0], item[2]))
    scored = scored[: max(0, limit)]
    rows = {
        row.id: row
        for row in db.session.scalars(
            sa.select(model).where(model.id.in_([entry_id for _, _, entry_id in scored]))
        )
    }
    return [Candidate(rows[i], score, reasons) for score, reasons, i in scored if i in rows]


# -- pairs among published entries (staff page) ----------------------------------------------


def duplicate_pairs(kind: str, page: int = 1, per_page: int = 20) -> Page:
    """Likely duplicate pairs among published entries, most likely first, paginated.

    Entries are compared within blocks: those sharing a significant title word (words shared
    by more than ``LARGE_BLOCK`` entries are ignored as clues) and those sharing a website.
    """
    model = _model(kind)
    title = _title_column(model)
    rows = db.session.execute(
        sa.select(model.id, title, model.website).where(model.status == Status.PUBLISHED)
    ).all()
    tokens = {entry_id: words(text) for entry_id, text, _ in rows}
    blocks: dict[str, list[int]] = defaultdict(list)
    for entry_id, entry_words in tokens.items():
        for word in set(entry_words):
            if len(word) >= 3 or word.isdigit():
                blocks[word].append(entry_id)
    sites: dict[str, list[int]] = defaultdict(list)
    site_of: dict[int, str] = {}
    for entry_id, _, website in rows:
        key = website_key(website)
        if key:
            sites[key].append(entry_id)
            site_of[entry_id] = key

    compared: set[tuple[int, int]] = set()
    for members in list(blocks.values()) + list(sites.values()):
        if len(members) < 2 or len(members) > LARGE_BLOCK:
            continue
        ordered = sorted(members)
        for index, first in enumerate(ordered):
            for second in ordered[index + 1 :]:
                compared.add((first, second))

    similar: dict[tuple[int, int], float] = {}
    involved: set[int] = set()
    scorer: _Scorer | None = None
    for first, second in sorted(compared):
        if scorer is None or scorer.key != first:
            scorer = _Scorer(tokens[first])
            scorer.key = first
        value = scorer(tokens[second], CLOSE)
        same_site = first in site_of and site_of[first] == site_of.get(second)
        if value >= CLOSE or same_site:
            similar[(first, second)] = value
            involved.update((first, second))

    communes, leads = _facts(kind, involved)
    found: list[tuple[float, list[str], int, int]] = []
    for (first, second), value in similar.items():
        verdict = _judge(
            value,
            bool(communes.get(first, set()) & communes.get(second, set())),
            bool(leads.get(first, set()) & leads.get(second, set())),
            first in site_of and site_of[first] == site_of.get(second),
        )
        if verdict:
            found.append((verdict[0], verdict[1], first, second))
    found.sort(key=lambda item: (-item[0], item[2], item[3]))

    page = max(1, page)
    shown = found[(page - 1) * per_page : page * per_page]
    ids = {entry_id for _, _, a, b in shown for entry_id in (a, b)}
    entries = {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}
    items = [
        Pair(entries[a], entries[b], score, reasons)
        for score, reasons, a, b in shown
        if a in entries and b in entries
    ]
    return Page(items=items, total=len(found), page=page, per_page=per_page)
