"""Mixed public load on a demo instance served as ``make run`` serves it, while a curator edits.

    .venv/bin/python bench/load.py [--count 10000] [--rate 50] [--seconds 60] [--workers 2]
                                   [--instance DIR] [--keep] [--no-edits]

Builds a demo instance (``bench/demo_instance.py``: ``flask setup``, ``flask demo-data --count N``)
and its search index (``flask search rebuild``), adds a curator, then serves it with gunicorn and
``deploy/gunicorn.conf.py`` (gevent workers) on 127.0.0.1. ``--instance DIR`` reuses the instance
in DIR, or builds it there (and keeps it) when DIR does not exist yet. Then, for ``--seconds``:

- an open-loop public load at ``--rate`` requests per second: request *i* is due at
  ``start + i / rate`` whatever happened to the others, and its latency is counted from that
  time, so a stalled server shows as latency instead of slowing the load down. The mix: home
  page 15 %, /recherche with words and filters 30 %, initiative pages 30 %, map points 10 %,
  /api/v1/initiatives 15 %;
- the curator signs in through /connexion and saves an edit of an initiative through its web
  form (GET the form, POST it back with a new summary) every second (not with ``--no-edits``).

Prints the rate achieved, p50/p95/p99 overall and per kind, the errors, the edits saved and the
« database is locked » lines in the server log. The API limit is raised for the run (every
request comes from one address). ``DATABASE_URL`` selects PostgreSQL as for the app. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import demo_instance  # noqa: E402
from servers import GunicornServer  # noqa: E402

MIX = (("home", 15), ("search", 30), ("initiative", 30), ("map", 10), ("api", 15))
CURATOR_EMAIL = "conservatrice.bench@example.org"
CURATOR_PASSWORD = "Banc-d-essai-de-charge-2024!"  # noqa: S105 - a throw-away demo account
CLIENT_THREADS = 48


# -- the instance ---------------------------------------------------------------------------


def prepare(instance: Path) -> None:
    """Search index and the curator account (the demo data has no account)."""
    started = time.perf_counter()
    demo_instance.flask(instance, "search", "rebuild")
    env = dict(os.environ, DIRECTORY_INSTANCE_PATH=str(instance))
    subprocess.run(  # noqa: S603 - our own flask command, fixed arguments
        [
            *(sys.executable, "-m", "flask", "--app", "directory", "users", "create"),
            *("--email", CURATOR_EMAIL, "--role", "curator", "--password-stdin"),
        ],
        input=CURATOR_PASSWORD + "\n",
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    print(f"index and curator: {time.perf_counter() - started:.1f} s")


def sample(instance: Path) -> dict[str, list[str]]:
    """Slugs, themes, départements and words to ask for, read from the instance."""
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(instance)
    import sqlalchemy as sa

    from directory import create_app
    from directory.extensions import db
    from directory.models import Initiative, Status, Theme, initiative_departement

    app = create_app()
    with app.app_context():
        slugs = list(
            db.session.scalars(
                sa.select(Initiative.slug).where(Initiative.status == Status.PUBLISHED)
            )
        )
        titles = db.session.scalars(
            sa.select(Initiative.title).where(Initiative.status == Status.PUBLISHED).limit(2000)
        )
        words = sorted({w.lower() for t in titles for w in re.findall(r"\w{5,}", t)})
        themes = list(db.session.scalars(sa.select(Theme.slug)))
        departements = list(
            db.session.scalars(
                sa.select(initiative_departement.c.departement_code).distinct().limit(60)
            )
        )
        db.engine.dispose()
    return {
        "slugs": slugs,
        "words": words,
        "themes": themes,
        "departements": [d for d in departements if d],
    }


def public_paths(data: dict[str, list[str]], count: int, rng: random.Random) -> list[tuple]:
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    paths = []
    for _ in range(count):
        kind = rng.choice(kinds)
        if kind == "home":
            path = "/"
        elif kind == "search":
            args = {"q": rng.choice(data["words"])}
            if rng.random() < 0.6:
                args["theme"] = rng.choice(data["themes"])
            if rng.random() < 0.4:
                args["departement"] = rng.choice(data["departements"])
            path = "/recherche?" + urlencode(args)
        elif kind == "initiative":
            path = f"/initiatives/{rng.choice(data['slugs'])}"
        elif kind == "map":
            args = {"theme": rng.choice(data["themes"])} if rng.random() < 0.5 else {}
            path = "/carte/points.geojson" + ("?" + urlencode(args) if args else "")
        else:
            page = rng.randint(1, 20)
            path = f"/api/v1/initiatives?page={page}"
        paths.append((kind, path))
    return paths


# -- HTTP -----------------------------------------------------------------------------------


class Client:
    """One keep-alive connection, with the cookies the server set."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Host": self.host}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: open another, once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, text, dict(response.getheaders())


class FormReader(HTMLParser):
    """The fields of the page's main POST form, as a browser sends them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self.current: list[tuple[str, str]] | None = None
        self.textarea: str | None = None
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []  # the open select's (value, selected)
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.current = []
        if self.current is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.current.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.current.append((name, a.get("value") or ""))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""
        elif tag == "select" and name:
            self.select, self.options = name, []
        elif tag == "option" and self.select:
            self.options.append((a.get("value") or "", "selected" in a))

    def handle_data(self, data):
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea and self.current is not None:
            self.current.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None
        elif tag == "select" and self.select and self.current is not None:
            # A browser sends the selected option, or the first one when none is.
            chosen = [value for value, selected in self.options if selected] or [
                value for value, _ in self.options[:1]
            ]
            self.current.extend((self.select, value) for value in chosen)
            self.select = None
        elif tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None

    @classmethod
    def fields(cls, html: str) -> dict[str, list[str]]:
        reader = cls()
        reader.feed(html)
        # The page's main form: the one with the most fields (the header has a sign-out form).
        forms = [form for form in reader.forms if any(name == "csrf_token" for name, _ in form)]
        if not forms:
            raise RuntimeError("no form with a csrf_token on the page")
        found: dict[str, list[str]] = defaultdict(list)
        for name, value in max(forms, key=len):
            found[name].append(value)
        return found


# -- the curator ----------------------------------------------------------------------------


class Editor(threading.Thread):
    """Signs in, then saves an edit of one of ``slugs`` every second until ``stop`` is set."""

    def __init__(self, port: int, slugs: list[str], stop: threading.Event) -> None:
        super().__init__(name="editor", daemon=True)
        self.client = Client(port)
        self.slugs = slugs
        self.stop = stop
        self.saved: list[float] = []
        self.failures: list[str] = []

    def sign_in(self) -> None:
        fields = FormReader.fields(self.client.request("GET", "/connexion")[1])
        fields.update(email=[CURATOR_EMAIL], password=[CURATOR_PASSWORD])
        status, text, _ = self.client.request("POST", "/connexion", fields)
        if status != 302:
            raise RuntimeError(f"sign-in failed: {status}\n{text[:2000]}")

    def run(self) -> None:
        edits = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            slug = self.slugs[edits % len(self.slugs)]
            edits += 1
            started = time.perf_counter()
            path = f"/espace-partenaire/initiatives/{slug}/modifier"
            try:
                status, text, _ = self.client.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"form: {status}")
                fields = FormReader.fields(text)
                fields["summary"] = [f"Résumé relu par la conservatrice, passage {edits}."]
                status, text, _ = self.client.request("POST", path, fields)
                if status != 302:
                    page = " ".join(text.split())[:300]
                    raise RuntimeError(f"save: {status} {page}")
                self.saved.append(time.perf_counter() - started)
            except Exception as error:
                self.failures.append(f"{slug}: {error}")
            next_at += 1.0
            self.stop.wait(max(0.0, next_at - time.monotonic()))


# -- the public load ------------------------------------------------------------------------


def run_load(port: int, paths: list[tuple], rate: float) -> tuple[list, float]:
    """Send ``paths`` at ``rate`` per second (open loop); returns the results and the time taken.

    A result is ``(kind, latency from the due time, status or error text)``.
    """
    due: queue.Queue = queue.Queue()
    results: list[tuple[str, float, object]] = []
    lock = threading.Lock()

    def worker() -> None:
        client = Client(port)
        while (item := due.get()) is not None:
            kind, path, due_at = item
            try:
                status, _, _ = client.request("GET", path)
            except Exception as error:
                status = f"{type(error).__name__}: {error}"
                client = Client(port)
            with lock:
                results.append((kind, time.perf_counter() - due_at, status, path))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    for number, (kind, path) in enumerate(paths):
        due_at = start + number / rate
        pause = due_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due.put((kind, path, due_at))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join(timeout=120)
    return results, time.perf_counter() - start


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def figures(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.5) * 1000:6.0f} ms  "
        f"p95 {percentile(latencies, 0.95) * 1000:6.0f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.0f} ms  "
        f"max {max(latencies, default=0) * 1000:6.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_instance.add_arguments(parser)
    parser.add_argument("--rate", type=float, default=50.0, help="public requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--no-edits", action="store_true", help="no curator editing meanwhile")
    options = parser.parse_args()
    fresh = options.instance is not None and not options.instance.exists()
    if fresh:  # build it where asked, once, for the next runs to reuse
        started = time.perf_counter()
        options.instance.mkdir(parents=True)
        demo_instance.flask(options.instance, "setup")
        count = str(options.count)
        demo_instance.flask(
            options.instance, "demo-data", "--count", count, "--no-index", "--seed", "1"
        )
        print(f"instance {options.instance}: filled in {time.perf_counter() - started:.1f} s")
    with demo_instance.demo_instance(options, "bench-load-") as instance:
        if options.instance is None or fresh:
            prepare(instance)
        data = sample(instance)
        rng = random.Random(13)
        database_url = os.environ.get("DATABASE_URL") or (
            f"sqlite:///{instance / 'annuaire.sqlite3'}"
        )
        print(
            f"database: {database_url.split(':', 1)[0]}, published initiatives: "
            f"{len(data['slugs']):,}; gunicorn -c deploy/gunicorn.conf.py, "
            f"{options.workers} workers"
        )
        server = GunicornServer(
            instance,
            database_url,
            workers=options.workers,
            env={"API_RATE_LIMIT": "1000000 per minute"},
        )
        with server:
            # Warm-up: each worker loads its facet table, searcher and map payloads once.
            warm = public_paths(data, 100, rng)
            run_load(server.port, warm, rate=25)
            stop = threading.Event()
            editor = Editor(server.port, rng.sample(data["slugs"], 60), stop)
            editor.sign_in()
            if not options.no_edits:
                editor.start()
            paths = public_paths(data, int(options.rate * options.seconds), rng)
            results, took = run_load(server.port, paths, options.rate)
            stop.set()
            if editor.is_alive():
                editor.join(timeout=60)
            log = server.log()
        report(results, took, editor, log, options)


def report(results, took: float, editor: Editor, log: str, options) -> None:
    ok = [r for r in results if isinstance(r[2], int) and r[2] < 400]
    errors = [r for r in results if r not in ok]
    print(
        f"\npublic load: {len(results)} requests due at {options.rate:.0f}/s over "
        f"{options.seconds:.0f} s; {len(results) / took:.1f} rps achieved"
    )
    print(f"  all          {figures([r[1] for r in results])}")
    for kind, _ in MIX:
        latencies = [r[1] for r in results if r[0] == kind]
        print(f"  {kind:<12} {figures(latencies)}  ({len(latencies)})")
    print(f"  errors: {len(errors)}")
    for kind, _, status, path in errors[:10]:
        print(f"    {kind} {path}: {status}")
    saved = editor.saved
    print(
        f"curator edits through the web form: {len(saved)} saved, {len(editor.failures)} failed"
        + (f"; GET+POST {figures(saved)}" if saved else "")
    )
    for failure in editor.failures[:5]:
        print(f"    {failure}")
    print(f"'database is locked' in the server log: {log.count('database is locked')}")
    print(f"tracebacks in the server log: {log.count('Traceback')}")


if __name__ == "__main__":
    main()
