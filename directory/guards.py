"""Route classification: every endpoint is public, partner, staff or admin.

A blueprint declares its level once (``classify(bp, "staff")``) and a single view may declare
its own (``@access("partner")``). The guard runs before the view: anonymous people are sent to
the sign-in page, signed-in people without the level get 403. Ownership (member of which
organisation) is checked by the view through ``services.permissions``. A route that nobody
classified fails ``tests/web/test_route_access.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, g, request
from flask_login import current_user

from .extensions import login_manager
from .services import permissions

LEVELS = ("public", "partner", "staff", "admin")
_blueprint_levels: dict[str, str] = {}
# Endpoints of Flask itself.
_BUILTIN = {"static": "public"}


def _check(level: str) -> Any:
    """Return a response that stops the request, or None to let it through."""
    if level == "public":
        return None
    g.private_page = True  # signed-in pages are never cached
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if level == "staff" and not permissions.is_staff(current_user):
        abort(403)
    if level == "admin" and not permissions.is_admin(current_user):
        abort(403)
    return None


def classify(blueprint: Blueprint, level: str) -> Blueprint:
    """Give every route of ``blueprint`` an access level (views may override it)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")
    _blueprint_levels[blueprint.name] = level
    return blueprint


def access(level: str) -> Callable:
    """Declare the level of one view (the app-wide guard enforces it)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")

    def decorator(view: Callable) -> Callable:
        view.access_level = level  # type: ignore[attr-defined]
        return view

    return decorator


def route_access(app: Flask, endpoint: str) -> str | None:
    """The access level of an endpoint, or None if nobody classified it."""
    if endpoint in _BUILTIN:
        return _BUILTIN[endpoint]
    view = app.view_functions.get(endpoint)
    own = getattr(view, "access_level", None)
    if own:
        return own
    blueprint, dot, _ = endpoint.rpartition(".")
    return _blueprint_levels.get(blueprint) if dot else None


def init_app(app: Flask) -> None:
    @app.before_request
    def guard_route() -> Any:
        if request.endpoint is None:  # no route matched: the 404 handler answers
            return None
        level = route_access(app, request.endpoint)
        if level is None:  # fail closed; the route test names the culprit
            abort(403)
        return _check(level)
