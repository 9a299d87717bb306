"""The health of a running instance, as ``GET /sante`` reports it to a monitor or load balancer.

Four checks, each cheap whatever the size of the catalogue (a ``SELECT 1``, the Alembic revision,
indexed counts, one folder listing): the database answers, its schema is at the head of
``migrations/``, the search index follows the catalogue, and no mail waits in the outbox.
A check says what it saw in numbers and in French, never how the instance is reached: no
address, no path, no exception text (those go to the log).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from ..config import ROOT
from ..extensions import db
from ..models import Initiative, Organisation, SearchOutbox, Status
from ..search import indexing

log = logging.getLogger(__name__)

MIGRATIONS = ROOT / "migrations"
# A change waiting this long in the search outbox is no longer "being applied": it is stuck.
SEARCH_OUTBOX_MAX_AGE = 5 * 60
# With an SMTP server, a mail still in the outbox after this long was not sent.
MAIL_OUTBOX_MAX_AGE = 15 * 60


@dataclass(frozen=True)
class Check:
    """What one check saw: ``ok``, a French sentence, and figures."""

    ok: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "error", "message": self.message, **self.figures}


@dataclass(frozen=True)
class Report:
    checks: dict[str, Check]
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "error",
            "checked_at": self.checked_at.replace(microsecond=0, tzinfo=None).isoformat() + "Z",
            "checks": {name: check.as_dict() for name, check in self.checks.items()},
        }


NOT_CHECKED = Check(False, "Non vérifié : la base de données ne répond pas.")


def run_checks() -> Report:
    """Every check, in order; those that need the database are skipped when it does not answer."""
    checks = {"database": database()}
    if checks["database"].ok:
        checks["migrations"] = _guarded("migrations", migrations)
        checks["search_index"] = _guarded("search_index", search_index)
    else:
        checks["migrations"] = checks["search_index"] = NOT_CHECKED
    checks["mail_outbox"] = _guarded("mail_outbox", mail_outbox)
    return Report(checks, datetime.now(UTC))


def _guarded(name: str, check) -> Check:
    """A check that breaks is a failed check, not a 500 (the details go to the log)."""
    try:
        return check()
    except Exception:
        log.exception("Vérification de santé « %s » impossible", name)
        return Check(False, "Vérification impossible (voir le journal du serveur).")


def database() -> Check:
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception:
        log.exception("Vérification de santé : la base de données ne répond pas")
        return Check(False, "La base de données ne répond pas.")
    return Check(True, "La base de données répond.")


@cache
def migration_heads(directory: str = str(MIGRATIONS)) -> frozenset[str]:
    """The head revision(s) of the migrations shipped with the code (read once per process)."""
    return frozenset(ScriptDirectory(directory).get_heads())


@cache
def known_revisions(directory: str = str(MIGRATIONS)) -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory(directory).walk_revisions())


def database_revisions(connection: sa.Connection) -> frozenset[str]:
    """The Alembic revision(s) the database is stamped with (empty before any migration)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def migrations() -> Check:
    heads = migration_heads()
    with db.engine.connect() as connection:
        current = database_revisions(connection)
    figures = {"current": sorted(current), "head": sorted(heads)}
    if current == heads:
        return Check(True, "Le schéma de la base est à jour.", figures)
    if not current:
        return Check(False, "La base n'a pas de schéma : lancez « flask setup ».", figures)
    if current - known_revisions():
        message = "La base est à une révision que cette version du code ne connaît pas."
        return Check(False, message, figures)
    return Check(False, "Migrations en retard : lancez « flask setup ».", figures)


def _published_count(connection: sa.Connection) -> int:
    total = 0
    for model in (Initiative, Organisation):
        query = (
            sa.select(sa.func.count()).select_from(model).where(model.status == Status.PUBLISHED)
        )
        total += connection.scalar(query) or 0
    return total


def search_index() -> Check:
    """The index exists, its outbox is being applied, and it holds as many entries as are
    published (compared only when no change is waiting, since waiting changes explain a gap)."""
    backend = indexing.get_backend()
    if not backend.exists():
        return Check(False, "L'index de recherche n'existe pas : lancez « flask search rebuild ».")
    # Another process may publish between the two reads; a second look tells a passing change
    # from a real gap.
    for _attempt in range(2):
        with db.engine.connect() as connection:
            pending, oldest = connection.execute(
                sa.select(sa.func.count(), sa.func.min(SearchOutbox.created_at))
            ).one()
            published = _published_count(connection)
        indexed = backend.doc_count()
        if pending or indexed == published:
            break
    age = _age_seconds(oldest.replace(tzinfo=UTC)) if oldest else None
    figures = {
        "indexed": indexed,
        "published": published,
        "pending_changes": pending,
        "oldest_pending_seconds": age,
    }
    if age is not None and age > SEARCH_OUTBOX_MAX_AGE:
        message = (
            f"{pending} modification(s) attendent d'être indexées depuis plus de "
            f"{SEARCH_OUTBOX_MAX_AGE // 60} minutes : lancez « flask search process »."
        )
        return Check(False, message, figures)
    if not pending and indexed != published:
        message = "L'index ne suit pas le catalogue : lancez « flask search verify »."
        return Check(False, message, figures)
    return Check(True, "L'index de recherche suit le catalogue.", figures)


def outbox_folder() -> Path:
    """Where ``services.mail`` writes the messages it does not send by SMTP."""
    return Path(current_app.instance_path) / "outbox"


def mail_outbox() -> Check:
    """Mails waiting in the outbox. Without ``MAIL_SERVER`` that is where mail goes by design
    (a trial instance), so only an SMTP instance fails on old waiting mails."""
    waiting, oldest = 0, None
    folder = outbox_folder()
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.suffix == ".eml" and entry.is_file():
                waiting += 1
                mtime = entry.stat().st_mtime
                oldest = mtime if oldest is None else min(oldest, mtime)
    smtp = bool(current_app.config["MAIL_SERVER"])
    age = max(0, int(time.time() - oldest)) if oldest is not None else None
    figures = {
        "delivery": "smtp" if smtp else "outbox",
        "waiting": waiting,
        "oldest_waiting_seconds": age,
    }
    if not smtp:
        message = "Aucun serveur de courriel : les messages sont déposés dans la boîte d'envoi."
        return Check(True, message, figures)
    if age is not None and age > MAIL_OUTBOX_MAX_AGE:
        message = (
            f"{waiting} courriel(s) attendent dans la boîte d'envoi de l'instance depuis plus de "
            f"{MAIL_OUTBOX_MAX_AGE // 60} minutes sans être partis : envoyez-les ou retirez-les."
        )
        return Check(False, message, figures)
    return Check(True, "Aucun courriel en souffrance.", figures)


def _age_seconds(moment: datetime) -> int:
    return max(0, int((datetime.now(UTC) - moment).total_seconds()))
