"""Wrong sign-ins accepted per account per minute, by number of workers and counter storage.

Usage: ``.venv/bin/python bench/throttle.py [--attempts 12] [--workers 1 2 4]``

On a fresh instance (``flask setup`` plus one account per measurement, in a temporary folder),
real gunicorn servers are started as ``make run`` starts them, with 1, 2 and 4 workers, and
with the counters in the database (no Redis), in Redis (127.0.0.1:6379, ``--redis``) and with
``REDIS_URL`` pointing at a Redis that does not answer. Each measurement sends ``--attempts``
wrong passwords for one account, each on a new connection (so they spread over the workers),
within a few seconds, and counts how many were accepted, i.e. really checked against the
password ("wrong password" page), against 429 (limited) and 503 (refused, counters down).
The limit per account is 5 per minute; the per-address limit is lifted to measure it alone.
``DATABASE_URL`` selects PostgreSQL as for the app (an empty database).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from demo_instance import ROOT, flask

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "security")]

from servers import GunicornServer  # noqa: E402
from signin_client import outcome, sign_in  # noqa: E402

LIMIT = "5 per minute"
REDIS_DOWN = "redis://127.0.0.1:1/0"


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _add_accounts(instance: Path, database_url: str, emails: list[str]) -> None:
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(instance)
    os.environ["DATABASE_URL"] = database_url
    from directory import create_app
    from directory.extensions import db
    from directory.services import accounts

    app = create_app()
    with app.app_context():
        for email in emails:
            accounts.create_user(email=email, role="curator", password=secrets.token_urlsafe(24))
        db.session.commit()
        db.engine.dispose()


def _measure(server: GunicornServer, email: str, attempts: int) -> tuple[Counter, float]:
    outcomes: Counter = Counter()
    durations = []
    for _ in range(attempts):
        started = time.perf_counter()
        outcomes[outcome(sign_in(server.url, email, "mauvais mot de passe"))] += 1
        durations.append(time.perf_counter() - started)
    return outcomes, statistics.median(durations) * 1000


def _cell(outcomes: Counter, attempts: int, milliseconds: float) -> str:
    refused = ", ".join(
        f"{label} ×{outcomes[key]}"
        for key, label in (("limited", "429"), ("unavailable", "503"))
        if outcomes[key]
    )
    others = sorted(set(outcomes) - {"wrong", "limited", "unavailable"})
    if others:
        refused += " autres : " + ", ".join(f"{key} ×{outcomes[key]}" for key in others)
    return f"{outcomes['wrong']}/{attempts} ({refused or 'aucune refusée'}; {milliseconds:.0f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    options = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="bench-throttle-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'annuaire.sqlite3'}"
    modes = {
        "base de données (sans Redis)": {},
        "Redis": {"REDIS_URL": options.redis, "THROTTLE_KEY_PREFIX": f"bench-{uuid.uuid4().hex}"},
        "Redis arrêté": {"REDIS_URL": REDIS_DOWN},
    }
    redis_up = _redis_answers(options.redis)
    try:
        started = time.perf_counter()
        flask(instance, "setup")
        emails = {
            (mode, workers): f"cible-{index}-{workers}@example.org"
            for index, mode in enumerate(modes)
            for workers in options.workers
        }
        _add_accounts(instance, database_url, list(emails.values()))
        print(f"instance {instance}: prête en {time.perf_counter() - started:.1f} s")

        results: dict[tuple[str, int], str] = {}
        for (mode, workers), email in emails.items():
            if mode == "Redis" and not redis_up:
                results[mode, workers] = "Redis injoignable : non mesuré"
                continue
            env = {
                **modes[mode],
                "AUTH_RATE_LIMIT_PER_EMAIL": LIMIT,
                "AUTH_RATE_LIMIT_PER_ADDRESS": "100000 per hour",
            }
            with GunicornServer(instance, database_url, workers=workers, env=env) as server:
                outcomes, milliseconds = _measure(server, email, options.attempts)
            results[mode, workers] = _cell(outcomes, options.attempts, milliseconds)
            print(f"  {mode}, {workers} worker(s) : {results[mode, workers]}", flush=True)

        print()
        print(
            f"Mauvais mots de passe acceptés (vérifiés) pour un compte, sur {options.attempts} "
            f"envoyés en moins d’une minute (limite : 5 par minute ; entre parenthèses, les "
            "refus et la durée médiane d’une tentative, formulaire puis envoi) :"
        )
        header = ["workers", *modes]
        rows = [[str(w), *(results[mode, w] for mode in modes)] for w in options.workers]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, ["-" * width for width in widths], *rows]:
            print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    finally:
        if not options.keep:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
