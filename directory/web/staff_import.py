"""Staff import pages (/gestion/import): upload, column mapping, dry run, confirmation.

The uploaded file is kept (``services.exchange.pending``) between the dry run and the real
run, so the curator can fix the mapping and re-check without sending it again. The work is done
by ``services.exchange.importer``, the same service as the ``import`` command.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.file import FileField
from wtforms import RadioField, SelectChoice, SelectField
from wtforms.validators import InputRequired

from ..extensions import db
from ..guards import classify
from ..services.browse import Page, parse_page
from ..services.exchange import importer, pending
from ..services.exchange import mapping as mappings
from ..services.exchange.readers import ACCEPTED_EXTENSIONS
from .forms import BaseForm

bp = classify(Blueprint("staff_import", __name__, url_prefix="/gestion/import"), "staff")

ROWS_PER_PAGE = 50
FILTERS = {
    "": "Toutes les lignes",
    "refusees": "Lignes refusées",
    "avertissements": "Lignes avec avertissement",
    "creations": "Créations",
    "mises-a-jour": "Mises à jour",
}
KIND_CHOICES = [
    SelectChoice(mappings.INITIATIVE, "Des initiatives"),
    SelectChoice(mappings.ORGANISATION, "Des organisations"),
]


class UploadForm(BaseForm):
    kind = RadioField(
        "Le fichier contient",
        choices=KIND_CHOICES,
        default=mappings.INITIATIVE,
        validators=[InputRequired("Indiquez ce que contient le fichier.")],
    )
    file = FileField("Fichier CSV ou XLSX")
    saved_mapping = SelectField("Modèle de correspondance des colonnes", choices=[], default="")


def _max_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]


def _instance() -> str:
    return current_app.instance_path


def _mapping_choices() -> list[SelectChoice]:
    choices = [SelectChoice("", "Reconnaissance automatique des colonnes")]
    for kind, label in mappings.KIND_LABELS.items():
        for saved in mappings.saved_mappings(kind):
            choices.append(SelectChoice(f"{kind}:{saved.id}", f"{saved.name} ({label.lower()})"))
    return choices


@bp.route("", methods=["GET", "POST"])
def index() -> Any:
    form = UploadForm()
    form.saved_mapping.choices = _mapping_choices()
    if form.validate_on_submit():
        upload = form.file.data
        filename = (getattr(upload, "filename", "") or "").replace("\x00", "")[:200]
        if upload is None or not filename:
            form.file.errors = ["Choisissez un fichier CSV ou XLSX."]
        elif not filename.lower().endswith(ACCEPTED_EXTENSIONS):
            form.file.errors = ["Le fichier doit être au format CSV ou XLSX (.csv, .xlsx)."]
        else:
            data = upload.read(_max_bytes() + 1)
            columns = _saved_columns(form.saved_mapping.data, form.kind.data)
            if columns is False:
                form.saved_mapping.errors = [
                    "Ce modèle ne correspond pas au type de fichier choisi."
                ]
            else:
                stash = pending.create(
                    _instance(), data, user_id=current_user.id, kind=form.kind.data,
                    filename=filename,
                )  # fmt: skip
                stash.columns = columns or None
                _check(stash, data)
                return redirect(url_for(".report", token=stash.token))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "staff_import/index.html",
        form=form,
        max_megabytes=_max_bytes() // (1024 * 1024),
        saved={kind: mappings.saved_mappings(kind) for kind in mappings.KIND_LABELS},
        field_labels={kind: mappings.field_labels(kind) for kind in mappings.KIND_LABELS},
        kind_labels=mappings.KIND_LABELS,
    ), status


def _saved_columns(choice: str, kind: str) -> dict[str, str] | bool | None:
    if not choice:
        return None
    saved_kind, _, raw_id = choice.partition(":")
    saved = next(
        (item for item in mappings.saved_mappings(saved_kind) if str(item.id) == raw_id), None
    )
    if saved is None or saved_kind != kind:
        return False
    return dict(saved.columns)


def _check(stash: pending.PendingImport, data: bytes) -> None:
    """Dry run of the stashed file with its current mapping; the report is stashed too."""
    report = importer.run_import(
        data,
        stash.filename,
        kind=stash.kind,
        user=current_user,
        columns=stash.columns,
        dry_run=True,
        max_bytes=_max_bytes(),
    )
    stash.report = report.to_dict()
    pending.save(_instance(), stash)


def _load(token: str) -> pending.PendingImport:
    stash = pending.load(_instance(), token, current_user.id)
    if stash is None:
        abort(404)
    return stash


@bp.get("/<token>")
def report(token: str) -> Any:
    stash = _load(token)
    result = stash.report
    selected = request.args.get("lignes", "")
    if selected not in FILTERS:
        selected = ""
    rows = _filtered(result.get("rows", []), selected)
    number = parse_page(request.args.get("page"))
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    number = min(number, pages)
    start = (number - 1) * ROWS_PER_PAGE
    page = Page(items=rows[start : start + ROWS_PER_PAGE], total=len(rows), page=number,
                per_page=ROWS_PER_PAGE)  # fmt: skip
    return render_template(
        "staff_import/report.html",
        stash=stash,
        result=result,
        page=page,
        filters=FILTERS,
        selected=selected,
        fields=mappings.FIELDS[stash.kind],
        kind_label=mappings.KIND_LABELS[stash.kind],
        outcome_labels=importer.OUTCOME_LABELS,
        geocoding_labels=importer.GEOCODING_LABELS,
    )


def _filtered(rows: list[dict], selected: str) -> list[dict]:
    if selected == "refusees":
        return [row for row in rows if row["outcome"] == importer.ERROR]
    if selected == "avertissements":
        return [row for row in rows if row["warnings"]]
    if selected == "creations":
        return [row for row in rows if row["outcome"] == importer.CREATE]
    if selected == "mises-a-jour":
        return [row for row in rows if row["outcome"] == importer.UPDATE]
    return rows


@bp.post("/<token>/correspondance")
def update_mapping(token: str) -> Any:
    """Re-check the file with the columns chosen in the form; optionally save them by name."""
    stash = _load(token)
    if stash.report.get("written"):
        flash("Ce fichier a déjà été importé : envoyez-le de nouveau pour un nouvel import.")
        return redirect(url_for(".report", token=token))
    headings = stash.report.get("headings", [])
    known = {field.key for field in mappings.FIELDS[stash.kind]}
    columns: dict[str, str] = {}
    for index, heading in enumerate(headings):
        value = request.form.get(f"colonne-{index}", "")
        columns[heading] = value if value in known else mappings.IGNORE
    name = (request.form.get("nom_modele") or "").strip()
    if name:
        try:
            mappings.save(name, stash.kind, columns, current_user.id)
            db.session.commit()
        except mappings.MappingError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".report", token=token))
        flash(f"Modèle de correspondance « {name} » enregistré.", "success")
    data = pending.data(_instance(), stash)
    if data is None:
        abort(404)
    stash.columns = columns
    _check(stash, data)
    return redirect(url_for(".report", token=token))


@bp.post("/<token>/importer")
def confirm(token: str) -> Any:
    """The real run: all or nothing, or only the valid rows when the curator chose it."""
    stash = _load(token)
    if stash.report.get("written"):
        flash("Ce fichier a déjà été importé.", "info")
        return redirect(url_for(".report", token=token))
    data = pending.data(_instance(), stash)
    if data is None:
        abort(404)
    only_valid = request.form.get("seulement_valides") == "oui"
    result = importer.run_import(
        data,
        stash.filename,
        kind=stash.kind,
        user=current_user,
        columns=stash.columns,
        dry_run=False,
        only_valid=only_valid,
        max_bytes=_max_bytes(),
    )
    stash.report = result.to_dict()
    pending.save(_instance(), stash)
    counts = result.counts
    if result.written:
        flash(
            f"Import terminé : {counts['create']} création(s), {counts['update']} mise(s) à jour, "
            f"{counts['unchanged']} ligne(s) inchangée(s), {counts['error']} ligne(s) refusée(s).",
            "success",
        )
    else:
        flash(
            "Rien n'a été importé : le fichier contient des lignes refusées. Corrigez-les, ou "
            "cochez « Importer seulement les lignes valides ».",
            "error",
        )
    return redirect(url_for(".report", token=token))
