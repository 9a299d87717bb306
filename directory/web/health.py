"""``GET /sante``: the instance's health as JSON, for monitors and load balancers.

200 when every check passes, 503 when one fails (``services.health`` says what is checked).
Never cached, never rate-limited: a probe every few seconds must always get a fresh answer.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState

from ..api.http import dumps
from ..guards import classify
from ..services import health

bp = classify(Blueprint("health", __name__), "public")


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    from ..api.limits import limiter_for

    limiter_for(state.app).exempt(bp)


@bp.get("/sante")
def status() -> Response:
    report = health.run_checks()
    response = current_app.response_class(
        dumps(report.as_dict()), status=200 if report.ok else 503, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
