"""Response helpers shared by the API views: JSON bodies, validators (ETag, Last-Modified), CORS."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, request

ALLOWED_METHODS = ("GET", "HEAD", "OPTIONS")
# Methods routed to the API views only to be refused with a JSON 405 (werkzeug would answer HTML).
REFUSED_METHODS = ("POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY")
ROUTED_METHODS = list(ALLOWED_METHODS + REFUSED_METHODS)
EXPOSED_HEADERS = (
    "ETag, Last-Modified, Retry-After, Link, "
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
CACHE_CONTROL = "public, max-age=60"


def dumps(payload: Any) -> bytes:
    """Compact, key-sorted JSON: the same data always gives the same bytes (and ETag)."""
    return json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str
    ).encode()


def json_response(
    payload: Any,
    *,
    last_modified: datetime | None = None,
    mimetype: str = "application/json",
) -> Response:
    """A cacheable JSON answer: strong ETag from the body, 304 when the client's copy is current.

    ``last_modified`` is the newest change among the entries serialised; the ETag stays the
    authoritative validator (RFC 9110: If-None-Match wins over If-Modified-Since).
    """
    body = dumps(payload)
    response = current_app.response_class(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if last_modified is not None:
        response.last_modified = last_modified.replace(tzinfo=UTC, microsecond=0)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)


def add_cors_headers(response: Response) -> Response:
    """Open, credential-less CORS: any site may read the public API from a browser."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def preflight_response() -> Response:
    response = current_app.response_class(status=204)
    response.headers["Allow"] = ", ".join(ALLOWED_METHODS)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(ALLOWED_METHODS)
    response.headers["Access-Control-Allow-Headers"] = (
        "Accept, Accept-Language, If-None-Match, If-Modified-Since"
    )
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def newest(*values: datetime | None) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None
