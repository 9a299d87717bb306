"""``flask --app directory search ...``: rebuild, verify and apply pending index changes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click
from flask.cli import AppGroup

search_cli = AppGroup("search", help="Gérer l’index de recherche.")


@search_cli.command("rebuild")
def rebuild_command() -> None:
    """Rebuild the whole index from the database."""
    rebuild_with_progress()


def rebuild_with_progress() -> int:
    """Rebuild the index with a progress bar on stderr (also used after bulk loads)."""
    from . import indexing

    bar = None

    def start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="Indexation", file=sys.stderr)
        bar.__enter__()

    try:
        count = indexing.rebuild(
            progress=lambda n: bar.update(n) if bar else None,
            on_total=start,
            processes=os.cpu_count() or 1,
        )
    except indexing.IndexBusy as error:
        raise click.ClickException(
            "L’index est en cours d’écriture par un autre processus ; réessayez dans un instant."
        ) from error
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Index reconstruit : {count} fiches indexées.")
    return count


@search_cli.command("verify")
@click.option("--no-repair", is_flag=True, help="Signaler les écarts sans les corriger.")
def verify_command(no_repair: bool) -> None:
    """Compare the index with the database; repair differences (exit status 1 if any)."""
    from . import indexing

    try:
        report = indexing.verify(repair=not no_repair)
    except indexing.IndexBusy as error:
        raise click.ClickException(
            "L’index est en cours d’écriture par un autre processus ; réessayez dans un instant."
        ) from error
    if not report.differences:
        click.echo("Index conforme à la base de données.")
        return
    for label, keys in (
        ("absentes de l’index", report.missing),
        ("en trop dans l’index", report.extra),
        ("périmées dans l’index", report.stale),
    ):
        if keys:
            sample = ", ".join(f"{t}:{i}" for t, i in keys[:10])
            click.echo(f"{len(keys)} fiches {label} ({sample}{'…' if len(keys) > 10 else ''}).")
    click.echo("Écarts corrigés." if report.repaired else "Écarts non corrigés (--no-repair).")
    sys.exit(1)


@search_cli.command("process")
def process_command() -> None:
    """Apply the pending changes of the outbox to the index."""
    from . import indexing

    applied = indexing.drain(timeout=30.0, max_batches=1_000_000)
    click.echo(f"{applied} modifications appliquées ; {indexing.pending_count()} en attente.")


@search_cli.command("worker")
def worker_command() -> None:
    """Apply saved changes to the index as they come, until stopped (SIGTERM, Ctrl+C)."""
    from . import indexing

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo("Indexation en continu : chaque modification enregistrée est indexée.")
    with contextlib.suppress(KeyboardInterrupt):
        indexing.run_worker(
            stop=lambda: bool(stopping),
            on_applied=lambda count: click.echo(f"{count} modification(s) indexée(s)."),
        )
    click.echo("Indexation en continu arrêtée.")
