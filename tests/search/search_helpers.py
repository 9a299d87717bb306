"""Helpers shared by the search tests."""

from __future__ import annotations

from directory.services import search as service


def run_search(**args) -> service.SearchOutcome:
    """Search as ``/recherche?<args>`` would."""
    return service.search(service.SearchRequest.from_args(args))


def titles(outcome: service.SearchOutcome) -> set[str]:
    return {hit.entry.title for hit in outcome.initiatives.hits}
