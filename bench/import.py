"""Benchmark of the import: dry run, real run and re-import of an N-row CSV (default 10,000).

Usage: ``.venv/bin/python bench/import.py [N] [--keep-file PATH]``. Runs on a fresh SQLite
database in a temporary instance folder (set-up, gazetteer and seed loaded), then on PostgreSQL
too when ``DATABASE_URL`` points at one (a throw-away database is created there and dropped).

The file holds generated demo text (``services.demo_text``), clearly labelled as such in its
"Source" column: title, summary, description, commune (name, and INSEE code for homonyms and
one row in four),
themes, stage, start year, website and an external id. The real run includes the revisions,
the audit entry and the search-index update that follows the commit.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import create_app  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.models import Commune, Initiative, Revision, Role, Stage, Theme, User  # noqa: E402
from directory.search import indexing  # noqa: E402
from directory.services import setup  # noqa: E402
from directory.services.demo_text import FrenchTextGenerator  # noqa: E402
from directory.services.exchange.importer import run_import  # noqa: E402
from directory.territories import COVERED_DEPARTEMENTS  # noqa: E402

SOURCE = "Données de démonstration générées pour le banc d'essai de l'import"


def make_csv(count: int, seed: int = 2011) -> bytes:
    """A semicolon CSV of ``count`` initiatives, as a spreadsheet saved by Excel would be."""
    rng = random.Random(seed)
    text = FrenchTextGenerator(rng)
    communes = db.session.execute(
        sa.select(Commune.code, Commune.name)
        .where(Commune.departement_code.in_(COVERED_DEPARTEMENTS), Commune.kind == "COM")
        .order_by(Commune.code)
    ).all()
    names = {}
    for code, name in communes:
        names.setdefault(name, []).append(code)
    themes = list(db.session.scalars(sa.select(Theme.name)))
    stages = [stage.label for stage in Stage]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(
        ["Identifiant", "Titre", "Résumé", "Description", "Commune", "Code INSEE", "Thèmes",
         "Stade", "Année de début", "Site web", "Source"]
    )  # fmt: skip
    for number in range(count):
        code, name = rng.choice(communes)
        # Homonyms need the code; one row in four gives it anyway.
        insee = code if len(names[name]) > 1 or rng.random() < 0.25 else ""
        organisation = "L'association"
        writer.writerow(
            [
                f"BENCH-{number:06d}",
                f"{text.initiative_title(name)} n° {number}",
                text.summary(organisation),
                text.description(organisation, 40, 160),
                name,
                insee,
                "; ".join(rng.sample(themes, rng.randint(1, 3))),
                rng.choice(stages),
                str(rng.randint(1995, 2025)),
                f"https://initiative-{number}.example.org/" if rng.random() < 0.4 else "",
                SOURCE,
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _timed(label: str, work):
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    print(f"  {label:<32} {elapsed:6.1f} s")
    return result, elapsed


def run(
    label: str,
    database_url: str,
    instance: Path,
    count: int,
    keep_file: Path | None,
    options_outbox: int = 0,
) -> None:
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SEARCH_INDEX_DIR": str(instance / "search-index"),
        }
    )
    with app.app_context():
        setup.run(echo=lambda _message: None)
        curator = User(email="banc-essai@example.org", name="Banc d'essai", role=Role.CURATOR)
        db.session.add(curator)
        db.session.commit()
        data, _ = _timed("génération du fichier", lambda: make_csv(count))
        if keep_file:
            keep_file.write_bytes(data)
        print(f"[{label}] {count:,} lignes, {len(data) / 2**20:.1f} Mio".replace(",", "\u202f"))
        before = db.session.scalar(sa.select(sa.func.count(Initiative.id)))

        def check():
            return run_import(data, "banc.csv", kind="initiative", user=curator)

        report, _ = _timed("vérification (dry run)", check)
        print(f"  résultats : {report.counts}")
        for row in report.error_rows[:5]:
            print(f"  ligne {row.line} refusée : {' ; '.join(row.errors)}")

        def write(defer_index: bool = True):
            return run_import(
                data, "banc.csv", kind="initiative", user=curator, dry_run=False,
                only_valid=True, defer_index=defer_index,
            )  # fmt: skip

        report, elapsed = _timed("import réel (base de données)", write)
        _, indexed = _timed("reconstruction de l'index", indexing.rebuild)
        created = db.session.scalar(sa.select(sa.func.count(Initiative.id))) - before
        revisions = db.session.scalar(sa.select(sa.func.count(Revision.id)))
        print(
            f"  créées : {created:,}, révisions : {revisions:,}, "
            f"{count / elapsed:,.0f} lignes/s".replace(",", "\u202f")
        )
        print(f"  total import + index : {elapsed + indexed:.1f} s")
        report, _ = _timed("ré-import (tout inchangé)", write)
        print(f"  résultats : {report.counts}")
        if options_outbox:
            sample = make_csv(options_outbox, seed=6).replace(b"BENCH-", b"OUTBOX-")

            def write_sample():
                return run_import(sample, "petit.csv", kind="initiative", user=curator,
                                  dry_run=False, only_valid=True)  # fmt: skip

            _timed(f"{options_outbox} lignes, index au fil de l'eau", write_sample)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("--keep-file", type=Path, help="also write the generated CSV there")
    parser.add_argument(
        "--outbox", type=int, default=200,
        help="then import this many rows with the index updated entry by entry",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        instance = Path(folder) / "instance"
        run("SQLite", f"sqlite:///{instance / 'annuaire.sqlite3'}", instance, args.count,
            args.keep_file, args.outbox)  # fmt: skip
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql")):
            name = f"import_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(
                make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(database_url).set(database=name)
                run("PostgreSQL", url.render_as_string(hide_password=False),
                    Path(folder) / "pg-instance", args.count, None, args.outbox)  # fmt: skip
            finally:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"Mémoire maximale du processus : {peak / 2**20:,.0f} Mio")


if __name__ == "__main__":
    main()
