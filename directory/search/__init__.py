"""French full-text search: analysis, documents, backend and index upkeep.

The search page built on it (filters, facets, « à proximité ») is ``services.search``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Bind the search backend to the app and record index changes in the outbox."""
    from . import indexing

    indexing.init_app(app)
