"""Public read-only JSON API, under /api/v1 (issue #7).

Registering the blueprint is all an app needs: on registration it gets its own rate limiter
and is exempted from CSRF (GET only, no cookies read).
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import MethodNotAllowed

from ..extensions import csrf
from ..guards import classify
from . import errors
from .http import ALLOWED_METHODS, add_cors_headers, preflight_response

bp = classify(Blueprint("api", __name__, url_prefix="/api/v1"), "public")
errors.register(bp)


@bp.before_request
def only_reads() -> Response | None:
    if request.method == "OPTIONS":
        return preflight_response()
    if request.method not in ALLOWED_METHODS:
        raise MethodNotAllowed(valid_methods=list(ALLOWED_METHODS))
    return None


@bp.after_request
def cors(response: Response) -> Response:
    return add_cors_headers(response)


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    from .limits import init_limiter

    csrf.exempt(bp)
    init_limiter(state.app, bp)


from . import views  # noqa: E402, F401 - registers the routes on the blueprint
