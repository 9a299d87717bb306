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
    help="Adresse publique du site, pour les liens des fiches (par défaut PUBLIC_URL).",
)
def opendata_command(directory: Path | None, base_url: str) -> None:
    """Write the open-data files (CSV, JSON, GeoJSON, XLSX, schemas) into DIRECTORY.

    Without DIRECTORY: instance/opendata, the files served by the /donnees page.
    """
    from .config import parse_public_url
    from .services.exchange import export

    if base_url:
        try:
            base_url = parse_public_url(base_url)
        except ValueError as error:
            raise click.BadParameter(str(error).replace("PUBLIC_URL", "--base-url")) from None
    release = export.write_opendata(
        directory, base_url=base_url, progress=lambda name: click.echo(f"… {name}")
    )
    click.echo(
        f"Données ouvertes écrites dans {release.directory} — initiatives : "
        f"{release.counts['initiatives']}, organisations : {release.counts['organisations']}."
    )
