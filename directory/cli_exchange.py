"""``flask --app directory import FILE``: the import service from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db
from .models import User
from .services import permissions
from .services.exchange import importer
from .services.exchange import mapping as mappings

SHOWN_ERRORS = 20
# Above this many rows the search index is rebuilt once after the import.
BULK_ROWS = 1000


def _columns(value: str | None, kind: str) -> dict[str, str] | None:
    """A saved mapping's name, or a JSON file ``{"heading": "field"}``."""
    if not value:
        return None
    path = Path(value)
    if path.suffix.lower() == ".json" and path.is_file():
        try:
            columns = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise click.ClickException(f"Fichier de correspondance illisible : {error}") from None
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise click.ClickException(
                'Le fichier de correspondance doit être un objet JSON {"colonne": "champ"}.'
            )
        return columns
    saved = mappings.load(value, kind)
    if saved is None:
        raise click.ClickException(f"Aucun modèle de correspondance nommé « {value} ».")
    return dict(saved.columns)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["initiatives", "organisations"]),
    default="initiatives",
    show_default=True,
    help="Ce que contient le fichier.",
)
@click.option("--dry-run", is_flag=True, help="Vérifier seulement : rien n'est écrit.")
@click.option(
    "--mapping",
    "mapping_name",
    help="Modèle de correspondance enregistré (son nom) ou fichier JSON {colonne: champ}.",
)
@click.option(
    "--only-valid", is_flag=True, help="Importer les lignes valides même si d'autres sont refusées."
)
@click.option("--as", "email", required=True, help="Adresse du compte de l'équipe (auteur).")
@with_appcontext
def import_command(
    file: Path,
    kind: str,
    dry_run: bool,
    mapping_name: str | None,
    only_valid: bool,
    email: str,
) -> None:
    """Importer des initiatives ou des organisations depuis un fichier CSV ou XLSX."""
    entity_type = importer.kind_from(kind)
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    if user is None or not user.active or not permissions.is_staff(user):
        raise click.ClickException(f"« {email} » n'est pas un compte actif de l'équipe.")
    columns = _columns(mapping_name, entity_type)
    max_bytes = current_app.config["IMPORT_MAX_BYTES"]
    if file.stat().st_size > max_bytes:
        raise click.ClickException(
            f"Le fichier dépasse la limite de {max_bytes // (1024 * 1024)} Mo (IMPORT_MAX_BYTES)."
        )
    data = file.read_bytes()
    # Rows are counted once when checked and once more when written.
    passes = 1 if dry_run else 2
    estimate = max(1, data.count(b"\n")) * passes if not data.startswith(b"PK") else 1
    with click.progressbar(length=estimate, label="Import", file=sys.stderr) as bar:
        report = importer.run_import(
            data,
            file.name,
            kind=entity_type,
            user=user,
            columns=columns,
            dry_run=dry_run,
            only_valid=only_valid,
            max_bytes=max_bytes,
            progress=_advance(bar),
            defer_index=not dry_run and estimate > BULK_ROWS * passes,
        )
    _print(report)
    if report.written and not dry_run and estimate > BULK_ROWS * passes:
        # Thousands of entries: one rebuild, with its own progress bar, is quicker.
        from .search.cli import rebuild_with_progress

        rebuild_with_progress()
    if report.file_error or report.error_rows:
        raise SystemExit(1)


def _advance(bar):
    """A progress callback that grows the bar when the estimate was short."""

    def progress(step: int) -> None:
        bar.length = max(bar.length, bar.pos + step)
        bar.update(step)

    return progress


def _print(report: importer.ImportReport) -> None:
    if report.file_error:
        click.echo(f"Fichier refusé : {report.file_error}", err=True)
        return
    counts = report.counts
    mapped = ", ".join(f"{heading} → {key}" for heading, key in report.mapping.items() if key)
    click.echo(f"Colonnes : {mapped}")
    ignored = [heading for heading, key in report.mapping.items() if not key]
    if ignored:
        click.echo(f"Colonnes ignorées : {', '.join(ignored)}")
    for note in report.notes:
        click.echo(note)
    verb = "importées" if report.written else "à importer"
    click.echo(
        f"Lignes : {len(report.rows)} — créations : {counts['create']}, mises à jour : "
        f"{counts['update']}, inchangées : {counts['unchanged']}, refusées : {counts['error']} "
        f"({verb})."
    )
    errors = report.error_rows
    for row in errors[:SHOWN_ERRORS]:
        click.echo(f"  ligne {row.line} : {' ; '.join(row.errors)}", err=True)
    if len(errors) > SHOWN_ERRORS:
        click.echo(f"  … et {len(errors) - SHOWN_ERRORS} autres lignes refusées.", err=True)
    if report.written:
        click.echo("Import terminé.")
    elif report.dry_run:
        click.echo("Vérification seulement : rien n'a été écrit.")
    else:
        click.echo(
            "Rien n'a été écrit : corrigez les lignes refusées, ou relancez avec --only-valid.",
            err=True,
        )
