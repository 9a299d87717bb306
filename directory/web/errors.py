"""French error pages, with the right status code and a way back."""

from __future__ import annotations

from contextlib import suppress

from flask import Flask, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..extensions import db

# Errors under the API's addresses answer in its JSON shape, even when no API rule matched.
API_PREFIX = "/api/v1/"

# Titles and explanations for the errors a visitor can meet; others get a generic wording.
MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        "Requête invalide",
        "La demande contient des informations que le service ne comprend pas.",
    ),
    401: ("Connexion nécessaire", "Connectez-vous pour accéder à cette page."),
    403: ("Accès refusé", "Vous n’avez pas les droits nécessaires pour accéder à cette page."),
    405: ("Méthode non autorisée", "Cette adresse ne peut pas être utilisée de cette façon."),
    409: (
        "Conflit de modification",
        "La fiche a été modifiée entre-temps par quelqu’un d’autre. Rechargez-la avant de "
        "reprendre vos changements.",
    ),
    410: ("Page supprimée", "Cette page n’existe plus."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: (
        "Trop de demandes",
        "Vous avez fait trop de demandes en peu de temps. Réessayez plus tard.",
    ),
    503: (
        "Service indisponible",
        "Le service est momentanément indisponible. Réessayez plus tard.",
    ),
}


def error_wording(code: int | None) -> tuple[str, str]:
    """French title and explanation for an HTTP error code."""
    return MESSAGES.get(code or 0, ("Erreur", "La demande n’a pas pu aboutir."))


def _headers(error: HTTPException) -> list[tuple[str, str]]:
    """Keep the headers the error carries (Allow for 405, Retry-After for 429...)."""
    return [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith(API_PREFIX):
            from ..api.errors import http_error_response

            return http_error_response(error)
        if error.code == 404:
            return render_template("errors/404.html", error=error), 404
        if error.code is None or error.code >= 500:
            return server_error(error)
        title, message = error_wording(error.code)
        response = render_template(
            "errors/error.html", error=error, error_title=title, error_message=message
        )
        return response, error.code, _headers(error)

    @app.errorhandler(500)
    def server_error(error):
        # The database may be the cause: the error page must still render.
        with suppress(SQLAlchemyError):
            db.session.rollback()
        code = getattr(error, "code", None) or 500
        if code == 500:
            return render_template("errors/500.html", error=error), 500
        title, message = error_wording(code)
        response = render_template(
            "errors/error.html", error=error, error_title=title, error_message=message
        )
        return response, code
