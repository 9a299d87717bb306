"""Security headers on every response (pages, errors, static files, API), and no caching of
anything rendered for a signed-in person."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from . import sessions
from .templating import csp_nonce

# Endpoints that partners may show in an <iframe> on their own sites.
EMBEDDABLE_PREFIXES = ("/embed/",)


def _tile_hosts() -> list[str]:
    hosts = []
    for url in (current_app.config["MAP_TILES_URL"], "https://a.tile.openstreetmap.fr/"):
        parts = urlsplit(url.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.netloc:
            hosts.append(f"{parts.scheme}://{parts.netloc}")
    # OpenStreetMap France serves from a, b and c sub-domains.
    hosts.append("https://*.tile.openstreetmap.fr")
    return sorted(set(hosts))


def content_security_policy(embeddable: bool) -> str:
    nonce = csp_nonce()
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # folium and Leaflet set inline styles on map elements; scripts stay strict.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: " + " ".join(_tile_hosts()),
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors *" if embeddable else "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def _rendered_for_someone(response: Response) -> bool:
    """Whether a response may carry a signed-in person's data: protected pages, and every
    response (pages, errors, redirects, API) while someone is signed in. Static files are
    the same for everyone and stay cacheable."""
    if g.get("private_page"):
        return True
    return request.endpoint != "static" and sessions.signed_in()


def init_app(app: Flask) -> None:
    @app.after_request
    def set_security_headers(response: Response) -> Response:
        embeddable = request.path.startswith(EMBEDDABLE_PREFIXES)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(embeddable))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "geolocation=(), camera=(), microphone=()"
        )
        if not embeddable:
            response.headers.setdefault("X-Frame-Options", "DENY")
        if not app.debug and not app.testing:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if _rendered_for_someone(response):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response
