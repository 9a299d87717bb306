"""Public pages: home, initiatives, organisations, events, territories."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from ..guards import classify
from ..services import browse, merge
from ..services.filters import InitiativeFilters

bp = classify(Blueprint("public", __name__), "public")


def _moved_or_404(kind: str, slug: str):
    """A merged entry's old address answers 301 to the surviving entry."""
    target = merge.redirect_target(kind, slug) or abort(404)
    return redirect(url_for(f"public.{kind}", slug=target), 301)


@bp.get("/")
def home():
    return render_template("public/home.html", overview=browse.home_overview())


@bp.get("/initiatives")
def initiatives():
    filters = InitiativeFilters.from_args(request.args)
    sort = browse.parse_sort(
        request.args.get("tri"), browse.INITIATIVE_SORTS, browse.DEFAULT_INITIATIVE_SORT
    )
    page = browse.list_initiatives(filters, sort, browse.parse_page(request.args.get("page")))
    return render_template(
        "public/initiatives/list.html",
        page=page,
        filters=filters,
        sort=sort,
        sorts=browse.INITIATIVE_SORTS,
        choices=browse.filter_choices(),
    )


@bp.get("/initiatives/<slug>")
def initiative(slug: str):
    sheet = browse.get_initiative(slug)
    if sheet is None:
        return _moved_or_404("initiative", slug)
    return render_template(
        "public/initiatives/detail.html", sheet=sheet, initiative=sheet.initiative
    )


@bp.get("/organisations")
def organisations():
    filters = browse.OrganisationFilters.from_args(request.args)
    sort = browse.parse_sort(
        request.args.get("tri"), browse.ORGANISATION_SORTS, browse.DEFAULT_ORGANISATION_SORT
    )
    page = browse.list_organisations(filters, sort, browse.parse_page(request.args.get("page")))
    return render_template(
        "public/organisations/list.html",
        page=page,
        filters=filters,
        sort=sort,
        sorts=browse.ORGANISATION_SORTS,
        choices=browse.filter_choices(),
    )


@bp.get("/organisations/<slug>")
def organisation(slug: str):
    profile = browse.get_organisation(slug)
    if profile is None:
        return _moved_or_404("organisation", slug)
    return render_template(
        "public/organisations/detail.html", profile=profile, organisation=profile.organisation
    )


@bp.get("/evenements")
def events():
    return render_template("public/events/list.html", events=browse.list_events())


@bp.get("/evenements/<slug>")
def event(slug: str):
    event_page = browse.get_event(slug) or abort(404)
    return render_template("public/events/detail.html", page=event_page, event=event_page.event)


@bp.get("/territoires/<code>")
def territory(code: str):
    overview = browse.departement_overview(code, browse.parse_page(request.args.get("page")))
    if overview is None:
        abort(404)
    return render_template("public/territory.html", overview=overview)
