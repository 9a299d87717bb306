"""The map of initiatives: page, points, département counts, popups and the embeddable map."""

from __future__ import annotations

from dataclasses import replace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)

from .. import maps
from ..guards import classify
from ..services import browse
from ..services.filters import InitiativeFilters
from .security import content_security_policy

bp = classify(Blueprint("map", __name__), "public")

FORMATS = ("geojson", "compact")


@bp.get("/carte")
def map_page():
    filters = InitiativeFilters.from_args(request.args)
    return render_template("map/map.html", **_page_context(filters))


@bp.get("/embed/carte")
def embed():
    filters = InitiativeFilters.from_args(request.args)
    response = Response(render_template("map/embed.html", **_page_context(filters)))
    # The only page partners may frame (the default policy forbids framing).
    response.headers["Content-Security-Policy"] = content_security_policy(embeddable=True)
    response.headers.pop("X-Frame-Options", None)
    return response


@bp.get("/carte/points.geojson")
def points():
    """Located places of the filtered initiatives; ``?format=compact`` for ``[lon, lat, id]``."""
    filters = InitiativeFilters.from_args(request.args)
    fmt = request.args.get("format", "geojson")
    if fmt not in FORMATS:
        fmt = "geojson"
    etag, payload = maps.points_payload(filters, fmt)
    gzipped = request.accept_encodings.quality("gzip") > 0
    response = Response(
        payload.gzipped if gzipped else payload.raw,
        mimetype="application/geo+json" if fmt == "geojson" else "application/json",
    )
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Places-Count"] = str(payload.count)
    response.set_etag(etag)
    # Revalidate each time: the ETag check is cheap and a change must show at once.
    response.headers["Cache-Control"] = "public, no-cache"
    return response.make_conditional(request)


@bp.get("/carte/departements.geojson")
def departements():
    filters = InitiativeFilters.from_args(request.args)
    layer = maps.departement_layer(filters)
    if request.args.get("contours") == "0":  # the map page only needs the new counts
        layer = [replace(item, outline=None) for item in layer]
    document = maps.departements_geojson(layer)
    document["legend"] = [{"colour": c, "label": label} for c, label in maps.legend(layer)]
    response = jsonify(document)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/carte/initiative/<int:initiative_id>")
def popup(initiative_id: int):
    """A popup's content, loaded when it opens: HTML fragment, or JSON with ``?format=json``."""
    details = maps.popup_details(initiative_id) or abort(404)
    url = sheet_url(details.slug)
    if request.args.get("format") == "json":
        return jsonify(
            id=details.id,
            title=details.title,
            url=url,
            organisations=details.organisations,
            communes=details.communes,
            themes=details.themes,
        )
    return render_template("map/_popup.html", details=details, url=url)


@bp.app_template_global("mini_map")
def mini_map(subject) -> maps.MiniMap | None:
    """For ``templates/map/_mini_map.html``: the places of an initiative, organisation or
    département (published initiatives only)."""
    return maps.mini_map(subject) if subject is not None else None


def sheet_url(slug: str) -> str:
    """The initiative's public sheet (``/initiatives/<slug>``)."""
    if "public.initiative" in current_app.view_functions:
        return url_for("public.initiative", slug=slug)
    return f"/initiatives/{slug}"


def list_url(filters: InitiativeFilters) -> str:
    """The list of the same results: the accessible alternative to the map."""
    if "public.initiatives" in current_app.view_functions:
        return url_for("public.initiatives", **filters.to_args())
    return url_for("map.map_page", **filters.to_args())


def _page_context(filters: InitiativeFilters) -> dict:
    layer = maps.departement_layer(filters)
    shell = maps.build_shell(
        layer,
        tiles_url=current_app.config["MAP_TILES_URL"],
        tiles_attribution=current_app.config["MAP_TILES_ATTRIBUTION"],
        bounds=maps.territory_bounds(layer, filters.departement_codes()),
    )
    args = filters.to_args()
    config = {
        "map": shell.map_name,
        "departements": shell.departements_name,
        "points": url_for("map.points", format="compact"),
        # Preloaded from <head> so that the points download while the page lays out.
        "initialPoints": url_for("map.points", format="compact", **args),
        "counts": url_for("map.departements", contours="0"),
        "popup": url_for("map.popup", initiative_id=0).removesuffix("0"),
        "page": url_for(request.endpoint or "map.map_page"),
        "list": list_url(InitiativeFilters()).split("?")[0],
        "embed": url_for("map.embed", _external=True),
        "maxZoom": maps.MAX_ZOOM,
        "clusterMaxZoom": maps.CLUSTER_MAX_ZOOM,
    }
    return {
        "filters": filters,
        "args": args,
        "shell": shell,
        "layer": layer,
        "legend": maps.legend(layer),
        "choices": browse.filter_choices(),
        "extra": maps.extra_choices(),
        "list_url": list_url(filters),
        "map_config": config,
    }
