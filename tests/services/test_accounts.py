"""Accounts service: passwords, sign-in checks, sessions, invitations and members."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from factories import TEST_PASSWORD, make_organisation, make_user
from werkzeug.security import generate_password_hash

from directory.extensions import db
from directory.models import AuditLog, Membership, Role, User
from directory.services import accounts, passwords
from directory.services.accounts import AccountError


@pytest.mark.parametrize(
    "password",
    ["password123", "PASSWORD123", "1234567890", "qwertyuiop", "  Iloveyou12  "],
)
def test_common_passwords_are_refused_whatever_the_case(password):
    assert password.strip().lower() in passwords.common_password_list()
    with pytest.raises(AccountError, match="trop facile à deviner"):
        accounts.check_password_strength(password)


def test_common_password_list_is_the_shipped_one():
    common = passwords.common_password_list()
    assert len(common) == 10_000
    assert common[:3] == ["123456", "123456789", "qwerty"]  # most frequent first: the ranks
    assert {"password", "1234567890"} <= set(common)
    assert not any(line.startswith("# ") for line in common)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("court", "au moins 10"),
        ("aaaaaaaaaaaa", "trop facile"),
        ("x" * 1025, "1024"),
        ("phrase\x00secrète longue", "non autorisé"),
    ],
)
def test_weak_passwords(password, message):
    with pytest.raises(AccountError, match=message):
        accounts.check_password_strength(password)


def test_long_and_unusual_passwords_are_accepted():
    for password in (
        "où l’été dîne près du phare, ça évoque Noël " * 23,  # 1 012 characters
        "une phrase <avec> des « signes » & co",
        "😀 émoji mot de passe",
    ):
        accounts.check_password_strength(password)


def test_long_password_is_not_truncated(app_ctx):
    password = "p" * 500 + "une fin différente"
    user = make_user(password_hash=accounts.hash_password(password))
    assert accounts.verify_password(user, password)
    assert not accounts.verify_password(user, "p" * 500 + "une fin différentE")


@pytest.mark.parametrize("method", ["pbkdf2", "scrypt"])
def test_werkzeug_hashes_are_upgraded(app_ctx, method):
    user = make_user(password_hash=generate_password_hash("ancienne phrase", method=method))
    assert not accounts.verify_password(user, "mauvaise phrase")
    assert user.password_hash.startswith(method)
    assert accounts.verify_password(user, "ancienne phrase")
    assert user.password_hash.startswith("$argon2id$")
    assert accounts.verify_password(user, "ancienne phrase")


def test_authenticate(app_ctx):
    user = make_user(email="auth@example.org")
    db.session.commit()
    assert accounts.authenticate("AUTH@example.org ", TEST_PASSWORD, ip="10.0.0.1") == user
    assert accounts.authenticate("auth@example.org", "mauvais mot de passe") is None
    assert accounts.authenticate("inconnu@example.org", TEST_PASSWORD) is None
    assert accounts.authenticate("pas une adresse\x00", TEST_PASSWORD) is None
    rows = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "auth.failed").order_by(AuditLog.id)
    ).all()
    assert [row.details["email"] for row in rows] == [
        "auth@example.org",
        "inconnu@example.org",
        "pas une adresse",
    ]


def test_unknown_email_takes_about_as_long_as_a_wrong_password(app_ctx):
    make_user(email="temps@example.org")
    db.session.commit()
    accounts.authenticate("inconnu@example.org", "x")  # warm the dummy hash

    def duration(email: str) -> float:
        start = time.perf_counter()
        for _ in range(3):
            accounts.authenticate(email, "mauvais mot de passe")
        return time.perf_counter() - start

    known, unknown = duration("temps@example.org"), duration("inconnu@example.org")
    assert unknown > known * 0.5


def test_set_password_ends_sessions(app_ctx):
    user = make_user()
    db.session.commit()
    version = user.session_version
    accounts.set_password(user, "une autre phrase de passe", action="test")
    assert user.session_version == version + 1
    assert accounts.verify_password(user, "une autre phrase de passe")


def test_change_password_checks_the_current_one(app_ctx):
    user = make_user()
    db.session.commit()
    with pytest.raises(AccountError, match="actuel"):
        accounts.change_password(user, "faux", "une autre phrase de passe")
    accounts.change_password(user, TEST_PASSWORD, "une autre phrase de passe")
    assert accounts.verify_password(user, "une autre phrase de passe")


def test_invite_creates_an_account_without_password(app):
    with app.test_request_context():  # the mail carries an absolute link
        _invite_new_account()


def _invite_new_account():
    organisation = make_organisation(slug="asso")
    alice = make_user(organisation=organisation)
    db.session.commit()
    invitation = accounts.invite_member(alice, organisation, " Zoe@Example.org", "  Zoé   Petit ")
    assert invitation.created
    zoe = invitation.user
    assert (zoe.email, zoe.name, zoe.role, zoe.password_hash) == (
        "zoe@example.org",
        "Zoé Petit",
        Role.PARTNER,
        None,
    )
    assert db.session.get(Membership, (zoe.id, organisation.id)) is not None
    # A second invitation to the same organisation is refused.
    with pytest.raises(AccountError, match="déjà membre"):
        accounts.invite_member(alice, organisation, "zoe@example.org")


def test_invite_refuses_outsiders_and_bad_input(app_ctx):
    mine, theirs = make_organisation(), make_organisation()
    alice = make_user(organisation=mine)
    db.session.commit()
    with pytest.raises(PermissionError):
        accounts.invite_member(alice, theirs, "x@example.org")
    with pytest.raises(AccountError, match="invalide"):
        accounts.invite_member(alice, mine, "pas-une-adresse")
    with pytest.raises(AccountError, match="non autorisés"):
        accounts.invite_member(alice, mine, "ok@example.org", "<script>")
    assert db.session.scalar(sa.select(User).where(User.email == "x@example.org")) is None
    assert db.session.scalar(sa.select(User).where(User.email == "ok@example.org")) is None


def test_invited_accounts_stay_pending_until_they_sign_in(app):
    """New, existing and deactivated accounts look alike in the list until they sign in:
    pending, without their name."""
    with app.test_request_context():
        organisation = make_organisation()
        alice = make_user(organisation=organisation, name="Alice")
        make_user(email="ancien@example.org", name="Bruno Ancien")
        make_user(email="parti@example.org", name="Paul Parti", active=False)
        db.session.commit()
        accounts.record_sign_in(alice)
        for email in ("nouveau@example.org", "ancien@example.org", "parti@example.org"):
            accounts.invite_member(alice, organisation, email)
        rows = {m.user.email: (m.state, m.name) for m in accounts.members_of(organisation)}
        pending = (accounts.MemberState.PENDING, "")
        assert rows == {
            alice.email: (accounts.MemberState.ACTIVE, "Alice"),
            "nouveau@example.org": pending,
            "ancien@example.org": pending,
            "parti@example.org": pending,
        }
        accounts.record_sign_in(db.session.scalar(sa.select(User).filter_by(name="Bruno Ancien")))
        states = {m.user.email: m.state for m in accounts.members_of(organisation)}
        assert states["ancien@example.org"] == accounts.MemberState.ACTIVE


def test_remove_member_rules(app_ctx):
    organisation = make_organisation()
    alice = make_user(organisation=organisation)
    bruno = make_user(organisation=organisation)
    curator = make_user(role=Role.CURATOR)
    db.session.commit()
    accounts.remove_member(alice, organisation, bruno.id)
    with pytest.raises(AccountError, match="dernier membre"):
        accounts.remove_member(alice, organisation, alice.id)
    with pytest.raises(LookupError):
        accounts.remove_member(curator, organisation, bruno.id)
    accounts.remove_member(curator, organisation, alice.id)
    assert accounts.members_of(organisation) == []
