"""Reading the audit log: filters by person, action and dates, French labels for actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AuditLog, User
from .browse import Page

ACTION_LABELS = {
    "auth.login": "Connexion",
    "auth.logout": "Déconnexion",
    "auth.failed": "Connexion refusée",
    "auth.logout_everywhere": "Déconnexion de tous les appareils",
    "auth.reset_password": "Mot de passe réinitialisé",
    "auth.accept_invitation": "Invitation acceptée",
    "account.created": "Compte créé",
    "account.deactivated": "Compte désactivé",
    "account.reactivated": "Compte réactivé",
    "account.role_changed": "Rôle modifié",
    "account.password_changed": "Mot de passe changé",
    "account.password_reset": "Mot de passe réinitialisé",
    "account.password_reset_requested": "Réinitialisation demandée",
    "account.invitation_accepted": "Invitation acceptée",
    "member.invited": "Membre invité",
    "member.removed": "Membre retiré",
    "revision.approved": "Proposition acceptée",
    "revision.rejected": "Proposition refusée",
    "revision.restored": "Version restaurée",
    "entry.archived": "Fiche archivée",
    "entry.unarchived": "Fiche désarchivée",
    "entry.merged": "Fiches fusionnées",
    "import.run": "Import",
    "export.personal": "Export de données personnelles",
    "reminder.sent": "Rappel envoyé",
    "taxonomy.renamed": "Thème ou public renommé",
    "taxonomy.merged": "Thèmes ou publics fusionnés",
}
# Details never shown, whatever an action recorded.
HIDDEN_DETAILS = {"password", "token", "password_hash", "secret"}
MAX_FILTER_LENGTH = 254


@dataclass(frozen=True)
class AuditFilters:
    email: str = ""
    action: str = ""
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_args(cls, args: Mapping) -> AuditFilters:
        def text(name: str) -> str:
            value = str(args.get(name) or "").replace("\x00", "").strip()
            return value[:MAX_FILTER_LENGTH]

        return cls(
            email=text("personne").lower(),
            action=text("action"),
            start=_parse_date(args.get("du")),
            end=_parse_date(args.get("au")),
        )

    def to_args(self) -> dict[str, str]:
        args = {"personne": self.email, "action": self.action}
        if self.start:
            args["du"] = self.start.isoformat()
        if self.end:
            args["au"] = self.end.isoformat()
        return {key: value for key, value in args.items() if value}


def _parse_date(raw) -> date | None:
    try:
        return date.fromisoformat(str(raw or "").strip()[:10])
    except ValueError:
        return None


def label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def visible_details(details: dict | None) -> list[tuple[str, str]]:
    return [
        (str(key), str(value)[:300])
        for key, value in sorted((details or {}).items())
        if str(key).lower() not in HIDDEN_DETAILS
    ]


def known_actions() -> list[tuple[str, str]]:
    """Actions present in the log, with their labels, for the filter list."""
    present = set(db.session.scalars(sa.select(AuditLog.action).distinct()))
    return sorted(((action, label(action)) for action in present), key=lambda item: item[1])


def entries(filters: AuditFilters, page: int, per_page: int = 50) -> Page[AuditLog]:
    conditions = []
    if filters.email:
        conditions.append(
            AuditLog.user_id.in_(
                sa.select(User.id).where(User.email.contains(filters.email, autoescape=True))
            )
        )
    if filters.action:
        conditions.append(AuditLog.action == filters.action)
    if filters.start:
        conditions.append(AuditLog.at >= datetime.combine(filters.start, time.min))
    if filters.end:
        conditions.append(AuditLog.at < datetime.combine(filters.end + timedelta(days=1), time.min))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(*conditions))
    total = total or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = list(
        db.session.scalars(
            sa.select(AuditLog)
            .where(*conditions)
            .options(selectinload(AuditLog.user))
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items=rows, total=total, page=page, per_page=per_page)
