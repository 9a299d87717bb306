"""Blueprint "search": the search page and its autocomplete."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from ..guards import classify
from ..services import search as service

bp = classify(Blueprint("search", __name__), "public")


@bp.get("/recherche")
def search():
    search_request = service.SearchRequest.from_args(
        request.args, per_page=current_app.config["PAGE_SIZE"]
    )
    outcome = service.search(search_request)
    return render_template(
        "search/search.html", outcome=outcome, req=search_request, radii=service.RADII
    )


@bp.get("/recherche/suggestions")
def suggestions():
    found = service.autocomplete(request.args.get("q", ""))
    response = jsonify([_suggestion_json(suggestion) for suggestion in found])
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _suggestion_json(suggestion: service.Suggestion) -> dict[str, str]:
    data = {"type": suggestion.type, "label": suggestion.label}
    if suggestion.type == "commune":
        data["code"] = suggestion.key
    else:
        endpoint = f"public.{suggestion.type}"
        data["url"] = url_for(endpoint, slug=suggestion.key)
    return data
