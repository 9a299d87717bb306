"""Time the open-data export and a filtered CSV download for N demo initiatives.

Usage:

    .venv/bin/python bench/export.py --count 100000 [--keep DIR]

Builds a throw-away instance (``flask setup`` then ``flask demo-data --count N --no-index``),
unless ``--instance DIR`` names one already filled. ``DATABASE_URL`` selects PostgreSQL as for
the app (the database must then be empty or already filled). Then, in process:

- the full open-data export (``export.write_opendata``: CSV, JSON, GeoJSON and XLSX of the
  initiatives and the organisations), file by file;
- downloads through the whole Flask stack (test client, streamed body read chunk by chunk):
  the full CSV, a filtered CSV (one theme in région PACA) and the full XLSX.

Prints wall-clock and CPU seconds (the CPU figure does not depend on what else the machine
runs), rows, bytes and the growth of the process's peak memory, which shows that exports stream
instead of holding their rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_instance  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_instance.add_arguments(parser)
    options = parser.parse_args()
    with demo_instance.demo_instance(options, "bench-export-") as instance:
        run(instance)


def run(instance: Path) -> None:
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(instance)
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from directory import create_app
    from directory.extensions import db
    from directory.models import Initiative, Status, Theme
    from directory.services.exchange import export

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        published = db.session.scalar(
            sa.select(sa.func.count(Initiative.id)).where(Initiative.status == Status.PUBLISHED)
        )
        theme = db.session.scalar(sa.select(Theme.slug).order_by(Theme.position).limit(1))
        print(f"database: {db.engine.dialect.name}, published initiatives: {published:,}")

        target = instance / "bench-opendata"
        base = _peak_mb()
        timings: list[tuple[str, float, float]] = []
        last = [time.perf_counter(), time.process_time()]

        def note(name: str | None) -> None:
            now, cpu = time.perf_counter(), time.process_time()
            if timings:
                timings[-1] = (timings[-1][0], now - last[0], cpu - last[1])
            if name:
                timings.append((name, 0.0, 0.0))
            last[:] = [now, cpu]

        started, cpu_started = time.perf_counter(), time.process_time()
        release = export.write_opendata(
            target, base_url="https://annuaire.example.org", progress=note
        )
        note(None)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"\nfull open-data export: {total:.1f} s ({cpu:.1f} s CPU), "
            f"peak memory +{_peak_mb() - base:.0f} MB"
        )
        for file, (name, seconds, cpu) in zip(release.files, timings, strict=True):
            print(f"  {name:<24} {seconds:7.1f} s ({cpu:6.1f} s CPU)  {file.size / 1e6:8.1f} MB")

    client = app.test_client()
    for label, url in (
        ("CSV, whole catalogue", "/initiatives/export.csv"),
        (f"CSV, theme {theme} + PACA", f"/initiatives/export.csv?theme={theme}&region=paca"),
        ("XLSX, whole catalogue", "/initiatives/export.xlsx"),
        ("GeoJSON, département 13", "/initiatives/export.geojson?departement=13"),
    ):
        base = _peak_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        first_byte = None
        size = 0
        for chunk in response.response:
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
        response.close()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rows = response.headers.get("X-Export-Count", "?")
        print(
            f"{label:<36} {seconds:6.1f} s ({cpu:.1f} s CPU, first byte {first_byte or 0:.2f} s), "
            f"{int(rows):,} rows, {size / 1e6:.1f} MB, peak memory +{_peak_mb() - base:.0f} MB"
        )


if __name__ == "__main__":
    main()
