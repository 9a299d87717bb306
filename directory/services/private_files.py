"""Files only the app's user may read: the instance folder, the database, the search index.

They hold the secret key, the accounts, and mails carrying reset and invitation links: any
local user able to read them could take over an account. The app sets a umask of 0o077 at
start, so what it writes is private; :func:`repair` takes group and other permissions away
from what an earlier version, a copy or a restore left readable (``flask setup`` runs it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

# Permission bits nobody but the owner may have.
_OTHERS = stat.S_IRWXG | stat.S_IRWXO
# SQLite keeps its journal beside the database, in files named after it.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_files(database_url: str) -> list[Path]:
    """The SQLite database of ``database_url`` and its journal files (none for a server)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return []
    database = Path(url.database).resolve()
    return [database.with_name(database.name + suffix) for suffix in _SQLITE_COMPANIONS]


def _walk(root: Path) -> Iterator[Path]:
    """``root`` and everything under it, without following symbolic links."""
    yield root
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            yield Path(folder) / name


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


@dataclass
class Repairs:
    """What :func:`repair` did, in French: "<path> : 0644 → 0600", and what it could not do."""

    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def repair(instance_path: Path, database_url: str, index_dir: str | Path | None) -> Repairs:
    """Take group and other permissions away from the private files.

    Folders walked whole: the instance folder, and the search index folder if it lies
    elsewhere. Outside them, only the SQLite database files themselves, never their folder
    (it may be shared). Symbolic links are left alone: what they point to is not ours to change.
    """
    folders = [Path(instance_path).resolve()]
    if index_dir and not _inside(Path(index_dir).resolve(), folders):
        folders.append(Path(index_dir).resolve())
    paths = [path for folder in folders if folder.is_dir() for path in _walk(folder)]
    paths += [path for path in sqlite_files(database_url) if not _inside(path, folders)]
    repairs = Repairs()
    for path in paths:
        try:
            status = path.lstat()
        except FileNotFoundError:  # a journal file that does not exist, or just went away
            continue
        if stat.S_ISLNK(status.st_mode) or not status.st_mode & _OTHERS:
            continue
        before = stat.S_IMODE(status.st_mode)
        after = before & ~_OTHERS
        try:
            path.chmod(after)
        except OSError as error:
            repairs.refused.append(f"{path} ({before:04o}) : {error.strerror}")
            continue
        repairs.done.append(f"{path} : {before:04o} → {after:04o}")
    return repairs
