"""Signed links: purpose, expiry, single use, forgery."""

from __future__ import annotations

import time

import pytest
from factories import make_user
from itsdangerous import URLSafeTimedSerializer

from directory.extensions import db
from directory.services import accounts, tokens
from directory.services.tokens import Purpose


@pytest.fixture
def user(app_ctx):
    account = make_user(email="lien@example.org")
    db.session.commit()
    return account


def _old_token(app, user, purpose: Purpose, age: int) -> str:
    """A token signed ``age`` seconds ago (same key and salt as the app's)."""

    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=f"annuaire.{purpose}")
    signer = serializer.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - age  # type: ignore[method-assign]
    payload = serializer.dump_payload({"u": user.id, "f": tokens.fingerprint(user)})
    return signer.sign(payload).decode()


def test_valid_token_gives_its_account(user):
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    assert tokens.read_token(token, Purpose.PASSWORD_RESET).id == user.id


def test_token_of_another_purpose_is_refused(user):
    token = tokens.make_token(user, Purpose.INVITATION)
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_token(token, Purpose.PASSWORD_RESET)


@pytest.mark.parametrize("token", ["", "abc", "x" * 10_000, "a.b.c", "\x00"])
def test_forged_tokens_are_invalid(user, token):
    with pytest.raises(tokens.TokenInvalid) as raised:
        tokens.read_token(token, Purpose.PASSWORD_RESET)
    assert raised.value.status == 400


def test_tampered_token_is_invalid(user):
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_token(tampered, Purpose.PASSWORD_RESET)


def test_reset_token_expires_after_an_hour(app, user):
    fresh = _old_token(app, user, Purpose.PASSWORD_RESET, age=3500)
    assert tokens.read_token(fresh, Purpose.PASSWORD_RESET).id == user.id
    stale = _old_token(app, user, Purpose.PASSWORD_RESET, age=3700)
    with pytest.raises(tokens.TokenExpired) as raised:
        tokens.read_token(stale, Purpose.PASSWORD_RESET)
    assert raised.value.status == 410


def test_invitation_lasts_seven_days(app, user):
    six_days = _old_token(app, user, Purpose.INVITATION, age=6 * 86400)
    assert tokens.read_token(six_days, Purpose.INVITATION).id == user.id
    eight_days = _old_token(app, user, Purpose.INVITATION, age=8 * 86400)
    with pytest.raises(tokens.TokenExpired):
        tokens.read_token(eight_days, Purpose.INVITATION)


def test_token_dies_once_the_password_is_set(user):
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    accounts.set_password(user, "une nouvelle phrase de passe", action="test")
    with pytest.raises(tokens.TokenUsed) as raised:
        tokens.read_token(token, Purpose.PASSWORD_RESET)
    assert raised.value.status == 410


def test_token_dies_when_sessions_end_or_account_is_deactivated(user):
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    accounts.sign_out_everywhere(user)
    with pytest.raises(tokens.TokenUsed):
        tokens.read_token(token, Purpose.PASSWORD_RESET)
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    user.active = False
    db.session.commit()
    with pytest.raises(tokens.TokenUsed):
        tokens.read_token(token, Purpose.PASSWORD_RESET)


def test_token_for_a_deleted_account_is_invalid(user):
    token = tokens.make_token(user, Purpose.PASSWORD_RESET)
    db.session.delete(user)
    db.session.commit()
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_token(token, Purpose.PASSWORD_RESET)


def test_another_secret_key_cannot_sign_tokens(app, user):
    foreign = URLSafeTimedSerializer("une autre clé", salt="annuaire.password-reset")
    token = foreign.dumps({"u": user.id, "f": tokens.fingerprint(user)})
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_token(token, Purpose.PASSWORD_RESET)
