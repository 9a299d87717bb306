"""The API's per-address rate limit (Flask-Limiter), and the warning about an unset PROXY_COUNT.

One limiter per app, so that each app (and each test) counts on its own storage: memory by
default, Redis when ``REDIS_URL`` is set. The API limit is read on every request from
``API_RATE_LIMIT``. It protects capacity, not accounts: the memory store is per process and an
unreachable Redis falls back to memory, so the API keeps answering. The limits that protect
accounts (sign-in, reset, invitations, proposals) hold everywhere and fail closed: they are in
``services/throttle.py``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

log = logging.getLogger(__name__)

EXTENSION_KEY = "annuaire_limiter"
UNSET_PROXY_WARNING = (
    "Des requêtes arrivent avec un en-tête X-Forwarded-For alors que PROXY_COUNT vaut 0 : "
    "derrière un mandataire, tous les visiteurs partageraient un compteur : réglez PROXY_COUNT "
    "(nombre de mandataires devant l’application, voir docs/deploiement.md)."
)


def _current_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def limiter_for(app: Flask) -> Limiter:
    """The app's limiter, created the first time (call it while the app is being set up)."""
    existing = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    app.extensions[EXTENSION_KEY] = limiter
    _warn_about_unset_proxy_count(app)
    return limiter


def init_limiter(app: Flask, *blueprints: Blueprint) -> Limiter:
    """Bind a limiter to ``app`` and apply the API limit to ``blueprints``."""
    limiter = limiter_for(app)
    for blueprint in blueprints:
        limiter.limit(_current_limit)(blueprint)
    return limiter


def _warn_about_unset_proxy_count(app: Flask) -> None:
    """Log once per process when a proxy seems to be in front while ``PROXY_COUNT`` is 0.

    Every per-address counter would then count the proxy's address, shared by all visitors.
    """
    if int(app.config["PROXY_COUNT"]):
        return
    warned = False

    @app.before_request
    def _check_forwarded_for() -> None:
        nonlocal warned
        if not warned and "X-Forwarded-For" in request.headers:
            warned = True
            log.warning(UNSET_PROXY_WARNING)
