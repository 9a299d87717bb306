"""Accounts: creation, password hashing (argon2id), sign-in, invitations, password reset.

Views call these functions and turn :class:`AccountError` into a form error. Every function
that changes something commits; mails go through ``services.mail`` and never undo a change.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import url_for
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from ..extensions import db
from ..models import AuditLog, Membership, Organisation, Role, User
from ..models.base import utcnow
from . import permissions, tokens
from .mail import send_mail

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # long passphrases are accepted whole, never truncated
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
# Hashes written by werkzeug.security (an earlier version of the app, imported accounts).
WERKZEUG_HASH_PREFIXES = ("pbkdf2:", "scrypt:")

# argon2-cffi defaults are argon2id with parameters in line with current OWASP guidance.
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("pas un vrai mot de passe, seulement pour le temps de calcul")


def verify_password(user: User, password: str) -> bool:
    """Check a password; an outdated hash is upgraded in place (caller commits).

    Hashes from werkzeug (pbkdf2, scrypt) are checked too and replaced by argon2id.
    """
    stored = user.password_hash
    if not stored:
        return False
    if stored.startswith(WERKZEUG_HASH_PREFIXES):
        try:
            valid = check_password_hash(stored, password)
        except ValueError:
            valid = False
        if valid:
            user.password_hash = _hasher.hash(password)
        return valid
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return True


def burn_verification_time(password: str) -> None:
    """Spend the time of one real check, so unknown accounts answer as slowly as known ones."""
    with suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (its header ends at a blank line)."""
    text = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    _header, _, body = text.partition("\n\n")
    return frozenset(line.strip().lower() for line in body.splitlines() if line.strip())


def check_password_strength(password: str) -> None:
    if "\x00" in password:
        raise AccountError("Le mot de passe contient un caractère non autorisé.")
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
    if password.strip().lower() in common_passwords():
        raise AccountError(
            "Ce mot de passe fait partie des plus courants : choisissez-en un autre, "
            "par exemple une phrase de plusieurs mots."
        )


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or CONTROL_CHARACTERS.search(email) or not EMAIL_PATTERN.match(email):
        raise AccountError("Adresse électronique invalide.")
    return email


def printable(text: str, limit: int = 254) -> str:
    """A bounded, control-free copy of untrusted text, for the audit log."""
    return CONTROL_CHARACTERS.sub("", text or "")[:limit]


def audit(
    action: str, *, user: User | None = None, ip: str | None = None, **details: Any
) -> AuditLog:
    """Add an audit row (the caller commits)."""
    entry = AuditLog(
        user_id=user.id if user is not None else None,
        action=action,
        ip_address=printable(ip or "", 45) or None,
        details=details,
    )
    db.session.add(entry)
    return entry


def find_user(email: str) -> User | None:
    """The account of an email address (any case), or None; invalid addresses have none."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


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


# -- signing in and out ----------------------------------------------------------------------


def authenticate(email: str, password: str, *, ip: str | None = None) -> User | None:
    """The account these credentials open, or None (the failure is audited, then committed).

    Unknown, inactive and not-yet-activated accounts take as long as a wrong password and
    give the same answer: nobody learns whether an address has an account.
    """
    user = find_user(email)
    if user is not None and user.active and user.password_hash:
        if verify_password(user, password):
            return user  # a rehashed password is committed with the sign-in
    else:
        burn_verification_time(password)
    audit("auth.failed", user=user, ip=ip, email=printable(email))
    db.session.commit()
    return None


def record_sign_in(user: User, *, ip: str | None = None) -> None:
    user.last_login_at = utcnow()
    audit("auth.login", user=user, ip=ip)
    db.session.commit()


def record_limited_attempt(email: str, *, ip: str | None = None, action: str = "auth") -> None:
    audit(f"{action}.limited", user=find_user(email), ip=ip, email=printable(email))
    db.session.commit()


def end_sessions(user: User) -> None:
    """Every session and remember-me cookie of the account stops working (caller commits)."""
    user.session_version = (user.session_version or 1) + 1


def sign_out_everywhere(user: User, *, ip: str | None = None, action: str = "auth.logout") -> None:
    end_sessions(user)
    audit(action, user=user, ip=ip)
    db.session.commit()


# -- passwords -----------------------------------------------------------------------------


def set_password(user: User, password: str, *, ip: str | None = None, action: str) -> None:
    """Set a new password; it ends every session of the account (the caller signs in again)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit(action, user=user, ip=ip)
    db.session.commit()


def change_password(user: User, current: str, new: str, *, ip: str | None = None) -> None:
    if not verify_password(user, current):
        raise AccountError("Le mot de passe actuel est incorrect.")
    set_password(user, new, ip=ip, action="account.password_changed")


def request_password_reset(email: str, *, ip: str | None = None) -> bool:
    """Mail a reset link when an active account has this address; the answer shown never says."""
    user = find_user(email)
    if user is None or not user.active:
        return False
    audit("account.password_reset_requested", user=user, ip=ip)
    db.session.commit()
    link = url_for(
        "auth.reset_password",
        token=tokens.make_token(user, tokens.Purpose.PASSWORD_RESET),
        _external=True,
    )
    minutes = tokens.max_age(tokens.Purpose.PASSWORD_RESET) // 60
    return send_mail(
        user.email,
        "Réinitialisation de votre mot de passe — Annuaire de l'innovation sociale",
        f"Bonjour,\n\n"
        f"Quelqu'un (vous, sans doute) a demandé à changer le mot de passe de votre compte "
        f"sur l'Annuaire de l'innovation sociale.\n\n"
        f"Pour choisir un nouveau mot de passe, ouvrez ce lien dans les {minutes} minutes :\n"
        f"{link}\n\n"
        f"Le lien ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce message : "
        f"votre mot de passe reste le même.\n",
    )


def complete_from_token(user: User, password: str, *, purpose: tokens.Purpose, ip: str | None):
    """Set the password chosen through an invitation or reset link (the link dies with it)."""
    action = (
        "account.invitation_accepted"
        if purpose == tokens.Purpose.INVITATION
        else "account.password_reset"
    )
    set_password(user, password, ip=ip, action=action)


# -- members of an organisation --------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    user: User
    created: bool  # a new account was made for the address
    mailed: bool  # the invitation or notification left


def members_of(organisation: Organisation) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == organisation.id)
            .order_by(func.lower(User.name), User.email)
        )
    )


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if len(name) > 200:
        raise AccountError("Le nom ne peut pas dépasser 200 caractères.")
    if CONTROL_CHARACTERS.search(name) or "<" in name or ">" in name:
        raise AccountError("Le nom contient des caractères non autorisés.")
    return name


def invite_member(
    actor: User, organisation: Organisation, email: str, name: str = "", *, ip: str | None = None
) -> Invitation:
    """Add a person to an organisation, creating the account (without password) if needed.

    A new account, or one that never chose a password, gets an invitation link; an active
    account gets a notification of its new membership.
    """
    if not permissions.can_manage_members(actor, organisation):
        raise PermissionError("not allowed to manage this organisation's members")
    email = normalise_email(email)
    name = _clean_name(name)
    user = find_user(email)
    created = user is None
    if user is None:
        user = User(email=email, name=name, role=Role.PARTNER, password_hash=None)
        db.session.add(user)
        db.session.flush()
    elif not user.active:
        raise AccountError(
            "Ce compte a été désactivé : adressez-vous à la DRJSCS pour le réactiver."
        )
    elif any(m.organisation_id == organisation.id for m in user.memberships):
        raise AccountError("Cette personne est déjà membre de l'organisation.")
    if not user.name and name:
        user.name = name
    db.session.add(Membership(user=user, organisation=organisation))
    audit(
        "member.invited",
        user=actor,
        ip=ip,
        organisation=organisation.slug,
        member_id=user.id,
        new_account=created,
    )
    db.session.commit()
    if user.password_hash:
        mailed = _mail_membership_notice(user, organisation, actor)
    else:
        mailed = _mail_invitation(user, organisation, actor)
    return Invitation(user=user, created=created, mailed=mailed)


def _actor_label(actor: User) -> str:
    return actor.name or actor.email


def _mail_invitation(user: User, organisation: Organisation, actor: User) -> bool:
    link = url_for(
        "auth.accept_invitation",
        token=tokens.make_token(user, tokens.Purpose.INVITATION),
        _external=True,
    )
    days = tokens.max_age(tokens.Purpose.INVITATION) // 86400
    return send_mail(
        user.email,
        f"Invitation à rejoindre {organisation.name} sur l'Annuaire de l'innovation sociale",
        f"Bonjour,\n\n"
        f"{_actor_label(actor)} vous invite à gérer la fiche de « {organisation.name} » "
        f"sur l'Annuaire de l'innovation sociale (DRJSCS Provence-Alpes-Côte d'Azur).\n\n"
        f"Pour activer votre compte, choisissez votre mot de passe en ouvrant ce lien "
        f"dans les {days} jours :\n{link}\n\n"
        f"Le lien ne sert qu'une fois. Si vous ne vous attendiez pas à cette invitation, "
        f"ignorez ce message.\n",
    )


def _mail_membership_notice(user: User, organisation: Organisation, actor: User) -> bool:
    link = url_for("auth.login", _external=True)
    return send_mail(
        user.email,
        f"Vous êtes membre de {organisation.name} sur l'Annuaire de l'innovation sociale",
        f"Bonjour,\n\n"
        f"{_actor_label(actor)} vous a ajouté·e aux membres de « {organisation.name} » "
        f"sur l'Annuaire de l'innovation sociale. Vous pouvez désormais gérer sa fiche "
        f"et ses initiatives avec votre compte habituel :\n{link}\n",
    )


def remove_member(
    actor: User, organisation: Organisation, user_id: int, *, ip: str | None = None
) -> User:
    """Take a person out of an organisation's members.

    Members may not remove the last member (nobody could manage the organisation any more);
    staff may, for instance when the last person has left the organisation.
    """
    if not permissions.can_manage_members(actor, organisation):
        raise PermissionError("not allowed to manage this organisation's members")
    membership = db.session.get(Membership, (user_id, organisation.id))
    if membership is None:
        raise LookupError("no such member")
    count = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.organisation_id == organisation.id)
    )
    if count <= 1 and not permissions.is_staff(actor):
        raise AccountError(
            "Impossible de retirer le dernier membre de l'organisation : invitez d'abord "
            "une autre personne."
        )
    member = membership.user
    db.session.delete(membership)
    audit(
        "member.removed",
        user=actor,
        ip=ip,
        organisation=organisation.slug,
        member_id=member.id,
    )
    db.session.commit()
    return member


# -- staff: accounts -----------------------------------------------------------------------

ACCOUNTS_PER_PAGE = 50


def list_accounts(
    *, text: str = "", role: Role | None = None, active: bool | None = None, page: int = 1
):
    """One page of accounts, filtered by a piece of email or name, role and state."""
    from .browse import Page

    query = select(User)
    if text:
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        )
        query = query.where(
            func.lower(User.email).like(pattern, escape="\\")
            | func.lower(User.name).like(pattern, escape="\\")
        )
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // ACCOUNTS_PER_PAGE))
    page = min(max(page, 1), pages)
    items = db.session.scalars(
        query.order_by(func.lower(User.email))
        .limit(ACCOUNTS_PER_PAGE)
        .offset((page - 1) * ACCOUNTS_PER_PAGE)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=ACCOUNTS_PER_PAGE)


def set_active(actor: User, account: User, active: bool, *, ip: str | None = None) -> None:
    """Deactivate (every session ends at once) or reactivate an account."""
    if not permissions.can_deactivate_account(actor, account):
        raise PermissionError("not allowed to change this account's state")
    if account.active == active:
        return
    account.active = active
    end_sessions(account)
    audit(
        "account.reactivated" if active else "account.deactivated",
        user=actor,
        ip=ip,
        account_id=account.id,
        email=account.email,
    )
    db.session.commit()


def change_role(actor: User, account: User, role: Role, *, ip: str | None = None) -> None:
    if not permissions.can_change_roles(actor) or account.id == actor.id:
        raise PermissionError("not allowed to change this account's role")
    if account.role == role:
        return
    previous = account.role
    account.role = role
    audit(
        "account.role_changed",
        user=actor,
        ip=ip,
        account_id=account.id,
        email=account.email,
        before=previous.value,
        after=role.value,
    )
    db.session.commit()
