"""Read-only JSON API under /api/v1 (issue #7): parse, call one query, serialise."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for

from ..services import browse, merge
from . import bp, queries, serializers
from .errors import not_found
from .http import ROUTED_METHODS, json_response, newest
from .openapi import build_document, operations_overview
from .params import (
    INITIATIVE_SORTS,
    PAGING_PARAMS,
    QueryArgs,
    is_slug,
    parse_initiative_query,
)
from .queries import ResultPage

ORGANISATION_SORTS = ("name", "recent")
ORGANISATION_KINDS = tuple(kind.value for kind in browse.OrganisationKind)


def _route(rule: str, **options: Any):
    """Every API address answers GET; other methods reach the view only to get a JSON 405."""
    return bp.route(rule, methods=ROUTED_METHODS, **options)


def _paged(page: ResultPage, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The list envelope: data, counts and links that keep every other parameter."""
    args = request.args.to_dict(flat=False)

    def link(number: int) -> str:
        return url_for(request.endpoint, _external=True, **{**args, "page": [str(number)]})

    links: dict[str, str | None] = {
        "self": link(page.page),
        "first": link(1),
        "last": link(page.pages),
        "prev": link(min(page.page - 1, page.pages)) if page.page > 1 else None,
        "next": link(page.page + 1) if page.page < page.pages else None,
    }
    return {
        "data": items,
        "meta": {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
        },
        "links": links,
    }


def _no_parameters() -> None:
    QueryArgs(request.args, ()).raise_if_invalid()


def _slug_or_404(slug: str, what: str) -> str:
    # Checked before any query: odd bytes (NUL...) never reach the database.
    if not is_slug(slug):
        raise not_found(f"{what} introuvable.")
    return slug


def _moved(target: str | None, message: str) -> Response:
    """A merged entry's old address answers 301 to the surviving entry's address."""
    if target is None:
        raise not_found(message)
    return redirect(url_for(request.endpoint, slug=target), 301)


# --- Documentation ---------------------------------------------------------------------------


@_route("/")
@_route("/documentation")
def documentation() -> str:
    _no_parameters()
    document = build_document()
    return render_template(
        "api/documentation.html",
        document=document,
        operations=operations_overview(document),
        base_url=document["servers"][0]["url"],
    )


@_route("/openapi.json")
def openapi() -> Response:
    _no_parameters()
    return json_response(build_document(), mimetype="application/vnd.oai.openapi+json")


# --- Initiatives -----------------------------------------------------------------------------


@_route("/initiatives")
def initiatives() -> Response:
    reader, filters = parse_initiative_query(
        request.args, queries.filter_choices, extra=(*PAGING_PARAMS, "sort")
    )
    sort = reader.choice("sort", INITIATIVE_SORTS, "title")
    paging = reader.paging()
    reader.raise_if_invalid()
    page = queries.list_initiatives(filters, sort, paging.page, paging.per_page)
    items = [serializers.initiative_summary(initiative) for initiative in page.items]
    return json_response(_paged(page, items))


@_route("/initiatives/<slug>")
def initiative(slug: str) -> Response:
    _no_parameters()
    sheet = browse.get_initiative(_slug_or_404(slug, "Initiative"))
    if sheet is None:
        return _moved(merge.redirect_target("initiative", slug), "Initiative introuvable.")
    changed = newest(
        sheet.initiative.updated_at,
        *(link.organisation.updated_at for link in sheet.organisation_links),
        *(event.updated_at for event in sheet.events),
    )
    return json_response({"data": serializers.initiative_detail(sheet)}, last_modified=changed)


@_route("/map/points")
def map_points() -> Response:
    reader, filters = parse_initiative_query(request.args, queries.filter_choices)
    reader.raise_if_invalid()
    features = [serializers.map_feature(point) for point in queries.map_points(filters)]
    return json_response(
        {"type": "FeatureCollection", "features": features}, mimetype="application/geo+json"
    )


# --- Organisations ---------------------------------------------------------------------------


@_route("/organisations")
def organisations() -> Response:
    reader = QueryArgs(request.args, ("q", "kind", "departement", "sort", *PAGING_PARAMS))
    q = reader.text("q", 200)
    kind = reader.choice("kind", ORGANISATION_KINDS)
    departement = ""
    if "departement" in request.args:
        departement = reader.choice("departement", queries.filter_choices().departements)
    sort = reader.choice("sort", ORGANISATION_SORTS, "name")
    paging = reader.paging()
    reader.raise_if_invalid()
    page = queries.list_organisations(
        q=q,
        kind=kind,
        departement=departement,
        sort=sort,
        page=paging.page,
        per_page=paging.per_page,
    )
    return json_response(_paged(page, [serializers.organisation_summary(o) for o in page.items]))


@_route("/organisations/<slug>")
def organisation(slug: str) -> Response:
    _no_parameters()
    profile = browse.get_organisation(_slug_or_404(slug, "Organisation"))
    if profile is None:
        return _moved(merge.redirect_target("organisation", slug), "Organisation introuvable.")
    changed = newest(
        profile.organisation.updated_at,
        *(link.initiative.updated_at for link in profile.initiative_links),
        *(event.updated_at for event, _roles in profile.events),
    )
    return json_response({"data": serializers.organisation_detail(profile)}, last_modified=changed)


# --- Events ----------------------------------------------------------------------------------


@_route("/events")
def events() -> Response:
    _no_parameters()
    items = browse.list_events()
    return json_response(
        {"data": [serializers.event_summary(event) for event in items]},
        last_modified=newest(*(event.updated_at for event in items)),
    )


@_route("/events/<slug>")
def event(slug: str) -> Response:
    _no_parameters()
    page = browse.get_event(_slug_or_404(slug, "Événement"))
    if page is None:
        raise not_found("Événement introuvable.")
    changed = newest(
        page.event.updated_at,
        *(link.organisation.updated_at for link in page.organisers + page.partners),
        *(initiative.updated_at for initiative in page.initiatives),
    )
    return json_response({"data": serializers.event_detail(page)}, last_modified=changed)


# --- Taxonomies and territories --------------------------------------------------------------


@_route("/themes")
def themes() -> Response:
    _no_parameters()
    return json_response(
        {"data": [serializers.theme_item(theme, n) for theme, n in queries.themes()]}
    )


@_route("/publics")
def publics() -> Response:
    _no_parameters()
    return json_response(
        {"data": [serializers.public_item(public, n) for public, n in queries.publics()]}
    )


@_route("/regions")
def regions() -> Response:
    _no_parameters()
    return json_response({"data": serializers.region_groups()})


@_route("/departements")
def departements() -> Response:
    _no_parameters()
    return json_response(
        {"data": [serializers.departement_item(d) for d in queries.departements()]}
    )


@_route("/communes")
def communes() -> Response:
    reader = QueryArgs(request.args, ("q", "departement", "limit"))
    q = reader.text("q", 100)
    if "q" not in request.args:
        reader.problem("q", "Paramètre obligatoire : début du nom ou du code postal.")
    elif not request.args.get("q"):
        reader.problem("q", "Texte vide : au moins un caractère.")
    departement = ""
    if "departement" in request.args:
        departement = reader.choice("departement", queries.filter_choices().departements)
    limit = reader.integer("limit", 1, 50, 10) or 10
    reader.raise_if_invalid()
    found = queries.lookup_communes(q, departement, limit)
    return json_response({"data": [serializers.commune_item(c) for c in found]})


# --- Unknown addresses -----------------------------------------------------------------------


@_route("/<path:unknown>")
def unknown_path(unknown: str) -> Response:
    raise not_found("Adresse inconnue dans l'API : voir /api/v1/openapi.json.")
