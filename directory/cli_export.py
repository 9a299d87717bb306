"""``flask --app directory export ...``: the open-data files, written from the shell."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

export_cli = AppGroup("export", help="Exporter les données publiées.")


@export_cli.command("opendata")
@click.argument(
    "directory",
    required=False,
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
)
@click.option(
    "--base-url",
    default="",
    help="Adresse publique du site, pour les liens des fiches (par défaut PUBLIC_BASE_URL).",
)
def opendata_command(directory: Path | None, base_url: str) -> None:
    """Write the open-data files (CSV, JSON, GeoJSON, XLSX, schemas) into DIRECTORY.

    Without DIRECTORY: instance/opendata, the files served by the /donnees page.
    """
    from .services.exchange import export

    if base_url and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("l’adresse doit commencer par http:// ou https://.")
    release = export.write_opendata(
        directory, base_url=base_url, progress=lambda name: click.echo(f"… {name}")
    )
    click.echo(
        f"Données ouvertes écrites dans {release.directory} — initiatives : "
        f"{release.counts['initiatives']}, organisations : {release.counts['organisations']}."
    )
