"""Accounts: creation, password hashing (argon2id), sign-in, invitations, password reset.

Views call these functions and turn :class:`AccountError` into a form error. Every function
that changes something commits; mails go through ``services.mail`` and never undo a change.

Nothing a visitor or a partner sees says whether an address has an account: sign-in failures,
reset requests and invitations answer alike, and their mails leave after the response
(``mail.after_response``), so the answer's time says nothing either.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import url_for
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from ..extensions import db
from ..models import AuditLog, Membership, Organisation, Role, User
from ..models.base import utcnow
from . import passwords, permissions, tokens
from .mail import after_response, render_mail, send_mail

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # long passphrases are accepted whole, never truncated
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
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


def check_password_strength(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse a password too short, too long, or easy to guess (``services.passwords``: the
    most common passwords, French and English words, names and places, the account's own
    address and name, the site's words); the message says why, in French."""
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
    weakness = passwords.weakness(password, passwords.user_inputs(email, name))
    if weakness:
        raise AccountError(weakness)


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
    check_password_strength(password, email=email, name=name)
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
    check_password_strength(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit(action, user=user, ip=ip)
    db.session.commit()


def change_password(user: User, current: str, new: str, *, ip: str | None = None) -> None:
    if not verify_password(user, current):
        raise AccountError("Le mot de passe actuel est incorrect.")
    set_password(user, new, ip=ip, action="account.password_changed")


def request_password_reset(email: str, *, ip: str | None = None) -> None:
    """Mail a reset link when an active account has this address; neither the answer nor its
    time says whether one has.

    Known or not, the request writes the same audit row; the link is signed and the mail sent
    after the response (``mail.after_response``).
    """
    user = find_user(email)
    audit("account.password_reset_requested", user=user, ip=ip, email=printable(email))
    db.session.commit()
    if user is not None and user.active:
        user_id = user.id
        after_response(lambda: _mail_password_reset(user_id))


def _mail_password_reset(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return False
    link = url_for(
        "auth.reset_password",
        token=tokens.make_token(user, tokens.Purpose.PASSWORD_RESET),
        _external=True,
    )
    minutes = tokens.max_age(tokens.Purpose.PASSWORD_RESET) // 60
    subject, text = render_mail("password_reset.txt", link=link, minutes=minutes)
    return send_mail(user.email, subject, text)


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
    created: bool  # a new account was made for the address (never shown to the inviter)


class MemberState(StrEnum):
    # Added, and not signed in since: a new account's invitation, as an existing account's
    # new membership, so that the list does not tell which addresses already had an account.
    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class Member:
    user: User
    state: MemberState

    @property
    def name(self) -> str:
        """The name to show: none before the person joins (an existing account's own name
        would say it existed)."""
        return "" if self.state == MemberState.PENDING else self.user.name


def members_of(organisation: Organisation) -> list[Member]:
    """The members, by the name shown then the address (sorting by the stored name would
    place a pending member by a name the page does not show)."""
    joined = User.last_login_at >= Membership.created_at
    rows = db.session.execute(
        select(User, joined)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation.id)
    )
    members = []
    for user, has_joined in rows:
        if not has_joined:
            state = MemberState.PENDING
        elif not user.active:
            state = MemberState.DEACTIVATED
        else:
            state = MemberState.ACTIVE
        members.append(Member(user=user, state=state))
    return sorted(members, key=lambda member: (member.name.lower(), member.user.email))


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

    The inviter learns nothing of an existing account: whatever the address, the person is
    added and shown as pending until they sign in, and the mail leaves after the response. A
    new account, or one that never chose a password, gets an invitation link; an existing one
    is told it was invited and how to sign in (or, deactivated, whom to ask).
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
    elif any(m.organisation_id == organisation.id for m in user.memberships):
        # Not a disclosure: the inviter sees the organisation's members.
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
        account_active=user.active,
    )
    db.session.commit()
    user_id, organisation_id, actor_label = user.id, organisation.id, _actor_label(actor)
    after_response(lambda: _mail_invitation(user_id, organisation_id, actor_label))
    return Invitation(user=user, created=created)


def _actor_label(actor: User) -> str:
    return actor.name or actor.email


def _mail_invitation(user_id: int, organisation_id: int, actor_label: str) -> bool:
    """The mail an invited person gets: a link to choose a password for a new account,
    otherwise a notice of the new membership."""
    user = db.session.get(User, user_id)
    organisation = db.session.get(Organisation, organisation_id)
    if user is None or organisation is None:
        return False
    if not user.active:
        return _mail_invitation_to_deactivated(user, organisation, actor_label)
    if user.password_hash:
        return _mail_membership_notice(user, organisation, actor_label)
    link = url_for(
        "auth.accept_invitation",
        token=tokens.make_token(user, tokens.Purpose.INVITATION),
        _external=True,
    )
    days = tokens.max_age(tokens.Purpose.INVITATION) // 86400
    subject, text = render_mail(
        "invitation.txt", organisation=organisation, actor=actor_label, link=link, days=days
    )
    return send_mail(user.email, subject, text)


def _mail_membership_notice(user: User, organisation: Organisation, actor_label: str) -> bool:
    login = url_for("auth.login", _external=True)
    forgot = url_for("auth.forgot_password", _external=True)
    subject, text = render_mail(
        "membership_notice.txt",
        organisation=organisation,
        actor=actor_label,
        login=login,
        forgot=forgot,
    )
    return send_mail(user.email, subject, text)


def _mail_invitation_to_deactivated(
    user: User, organisation: Organisation, actor_label: str
) -> bool:
    subject, text = render_mail(
        "invitation_deactivated.txt", organisation=organisation, actor=actor_label
    )
    return send_mail(user.email, subject, text)


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
