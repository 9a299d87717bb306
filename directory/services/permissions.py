"""Who may do what (DESIGN.md §3): pure rules, no Flask, tested as a full matrix.

Every function takes the acting user first; ``None`` or Flask-Login's anonymous user both mean
"not signed in". Templates get the same functions (``can.edit_initiative(...)``) so they hide
the buttons the server would refuse.
"""

from __future__ import annotations

from typing import Any

from ..models import Initiative, Organisation, OrganisationRole, Role, Status


def _signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def is_staff(user: Any) -> bool:
    return _signed_in(user) and user.role in (Role.CURATOR, Role.ADMIN)


def is_admin(user: Any) -> bool:
    return _signed_in(user) and user.role == Role.ADMIN


def is_partner(user: Any) -> bool:
    """A signed-in account that belongs to at least one organisation."""
    return _signed_in(user) and bool(user.memberships)


def member_organisation_ids(user: Any) -> set[int]:
    if not _signed_in(user):
        return set()
    return {membership.organisation_id for membership in user.memberships}


def is_member(user: Any, organisation: Organisation | None) -> bool:
    return organisation is not None and organisation.id in member_organisation_ids(user)


def leads(user: Any, initiative: Initiative) -> bool:
    """The user belongs to an organisation that leads (porteur) the initiative."""
    mine = member_organisation_ids(user)
    return any(
        link.organisation_id in mine
        for link in initiative.organisation_links
        if link.role == OrganisationRole.PORTEUR
    )


# -- reading -----------------------------------------------------------------------------


def can_view_organisation(user: Any, organisation: Organisation) -> bool:
    """Published entries are public; drafts, proposals and archives only to owners and staff."""
    if organisation.status == Status.PUBLISHED:
        return True
    return is_staff(user) or is_member(user, organisation)


def can_view_initiative(user: Any, initiative: Initiative) -> bool:
    if initiative.status == Status.PUBLISHED:
        return True
    return is_staff(user) or leads(user, initiative)


def can_view_stored_logo(user: Any, organisations: list[Organisation]) -> bool:
    """A logo not yet public (pending or refused proposal): staff, and the members of the
    organisations it belongs to (``organisations``, as found by ``media.logo_organisations``)."""
    if is_staff(user):
        return True
    mine = member_organisation_ids(user)
    return any(organisation.id in mine for organisation in organisations)


# -- editing -------------------------------------------------------------------------------


def can_edit_organisation(user: Any, organisation: Organisation) -> bool:
    """Staff edit anything; members propose changes to their organisation unless archived."""
    if is_staff(user):
        return True
    return is_member(user, organisation) and organisation.status != Status.ARCHIVED


def can_edit_initiative(user: Any, initiative: Initiative) -> bool:
    if is_staff(user):
        return True
    return leads(user, initiative) and initiative.status != Status.ARCHIVED


def can_create_initiative_for(user: Any, organisation: Organisation) -> bool:
    if is_staff(user):
        return True
    return is_member(user, organisation) and organisation.status != Status.ARCHIVED


def publishes_directly(user: Any, organisation: Organisation | None) -> bool:
    """Staff changes apply at once; so do members' changes for a trusted organisation."""
    if is_staff(user):
        return True
    return organisation is not None and organisation.trusted and is_member(user, organisation)


def can_manage_members(user: Any, organisation: Organisation) -> bool:
    """Members manage their own organisation's members; staff invite into any organisation."""
    return is_staff(user) or is_member(user, organisation)


# -- curation (staff) ---------------------------------------------------------------------


def can_review(user: Any) -> bool:
    """Review queue, approve / reject, history restore, archive, import, taxonomies, events."""
    return is_staff(user)


def can_archive(user: Any) -> bool:
    return is_staff(user)


def can_manage_accounts(user: Any) -> bool:
    """Invite partners and deactivate partner accounts."""
    return is_staff(user)


def can_change_roles(user: Any) -> bool:
    return is_admin(user)


def can_deactivate_account(user: Any, account: Any) -> bool:
    """Staff (de)activate partner accounts, admins any account; nobody their own."""
    if not is_staff(user) or account is None or account.id == user.id:
        return False
    return account.role == Role.PARTNER or is_admin(user)


def can_view_history(user: Any, entry: Initiative | Organisation) -> bool:
    """Staff see every history; members see the history of what they may edit."""
    if is_staff(user):
        return True
    if isinstance(entry, Initiative):
        return leads(user, entry)
    return is_member(user, entry)


TEMPLATE_RULES = {
    "view_organisation": can_view_organisation,
    "view_initiative": can_view_initiative,
    "edit_organisation": can_edit_organisation,
    "edit_initiative": can_edit_initiative,
    "create_initiative_for": can_create_initiative_for,
    "manage_members": can_manage_members,
    "review": can_review,
    "archive": can_archive,
    "manage_accounts": can_manage_accounts,
    "change_roles": can_change_roles,
    "view_history": can_view_history,
}
