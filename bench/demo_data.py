"""Benchmark of ``demo-data``: time, rows per second and database size for N initiatives.

Usage: ``.venv/bin/python bench/demo_data.py [N]`` (default 10,000). Runs on a fresh SQLite
database in a temporary instance folder, then on PostgreSQL too when ``DATABASE_URL`` points at
one (there the demo rows are removed again at the end).
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from directory import create_app
from directory.extensions import db
from directory.services import demo, setup

COUNTED_TABLES = (
    "organisation", "organisation_theme", "organisation_departement", "initiative", "place",
    "initiative_organisation", "initiative_theme", "initiative_public", "initiative_departement",
)  # fmt: skip


def _rows() -> int:
    metadata = db.metadata.tables
    return sum(
        db.session.scalar(select(func.count()).select_from(metadata[name]))
        for name in COUNTED_TABLES
    )


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} Mio"


def _database_size(url: str) -> int:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        # Fold the write-ahead log into the file so that its size is the whole database.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    return db.session.scalar(text("SELECT pg_database_size(current_database())"))


def run(label: str, database_url: str, instance: Path, count: int, keep: bool) -> None:
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SEARCH_INDEX_DIR": str(instance / "search-index"),
        }
    )
    with app.app_context():
        setup.run(echo=lambda _message: None)
        size_before = _database_size(database_url)
        rows_before = _rows()
        started = time.perf_counter()
        created = demo.create_demo_data(count, seed=2011)
        elapsed = time.perf_counter() - started
        rows = _rows() - rows_before
        size_after = _database_size(database_url)
        print(
            f"[{label}] {created['initiatives']:,} initiatives, "
            f"{created['organisations']:,} organisations, {created['places']:,} lieux"
        )
        print(
            f"[{label}] création : {elapsed:.1f} s, {rows:,} lignes, "
            f"{rows / elapsed:,.0f} lignes/s, {count / elapsed:,.0f} initiatives/s"
        )
        print(
            f"[{label}] base : {_mib(size_before)} avant, {_mib(size_after)} après "
            f"(+{_mib(size_after - size_before)})"
        )
        if not keep:
            started = time.perf_counter()
            demo.remove_demo_data()
            print(f"[{label}] suppression : {time.perf_counter() - started:.1f} s")
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as folder:
        instance = Path(folder) / "instance"
        run(
            "SQLite", f"sqlite:///{instance / 'annuaire.sqlite3'}", instance, args.count, keep=False
        )
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql")):
            run("PostgreSQL", database_url, Path(folder) / "pg-instance", args.count, keep=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"Mémoire maximale du processus : {_mib(peak)}")


if __name__ == "__main__":
    main()
