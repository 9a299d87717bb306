"""Time duplicate detection for N demo initiatives: one look-up, and the staff listing.

Usage:

    .venv/bin/python bench/duplicates.py --count 100000 [--keep] [--instance DIR] [--titles 50]

Builds a throw-away instance as ``bench/export.py`` does (``flask setup`` then ``flask demo-data
--count N --no-index``), unless ``--instance DIR`` names one already filled; ``DATABASE_URL``
selects PostgreSQL as for the app. Then, in process:

- the first look-up, which builds the in-memory title index;
- ``find_duplicates`` for the snapshots of ``--titles`` published initiatives and as many
  organisations, taken as if they were entered again: p50, p95 and max;
- a look-up just after an edit (the index reads the changed rows only);
- /gestion/doublons through the whole Flask stack, signed in as a curator: the first visit
  (which starts the first build in the background for a large directory), the build, page 1
  and page 2 once built, and page 1 after an edit (the listing brought up to date).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_instance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_instance.add_arguments(parser)
    parser.add_argument("--titles", type=int, default=50, help="look-ups timed per kind")
    options = parser.parse_args()
    with demo_instance.demo_instance(options, "bench-duplicates-") as instance:
        run(instance, options.titles)


def _figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def run(instance: Path, titles: int) -> None:
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(instance)
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from directory import create_app
    from directory.extensions import db
    from directory.models import Initiative, Organisation, Role, Status, User
    from directory.services import duplicates, workflow

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        counts = {
            model.__name__: db.session.scalar(
                sa.select(sa.func.count(model.id)).where(model.status == Status.PUBLISHED)
            )
            for model in (Initiative, Organisation)
        }
        print(
            f"database: {db.engine.dialect.name}, published initiatives: "
            f"{counts['Initiative']:,}, organisations: {counts['Organisation']:,}"
        )
        rng = random.Random(6)
        samples = {}
        for kind, model in (("initiative", Initiative), ("organisation", Organisation)):
            ids = list(
                db.session.scalars(sa.select(model.id).where(model.status == Status.PUBLISHED))
            )
            samples[kind] = [
                workflow.snapshot(db.session.get(model, entry_id))
                for entry_id in rng.sample(ids, min(titles, len(ids)))
            ]
        db.session.commit()

        for kind, snaps in samples.items():
            started = time.perf_counter()
            duplicates.find_duplicates(kind, snaps[0])
            print(
                f"\n{kind}: first look-up (builds the index) {time.perf_counter() - started:.2f} s"
            )
            times, found = [], 0
            for snap in snaps:
                started = time.perf_counter()
                found += bool(duplicates.find_duplicates(kind, snap))
                times.append(time.perf_counter() - started)
            print(f"  find_duplicates x{len(snaps)}: {_figures(times)}; {found} with a duplicate")

        entry = db.session.scalar(
            sa.select(Initiative).where(Initiative.status == Status.PUBLISHED).limit(1)
        )
        original, entry_id = entry.title, entry.id
        entry.title = f"{original} (banc d'essai)"
        db.session.commit()
        started = time.perf_counter()
        duplicates.find_duplicates("initiative", samples["initiative"][1])
        print(f"  find_duplicates just after an edit: {time.perf_counter() - started:.3f} s")

        curator = db.session.scalar(
            sa.select(User).where(User.email == "banc-doublons@example.org")
        )
        if curator is None:
            curator = User(email="banc-doublons@example.org", name="Banc", role=Role.CURATOR)
            db.session.add(curator)
            db.session.commit()
        login_id = curator.get_id()

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True

    def page(label: str, url: str) -> str:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        assert response.status_code == 200, response.status_code
        print(f"  {label:<44} {seconds:6.2f} s ({cpu:.2f} s CPU)")
        return response.get_data(as_text=True)

    indexes = app.extensions[duplicates.EXTENSION_KEY]
    for kind in ("organisation", "initiative"):
        print(f"\n/gestion/doublons?type={kind}")
        started = time.perf_counter()
        text = page("page 1, first visit", f"/gestion/doublons?type={kind}")
        if "en cours de calcul" in text:
            indexes[kind].builder.join()
            built = time.perf_counter() - started
            print(f"  {'first build, in the background':<44} {built:6.2f} s")
            page("page 1 once built", f"/gestion/doublons?type={kind}")
        page("page 2", f"/gestion/doublons?type={kind}&page=2")
        page("page 1 again", f"/gestion/doublons?type={kind}")

    with app.app_context():
        entry = db.session.get(Initiative, entry_id)
        entry.title = original
        db.session.commit()
    page("initiatives, page 1 after an edit", "/gestion/doublons?type=initiative")
    with indexes["initiative"].lock:
        total = len(indexes["initiative"].pairs.similar)
    print(f"  similar pairs kept in memory: {total:,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"peak memory of the process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
