"""The application served by real gunicorn processes, as ``make run`` serves it.

``GunicornServer`` starts ``gunicorn -c deploy/gunicorn.conf.py`` on a free loopback port, on the
database and instance folder it is given, waits until it answers, and stops the whole process
group afterwards. Tests that need several workers or several servers use it instead of the
in-process test client.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from directory.config import ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GunicornServer:
    """One app server: ``workers`` gunicorn workers on ``database_url``."""

    def __init__(
        self,
        instance: Path,
        database_url: str,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.instance = Path(instance)
        self.instance.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.instance / "gunicorn.log"
        self.env = {
            **os.environ,
            "DIRECTORY_INSTANCE_PATH": str(self.instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "PUBLIC_URL": self.url,
            **(env or {}),
        }
        self.command = [
            str(GUNICORN),
            "-c",
            str(CONFIG),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            *args,
            "directory:create_app()",
        ]
        self.process: subprocess.Popen | None = None

    def __call__(self, path: str) -> str:
        return self.url + path

    def start(self, timeout: float = 90) -> GunicornServer:
        # gunicorn writes to its own copy of the descriptor; ours is closed at once.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn s'est arrêté :\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn ne répond pas après {timeout} s :\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
