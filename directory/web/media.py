"""Uploaded media served to everyone: organisation logos (stored under instance/uploads/)."""

from __future__ import annotations

from flask import Blueprint, abort, send_file, url_for

from ..services import media
from .guards import classify

bp = classify(Blueprint("media", __name__, url_prefix="/medias"), "public")

ONE_YEAR = 365 * 24 * 3600


@bp.get("/logos/<name>")
def logo(name: str):
    """A stored logo; names are random and never reused, so it may be cached for long."""
    found = media.logo_file(name)
    if found is None:
        abort(404)
    path, mimetype = found
    response = send_file(path, mimetype=mimetype, max_age=ONE_YEAR, conditional=True, etag=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def logo_url(logo_path: str | None) -> str | None:
    """Address of an organisation's logo, or None when it has none (or a malformed path)."""
    name = media.logo_name(logo_path)
    return url_for("media.logo", name=name) if name else None


@bp.record_once
def _register_helpers(state) -> None:
    state.app.jinja_env.globals.setdefault("logo_url", logo_url)
