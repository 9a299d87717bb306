"""Uploaded files waiting between the dry run and the real run (web import).

The file and its last report are kept under ``instance/imports/`` with a random token, for the
curator who uploaded it only; files older than a day are removed on the next upload.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_AGE = 24 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,40}")


@dataclass
class PendingImport:
    token: str
    user_id: int
    kind: str
    filename: str
    columns: dict[str, str] | None = None
    report: dict[str, Any] = field(default_factory=dict)


def _folder(instance_path: str) -> Path:
    folder = Path(instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create(
    instance_path: str, data: bytes, *, user_id: int, kind: str, filename: str
) -> PendingImport:
    folder = _folder(instance_path)
    _cleanup(folder)
    token = secrets.token_urlsafe(18)
    (folder / f"{token}.bin").write_bytes(data)
    pending = PendingImport(token=token, user_id=user_id, kind=kind, filename=filename)
    save(instance_path, pending)
    return pending


def save(instance_path: str, pending: PendingImport) -> None:
    path = _folder(instance_path) / f"{pending.token}.json"
    path.write_text(json.dumps(pending.__dict__, ensure_ascii=False), encoding="utf-8")


def load(instance_path: str, token: str, user_id: int) -> PendingImport | None:
    """The pending import ``token`` of ``user_id``, or None (unknown, expired, someone else's)."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    path = _folder(instance_path) / f"{token}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("user_id") != user_id:
        return None
    return PendingImport(**raw)


def data(instance_path: str, pending: PendingImport) -> bytes | None:
    try:
        return (_folder(instance_path) / f"{pending.token}.bin").read_bytes()
    except OSError:
        return None


def _cleanup(folder: Path) -> None:
    limit = time.time() - MAX_AGE
    for path in folder.glob("*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
