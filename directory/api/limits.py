"""Rate limits (Flask-Limiter): the API's per-address limit and the sign-in counters.

One limiter per app, so that each app (and each test) counts on its own storage: memory by
default, Redis when ``REDIS_URL`` is set (the memory store is per process, so several workers
multiply the real limit). The API limit is read on every request from ``API_RATE_LIMIT``.
Other parts of the site (sign-in, password reset) count their own events with :func:`hit`
on the same limiter and storage.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = "300 per minute"
EXTENSION_KEY = "annuaire_limiter"


def _current_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def limiter_for(app: Flask) -> Limiter:
    """The app's limiter, created the first time (call it while the app is being set up)."""
    existing = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "annuaire-api")
    # An unreachable Redis must not take the API down: count in memory meanwhile.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    app.extensions[EXTENSION_KEY] = limiter
    return limiter


def init_limiter(app: Flask, *blueprints: Blueprint) -> Limiter:
    """Bind a limiter to ``app`` and apply the API limit to ``blueprints``."""
    limiter = limiter_for(app)
    for blueprint in blueprints:
        limiter.limit(_current_limit)(blueprint)
    return limiter


def hit(limit: str, namespace: str, *identifiers: str) -> bool:
    """Count one event against every limit of ``limit`` ("5 per minute;20 per hour").

    Returns False when one of them is exceeded. The counters live in the app limiter's
    storage, keyed by ``namespace`` and ``identifiers`` (an email, an address...).
    """
    limiter = current_app.extensions[EXTENSION_KEY]
    allowed = True
    for item in parse_many(limit):
        try:
            if not limiter.limiter.hit(item, "annuaire", namespace, *identifiers):
                allowed = False
        except Exception as error:  # a storage outage must not lock everyone out
            log.error("Compteur de limitation indisponible (%s) : %s", namespace, error)
    return allowed
