"""Reminders: one mail per member for stale entries, never twice within the pause."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, Initiative, Organisation, Role
from directory.models.base import utcnow
from directory.services import reminders


def _age(model, entry_id: int, days: int = 400) -> None:
    db.session.execute(
        sa.update(model)
        .where(model.id == entry_id)
        .values(updated_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def _outbox(app) -> list:
    folder = Path(app.instance_path) / "outbox"
    return [message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def _world():
    organisation = make_organisation(name="Association à relancer")
    first = make_user(organisation=organisation, email="premiere@example.org")
    second = make_user(organisation=organisation, email="second@example.org")
    old = make_initiative(title="Initiative oubliée", lead=organisation)
    lonely = make_initiative(title="Initiative sans membres", lead=make_organisation())
    curator = make_user(role=Role.CURATOR)
    db.session.commit()
    _age(Initiative, old.id)
    _age(Initiative, lonely.id)
    return organisation, (first, second), old, lonely, curator


def test_stale_list_shows_members_and_oldest_first(app_ctx):
    _, _, old, lonely, _ = _world()
    page = reminders.stale_entries("initiatives", 1, per_page=500)
    by_id = {item.entry.id: item for item in page.items}
    assert {user.email for user in by_id[old.id].members} == {
        "premiere@example.org",
        "second@example.org",
    }
    assert by_id[lonely.id].members == []
    dates = [item.entry.updated_at for item in page.items]
    assert dates == sorted(dates)


def test_each_member_gets_one_mail_and_the_entry_is_not_reminded_twice(app, app_ctx):
    _, _, old, lonely, curator = _world()
    keys = reminders.parse_keys([f"initiative:{old.id}", f"initiative:{lonely.id}", "x:1", ""])
    with app.test_request_context():  # reminders are sent from a page: links are absolute
        report = reminders.send_reminders(curator, keys)
    assert report.mails_sent == 2
    assert report.entries_reminded == 1
    assert report.skipped_no_member == ["Initiative sans membres"]
    mails = _outbox(app)
    assert sorted(mail["To"] for mail in mails) == ["premiere@example.org", "second@example.org"]
    body = mails[0].get_payload(decode=True).decode()
    assert "Initiative oubliée" in body
    assert f"/espace-partenaire/initiatives/{old.slug}/modifier" in body
    logged = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "reminder.sent")).all()
    assert [row.details["entity_id"] for row in logged] == [old.id]

    with app.test_request_context():
        again = reminders.send_reminders(curator, keys)
    assert again.mails_sent == 0
    assert again.skipped_recent == ["Initiative oubliée"]
    assert len(_outbox(app)) == 2


def test_a_recent_entry_or_an_organisation_is_reminded_only_when_stale(app, app_ctx):
    organisation = make_organisation(name="Organisation ancienne")
    make_user(organisation=organisation, email="membre@example.org")
    fresh = make_initiative(lead=organisation)
    curator = make_user(role=Role.CURATOR)
    db.session.commit()
    with app.test_request_context():
        report = reminders.send_reminders(curator, {"initiative": [fresh.id]})
    assert report.mails_sent == 0 and report.entries_reminded == 0
    _age(Organisation, organisation.id)
    with app.test_request_context():
        report = reminders.send_reminders(curator, {"organisation": [organisation.id]})
    assert report.mails_sent == 1
    assert "/espace-partenaire/organisations/" in _outbox(app)[-1].get_payload(decode=True).decode()
