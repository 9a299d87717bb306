"""Embeddable list of initiatives for partners' websites: ``/embed/liste?<filters>``.

A chrome-less page (no site header or footer) that partners show in an <iframe>; /embed/ pages
are the only ones that may be framed (see ``security``). Filters are read leniently, like the
site's; links open the sheets on the main site in a new window.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from ..api import queries
from ..guards import classify
from ..services.filters import InitiativeFilters
from .feeds import initiative_url

bp = classify(Blueprint("embed", __name__, url_prefix="/embed"), "public")

DEFAULT_COUNT = 10
MAX_COUNT = 50
# Site sort names (as in the search page's address) -> query sort names.
SORTS = {"titre": "title", "recent": "recent", "annee": "start_year"}


def _count(raw: str | None) -> int:
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 3:
        return DEFAULT_COUNT
    return min(max(int(text), 1), MAX_COUNT)


@bp.get("/liste", endpoint="list")
def initiative_list() -> str:
    filters = InitiativeFilters.from_args(request.args)
    sort = SORTS.get(request.args.get("tri", ""), "title")
    page = queries.list_initiatives(filters, sort, 1, _count(request.args.get("nombre")))
    return render_template(
        "embed/list.html",
        page=page,
        initiatives=[(initiative, initiative_url(initiative)) for initiative in page.items],
        more_url=_site_list_url(filters),
    )


def _site_list_url(filters: InitiativeFilters) -> str:
    return url_for("search.search", _external=True, **filters.to_args())
