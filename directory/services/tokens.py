"""Signed, expiring, single-use links for invitations and password resets.

A token carries the account id and a fingerprint of what the link is meant to change (the
password hash, the session version and the email). Setting the password or ending the
account's sessions changes the fingerprint, so a link works once and dies with any later
change. Each purpose has its own salt: an invitation token is no reset token.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import User

MAX_TOKEN_LENGTH = 500  # far more than a real token; longer input is refused unread


class Purpose(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password-reset"  # noqa: S105 - a name, not a secret

    @property
    def max_age_key(self) -> str:
        return {"invitation": "INVITATION_MAX_AGE", "password-reset": "PASSWORD_RESET_MAX_AGE"}[
            self.value
        ]


class TokenError(ValueError):
    """A link that cannot be used; ``status`` is the HTTP answer (400 forged, 410 gone)."""

    status = 400


class TokenInvalid(TokenError):
    status = 400


class TokenExpired(TokenError):
    status = 410


class TokenUsed(TokenError):
    status = 410


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"annuaire.{purpose}")


def fingerprint(user: User) -> str:
    """Changes whenever the password, the session version or the email changes."""
    material = f"{user.id}\0{user.email}\0{user.password_hash or ''}\0{user.session_version}"
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(user: User, purpose: Purpose) -> str:
    return _serializer(purpose).dumps({"u": user.id, "f": fingerprint(user)})


def max_age(purpose: Purpose) -> int:
    return int(current_app.config[purpose.max_age_key])


def read_token(token: str, purpose: Purpose) -> User:
    """The account a valid token is for; raises a :class:`TokenError` subclass otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid("Ce lien est invalide.")
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age(purpose))
    except SignatureExpired as error:
        raise TokenExpired("Ce lien a expiré.") from error
    except BadSignature as error:
        raise TokenInvalid("Ce lien est invalide.") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise TokenInvalid("Ce lien est invalide.")
    user = db.session.get(User, payload["u"])
    if user is None:
        raise TokenInvalid("Ce lien est invalide.")
    if not user.active or not hmac.compare_digest(str(payload.get("f", "")), fingerprint(user)):
        raise TokenUsed("Ce lien a déjà été utilisé ou n’est plus valable.")
    return user
