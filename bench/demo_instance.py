"""The demo instance a benchmark runs on: made in a temporary folder (``flask setup`` then
``flask demo-data --count N --no-index``) and removed afterwards, or one given already filled.
``DATABASE_URL`` selects PostgreSQL as for the app (the database must then be empty or already
filled)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=10_000, help="demo initiatives")
    parser.add_argument("--instance", type=Path, help="an instance already filled")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")


def flask(instance: Path, *args: str) -> None:
    env = dict(os.environ, DIRECTORY_INSTANCE_PATH=str(instance))
    command = [sys.executable, "-m", "flask", "--app", "directory", *args]
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603


@contextmanager
def demo_instance(options: argparse.Namespace, prefix: str) -> Iterator[Path]:
    """The instance folder of ``options`` (see ``add_arguments``)."""
    made = options.instance is None
    instance = options.instance or Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if made:
            started = time.perf_counter()
            flask(instance, "setup")
            flask(instance, "demo-data", "--count", str(options.count), "--no-index", "--seed", "1")
            print(f"instance {instance}: filled in {time.perf_counter() - started:.1f} s")
        yield instance
    finally:
        if made and not options.keep:
            shutil.rmtree(instance, ignore_errors=True)
