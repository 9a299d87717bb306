"""Backups of one instance: its database and its uploaded files in one archive, and back.

``create`` writes a tar archive (mode 0600) holding:

- ``manifest.json``: format, database engine, Alembic revision, entry counts, date;
- ``database.sqlite3``, a copy made with SQLite's online backup API (consistent while the site
  runs) and checked by ``PRAGMA integrity_check``, or ``database.pgdump`` (``pg_dump -Fc``);
- ``uploads/``: the files people uploaded (organisation logos...). The database names them but
  does not hold them, so a restore without them would show broken images.

Left out on purpose: the secret key and ``config.py`` (a stolen backup must not let anyone sign
sessions or read passwords), the mail outbox (it holds reset links), the search index and
cached exports (rebuilt from the database).

``restore`` checks the whole archive before touching anything (a SQLite database of this app
whose ``integrity_check`` passes, or a dump that ``pg_restore --list`` reads), then replaces
the database (the backup API in the other direction, or ``pg_restore`` in one transaction),
checks it again, replaces the uploads, applies newer migrations and rebuilds the search index.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app
from flask_migrate import upgrade

from .. import catalogue_version
from ..extensions import db
from ..models import Initiative, Organisation
from ..search import indexing
from .health import MIGRATIONS, database_revisions, known_revisions, migration_heads

FORMAT = "annuaire-sauvegarde"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
UPLOADS = "uploads"
SQLITE_HEADER = b"SQLite format 3\x00"
COUNTED = {"initiatives": Initiative.__table__, "organisations": Organisation.__table__}

Echo = Callable[[str], None]


class BackupError(Exception):
    """A backup or a restore refused or failed; ``args[0]`` is the French message."""


@dataclass(frozen=True)
class Manifest:
    """What an archive holds, written first in it."""

    engine: str
    revisions: list[str]
    counts: dict[str, int]
    uploads: int
    created_at: str
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @classmethod
    def parse(cls, data: bytes, name: str) -> Manifest:
        try:
            raw = json.loads(data)
            manifest = cls(
                engine=str(raw["engine"]),
                revisions=[str(r) for r in raw["revisions"]],
                counts={str(k): int(v) for k, v in raw["counts"].items()},
                uploads=int(raw["uploads"]),
                created_at=str(raw["created_at"]),
                format=str(raw["format"]),
                version=int(raw["version"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BackupError(_not_a_backup(name)) from error
        if manifest.format != FORMAT or manifest.engine not in DATABASE_MEMBERS:
            raise BackupError(_not_a_backup(name))
        if manifest.version > FORMAT_VERSION:
            raise BackupError(
                f"« {name} » a été écrite par une version plus récente de l'annuaire : "
                "mettez le code à jour avant de la restaurer."
            )
        return manifest

    def describe(self) -> str:
        counts = self.counts
        return (
            f"sauvegarde {self.engine} du {self.created_at} "
            f"(révision {', '.join(self.revisions)}) : {counts.get('initiatives', 0)} initiatives, "
            f"{counts.get('organisations', 0)} organisations, {self.uploads} fichier(s) déposé(s)"
        )


def _not_a_backup(name: str) -> str:
    return (
        f"« {name} » n'est pas une sauvegarde de l'annuaire : restaurez un fichier écrit par "
        "« flask backup create »."
    )


# Creating -----------------------------------------------------------------------------------


def create(target: Path, echo: Echo = print) -> Manifest:
    """Write a backup of this instance to ``target`` (replaced atomically if it exists)."""
    target = Path(target).absolute()
    if not target.parent.is_dir():
        raise BackupError(f"Le dossier « {target.parent} » n'existe pas.")
    engine = _engine_name()
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".sauvegarde-") as work:
        database = Path(work) / DATABASE_MEMBERS[engine]
        if engine == "sqlite":
            echo("Base de données : copie en ligne (API de sauvegarde de SQLite)…")
            _sqlite_copy(_sqlite_path(), database)
            echo("Base de données : vérification de la copie (integrity_check)…")
            revisions, counts = _check_copy(database)
        else:
            echo("Base de données : export (pg_dump)…")
            revisions, counts = _pg_dump(database)
        files = list(_upload_files())
        echo(f"Fichiers déposés : {len(files)} fichier(s)…")
        manifest = Manifest(
            engine=engine,
            revisions=sorted(revisions),
            counts=counts,
            uploads=len(files),
            created_at=datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z",
        )
        partial = Path(work) / "archive.tar"
        _write_archive(partial, manifest, database, files)
        os.replace(partial, target)
    return manifest


def _write_archive(path: Path, manifest: Manifest, database: Path, files: list[Path]) -> None:
    uploads_root = _uploads_folder()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as archive:
            data = json.dumps(asdict(manifest), indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            archive.addfile(info, io.BytesIO(data))
            archive.add(database, arcname=DATABASE_MEMBERS[manifest.engine])
            for file in files:
                relative = file.relative_to(uploads_root).as_posix()
                archive.add(file, arcname=f"{UPLOADS}/{relative}", recursive=False)
        handle.flush()
        os.fsync(handle.fileno())


def _uploads_folder() -> Path:
    return Path(current_app.instance_path) / UPLOADS


def _upload_files() -> Iterator[Path]:
    """Regular files under ``uploads/`` (links and half-written ``.upload-`` files left out)."""
    root = _uploads_folder()
    if not root.is_dir():
        return
    for folder, _dirs, names in os.walk(root):
        for name in sorted(names):
            path = Path(folder) / name
            if not name.startswith(".upload-") and path.is_file() and not path.is_symlink():
                yield path


# Restoring ----------------------------------------------------------------------------------


def read_manifest(source: Path) -> Manifest:
    """What ``source`` holds, without changing anything (``BackupError`` if it is not ours)."""
    with _open_archive(Path(source)) as archive:
        return _manifest(archive, Path(source).name)


def restore(source: Path, echo: Echo = print, processes: int = 1) -> Manifest:
    """Replace this instance's database and uploads by those of ``source``, then rebuild the
    search index (``processes`` > 1 only from the command line, which may fork)."""
    source = Path(source)
    engine = _engine_name()
    with _open_archive(source) as archive:
        manifest = _manifest(archive, source.name)
        if manifest.engine != engine:
            raise BackupError(
                f"Cette sauvegarde vient d'une base {manifest.engine} et l'instance utilise "
                f"{engine} : restaurez-la sur le même moteur de base de données."
            )
        unknown = set(manifest.revisions) - known_revisions()
        if unknown:
            raise BackupError(
                f"Cette sauvegarde est à une révision du schéma inconnue de ce code "
                f"({', '.join(sorted(unknown))}) : mettez le code à jour avant de la restaurer."
            )
        instance = Path(current_app.instance_path)
        work = Path(tempfile.mkdtemp(dir=instance, prefix=".restauration-"))
        try:
            echo("Sauvegarde : extraction et vérification de la base…")
            database = _extract(archive, DATABASE_MEMBERS[engine], work, source.name)
            if engine == "sqlite":
                _check_backup(database, source.name)
            else:
                _pg_check(database, source.name)
            uploads = _extract_uploads(archive, work / UPLOADS, source.name)
            # Everything is checked: from here on the instance changes.
            db.session.remove()
            db.engine.dispose()
            echo("Base de données : remplacement…")
            if engine == "sqlite":
                _sqlite_restore(database, _sqlite_path())
            else:
                _pg_restore(database)
            echo("Base de données : vérification après restauration…")
            _check_restored(manifest)
            echo(f"Fichiers déposés : {uploads} fichier(s) remis en place…")
            _replace_folder(work / UPLOADS, instance / UPLOADS)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if set(manifest.revisions) != migration_heads():
        echo("Base de données : application des migrations plus récentes…")
        upgrade(directory=str(MIGRATIONS))
    # Running servers cached pages of the database as it was: none of them may match now.
    with db.engine.begin() as connection:
        catalogue_version.new_epoch(connection)
    echo("Index de recherche : reconstruction…")
    try:
        count = indexing.rebuild(processes=processes)
    except indexing.IndexBusy as error:
        raise BackupError(
            "Base et fichiers restaurés, mais l'index de recherche est occupé par un autre "
            "processus : lancez « flask search rebuild »."
        ) from error
    echo(f"Index reconstruit : {count} fiches indexées.")
    return manifest


@contextmanager
def _open_archive(source: Path) -> Iterator[tarfile.TarFile]:
    if not source.is_file():
        raise BackupError(f"« {source.name} » n'existe pas ou n'est pas un fichier.")
    try:
        archive = tarfile.open(source, "r:*")  # noqa: SIM115 - closed below; also reads .tar.gz
    except (tarfile.TarError, OSError) as error:
        raise BackupError(_not_a_backup(source.name)) from error
    with archive:
        yield archive


def _manifest(archive: tarfile.TarFile, name: str) -> Manifest:
    try:
        member = archive.getmember(MANIFEST)
        stream = archive.extractfile(member) if member.isfile() else None
    except (KeyError, tarfile.TarError, OSError) as error:
        raise BackupError(_not_a_backup(name)) from error
    if stream is None:
        raise BackupError(_not_a_backup(name))
    return Manifest.parse(stream.read(1024 * 1024), name)


def _extract(archive: tarfile.TarFile, member_name: str, folder: Path, name: str) -> Path:
    """Copy one member out (never ``extract``: the archive chooses no path here)."""
    try:
        member = archive.getmember(member_name)
        stream = archive.extractfile(member) if member.isfile() else None
    except (KeyError, tarfile.TarError, OSError) as error:
        raise BackupError(_not_a_backup(name)) from error
    if stream is None:
        raise BackupError(_not_a_backup(name))
    target = folder / member_name
    _copy_private(stream, target)
    return target


def _extract_uploads(archive: tarfile.TarFile, folder: Path, name: str) -> int:
    """Write the ``uploads/`` members under ``folder``; returns the number of files."""
    folder.mkdir(mode=0o700)
    count = 0
    for member in archive.getmembers():
        parts = PurePosixPath(member.name).parts
        if len(parts) < 2 or parts[0] != UPLOADS:
            continue
        if any(part in ("", ".", "..") for part in parts):
            raise BackupError(_not_a_backup(name))
        target = folder.joinpath(*parts[1:])
        if member.isdir():
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif member.isfile():  # links and devices are never part of a backup
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _copy_private(archive.extractfile(member), target)
            count += 1
    return count


def _copy_private(stream, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        shutil.copyfileobj(stream, handle, 1024 * 1024)


def _replace_folder(new: Path, live: Path) -> None:
    """Swap ``new`` in for ``live`` with renames (readers see the old or the new folder)."""
    if live.exists():
        old = live.with_name(f".{live.name}-remplace-{secrets.token_hex(4)}")
        os.replace(live, old)
        os.replace(new, live)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, live)


def _check_restored(manifest: Manifest) -> None:
    with db.engine.connect() as connection:
        revisions = database_revisions(connection)
        counts = _counts(connection)
    if sorted(revisions) != manifest.revisions or counts != manifest.counts:
        raise BackupError(
            "La base restaurée ne correspond pas à la sauvegarde "
            f"(attendu : {manifest.counts}, trouvé : {counts}) : vérifiez-la avant de rouvrir "
            "le site."
        )


# Shared ------------------------------------------------------------------------------------


def _engine_name() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_MEMBERS:
        raise BackupError(f"Sauvegarde non prise en charge pour une base {name}.")
    return name


def _counts(connection: sa.Connection) -> dict[str, int]:
    return {
        key: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for key, table in COUNTED.items()
    }


# SQLite -------------------------------------------------------------------------------------


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("La base SQLite de l'instance est en mémoire : rien à sauvegarder.")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError("La base de données SQLite de l'instance n'existe pas encore.")
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with (
            closing(sqlite3.connect(source, timeout=30)) as live,
            closing(sqlite3.connect(target)) as copy,
        ):
            # One step: a single read transaction, so the copy is one consistent moment
            # (WAL readers do not block the site's writers meanwhile).
            live.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    except sqlite3.Error as error:
        raise BackupError(f"La copie de la base SQLite a échoué ({error}).") from error


class _NotOurs(Exception):
    """Not a SQLite database of this app (no header, no schema, unreadable)."""


class _Damaged(Exception):
    """A SQLite database of this app whose ``integrity_check`` fails; ``args[0]`` its report."""


def _sqlite_check(path: Path) -> tuple[set[str], dict[str, int]]:
    """An intact SQLite database of this app: its revision(s) and counts."""
    with open(path, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise _NotOurs
    try:
        with closing(
            sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        ) as connection:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise _Damaged("; ".join(result[:3]))
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not {"alembic_version", *(t.name for t in COUNTED.values())} <= tables:
                raise _NotOurs
            revisions = {
                row[0] for row in connection.execute("SELECT version_num FROM alembic_version")
            }
            counts = {
                key: connection.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]  # noqa: S608 - model table names
                for key, table in COUNTED.items()
            }
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") == "SQLITE_CORRUPT":
            raise _Damaged(str(error)) from error
        raise _NotOurs from error
    if not revisions:
        raise _NotOurs
    return revisions, counts


def _check_copy(path: Path) -> tuple[set[str], dict[str, int]]:
    """``_sqlite_check`` of the copy of the live database, in the words of ``create``."""
    try:
        return _sqlite_check(path)
    except _NotOurs as error:
        raise BackupError("La base n'a pas de schéma : lancez « flask setup » d'abord.") from error
    except _Damaged as error:
        raise BackupError(
            f"La base de l'instance est endommagée (integrity_check : {error.args[0]}) : "
            "aucune sauvegarde écrite."
        ) from error


def _check_backup(path: Path, name: str) -> None:
    """``_sqlite_check`` of the database of a backup, in the words of ``restore``."""
    try:
        _sqlite_check(path)
    except _NotOurs as error:
        raise BackupError(_not_a_backup(name)) from error
    except _Damaged as error:
        raise BackupError(
            f"La base de « {name} » est endommagée (integrity_check : {error.args[0]}) : "
            "rien n'a été remplacé."
        ) from error


def _sqlite_restore(copy: Path, live: Path) -> None:
    """Write ``copy`` into the live database through SQLite (the WAL and the other processes'
    connections stay coherent, which a file rename would not guarantee)."""
    if not live.parent.is_dir():
        raise BackupError("Le dossier de la base SQLite de l'instance n'existe pas.")
    if not live.exists():
        os.close(os.open(live, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with (
            closing(sqlite3.connect(copy)) as source,
            closing(sqlite3.connect(live, timeout=30)) as target,
        ):
            source.backup(target)
            result = [row[0] for row in target.execute("PRAGMA integrity_check")]
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as error:
        raise BackupError(f"Le remplacement de la base SQLite a échoué ({error}).") from error
    os.chmod(live, 0o600)
    if result != ["ok"]:
        raise BackupError(
            f"La base restaurée est endommagée (integrity_check : {'; '.join(result[:3])})."
        )


# PostgreSQL ---------------------------------------------------------------------------------

_LISTED_ALEMBIC = re.compile(r"\bTABLE \S+ alembic_version\b")


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"« {name} » est introuvable : installez le client PostgreSQL (paquet "
            "postgresql-client, de la même version majeure que le serveur) ou ajoutez-le au PATH."
        )
    return path


def _pg_connection() -> tuple[list[str], dict[str, str]]:
    """The database as ``--dbname`` (no password on the command line, where ``ps`` shows it)."""
    url = db.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return ["--dbname", plain.render_as_string(hide_password=False)], env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        detail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise BackupError(f"{what} a échoué : {detail or f'code {done.returncode}'}")
    return done.stdout


def _pg_dump(target: Path) -> tuple[set[str], dict[str, int]]:
    """``pg_dump -Fc`` of the snapshot in which the revision and the counts are read."""
    pg_dump = _pg_tool("pg_dump")
    arguments, env = _pg_connection()
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
            revisions = set(database_revisions(connection))
            counts = _counts(connection)
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            command = [pg_dump, "--format=custom", "--snapshot", snapshot, "--file", str(target)]
            _run([*command, *arguments], env, "pg_dump")
    if not revisions:
        raise BackupError("La base n'a pas de schéma : lancez « flask setup » d'abord.")
    return revisions, counts


def _pg_check(dump: Path, name: str) -> None:
    """A dump of a database of this app (``--list`` reads its table of contents) that can be
    read to the end (a dump cut short has a whole table of contents)."""
    pg_restore = _pg_tool("pg_restore")
    listed = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0 or not _LISTED_ALEMBIC.search(listed.stdout):
        raise BackupError(_not_a_backup(name))
    read = subprocess.run(  # noqa: S603
        [pg_restore, "--file", os.devnull, str(dump)], capture_output=True, text=True, check=False
    )
    if read.returncode != 0:
        detail = " ".join(read.stderr.strip().splitlines()[-2:])
        raise BackupError(
            f"L'export de « {name} » est endommagé ({detail}) : rien n'a été remplacé."
        )


def _pg_restore(dump: Path) -> None:
    """``pg_restore --clean`` in one transaction: on any error the database stays as it was."""
    arguments, env = _pg_connection()
    command = [
        _pg_tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        *arguments,
        str(dump),
    ]
    _run(command, env, "pg_restore")
