"""Atom feeds of new and updated initiatives, for the whole catalogue or any search.

``/flux/initiatives.atom?<filters>`` takes the filters of the search page (read leniently, like
the site: a bad value is dropped). Entries link to the initiative sheets on the site.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, request, url_for

from ..api import queries
from ..config import public_url
from ..guards import classify
from ..models import Initiative, OrganisationRole
from ..services.filters import InitiativeFilters

bp = classify(Blueprint("feeds", __name__, url_prefix="/flux"), "public")

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
SITE_NAME = "Annuaire de l’innovation sociale"
# Tag URIs (RFC 4151) keep entry ids stable when slugs or addresses change.
TAG_DATE = "2011"


@bp.get("/initiatives.atom")
def initiatives() -> Response:
    filters = InitiativeFilters.from_args(request.args)
    entries = queries.recent_initiatives(filters, FEED_SIZE)
    updated = entries[0].updated_at if entries else queries.last_catalogue_change()
    body = atom_feed(filters, entries, updated or datetime(2011, 6, 15))
    response = current_app.response_class(body, mimetype="application/atom+xml")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if updated is not None:
        response.last_modified = updated.replace(tzinfo=UTC, microsecond=0)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response.make_conditional(request)


def _iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def _site_root() -> str:
    """The home page, from PUBLIC_URL: never the Host a client sent."""
    return public_url(current_app.config) + "/"


def _tag(kind: str, key: str) -> str:
    host = urlsplit(public_url(current_app.config)).hostname
    return f"tag:{host},{TAG_DATE}:{kind}:{key}"


def initiative_url(initiative: Initiative) -> str:
    """The sheet on the site."""
    return url_for("public.initiative", slug=initiative.slug, _external=True)


def _list_url(filters: InitiativeFilters) -> str:
    return url_for("search.search", _external=True, **filters.to_args())


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def atom_feed(filters: InitiativeFilters, entries: list[Initiative], updated: datetime) -> bytes:
    """An Atom 1.0 document (RFC 4287) of ``entries``, newest first."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "fr"})
    self_url = url_for("feeds.initiatives", _external=True, **filters.to_args())
    _sub(feed, "id", self_url)
    title = "Nouvelles initiatives et mises à jour"
    if not filters.is_empty:
        title += " (recherche filtrée)"
    _sub(feed, "title", f"{title} — {SITE_NAME}")
    _sub(
        feed,
        "subtitle",
        "Initiatives innovantes de cohésion sociale en Provence-Alpes-Côte d’Azur et en "
        "Languedoc-Roussillon, les plus récemment ajoutées ou mises à jour d’abord.",
    )
    _sub(feed, "updated", _iso(updated))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=_list_url(filters))
    author = _sub(feed, "author")
    _sub(author, "name", SITE_NAME)
    _sub(author, "uri", _site_root())
    _sub(feed, "rights", "Licence Ouverte 2.0")
    for initiative in entries:
        _entry(feed, initiative)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(feed: ET.Element, initiative: Initiative) -> None:
    entry = _sub(feed, "entry")
    _sub(entry, "id", _tag("initiative", str(initiative.id)))
    _sub(entry, "title", initiative.title)
    _sub(entry, "link", rel="alternate", type="text/html", href=initiative_url(initiative))
    _sub(entry, "published", _iso(initiative.created_at))
    _sub(entry, "updated", _iso(initiative.updated_at))
    leads = [
        link.organisation
        for link in initiative.organisation_links
        if link.role == OrganisationRole.PORTEUR and link.organisation.is_published
    ]
    for organisation in leads:
        _sub(_sub(entry, "author"), "name", organisation.name)
    for theme in initiative.themes:
        _sub(entry, "category", term=theme.slug, label=theme.name)
    if initiative.stage:
        _sub(
            entry, "category", term=f"etape:{initiative.stage.value}", label=initiative.stage.label
        )
    if initiative.is_demo:
        _sub(entry, "category", term="demonstration", label="Donnée de démonstration (générée)")
    summary = initiative.summary or ""
    if initiative.is_demo:
        summary = f"[Donnée de démonstration] {summary}".strip()
    if summary:
        _sub(entry, "summary", summary)
