"""One idempotent set-up: schema migrations, territory gazetteer, seed catalogue."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from flask_migrate import upgrade

from ..config import ROOT
from ..search import indexing as search_indexing
from . import catalogue, gazetteer, private_files


def _protect_private_files(echo: Callable[[str], None]) -> None:
    echo("Fichiers privés : vérification des droits (lisibles par le seul compte du service)…")
    repairs = private_files.repair(
        Path(current_app.instance_path),
        current_app.config["SQLALCHEMY_DATABASE_URI"],
        current_app.config["SEARCH_INDEX_DIR"],
    )
    for line in repairs.done:
        echo(f"  Droits corrigés : {line}")
    for line in repairs.refused:
        echo(f"  Impossible de corriger (le fichier appartient-il à un autre compte ?) : {line}")
    if not repairs.done and not repairs.refused:
        echo("  Aucun droit à corriger.")


def _settle_logos(echo: Callable[[str], None]) -> None:
    """Logos of unpublished versions out of the public folder (stores written before they were
    kept private had them all there), and published ones in it."""
    from . import media

    published, hidden = media.reconcile_logos()
    if published or hidden:
        echo(f"Logos : {hidden} rendu(s) privé(s) (non publiés), {published} publié(s).")


def run(echo: Callable[[str], None] = print) -> None:
    started = time.perf_counter()
    echo("Base de données : application des migrations…")
    upgrade(directory=str(ROOT / "migrations"))
    echo("Territoires : chargement du référentiel des communes…")
    counts = gazetteer.load_gazetteer()
    echo(
        f"  {counts['regions']} régions, {counts['departements']} départements, "
        f"{counts['communes']} communes ({counts['created']} nouvelles)."
    )
    echo("Catalogue : chargement des données de la journée régionale de 2011…")
    seeded = catalogue.load_seed()
    created = ", ".join(
        f"{catalogue.KIND_LABELS.get(key, key)} : {value}" for key, value in seeded.items()
    )
    echo(f"  Entrées ajoutées — {created}.")
    search_indexing.prepare()  # builds the search index if one is needed
    _settle_logos(echo)
    _protect_private_files(echo)
    echo(f"Installation terminée en {time.perf_counter() - started:.1f} s.")
