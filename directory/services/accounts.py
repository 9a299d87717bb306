"""Accounts: creation and password hashing (argon2id)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditLog, Membership, Organisation, Role, User

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # long passphrases are accepted whole, never truncated
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")

# argon2-cffi defaults are argon2id with parameters in line with current OWASP guidance.
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check a password; an outdated hash is upgraded in place (caller commits)."""
    if not user.password_hash:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"Le mot de passe ne peut pas dépasser {MAX_PASSWORD_LENGTH} caractères."
        )
    if len(set(password)) < 4:
        raise AccountError("Ce mot de passe est trop facile à deviner.")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise AccountError("Adresse électronique invalide.")
    return email


def create_user(
    *,
    email: str,
    role: str | Role,
    password: str,
    name: str = "",
    organisation_slug: str | None = None,
) -> User:
    """Create an active account; a partner account belongs to an organisation."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError as error:
        raise AccountError(f"Rôle inconnu : {role}.") from error
    check_password_strength(password)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise AccountError(f"Un compte existe déjà pour {email}.")
    organisation = None
    if organisation_slug:
        organisation = db.session.scalar(
            select(Organisation).where(Organisation.slug == organisation_slug)
        )
        if organisation is None:
            raise AccountError(f"Organisation inconnue : {organisation_slug}.")
    elif role == Role.PARTNER:
        raise AccountError(
            "Un compte partenaire doit être rattaché à une organisation (--organisation SLUG)."
        )

    user = User(email=email, name=name.strip(), role=role, password_hash=hash_password(password))
    db.session.add(user)
    if organisation is not None:
        db.session.add(Membership(user=user, organisation=organisation))
    db.session.flush()
    db.session.add(
        AuditLog(
            user_id=user.id, action="account.created", details={"role": role.value, "via": "cli"}
        )
    )
    db.session.commit()
    return user
