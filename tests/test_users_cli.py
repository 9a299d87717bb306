"""`flask users create`: the first accounts are made from the shell."""

from __future__ import annotations

import sqlalchemy as sa

from directory.extensions import db
from directory.models import AuditLog, Membership, Role, User
from directory.services import accounts


def _create(runner, *args, password="une phrase de passe solide"):
    return runner.invoke(args=["users", "create", *args, "--password-stdin"], input=password + "\n")


def test_create_admin_with_password_from_stdin(app, runner):
    result = _create(runner, "--email", "Admin@Example.org", "--role", "admin")
    assert result.exit_code == 0, result.output
    assert "Compte créé : admin@example.org" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
        assert user.role == Role.ADMIN
        assert user.password_hash.startswith("$argon2id$")
        assert accounts.verify_password(user, "une phrase de passe solide")
        assert not accounts.verify_password(user, "mauvais mot de passe")
        assert (
            db.session.scalar(sa.select(AuditLog.action).where(AuditLog.user_id == user.id))
            == "account.created"
        )


def test_partner_is_attached_to_its_organisation(app, runner):
    with app.app_context():
        slug = db.session.scalar(sa.text("SELECT min(slug) FROM organisation"))
    result = _create(
        runner, "--email", "membre@example.org", "--role", "partner", "--organisation", slug
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        membership = db.session.scalar(sa.select(Membership))
        assert membership.organisation.slug == slug
        assert membership.user.email == "membre@example.org"


def test_bad_requests_get_clear_messages_and_create_nothing(app, runner):
    cases = [
        (["--email", "court@example.org", "--role", "admin"], "court", "au moins 10"),
        (["--email", "pas-une-adresse", "--role", "admin"], None, "Adresse électronique invalide"),
        (["--email", "p@example.org", "--role", "partner"], None, "rattaché à une organisation"),
        (
            ["--email", "p@example.org", "--role", "partner", "--organisation", "inconnue"],
            None,
            "Organisation inconnue",
        ),
    ]
    for args, password, message in cases:
        result = _create(runner, *args, password=password or "une phrase de passe solide")
        assert result.exit_code != 0
        assert message in result.output
        assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_duplicate_email_is_refused(app, runner):
    assert _create(runner, "--email", "a@example.org", "--role", "curator").exit_code == 0
    result = _create(runner, "--email", "A@EXAMPLE.ORG", "--role", "curator")
    assert result.exit_code != 0
    assert "existe déjà" in result.output


def test_long_passwords_are_not_truncated(app_ctx):
    start = "une phrase de passe bien plus longue que soixante-douze caractères, " * 3
    long_password = start + "yz!"
    user = accounts.create_user(email="long@example.org", role="curator", password=long_password)
    assert accounts.verify_password(user, long_password)
    assert not accounts.verify_password(user, start)
