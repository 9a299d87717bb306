"""Time ``backup create`` and ``backup restore`` for N demo initiatives, on SQLite or PostgreSQL.

Usage:

    .venv/bin/python bench/backup.py [--count 10000] [--database-url postgresql://...]

Builds a throw-away instance (``flask setup`` then ``flask demo-data --count N --no-index``,
see ``demo_instance.py``) on SQLite, or on the empty database ``--database-url`` names, unless
``--instance DIR`` names one already filled. Then, in process, through the same service as the
commands:

- ``backup.create``: wall-clock and CPU seconds, size of the archive;
- ``backup.restore`` into a new, empty instance (a new folder; on PostgreSQL also a new
  database next to the given one, dropped afterwards), split by step: extraction and checks,
  replacement of the database, uploads, search index rebuild (one process per core, as the
  command does).

A search for a common word must find as many initiatives before and after. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_instance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_instance.add_arguments(parser)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to fill")
    options = parser.parse_args()
    if options.database_url:
        os.environ["DATABASE_URL"] = options.database_url
    with demo_instance.demo_instance(options, "bench-backup-") as instance:
        run(instance)


class Steps:
    """An ``echo`` for the service that timestamps each step it announces."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        self.marks.append((message, time.perf_counter()))

    def durations(self, end: float) -> list[tuple[str, float]]:
        ends = [moment for _, moment in self.marks[1:]] + [end]
        return [
            (message, stop - start) for (message, start), stop in zip(self.marks, ends, strict=True)
        ]


def run(instance: Path) -> None:
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(instance)
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from directory import create_app
    from directory.config import sqlalchemy_url
    from directory.extensions import db
    from directory.models import Initiative
    from directory.search import indexing
    from directory.services import backup
    from directory.services import search as service

    def count_found(q: str) -> int:
        return service.search(service.SearchRequest.from_args({"q": q})).initiatives.total

    source = create_app({"RATELIMIT_ENABLED": False})
    work = Path(tempfile.mkdtemp(prefix="bench-backup-files-"))
    target_database = None
    try:
        with source.app_context():
            engine = db.engine.dialect.name
            initiatives = db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))
            print(f"database: {engine}, initiatives: {initiatives:,}")
            # The demo data was loaded without indexing: index it as a live instance would be.
            indexing.rebuild(processes=os.cpu_count() or 1)
            found_before = count_found("solidaire")
            archive = work / "sauvegarde.tar"
            started, cpu = time.perf_counter(), time.process_time()
            backup.create(archive, echo=lambda _message: None)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            size = archive.stat().st_size / 1e6
            print(
                f"backup create: {seconds:.1f} s ({cpu:.1f} s CPU in this process), {size:.1f} MB"
            )
            source_url = source.config["SQLALCHEMY_DATABASE_URI"]
            db.engine.dispose()

        if engine == "postgresql":
            target_database = f"bench_restore_{uuid.uuid4().hex[:8]}"
            target_url = _create_database(source_url, target_database)
        else:
            target_url = f"sqlite:///{work / 'restored' / 'annuaire.sqlite3'}"
        target = create_app(
            {
                "INSTANCE_PATH": str(work / "restored"),
                "DATABASE_URL": target_url,
                "RATELIMIT_ENABLED": False,
            }
        )
        with target.app_context():
            steps = Steps()
            started, cpu = time.perf_counter(), time.process_time()
            backup.restore(archive, echo=steps, processes=os.cpu_count() or 1)
            end = time.perf_counter()
            seconds, cpu = end - started, time.process_time() - cpu
            print(f"backup restore into an empty instance: {seconds:.1f} s ({cpu:.1f} s CPU here)")
            for message, duration in steps.durations(end):
                print(f"  {duration:6.1f} s  {message}")
            found_after = count_found("solidaire")
            print(
                f"search « solidaire »: {found_before:,} initiatives before, {found_after:,} after"
            )
            db.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if target_database:
            _drop_database(sqlalchemy_url(os.environ["DATABASE_URL"]), target_database)


def _admin_engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _create_database(source_url: str, name: str) -> str:
    import sqlalchemy as sa

    with _admin_engine(source_url).connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.make_url(source_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str, name: str) -> None:
    import sqlalchemy as sa

    with _admin_engine(url).connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
