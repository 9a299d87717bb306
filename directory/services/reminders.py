"""Follow-up of entries nobody updated for a year, and reminder mails to their members.

A reminder is written to the audit log (action ``reminder.sent``, one row per entry); the
same entry is not reminded again within ``REMINDER_PAUSE``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    AuditLog,
    Initiative,
    InitiativeOrganisation,
    Membership,
    Organisation,
    OrganisationRole,
    Status,
    User,
)
from ..models.base import utcnow
from .browse import Page
from .mail import render_mail, send_mail
from .stats import stale_cutoff

REMINDER_ACTION = "reminder.sent"
REMINDER_PAUSE = timedelta(days=30)
KINDS = {"initiatives": Initiative, "organisations": Organisation}


@dataclass
class StaleEntry:
    kind: str  # "initiative" or "organisation"
    entry: Initiative | Organisation
    organisations: list[Organisation]
    members: list[User]
    last_reminder: datetime | None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.entry.id}"

    @property
    def recently_reminded(self) -> bool:
        return bool(self.last_reminder and self.last_reminder > utcnow() - REMINDER_PAUSE)


@dataclass
class ReminderReport:
    mails_sent: int = 0
    entries_reminded: int = 0
    skipped_recent: list[str] = field(default_factory=list)
    skipped_no_member: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _name(entry: Initiative | Organisation) -> str:
    return entry.title if isinstance(entry, Initiative) else entry.name


def _last_reminders(kind: str, ids: list[int]) -> dict[int, datetime]:
    """Latest reminder per entry, read from the audit log (few rows: one per reminder)."""
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditLog.at, AuditLog.details).where(
            AuditLog.action == REMINDER_ACTION,
            AuditLog.at > utcnow() - timedelta(days=3 * 365),
        )
    )
    wanted = set(ids)
    latest: dict[int, datetime] = {}
    for at, details in rows:
        details = details or {}
        entity_id = details.get("entity_id")
        relevant = details.get("entity_type") == kind and entity_id in wanted
        if relevant and (entity_id not in latest or at > latest[entity_id]):
            latest[entity_id] = at
    return latest


def _organisations_of(entry: Initiative | Organisation) -> list[Organisation]:
    if isinstance(entry, Organisation):
        return [entry]
    return [
        link.organisation
        for link in entry.organisation_links
        if link.role == OrganisationRole.PORTEUR
    ]


def _describe(kind: str, entries: list[Initiative | Organisation]) -> list[StaleEntry]:
    reminders = _last_reminders(kind, [entry.id for entry in entries])
    result = []
    for entry in entries:
        organisations = _organisations_of(entry)
        members = {
            membership.user.id: membership.user
            for organisation in organisations
            for membership in organisation.memberships
            if membership.user.active
        }
        result.append(
            StaleEntry(
                kind=kind,
                entry=entry,
                organisations=organisations,
                members=sorted(members.values(), key=lambda user: user.email),
                last_reminder=reminders.get(entry.id),
            )
        )
    return result


def _options(model: type) -> list:
    if model is Initiative:
        return [
            selectinload(Initiative.organisation_links)
            .selectinload(InitiativeOrganisation.organisation)
            .selectinload(Organisation.memberships)
            .selectinload(Membership.user)
        ]
    return [selectinload(Organisation.memberships).selectinload(Membership.user)]


def stale_entries(kind: str, page: int, per_page: int = 20) -> Page[StaleEntry]:
    """Published entries of ``kind`` ("initiatives"/"organisations") not updated for a year."""
    model = KINDS[kind]
    condition = sa.and_(model.status == Status.PUBLISHED, model.updated_at < stale_cutoff())
    total = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(condition)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    entries = list(
        db.session.scalars(
            sa.select(model)
            .where(condition)
            .options(*_options(model))
            .order_by(model.updated_at, model.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(
        items=_describe(model.__name__.lower(), entries), total=total, page=page, per_page=per_page
    )


def parse_keys(raw: list[str]) -> dict[str, list[int]]:
    """``["initiative:12", "organisation:3"]`` → ids by kind; anything else is ignored."""
    keys: dict[str, list[int]] = defaultdict(list)
    for value in raw[:500]:
        kind, _, number = (value or "").partition(":")
        if kind in ("initiative", "organisation") and number.isdigit() and len(number) < 10:
            keys[kind].append(int(number))
    return keys


def _reminder_mail(items: list[StaleEntry]) -> tuple[str, str]:
    """Subject and text of the mail listing ``items``, each with the link to its edit form."""
    entries = []
    for item in items:
        endpoint = (
            "partner.edit_initiative" if item.kind == "initiative" else "partner.edit_organisation"
        )
        link = url_for(endpoint, slug=item.entry.slug, _external=True)
        entries.append((_name(item.entry), link))
    return render_mail("reminder.txt", entries=entries)


def send_reminders(
    actor: User, keys: dict[str, list[int]], ip_address: str | None = None
) -> ReminderReport:
    """One mail per member, listing the selected stale entries they can update.

    Called from a page: the links in the mail are built from the current request's address.
    """
    report = ReminderReport()
    by_member: dict[int, list[StaleEntry]] = defaultdict(list)
    members: dict[int, User] = {}
    for kind, ids in keys.items():
        model = Initiative if kind == "initiative" else Organisation
        entries = list(
            db.session.scalars(
                sa.select(model)
                .where(
                    model.id.in_(ids),
                    model.status == Status.PUBLISHED,
                    model.updated_at < stale_cutoff(),
                )
                .options(*_options(model))
            )
        )
        for item in _describe(kind, entries):
            if item.recently_reminded:
                report.skipped_recent.append(_name(item.entry))
            elif not item.members:
                report.skipped_no_member.append(_name(item.entry))
            else:
                for user in item.members:
                    members[user.id] = user
                    by_member[user.id].append(item)
    reminded: dict[str, StaleEntry] = {}
    for user_id, items in by_member.items():
        user = members[user_id]
        subject, text = _reminder_mail(items)
        if send_mail(user.email, subject, text):
            report.mails_sent += 1
            for item in items:
                reminded[item.key] = item
        else:
            report.failed.append(user.email)
    for item in reminded.values():
        details: dict[str, Any] = {
            "entity_type": item.kind,
            "entity_id": item.entry.id,
            "slug": item.entry.slug,
            "recipients": len(item.members),
        }
        db.session.add(
            AuditLog(
                user_id=actor.id, action=REMINDER_ACTION, ip_address=ip_address, details=details
            )
        )
    report.entries_reminded = len(reminded)
    db.session.commit()
    return report
