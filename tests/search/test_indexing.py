"""The index follows the database: outbox, replay after a crash, concurrent writers, verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_theme
from search_helpers import run_search

from directory.extensions import db
from directory.models import Initiative, SearchOutbox, Status
from directory.search import indexing
from directory.search.documents import INITIATIVE, count_published

WORKER = Path(__file__).with_name("index_worker.py")


def found(word: str) -> int:
    return run_search(q=word).initiatives.total


def test_index_follows_create_publish_edit_archive_and_delete(app_ctx):
    initiative = make_initiative(title="Hippocampe des calanques", status=Status.DRAFT)
    db.session.commit()
    assert found("hippocampe") == 0
    initiative.status = Status.PUBLISHED
    db.session.commit()
    assert found("hippocampe") == 1
    initiative.title = "Libellule des calanques"
    db.session.commit()
    assert found("hippocampe") == 0
    assert found("libellule") == 1
    initiative.status = Status.ARCHIVED
    db.session.commit()
    assert found("libellule") == 0
    initiative.status = Status.PUBLISHED
    db.session.commit()
    assert found("libellule") == 1
    db.session.delete(initiative)
    db.session.commit()
    assert found("libellule") == 0
    assert indexing.pending_count() == 0


def test_related_names_follow_too(app_ctx):
    lead = make_organisation(name="Association Cormoran")
    theme = make_theme(name="Thème provisoire")
    make_initiative(title="Sorties nature", lead=lead, themes=[theme])
    db.session.commit()
    assert found("cormoran") == 1
    lead.name = "Association Pélican"
    theme.name = "Biodiversité urbaine"
    db.session.commit()
    assert found("cormoran") == 0
    assert found("pélican") == 1
    assert found("biodiversité") == 1


def test_the_outbox_row_is_written_in_the_same_transaction(app_ctx):
    make_initiative(title="Transaction annulée")
    db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == 1
    db.session.rollback()
    assert indexing.pending_count() == 0
    assert found("annulée") == 0


def _worker_config(app) -> str:
    return json.dumps(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(Path(app.instance_path)),
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
            "SECRET_KEY": "test",
        }
    )


def test_changes_are_replayed_after_a_writer_process_dies(app_ctx):
    found("initialisation")  # builds the index
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), _worker_config(app_ctx), "hold-lock"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        make_initiative(title="Ornithologie urbaine")
        db.session.commit()  # cannot index now: the other process holds the writer
        assert indexing.pending_count() == 1
        assert found("ornithologie") == 0  # a normal, slightly stale answer; no error
    finally:
        holder.kill()  # dies holding the lock, without any clean-up
        holder.wait()
        holder.stdout.close()
    assert found("ornithologie") == 1  # the next search replays the outbox
    assert indexing.pending_count() == 0


def test_pending_changes_survive_a_new_process(app_ctx):
    found("initialisation")
    backend = indexing.get_backend()
    with backend.writer(timeout=1):  # as if this process had died before indexing
        make_initiative(title="Salamandre tachetée")
        db.session.commit()
    assert indexing.pending_count() == 1
    from directory import create_app

    other = create_app(json.loads(_worker_config(app_ctx)))
    with other.app_context():
        assert indexing.drain(timeout=5) == 1
    assert found("salamandre") == 1


def test_two_processes_writing_at_once_lose_nothing(app_ctx):
    found("initialisation")
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), _worker_config(app_ctx), "write", name, "12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("Kangourou", "Wombat")
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
        assert "LockError" not in err
        assert out.strip() == "written"
    indexing.drain(timeout=10, max_batches=100)
    assert indexing.pending_count() == 0
    assert found("kangourou") == 12
    assert found("wombat") == 12
    assert indexing.verify(repair=False).differences == 0


def test_verify_reports_and_repairs_a_broken_index(app_ctx, runner):
    kept = make_initiative(title="Hérisson des jardins")
    removed = make_initiative(title="Blaireau des bois")
    db.session.commit()
    found("initialisation")
    backend = indexing.get_backend()
    with backend.writer(timeout=1) as writer:
        writer.remove(INITIATIVE, removed.id)  # missing from the index
        ghost = indexing.load_documents(db.session, INITIATIVE, [kept.id])[kept.id]
        writer.upsert(type(ghost)(INITIATIVE, 999_999, ghost.fields, "fantome", 0))  # extra
    # A change made behind the application's back (no outbox row): a stale entry.
    db.session.execute(
        sa.update(Initiative).where(Initiative.id == kept.id).values(title="Écureuil des jardins")
    )
    db.session.commit()
    db.session.expire_all()

    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 1
    assert "1 fiches absentes de l’index" in result.output
    assert "1 fiches en trop dans l’index" in result.output
    assert "1 fiches périmées dans l’index" in result.output
    assert "Écarts corrigés." in result.output

    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 0, result.output
    assert "conforme" in result.output
    assert found("blaireau") == 1
    assert found("écureuil") == 1
    assert found("hérisson") == 0


def test_rebuild_command_indexes_every_published_entry(app_ctx, runner):
    make_initiative(title="Loutre")
    db.session.commit()
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"Index reconstruit : {count_published(db.session)} fiches" in result.output
    assert indexing.get_backend().doc_count() == count_published(db.session)
    assert found("loutre") == 1


def test_a_rebuild_in_several_processes_indexes_everything_once(app_ctx, monkeypatch):
    from directory.search import whoosh_backend

    monkeypatch.setattr(whoosh_backend, "PARALLEL_REBUILD_FROM", 10)
    monkeypatch.setattr(whoosh_backend, "PARALLEL_BATCH", 10)
    for number in range(40):
        make_initiative(title=f"Tortue luth {number}", summary="Des plages surveillées.")
    make_initiative(title="Tortue brouillon", status=Status.DRAFT)
    db.session.commit()
    published = count_published(db.session)
    assert indexing.rebuild(processes=2) == published
    backend = indexing.get_backend()
    with backend._searching() as searcher:
        assert len(searcher.reader().leaf_readers()) >= 2  # one segment per process
    assert found("tortue") == 40
    assert found('"plages surveillées"') == 40
    assert indexing.verify(repair=False).differences == 0
