"""``flask backup create`` / ``restore``: a backup restored into an empty instance gives back the
same entries, found by the same searches, and the same uploaded files; anything that is not a
backup of this app is refused before the database is touched."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import stat
import tarfile
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation
from requirements import require

from directory import create_app
from directory.extensions import db
from directory.models import Initiative, Organisation, Status
from directory.search import indexing
from directory.services import backup, media
from directory.services import search as service

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture(autouse=True)
def _postgresql_tools():
    """On PostgreSQL the backup wraps pg_dump/pg_restore: without them only a developer's
    machine may skip (CI must have them)."""
    tools = bool(shutil.which("pg_dump") and shutil.which("pg_restore"))
    require("pg_dump", not PG_URL or tools, "pg_dump/pg_restore absents du PATH")


def found(q: str) -> set[str]:
    """Titles of the initiatives the real search service finds for ``q``."""
    outcome = service.search(service.SearchRequest.from_args({"q": q}))
    return {hit.entry.title for hit in outcome.initiatives.hits}


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _catalogue() -> tuple[int, int, set[str]]:
    initiatives = db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))
    organisations = db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))
    return initiatives, organisations, set(db.session.scalars(sa.select(Initiative.slug)))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def empty_instance(databases, tmp_path):
    """A second instance: new folder, empty database (no tables), as on a new server."""
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "restored-instance"),
            "DATABASE_URL": databases.empty(),
            "SECRET_KEY": "another-test-secret-key",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_restore_into_an_empty_instance_finds_the_same_entries(
    app, runner, empty_instance, tmp_path
):
    with app.app_context():
        lead = make_organisation(name="Collectif des Zéphyrs")
        make_initiative(title="Ressourcerie zéphyrine", summary="Réemploi solidaire.", lead=lead)
        make_initiative(title="Atelier zéphyr", summary="Réparer ensemble.")
        db.session.commit()
        logo = media.store_logo(*media.clean_image(_png()))
        lead.logo_path = logo
        db.session.commit()
        lead_id = lead.id
        before = _catalogue()
        found_before = found("zéphyr")
        logo_bytes = (media.logo_dir().parent / logo).read_bytes()
    assert found_before == {"Ressourcerie zéphyrine", "Atelier zéphyr"}

    archive = tmp_path / "sauvegarde.tar"
    created = runner.invoke(args=["backup", "create", str(archive)])
    assert created.exit_code == 0, created.output
    assert "Sauvegarde écrite" in created.output
    assert _mode(archive) == 0o600
    with tarfile.open(archive) as opened:
        names = opened.getnames()
    assert names[0] == "manifest.json"
    assert f"uploads/{logo}" in names
    assert not {"secret_key", "config.py"} & {Path(name).name for name in names}

    restored = empty_instance.test_cli_runner().invoke(
        args=["backup", "restore", str(archive), "--yes"]
    )
    assert restored.exit_code == 0, restored.output
    assert "Base de données : vérification après restauration" in restored.output
    assert "Index reconstruit" in restored.output

    with empty_instance.app_context():
        # The index was rebuilt by the restore itself, before any search.
        backend = indexing.get_backend()
        assert backend.exists()
        published = sum(
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(model)
                .where(model.status == Status.PUBLISHED)
            )
            for model in (Initiative, Organisation)
        )
        assert backend.doc_count() == published
        assert _catalogue() == before
        assert found("zéphyr") == found_before
        restored_logo = Path(empty_instance.instance_path) / "uploads" / logo
        assert restored_logo.read_bytes() == logo_bytes
        assert _mode(restored_logo) == 0o600
        assert (
            db.session.scalar(sa.select(Organisation.logo_path).where(Organisation.id == lead_id))
            == logo
        )
    if not PG_URL:
        database = Path(sa.engine.make_url(empty_instance.config["DATABASE_URL"]).database)
        assert _mode(database) == 0o600


def _foreign_sqlite(path: Path) -> bytes:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('une autre application')")
    connection.close()
    return path.read_bytes()


def _archive_with(path: Path, engine: str, database: bytes) -> Path:
    """An archive shaped like ours whose database member is ``database``."""
    manifest = {
        "format": backup.FORMAT,
        "version": backup.FORMAT_VERSION,
        "engine": engine,
        "revisions": [],
        "counts": {"initiatives": 1, "organisations": 1},
        "uploads": 0,
        "created_at": "2026-01-01T00:00:00Z",
    }
    with tarfile.open(path, "w") as archive:
        for name, data in (
            ("manifest.json", json.dumps(manifest).encode()),
            (backup.DATABASE_MEMBERS[engine], database),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _not_backups(tmp_path: Path, engine: str) -> list[Path]:
    text = tmp_path / "notes.txt"
    text.write_text("Ceci n'est pas une sauvegarde.\n")
    bare = tmp_path / "autre.sqlite3"
    foreign = _foreign_sqlite(bare)
    garbage = foreign if engine == "sqlite" else b"PGDMP pas vraiment un export"
    return [
        text,
        bare,
        _archive_with(tmp_path / "etrangere.tar", engine, garbage),
        _archive_with(tmp_path / "tronquee.tar", engine, b"SQLite format 3\x00" + b"\x00" * 200),
    ]


def test_what_is_not_a_backup_is_refused_and_the_database_untouched(app, runner, tmp_path):
    with app.app_context():
        make_initiative(title="Épicerie solidaire des Zéphyrs")
        db.session.commit()
        before = _catalogue()
        engine = db.engine.dialect.name
    for candidate in _not_backups(tmp_path, engine):
        result = runner.invoke(args=["backup", "restore", str(candidate), "--yes"])
        assert result.exit_code == 1, (candidate.name, result.output)
        assert "n'est pas une sauvegarde de l'annuaire" in result.output, candidate.name
        assert "Traceback" not in result.output
    with app.app_context():
        assert _catalogue() == before
        assert "Épicerie solidaire des Zéphyrs" in found("zéphyrs")


def test_restore_asks_before_replacing(app, runner, tmp_path):
    archive = tmp_path / "sauvegarde.tar"
    assert runner.invoke(args=["backup", "create", str(archive)]).exit_code == 0
    with app.app_context():
        make_initiative(title="Entrée ajoutée après la sauvegarde")
        db.session.commit()
        before = _catalogue()
    answered_no = runner.invoke(args=["backup", "restore", str(archive)], input="n\n")
    assert answered_no.exit_code == 1
    assert "Continuer ?" in answered_no.output
    with app.app_context():
        assert _catalogue() == before
    answered_yes = runner.invoke(args=["backup", "restore", str(archive)], input="y\n")
    assert answered_yes.exit_code == 0, answered_yes.output
    with app.app_context():
        db.session.remove()
        assert "Entrée ajoutée après la sauvegarde" not in {
            i.title for i in db.session.scalars(sa.select(Initiative))
        }
        assert _catalogue()[0] == before[0] - 1


def test_a_backup_from_another_engine_is_refused(app, runner, tmp_path):
    with app.app_context():
        engine = db.engine.dialect.name
        before = _catalogue()
    other = "postgresql" if engine == "sqlite" else "sqlite"
    archive = tmp_path / "autre-moteur.tar"
    with app.app_context():
        manifest = backup.Manifest(other, ["0001"], {"initiatives": 0}, 0, "2026-01-01T00:00:00Z")
    with tarfile.open(archive, "w") as opened:
        data = json.dumps(manifest.__dict__).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        opened.addfile(info, io.BytesIO(data))
    result = runner.invoke(args=["backup", "restore", str(archive), "--yes"])
    assert result.exit_code == 1
    assert "même moteur" in result.output
    with app.app_context():
        assert _catalogue() == before


def _damaged_copy(archive: Path, target: Path, engine: str) -> Path:
    """``archive`` with its database damaged: a SQLite table page overwritten, a dump cut short."""
    member = backup.DATABASE_MEMBERS[engine]
    with tarfile.open(archive) as opened:
        manifest = opened.extractfile("manifest.json").read()
        database = bytearray(opened.extractfile(member).read())
    if engine == "sqlite":
        probe = target.with_suffix(".probe")
        probe.write_bytes(database)
        with closing(sqlite3.connect(probe)) as connection:
            page_size = connection.execute("PRAGMA page_size").fetchone()[0]
            (root,) = connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = 'initiative'"
            ).fetchone()
        start = (root - 1) * page_size
        database[start : start + 8] = b"\x0d\x00\x00\x00\x00\xff\xff\xff"
    else:
        del database[len(database) // 2 :]
    with tarfile.open(target, "w") as opened:
        for name, data in (("manifest.json", manifest), (member, bytes(database))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            opened.addfile(info, io.BytesIO(data))
    return target


def test_a_damaged_backup_is_refused_and_the_database_untouched(app, runner, tmp_path):
    archive = tmp_path / "sauvegarde.tar"
    assert runner.invoke(args=["backup", "create", str(archive)]).exit_code == 0
    with app.app_context():
        make_initiative(title="Entrée ajoutée après la sauvegarde")
        db.session.commit()
        before = _catalogue()
        engine = db.engine.dialect.name
    damaged = _damaged_copy(archive, tmp_path / "endommagee.tar", engine)
    result = runner.invoke(args=["backup", "restore", str(damaged), "--yes"])
    assert result.exit_code == 1
    assert "endommagé" in result.output
    assert "rien n'a été remplacé" in result.output
    if engine == "sqlite":
        assert "integrity_check" in result.output
    with app.app_context():
        assert _catalogue() == before
