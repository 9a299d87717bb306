"""Per-address rate limit of the API (Flask-Limiter).

One limiter per app, so that each app (and each test) counts on its own storage: memory by
default, Redis when ``REDIS_URL`` is set (the memory store is per process, so several workers
multiply the real limit). The limit is read on every request from ``API_RATE_LIMIT``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

DEFAULT_RATE_LIMIT = "300 per minute"


def _current_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def init_limiter(app: Flask, *blueprints: Blueprint) -> Limiter:
    """Bind a limiter to ``app`` and apply the API limit to ``blueprints``."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "annuaire-api")
    # An unreachable Redis must not take the API down: count in memory meanwhile.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    for blueprint in blueprints:
        limiter.limit(_current_limit)(blueprint)
    return limiter
