"""Benchmark of the map at scale: prints the figures quoted in reports.

    .venv/bin/python bench/map.py [--count 100000] [--compare 10000] [--workdir DIR]
                                  [--database-url postgresql://...]

Builds (once, then reuses) a SQLite database with the real set-up plus ``--count`` generated demo
initiatives, serves the app on 127.0.0.1 and measures, with and without a theme filter and a
text query:
- in headless Chromium: time from navigation to the first clusters drawn, JS heap, page HTML;
- the points endpoint: payload raw and gzipped, server time cold (first request) and cached
  (payload cache warm, and a 304 answer to If-None-Match).
Then, in the same run, the per-marker folium approach (``folium.Marker`` in ``MarkerCluster``)
with ``--compare`` places, for comparison. Leaflet.markercluster is fetched with ``npm pack``
into the work directory for that comparison only (it is not part of the app).
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import ClassVar

import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import create_app, maps  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.models import Initiative, Theme  # noqa: E402
from directory.services import demo, setup  # noqa: E402
from directory.services.filters import InitiativeFilters  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARKERCLUSTER_VERSION = "1.5.3"


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


def build_app(workdir: Path, count: int, database_url: str | None = None):
    """The app on the benchmark database, built on first use (set-up + demo initiatives)."""
    url = database_url or f"sqlite:///{workdir / f'map-{count}.sqlite3'}"
    app = create_app(
        {
            "INSTANCE_PATH": str(workdir),
            "DATABASE_URL": url,
            "SEARCH_INDEX_DIR": str(workdir / "search-index"),
        }
    )
    with app.app_context():
        try:
            demo_count = db.session.scalar(
                sa.select(sa.func.count()).select_from(Initiative).where(Initiative.is_demo)
            )
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            demo_count = 0
        if not demo_count:
            print(f"Préparation de la base ({count} initiatives de démonstration)…", flush=True)
            started = time.perf_counter()
            setup.run(echo=lambda _message: None)
            demo.create_demo_data(count, seed=2011)
            print(f"  prête en {time.perf_counter() - started:.0f} s", flush=True)
        db.session.remove()
    return app


@contextmanager
def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def scenarios(app) -> dict[str, str]:
    with app.app_context():
        theme = db.session.scalar(sa.select(Theme.slug).order_by(Theme.position, Theme.id))
        # A word of a real title: a text query that matches part of the catalogue.
        title = db.session.scalar(sa.select(Initiative.title).where(Initiative.is_demo).limit(1))
        db.session.remove()
    word = max((title or "insertion").split(), key=len).strip(",.«»")
    return {"sans filtre": "", f"thème {theme}": f"theme={theme}", f"texte « {word} »": f"q={word}"}


def measure_endpoint(app, query: str) -> dict[str, float]:
    """Server time of /carte/points.geojson (compact, gzip) in-process, and payload sizes."""
    client = app.test_client()
    url = "/carte/points.geojson?format=compact" + (f"&{query}" if query else "")
    headers = {"Accept-Encoding": "gzip"}
    maps.payload_cache.clear()
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    cold = time.perf_counter() - started
    cached_times, revalidate_times = [], []
    for _ in range(5):
        started = time.perf_counter()
        client.get(url, headers=headers)
        cached_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        not_modified = client.get(
            url, headers={**headers, "If-None-Match": response.headers["ETag"]}
        )
        revalidate_times.append(time.perf_counter() - started)
    assert not_modified.status_code == 304
    raw = gzip.decompress(response.data)
    geojson = client.get(url.replace("format=compact", "format=geojson"), headers=headers)
    return {
        "points": int(response.headers["X-Places-Count"]),
        "compact_raw": len(raw),
        "compact_gz": len(response.data),
        "geojson_raw": len(gzip.decompress(geojson.data)),
        "geojson_gz": len(geojson.data),
        "cold_ms": cold * 1000,
        "cached_ms": statistics.median(cached_times) * 1000,
        "304_ms": statistics.median(revalidate_times) * 1000,
    }


def measure_page(browser, url: str, ready_selector: str, ready_at_js: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(180_000)
    cdp = context.new_cdp_session(page)
    response = page.goto(url)
    html = response.body() if response else b""
    page.wait_for_selector(ready_selector, state="attached")
    ready_at = page.evaluate(ready_at_js)
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
    context.close()
    return {"ready_ms": ready_at, "heap_mb": heap / 1024 / 1024, "html_kb": len(html) / 1024}


def markercluster_assets(workdir: Path) -> Path:
    """Leaflet (vendored) and Leaflet.markercluster (npm pack) in a folder for the comparison."""
    folder = workdir / "per-marker"
    target = folder / "markercluster"
    if not (target / "leaflet.markercluster.js").exists():
        target.mkdir(parents=True, exist_ok=True)
        package = f"leaflet.markercluster@{MARKERCLUSTER_VERSION}"
        # npm from the PATH with fixed arguments, like tools/vendor-map-assets.sh.
        subprocess.run(  # noqa: S603
            ["npm", "pack", "--silent", package],  # noqa: S607
            cwd=folder,
            check=True,
            capture_output=True,
        )
        tarball = next(folder.glob("leaflet.markercluster-*.tgz"))
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                if member.name.startswith("package/dist/") and member.isfile():
                    member.name = Path(member.name).name
                    archive.extract(member, target, filter="data")
    shutil.copytree(ROOT / "static" / "vendor" / "leaflet", folder / "leaflet", dirs_exist_ok=True)
    return folder


def build_per_marker_page(app, folder: Path, count: int) -> tuple[Path, float]:
    """The per-marker approach: every place a folium Marker inside a MarkerCluster."""
    import folium
    from folium.plugins import MarkerCluster

    class LocalMarkerCluster(MarkerCluster):
        default_js: ClassVar = [("markerclusterjs", "markercluster/leaflet.markercluster.js")]
        default_css: ClassVar = [
            ("markerclustercss", "markercluster/MarkerCluster.css"),
            ("markerclusterdefaultcss", "markercluster/MarkerCluster.Default.css"),
        ]

    class LocalMap(folium.Map):
        default_js: ClassVar = [("leaflet", "leaflet/leaflet.js")]
        default_css: ClassVar = [("leaflet_css", "leaflet/leaflet.css")]

    with app.app_context():
        rows = maps.points(InitiativeFilters())[:count]
        db.session.remove()
    started = time.perf_counter()
    fmap = LocalMap(location=[43.75, 4.7], zoom_start=7, tiles=None)
    folium.TileLayer(
        "https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png", attr="OSM France", max_zoom=18
    ).add_to(fmap)
    cluster = LocalMarkerCluster().add_to(fmap)
    for lon, lat, _initiative in rows:
        folium.Marker([lat, lon]).add_to(cluster)
    path = folder / f"per-marker-{count}.html"
    fmap.save(str(path))
    return path, time.perf_counter() - started


@contextmanager
def serve_folder(folder: Path):
    handler = partial(QuietStaticHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class QuietStaticHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--compare", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL, for example (default: SQLite)")
    default_workdir = Path(tempfile.gettempdir()) / "annuaire-bench"
    parser.add_argument("--workdir", type=Path, default=default_workdir)
    options = parser.parse_args()
    options.workdir.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    app = build_app(options.workdir, options.count, options.database_url)
    with app.app_context():
        engine = db.engine.dialect.name
    print(f"\nCarte avec {options.count} initiatives de démonstration ({engine}, 1 processus)")
    with sync_playwright() as playwright, serve(app) as base:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        header = (
            f"{'scénario':<28}{'lieux':>8}{'1re visite':>11}{'1ers groupes':>13}"
            f"{'tas JS':>9}{'HTML':>9}"
            f"{'compact':>10}{'gzip':>9}{'GeoJSON':>10}{'gzip':>9}"
            f"{'froid':>8}{'cache':>8}{'304':>7}"
        )
        print(header)
        for name, query in scenarios(app).items():
            endpoint = measure_endpoint(app, query)
            # First visit computes the page's département counts; the next one finds them cached.
            first, page = (
                measure_page(
                    browser,
                    f"{base}/carte" + (f"?{query}" if query else ""),
                    "#map-canvas[data-state=ready]",
                    "Number(document.querySelector('#map-canvas').dataset.readyAt)",
                )
                for _visit in range(2)
            )
            print(
                f"{name:<28}{endpoint['points']:>8}{first['ready_ms']:>9.0f}ms"
                f"{page['ready_ms']:>11.0f}ms"
                f"{page['heap_mb']:>7.1f}MB{page['html_kb']:>7.0f}KB"
                f"{endpoint['compact_raw'] / 1e6:>8.2f}MB{endpoint['compact_gz'] / 1e6:>7.2f}MB"
                f"{endpoint['geojson_raw'] / 1e6:>8.2f}MB{endpoint['geojson_gz'] / 1e6:>7.2f}MB"
                f"{endpoint['cold_ms']:>6.0f}ms{endpoint['cached_ms']:>6.0f}ms"
                f"{endpoint['304_ms']:>5.0f}ms",
                flush=True,
            )

        folder = markercluster_assets(options.workdir)
        path, generation = build_per_marker_page(app, folder, options.compare)
        with serve_folder(folder) as static_base:
            per_marker = measure_page(
                browser,
                f"{static_base}/{path.name}",
                ".marker-cluster",
                "performance.now()",
            )
        print(
            f"\nComparaison, folium Marker par lieu dans MarkerCluster, {options.compare} lieux :"
        )
        print(
            f"  page {per_marker['html_kb'] / 1024:.1f} MB générée en {generation:.1f} s, "
            f"premiers groupes à {per_marker['ready_ms']:.0f} ms, "
            f"tas JS {per_marker['heap_mb']:.1f} MB"
        )
        browser.close()


if __name__ == "__main__":
    main()
