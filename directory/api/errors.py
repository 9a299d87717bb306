"""JSON errors for the API: ``{"error": {"code", "message"}}`` with the matching status."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from ..extensions import db
from .http import dumps

# HTTP status -> (stable error code for programs, French message for people).
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Requête invalide."),
    404: ("not_found", "Ressource introuvable."),
    405: ("method_not_allowed", "Méthode non autorisée : l'API est en lecture seule (GET)."),
    406: ("not_acceptable", "Format de réponse non disponible."),
    429: (
        "rate_limited",
        "Trop de requêtes depuis cette adresse : réessayez après le délai indiqué "
        "par l'en-tête Retry-After.",
    ),
    500: ("server_error", "Erreur interne du serveur."),
}


@dataclass
class ApiError(Exception):
    """An error the API answers as JSON; ``details`` lists what was wrong, one item a parameter."""

    status: int
    code: str
    message: str
    details: list[dict[str, str]] = field(default_factory=list)


def invalid_parameters(details: list[dict[str, str]]) -> ApiError:
    """400 for the query-string problems found, each ``{"parameter", "message"}``."""
    names = ", ".join(dict.fromkeys(d["parameter"] for d in details))
    return ApiError(400, "invalid_parameter", f"Paramètre(s) invalide(s) : {names}.", details)


def not_found(message: str = "Ressource introuvable.") -> ApiError:
    return ApiError(404, "not_found", message)


def error_response(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> Response:
    body: dict = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = current_app.response_class(dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def http_error_response(error: HTTPException) -> Response:
    """The JSON shape of an HTTP error. Also used by the app's handler for API addresses that
    never reached the blueprint (a path no rule matched, a host refused before routing)."""
    status = error.code or 500
    code, message = _GENERIC.get(status, ("http_error", error.name))
    response = error_response(status, code, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    # Rate-limit errors carry Retry-After; keep the headers an exception provides.
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def register(bp: Blueprint) -> None:
    """Turn every error raised under the blueprint into the JSON shape."""

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.details)

    bp.register_error_handler(HTTPException, http_error_response)

    @bp.errorhandler(InternalServerError)
    def server_error(_error: InternalServerError) -> Response:
        db.session.rollback()
        code, message = _GENERIC[500]
        return error_response(500, code, message)
