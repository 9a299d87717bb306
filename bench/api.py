"""Latency of the API on a large catalogue: p50 / p95 per request, in process.

Usage, on an instance filled with demo data (``flask --app directory demo-data --count 100000``):

    DIRECTORY_INSTANCE_PATH=/path/to/instance .venv/bin/python bench/api.py [--requests 200]

``DATABASE_URL`` selects PostgreSQL as for the app. Requests go through the whole Flask stack
(routing, parsing, queries, serialisation, ETag) with the test client, without a network hop;
the rate limit is lifted for the run. Page numbers vary so that the same rows are not re-read.

``--analyze`` first refreshes the planner statistics (``ANALYZE``). Right after a bulk load
neither SQLite nor PostgreSQL has any: SQLite then sorts every published row for each list
page, and PostgreSQL has been seen to pick plans 100 times slower for combined filters.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import sqlalchemy as sa

from directory import create_app
from directory.extensions import db
from directory.models import Initiative, Status, Theme


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE first")
    options = parser.parse_args()
    rng = random.Random(options.seed)

    app = create_app({"API_RATE_LIMIT": "100000000 per minute"})
    with app.app_context():
        if options.analyze:
            with db.engine.connect() as connection:
                connection.execute(sa.text("ANALYZE"))
                connection.commit()
        published = db.session.scalar(
            sa.select(sa.func.count(Initiative.id)).where(Initiative.status == Status.PUBLISHED)
        )
        theme = db.session.scalar(sa.select(Theme.slug).order_by(Theme.position).limit(1))
        slugs = list(
            db.session.scalars(
                sa.select(Initiative.slug)
                .where(Initiative.status == Status.PUBLISHED)
                .order_by(sa.func.random())
                .limit(options.requests)
            )
        )
        dialect = db.engine.dialect.name
    client = app.test_client()

    def page() -> int:
        return rng.randint(1, 50)

    scenarios = {
        "list, 20 per page": lambda: f"/api/v1/initiatives?page={page()}",
        "filtered list: département 13, 20 per page": (
            lambda: f"/api/v1/initiatives?departement=13&page={page()}"
        ),
        "filtered list: theme + région PACA, 20": (
            lambda: f"/api/v1/initiatives?theme={theme}&region=paca&page={page()}"
        ),
        "filtered list: theme + stage + 13, recent first": (
            lambda: (
                f"/api/v1/initiatives?theme={theme}&stage=experimentation"
                f"&departement=13&sort=recent&page={rng.randint(1, 5)}"
            )
        ),
        "text query q=jardin (SQL LIKE), 20": lambda: f"/api/v1/initiatives?q=jardin&page={page()}",
        "deep page (page 2000), 20": lambda: "/api/v1/initiatives?page=2000",
        "initiative detail": lambda: f"/api/v1/initiatives/{rng.choice(slugs)}",
        "commune lookup": lambda: f"/api/v1/communes?q={rng.choice(['mar', 'nim', 'sai', 'av'])}",
    }

    statistics_note = "after ANALYZE" if options.analyze else "planner statistics as found"
    print(
        f"API latency — {published:,} published initiatives, {dialect}, in process, "
        f"{statistics_note}"
    )
    print(f"{'scenario':<50} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, make_url in scenarios.items():
        client.get(make_url())  # warm-up
        timings = []
        for _ in range(options.requests):
            url = make_url()
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(
            f"{name:<50} {statistics.median(timings):>8.1f} "
            f"{_percentile(timings, 0.95):>8.1f} {max(timings):>8.1f}"
        )

    started = time.perf_counter()
    response = client.get("/api/v1/map/points?departement=13")
    elapsed = (time.perf_counter() - started) * 1000
    features = len(response.get_json()["features"])
    size = len(response.get_data()) / 2**20
    print(f"map points, département 13: {features:,} points, {size:.1f} Mio, {elapsed:.0f} ms")


if __name__ == "__main__":
    main()
