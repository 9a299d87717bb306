"""``flask --app directory backup create|restore FILE``: thin commands over ``services.backup``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
from flask.cli import AppGroup

backup_cli = AppGroup("backup", help="Sauvegarder et restaurer l'instance (base et fichiers).")


@backup_cli.command("create")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def create_command(file: Path) -> None:
    """Write a backup of the database and the uploaded files to FILE."""
    from .services import backup

    started = time.perf_counter()
    try:
        manifest = backup.create(file, echo=click.echo)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    size = file.stat().st_size / 1_000_000
    click.echo(
        f"Sauvegarde écrite dans {file} ({size:.1f} Mo, {time.perf_counter() - started:.1f} s) : "
        f"{manifest.describe()}."
    )


@backup_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
def restore_command(file: Path, yes: bool) -> None:
    """Replace the database and the uploaded files by those of FILE, then rebuild the index."""
    from .services import backup

    started = time.perf_counter()
    try:
        manifest = backup.read_manifest(file)
        click.echo(f"{file} : {manifest.describe()}.")
        if not yes:
            click.confirm(
                "La base de données et les fichiers déposés de cette instance seront remplacés "
                "(arrêtez le site pendant la restauration). Continuer ?",
                abort=True,
            )
        backup.restore(file, echo=click.echo, processes=os.cpu_count() or 1)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restauration terminée en {time.perf_counter() - started:.1f} s.")
