"""Blueprint "exports": downloads of the public lists and searches, and the open-data page.

Addresses (the list's or the search's own query string, so a download is what the page shows):

- ``/initiatives/export.<csv|xlsx|json|geojson>`` and ``/initiatives/export-excel.csv``
- ``/organisations/export.<csv|xlsx|json>`` and ``/organisations/export-excel.csv``
- ``/recherche/export.<fmt>`` and ``/recherche/export-excel.csv`` (the tab of the search decides)
- ``/donnees`` (open data), ``/donnees/<file>`` (the full files and their schemas)

Published data only, hence public; nothing here carries personal data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
)

from ..config import public_url
from ..guards import classify
from ..services import browse
from ..services import search as search_service
from ..services.exchange import export
from ..services.filters import InitiativeFilters

bp = classify(Blueprint("exports", __name__), "public")


def _in_app_context(app: Flask, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Make each chunk inside its own app context, none left open between two chunks.

    The body is read after the view has returned. Unlike ``stream_with_context``, which keeps
    the request context pushed until the body is finished, nothing stays pushed while the
    server (or a test client that never reads the body) does something else.
    """
    while True:
        with app.app_context():
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def _download(kind: str, fmt: str, ids: Sequence[int], prefix: str = "") -> Response:
    spec = export.FORMATS[fmt]
    chunks = export.stream(kind, fmt, ids, public_url(current_app.config))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    response = Response(_in_app_context(app, chunks), mimetype=spec.mimetype)
    name = export.file_name(kind, fmt, prefix=prefix)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Export-Count"] = str(len(ids))
    return response


def _format(kind: str, fmt: str) -> str:
    """The export format of the address, or 404 (``export.excel-csv`` is no address)."""
    excel_rule = request.url_rule is not None and request.url_rule.rule.endswith("-excel.csv")
    if (fmt == "excel-csv") != excel_rule:
        abort(404)
    try:
        export.check(kind, fmt)
    except export.ExportError:
        abort(404)
    return fmt


@bp.get("/initiatives/export.<fmt>", defaults={"kind": "initiatives"})
@bp.get("/organisations/export.<fmt>", defaults={"kind": "organisations"})
@bp.get("/initiatives/export-excel.csv", defaults={"kind": "initiatives", "fmt": "excel-csv"})
@bp.get("/organisations/export-excel.csv", defaults={"kind": "organisations", "fmt": "excel-csv"})
def list_export(kind: str, fmt: str):
    fmt = _format(kind, fmt)
    if kind == "initiatives":
        sort = browse.parse_sort(
            request.args.get("tri"), browse.INITIATIVE_SORTS, browse.DEFAULT_INITIATIVE_SORT
        )
        ids = export.initiative_ids(InitiativeFilters.from_args(request.args), sort)
    else:
        sort = browse.parse_sort(
            request.args.get("tri"), browse.ORGANISATION_SORTS, browse.DEFAULT_ORGANISATION_SORT
        )
        ids = export.organisation_ids(browse.OrganisationFilters.from_args(request.args), sort)
    return _download(kind, fmt, ids)


@bp.get("/recherche/export.<fmt>")
@bp.get("/recherche/export-excel.csv", defaults={"fmt": "excel-csv"})
def search_export(fmt: str):
    search_request = search_service.SearchRequest.from_args(request.args)
    kind = "organisations" if search_request.tab == "organisations" else "initiatives"
    fmt = _format(kind, fmt)
    kind, ids = export.search_ids(search_request)
    return _download(kind, fmt, ids, prefix="recherche-")


@bp.get("/donnees")
def opendata():
    release = export.current_release()
    return render_template(
        "exports/opendata.html",
        release=release,
        formats=export.FORMATS,
        schemas=export.SCHEMA_FILES,
    )


@bp.get("/donnees/<name>")
def opendata_file(name: str):
    if name in export.SCHEMA_FILES:
        return send_from_directory(export.SCHEMA_DIR, name, mimetype="application/json")
    if name not in export.OPENDATA_FILES:
        abort(404)
    release = export.current_release()
    kind, fmt = export.OPENDATA_FILES[name]
    response = send_from_directory(
        release.directory,
        name,
        mimetype=export.FORMATS[fmt].mimetype,
        as_attachment=True,
        download_name=export.file_name(kind, fmt, release.generated_at.date()),
        max_age=0,
    )
    return response


@bp.app_template_global()
def export_formats(kind: str) -> list[tuple[str, export.Format]]:
    """The download formats of a list (``initiatives`` or ``organisations``), for menus."""
    return [(key, export.FORMATS[key]) for key in export.KIND_FORMATS.get(kind, ())]
