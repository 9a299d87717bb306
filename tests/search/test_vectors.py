"""Queries evaluated over arrays of postings give Whoosh's own documents, scores and order, and
their cached results follow every change of the index at once."""

from __future__ import annotations

import random

import numpy as np
from factories import make_initiative, make_organisation
from search_helpers import run_search, titles
from whoosh import query as wq

from directory.extensions import db
from directory.search import indexing, vectors
from directory.search.backend import Mode, Sort
from directory.search.documents import INITIATIVE, ORGANISATION
from directory.search.query import parse

WORDS = (  # noqa: SIM905 - a sentence reads better than 29 quoted words
    "jardin partagé quartier solidarité insertion emploi numérique médiation café associatif "
    "habitants jeunes seniors mobilité vélo atelier réparation alimentation épicerie sociale "
    "économie solidaire logement précarité énergétique culture lecture santé prévention"
).split()

QUERIES = (
    "jardin",
    "jardin quartier",
    "solidarité",  # synonyms: phrase alternatives
    "économie sociale et solidaire",
    '"jardin partagé"',
    '"café associatif" habitants',
    "jard*",
    "emploi -numérique",
    "vélo atelier réparation",
    "précarités énergétiques",
    "mobilite seniors",
    "lecture santé prévention culture",
)


def _catalogue(count: int = 60) -> None:
    rng = random.Random(5)
    for number in range(count):
        make_initiative(
            title=" ".join(rng.sample(WORDS, 3)).capitalize() + f" {number}",
            summary=" ".join(rng.choices(WORDS, k=12)),
            description=" ".join(rng.choices(WORDS, k=rng.randrange(5, 60))),
        )
    for number in range(10):
        make_organisation(name=" ".join(rng.sample(WORDS, 2)).capitalize() + f" {number}")
    db.session.commit()


def _compare_with_whoosh() -> int:
    """Every query, mode and kind of entry: the same documents, scores and first page."""
    backend = indexing.get_backend()
    checked = 0
    with backend._searching() as searcher:
        for text in QUERIES:
            for mode in Mode:
                for entity_type in (INITIATIVE, ORGANISATION):
                    built = backend._build(entity_type, parse(text), mode, searcher)
                    expected = list(searcher.search(built, limit=None))
                    if isinstance(built, wq.AndNot):
                        # Whoosh's own AndNot matcher can keep its first document even when
                        # it holds an excluded word; the arrays exclude it, as they should.
                        excluded = set(searcher.docs_for_query(built.b))
                        expected = [hit for hit in expected if hit.docnum not in excluded]
                    found = vectors.evaluate(searcher, built)
                    assert found.docs.tolist() == sorted(hit.docnum for hit in expected), (
                        text,
                        mode,
                        entity_type,
                    )
                    if mode == Mode.FUZZY:
                        continue  # constant scores: the documents are what matters
                    scores = dict(zip(found.docs.tolist(), found.scores.tolist(), strict=True))
                    for hit in expected:
                        assert abs(scores[hit.docnum] - hit.score) < 1e-9
                    page = vectors.top(found, 0, 10).tolist()
                    assert [round(scores[d], 9) for d in page] == [
                        round(hit.score, 9) for hit in expected[:10]
                    ]
                    checked += 1
    return checked


def test_same_documents_scores_and_order_as_whoosh(app_ctx):
    _catalogue()
    assert _compare_with_whoosh() > 10


def test_still_the_same_over_several_segments_with_deletions(app_ctx):
    _catalogue()
    initiatives = [make_initiative(title=f"Jardin partagé du quartier {n}") for n in range(5)]
    db.session.commit()
    initiatives[0].title = "Atelier vélo"  # the old version is deleted from its segment
    db.session.delete(initiatives[1])
    db.session.commit()
    backend = indexing.get_backend()
    with backend._searching() as searcher:
        assert len(searcher.reader().leaf_readers()) > 1 or searcher.reader().has_deletions()
    _compare_with_whoosh()
    assert "Atelier vélo" in titles(run_search(q="atelier vélo"))
    assert "Jardin partagé du quartier 1" not in titles(run_search(q="jardin partagé"))


def test_an_excluded_word_excludes_every_entry_holding_it(app_ctx):
    make_initiative(title="Emploi numérique", summary="Insertion par le numérique.")
    make_initiative(title="Emploi des jeunes", summary="Chantiers d’insertion.")
    db.session.commit()
    assert titles(run_search(q="emploi -numérique")) == {"Emploi des jeunes"}


def test_results_are_cached_per_state_of_the_index(app_ctx):
    make_initiative(title="Ruche pédagogique")
    db.session.commit()
    backend = indexing.get_backend()
    parsed = parse("ruche")
    with backend.pinned():
        first = backend.match(INITIATIVE, parsed, Mode.ALL)
        assert backend.match(INITIATIVE, parsed, Mode.ALL) is first  # the next page, a facet
    assert len(first) == 1

    make_initiative(title="Ruche urbaine")
    db.session.commit()
    with backend.pinned():
        second = backend.match(INITIATIVE, parsed, Mode.ALL)
    assert second is not first and len(second) == 2
    assert run_search(q="ruche").initiatives.total == 2


def test_an_edit_shows_at_once_in_a_repeated_search(app_ctx):
    initiative = make_initiative(title="Grainothèque du village")
    db.session.commit()
    assert run_search(q="grainothèque").initiatives.total == 1
    assert run_search(q="grainothèque").initiatives.total == 1  # answered from the cache
    initiative.title = "Bibliothèque de semences"
    db.session.commit()
    assert run_search(q="grainothèque").initiatives.total == 0
    assert run_search(q="semences").initiatives.total == 1
    initiative.title = "Grainothèque du village"
    db.session.commit()
    assert run_search(q="grainothèque").initiatives.total == 1


def test_a_cached_phrase_check_follows_edits(app_ctx):
    initiative = make_initiative(title="Potager collectif", summary="Un jardin partagé ouvert.")
    db.session.commit()
    assert run_search(q='"jardin partagé"').initiatives.total == 1
    initiative.summary = "Un jardin ouvert et partagé."
    db.session.commit()
    assert run_search(q='"jardin partagé"').initiatives.total == 0
    assert run_search(q="jardin partagé").initiatives.total == 1


def test_sorting_by_update_and_title_through_arrays(app_ctx):
    for title in ("Charlie jardin", "Alpha jardin", "Bravo jardin"):
        make_initiative(title=title)
        db.session.commit()
    by_title = run_search(q="jardin", tri=Sort.TITLE.value).initiatives.hits
    assert [hit.entry.title for hit in by_title] == [
        "Alpha jardin",
        "Bravo jardin",
        "Charlie jardin",
    ]
    by_update = run_search(q="jardin", tri=Sort.UPDATED.value).initiatives.hits
    assert [hit.entry.title for hit in by_update] == [
        "Bravo jardin",
        "Alpha jardin",
        "Charlie jardin",
    ]


def test_top_orders_by_score_then_document():
    found = vectors.Scored(
        np.arange(10, dtype=np.int64), np.array([1, 3, 3, 2, 0, 3, 1, 1, 2, 0.5])
    )
    assert vectors.top(found, 0, 4).tolist() == [1, 2, 5, 3]
    assert vectors.top(found, 4, 3).tolist() == [8, 0, 6]
    assert vectors.top(found, 9, 5).tolist() == [4]
    assert vectors.top(found, 10, 5).tolist() == []


def test_phrases_read_positions_of_a_few_documents_or_of_a_whole_word(app_ctx):
    """A phrase with a rare word reads the positions of its few candidates; one of common words
    decodes and keeps each word's whole list: both find exactly Whoosh's documents."""
    _catalogue(120)
    make_initiative(title="Grainothèque partagée", summary="Une grainothèque jardin partagé.")
    make_initiative(title="Semences", summary="La grainothèque du village est partagée.")
    make_initiative(title="Partagé, le jardin", summary="Rien de partagé jardin ici.")
    db.session.commit()
    vectors.clear_caches()
    backend = indexing.get_backend()
    with backend._searching() as searcher:
        for text, expected_count in (('"grainothèque partagée"', 1), ('"jardin partagé"', None)):
            built = backend._build(INITIATIVE, parse(text), Mode.ALL, searcher)
            expected = sorted(hit.docnum for hit in searcher.search(built, limit=None))
            assert vectors.evaluate(searcher, built).docs.tolist() == expected, text
            vectors._phrases.clear()  # checked again, from the positions kept
            assert vectors.evaluate(searcher, built).docs.tolist() == expected, text
            if expected_count is not None:
                assert len(expected) == expected_count
            else:
                assert len(expected) > 10
    assert titles(run_search(q='"grainothèque partagée"')) == {"Grainothèque partagée"}
