"""Search benchmark: rebuild, query latency (service and /recherche), edit visibility, FTS5.

    .venv/bin/python bench/search.py --count 10000 [--queries 200] [--workdir /tmp/bench-10k]
                                     [--database-url postgresql://...]

Builds a fresh instance (SQLite in the work folder, or the empty database ``--database-url``
names) (set-up + generated demo data), rebuilds the Whoosh index in a
child process (time and peak memory), then runs the same fixed queries of each kind through the
search service and through ``/recherche`` (test client), and through a bare SQLite FTS5 table
(unicode61, remove_diacritics 2) over the same text as a baseline. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import create_app  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.models import Initiative, Status, Theme  # noqa: E402
from directory.search import indexing, vectors  # noqa: E402
from directory.search.analysis import stop_words  # noqa: E402
from directory.services import search as service  # noqa: E402
from directory.text import fold  # noqa: E402

KINDS = ("single", "several", "phrase", "prefix", "no-accents", "filters")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms"


DATABASE_URL: str | None = None  # --database-url (default: SQLite in the work folder)


def database_url(workdir: Path) -> str:
    return DATABASE_URL or f"sqlite:///{workdir / 'annuaire.sqlite3'}"


def environment(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DIRECTORY_INSTANCE_PATH": str(workdir),
        "DATABASE_URL": database_url(workdir),
        "SEARCH_INDEX_DIR": str(workdir / "search-index"),
    }


def flask(workdir: Path, *args: str) -> float:
    seconds, _peak = flask_measured(workdir, *args)
    return seconds


def flask_measured(workdir: Path, *args: str) -> tuple[float, float]:
    """Seconds taken, and the peak of the memory (RSS) of the command and all the processes
    it starts, added up (sampled every 0.1 s: ``search rebuild`` analyses in one process per
    core)."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own flask command, fixed arguments
        [str(ROOT / ".venv/bin/flask"), "--app", "directory", *args],
        env=environment(workdir),
        stdout=subprocess.DEVNULL,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.1)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, args)
    return time.perf_counter() - started, peak / 1024


def _tree_rss(root: int) -> int:
    """Resident memory (kB) of a process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total


def build_queries(count: int, rng: random.Random) -> dict[str, list[dict]]:
    """Fixed queries drawn from the catalogue's own titles and summaries."""
    rows = db.session.execute(
        sa.select(Initiative.title, Initiative.summary)
        .where(Initiative.status == Status.PUBLISHED)
        .order_by(Initiative.id)
        .limit(5000)
    ).all()
    stops = stop_words()
    texts = [f"{title} {summary or ''}" for title, summary in rows]
    word_lists = [
        [w for w in re.findall(r"\w+", text) if len(w) > 3 and fold(w) not in stops]
        for text in texts
    ]
    word_lists = [words for words in word_lists if len(words) >= 3]
    accented = [w for words in word_lists for w in words if fold(w) != w.lower()]
    themes = list(db.session.scalars(sa.select(Theme.slug)))
    queries: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    seen: set[tuple] = set()  # no query twice: "cold" means the first time for each

    def add(kind: str, args: dict) -> None:
        key = (kind, *sorted(args.items()))
        if len(queries[kind]) < count and key not in seen:
            seen.add(key)
            queries[kind].append(args)

    for _ in range(count * 20):
        if all(len(items) >= count for items in queries.values()):
            break
        words = rng.choice(word_lists)
        start = rng.randrange(len(words) - 1)
        add("single", {"q": rng.choice(words)})
        add("several", {"q": " ".join(rng.sample(words, 2))})
        add("phrase", {"q": f'"{words[start]} {words[start + 1]}"'})
        add("prefix", {"q": rng.choice(words)[:4] + "*"})
        add("no-accents", {"q": fold(rng.choice(accented or words))})
        add("filters", {"q": rng.choice(words), "region": "paca", "theme": rng.choice(themes)})
    return queries


def fts5_baseline(workdir: Path, queries: dict[str, list[dict]]) -> dict[str, list[float]]:
    """The same queries on a bare FTS5 table over the same text (no facets, no highlights)."""
    path = workdir / "fts5.sqlite3"
    path.unlink(missing_ok=True)
    source = sa.create_engine(database_url(workdir))
    target = sqlite3.connect(path)
    target.execute(
        "CREATE VIRTUAL TABLE doc USING fts5(title, summary, description, sections,"
        " tokenize = 'unicode61 remove_diacritics 2')"
    )
    started = time.perf_counter()
    with source.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, title, coalesce(summary, ''), coalesce(description, ''),"
                " coalesce(genesis, '') || ' ' || coalesce(evaluation, '') || ' ' ||"
                " coalesce(policy_impact, '') || ' ' || coalesce(public_support, '')"
                " FROM initiative WHERE status = 'published'"
            )
        ).all()
    source.dispose()
    target.executemany(
        "INSERT INTO doc(rowid, title, summary, description, sections) VALUES (?, ?, ?, ?, ?)",
        [tuple(row) for row in rows],
    )
    target.commit()
    print(f"FTS5 build: {time.perf_counter() - started:.1f} s")
    timings: dict[str, list[float]] = {}
    for kind, items in queries.items():
        timings[kind] = []
        for args in items:
            expression = _fts5_expression(args["q"])
            started = time.perf_counter()
            if expression:
                target.execute("SELECT count(*) FROM doc WHERE doc MATCH ?", (expression,))
                target.execute(
                    "SELECT rowid FROM doc WHERE doc MATCH ? ORDER BY rank LIMIT 20",
                    (expression,),
                ).fetchall()
            timings[kind].append((time.perf_counter() - started) * 1000)
    return timings


def _fts5_expression(text: str) -> str:
    """FTS5 breaks on raw input: every word quoted, phrases and prefixes kept."""
    if text.startswith('"'):
        return '"' + " ".join(re.findall(r"\w+", text)) + '"'
    if text.endswith("*"):
        return '"' + text.rstrip("*") + '"*'
    return " ".join(f'"{w}"' for w in re.findall(r"\w+", text))


def reset_caches(app) -> None:
    """Forget every search cache of this process: the next query of each kind is cold."""
    indexing.get_backend(app).close()
    vectors.clear_caches()


def service_call(args: dict) -> None:
    service.search(service.SearchRequest.from_args(args))
    db.session.remove()


def page_call(client):
    def call(args: dict) -> None:
        response = client.get("/recherche", query_string=args)
        assert response.status_code == 200

    return call


def run_phase(
    title: str, queries: dict[str, list[dict]], options, call
) -> tuple[list[float], list[float]]:
    """Each query of each kind twice in a row. Cold: the first time this process sees that query
    (postings and per-segment columns fill as a server's would); warm: the same query again at
    once, as a next page or a facet click would, answered by the per-index result cache."""
    print(f"\n{title}, {options.queries} each (cold: first time; warm: same query again):")
    cold_all: list[float] = []
    warm_all: list[float] = []
    for kind in KINDS:
        cold, warm = [], []
        for args in queries[kind]:
            for timings in (cold, warm):
                started = time.perf_counter()
                call(args)
                timings.append((time.perf_counter() - started) * 1000)
        cold_all += cold
        warm_all += warm
        print(f"  {kind:11} cold {summary(cold)}   warm {summary(warm)}")
    print(f"  {'all':11} cold {summary(cold_all)}   warm {summary(warm_all)}")
    return cold_all, warm_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database, say (default: SQLite)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the data of --workdir")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="with --reuse: keep the index too"
    )
    options = parser.parse_args()
    global DATABASE_URL
    DATABASE_URL = options.database_url
    workdir = options.workdir or Path(tempfile.gettempdir()) / f"annuaire-bench-{options.count}"
    workdir.mkdir(parents=True, exist_ok=True)

    if not options.reuse:
        for name in ("annuaire.sqlite3", "annuaire.sqlite3-wal", "annuaire.sqlite3-shm"):
            (workdir / name).unlink(missing_ok=True)
        if DATABASE_URL and DATABASE_URL.startswith("postgresql"):
            engine = sa.create_engine(DATABASE_URL)  # a benchmark database: emptied first
            with engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        print(f"Set-up: {flask(workdir, 'setup'):.1f} s")
        seconds = flask(
            workdir, "demo-data", "--count", str(options.count), "--seed", "42", "--no-index"
        )
        print(f"Demo data ({options.count} initiatives): {seconds:.1f} s")

    if not (options.reuse and options.no_rebuild):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, peak_mb = flask_measured(workdir, "search", "rebuild")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
        size_mb = sum(f.stat().st_size for f in (workdir / "search-index").iterdir()) / 2**20
        print(
            f"Rebuild: {seconds:.1f} s ({cpu:.1f} s of CPU in {os.cpu_count()} processes at "
            f"most), peak memory of all its processes {peak_mb:.0f} MB, index {size_mb:.0f} MB"
        )

    env = environment(workdir)
    app = create_app(
        {
            "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
            "DATABASE_URL": env["DATABASE_URL"],
            "SEARCH_INDEX_DIR": env["SEARCH_INDEX_DIR"],
        }
    )
    rng = random.Random(2011)
    with app.app_context():
        published = db.session.scalar(
            sa.select(sa.func.count()).where(Initiative.status == Status.PUBLISHED)
        )
        print(f"Published initiatives: {published}")
        queries = build_queries(options.queries, rng)
        reset_caches(app)
        service.search(service.SearchRequest.from_args({"q": "solidarité"}))  # opens the index

        service_cold, service_warm = run_phase(
            "Search service (both groups, facets, highlights)", queries, options, service_call
        )

    client = app.test_client()
    with app.app_context():
        reset_caches(app)
    client.get("/recherche", query_string={"q": "solidarité"})
    page_cold, page_warm = run_phase(
        "/recherche (test client, full page)", queries, options, page_call(client)
    )

    with app.app_context():
        edits = []
        ids = list(
            db.session.scalars(
                sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED).limit(20)
            )
        )
        for number, initiative_id in enumerate(ids):
            word = f"zorglub{number}x"
            initiative = db.session.get(Initiative, initiative_id)
            started = time.perf_counter()
            initiative.title = f"{initiative.title} {word}"
            db.session.commit()
            request = service.SearchRequest.from_args({"q": word})
            while not service.search(request).initiatives.total:
                if time.perf_counter() - started > 30:
                    break
            edits.append((time.perf_counter() - started) * 1000)
        print(
            f"\nEdit searchable (commit -> found by a search), 20 edits: {summary(edits)}, "
            f"max {max(edits):.0f} ms"
        )

    fts = fts5_baseline(workdir, queries)
    fts_all = [t for kind in KINDS for t in fts[kind]]
    print(f"FTS5 baseline (count + top 20 by rank), {options.queries} each:")
    for kind in KINDS:
        print(f"  {kind:11} {summary(fts[kind])}")
    print(f"  {'all':11} {summary(fts_all)}")
    fts_p95 = max(percentile(fts_all, 0.95), 0.001)
    print("\nRatio p95 / FTS5 p95:")
    for label, values in (
        ("search service, cold", service_cold),
        ("search service, warm", service_warm),
        ("/recherche, cold", page_cold),
        ("/recherche, warm", page_warm),
    ):
        print(f"  {label:22} {percentile(values, 0.95) / fts_p95:6.1f}")


if __name__ == "__main__":
    main()
