"""Uploaded media: organisation logos (stored under instance/uploads/, see services.media).

``/medias/logos/<name>`` serves the public logos to everyone. ``/medias/apercu/logos/<name>``
serves any stored logo, public or not (a pending or refused proposal's), to the staff and to
the members of the organisation it belongs to, signed in; nobody else learns that it exists.
"""

from __future__ import annotations

from flask import Blueprint, abort, send_file, url_for
from flask_login import current_user
from markupsafe import Markup

from ..guards import access, classify
from ..services import media, permissions

bp = classify(Blueprint("media", __name__, url_prefix="/medias"), "public")

ONE_YEAR = 365 * 24 * 3600


def _send(path, mimetype: str, max_age: int | None = None):
    response = send_file(path, mimetype=mimetype, max_age=max_age, conditional=True, etag=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/logos/<name>")
def logo(name: str):
    """A public logo; names are random and never reused, so it may be cached for long."""
    found = media.logo_file(name)
    if found is None:
        abort(404)
    response = _send(*found, max_age=ONE_YEAR)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/apercu/logos/<name>")
@access("partner")
def stored_logo(name: str):
    """Any stored logo, for the people who may see it before it is published."""
    found = media.stored_logo_file(name)
    if found is None or not permissions.can_view_stored_logo(
        current_user, media.logo_organisations(f"{media.LOGO_DIR}/{name}")
    ):
        abort(404)
    response = _send(*found, max_age=0)
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def logo_url(logo_path: str | None) -> str | None:
    """Public address of an organisation's logo, or None when it has none (or a malformed path)."""
    name = media.logo_name(logo_path)
    return url_for("media.logo", name=name) if name else None


def logo_preview_url(logo_path: str | None) -> str | None:
    """Address of a logo for a signed-in page: the public one once published, else the
    signed-in route (a pending proposal's logo)."""
    name = media.logo_name(logo_path)
    if name is None:
        return None
    if media.is_public(logo_path):
        return url_for("media.logo", name=name)
    return url_for("media.stored_logo", name=name)


def logo_preview(logo_path: str | None, alt: str = "Logo") -> Markup | str:
    """An ``<img>`` of a stored logo for staff pages (the text itself if it names no logo)."""
    address = logo_preview_url(logo_path)
    if address is None:
        return logo_path or ""
    return Markup('<img class="app-logo-preview" src="{}" alt="{}">').format(address, alt)


@bp.record_once
def _register_helpers(state) -> None:
    state.app.jinja_env.globals.setdefault("logo_url", logo_url)
    state.app.jinja_env.globals.setdefault("logo_preview_url", logo_preview_url)
