"""The rules of services.permissions as a full table: actor × status × ownership.

Pure functions, no database: entries are transient model instances, people are plain objects.
Each table reads as the specification of DESIGN.md §3; ``Y`` allowed, ``.`` refused, one
column per status (draft, proposed, published, archived).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin

from directory.models import (
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationRole,
    Role,
    Status,
)
from directory.services import permissions

STATUSES = (Status.DRAFT, Status.PROPOSED, Status.PUBLISHED, Status.ARCHIVED)
OWN, OTHER = 1, 2  # organisation ids: "own" is the organisation of the entry

ACTORS = (
    "none",  # no user object at all
    "anonymous",  # Flask-Login's anonymous user
    "no_organisation",  # signed-in partner account attached to no organisation
    "outsider",  # member of another organisation
    "partner_only",  # member of an organisation that is only a partner of the initiative
    "member",  # member of the entry's organisation (lead of the initiative)
    "curator",
    "admin",
)


def person(actor: str):
    if actor == "none":
        return None
    if actor == "anonymous":
        return AnonymousUserMixin()
    organisations = {
        "no_organisation": [],
        "outsider": [OTHER],
        "partner_only": [3],
        "member": [OWN],
        "curator": [],
        "admin": [],
    }[actor]
    role = {"curator": Role.CURATOR, "admin": Role.ADMIN}.get(actor, Role.PARTNER)
    return SimpleNamespace(
        is_authenticated=True,
        role=role,
        memberships=[SimpleNamespace(organisation_id=oid) for oid in organisations],
    )


def organisation(status: Status = Status.PUBLISHED, trusted: bool = False) -> Organisation:
    return Organisation(id=OWN, slug="a", name="A", status=status, trusted=trusted)


def initiative(status: Status = Status.PUBLISHED) -> Initiative:
    entry = Initiative(id=10, slug="i", title="I", status=status)
    entry.organisation_links = [
        InitiativeOrganisation(organisation_id=OWN, role=OrganisationRole.PORTEUR, position=0),
        InitiativeOrganisation(organisation_id=3, role=OrganisationRole.PARTENAIRE, position=1),
        InitiativeOrganisation(organisation_id=4, role=OrganisationRole.FINANCEUR, position=2),
    ]
    return entry


def _expand(table: dict[str, str]) -> list[tuple[str, Status, bool]]:
    assert set(table) == set(ACTORS), "every actor must have a row"
    return [
        (actor, status, flag == "Y")
        for actor, flags in table.items()
        for status, flag in zip(STATUSES, flags.split(), strict=True)
    ]


# -- entries: actor × status -------------------------------------------------------------------
# Columns: draft, proposed, published, archived.
VIEW_INITIATIVE = {
    "none": ". . Y .",
    "anonymous": ". . Y .",
    "no_organisation": ". . Y .",
    "outsider": ". . Y .",
    "partner_only": ". . Y .",
    "member": "Y Y Y Y",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
EDIT_INITIATIVE = {
    "none": ". . . .",
    "anonymous": ". . . .",
    "no_organisation": ". . . .",
    "outsider": ". . . .",
    "partner_only": ". . . .",
    "member": "Y Y Y .",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
HISTORY_OF_INITIATIVE = {
    "none": ". . . .",
    "anonymous": ". . . .",
    "no_organisation": ". . . .",
    "outsider": ". . . .",
    "partner_only": ". . . .",
    "member": "Y Y Y Y",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
VIEW_ORGANISATION = {
    "none": ". . Y .",
    "anonymous": ". . Y .",
    "no_organisation": ". . Y .",
    "outsider": ". . Y .",
    "partner_only": ". . Y .",
    "member": "Y Y Y Y",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
EDIT_ORGANISATION = {
    "none": ". . . .",
    "anonymous": ". . . .",
    "no_organisation": ". . . .",
    "outsider": ". . . .",
    "partner_only": ". . . .",
    "member": "Y Y Y .",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
CREATE_INITIATIVE_FOR = EDIT_ORGANISATION  # same rule: members of a live organisation, staff
MANAGE_MEMBERS = {
    "none": ". . . .",
    "anonymous": ". . . .",
    "no_organisation": ". . . .",
    "outsider": ". . . .",
    "partner_only": ". . . .",
    "member": "Y Y Y Y",
    "curator": "Y Y Y Y",
    "admin": "Y Y Y Y",
}
HISTORY_OF_ORGANISATION = MANAGE_MEMBERS

ENTRY_RULES = [
    ("can_view_initiative", initiative, VIEW_INITIATIVE),
    ("can_edit_initiative", initiative, EDIT_INITIATIVE),
    ("can_view_history", initiative, HISTORY_OF_INITIATIVE),
    ("can_view_organisation", organisation, VIEW_ORGANISATION),
    ("can_edit_organisation", organisation, EDIT_ORGANISATION),
    ("can_create_initiative_for", organisation, CREATE_INITIATIVE_FOR),
    ("can_manage_members", organisation, MANAGE_MEMBERS),
    ("can_view_history", organisation, HISTORY_OF_ORGANISATION),
]


@pytest.mark.parametrize(
    ("rule", "make", "actor", "status", "expected"),
    [
        (rule, make, actor, status, expected)
        for rule, make, table in ENTRY_RULES
        for actor, status, expected in _expand(table)
    ],
    ids=lambda value: getattr(value, "value", None) or getattr(value, "__name__", str(value)),
)
def test_entry_rules(rule, make, actor, status, expected):
    assert getattr(permissions, rule)(person(actor), make(status)) is expected


# -- actions without an entry: actor only ----------------------------------------------------
# Columns: the ACTORS, in order (none, anonymous, no_organisation, outsider, partner_only,
# member, curator, admin).
ACTOR_RULES = {
    "is_staff": ". . . . . . Y Y",
    "is_admin": ". . . . . . . Y",
    "is_partner": ". . . Y Y Y . .",
    "can_review": ". . . . . . Y Y",
    "can_archive": ". . . . . . Y Y",
    "can_manage_accounts": ". . . . . . Y Y",
    "can_change_roles": ". . . . . . . Y",
}


@pytest.mark.parametrize(
    ("rule", "actor", "expected"),
    [
        (rule, actor, flag == "Y")
        for rule, flags in ACTOR_RULES.items()
        for actor, flag in zip(ACTORS, flags.split(), strict=True)
    ],
)
def test_actor_rules(rule, actor, expected):
    assert getattr(permissions, rule)(person(actor)) is expected


# -- direct publishing: actor × trusted organisation -------------------------------------------
# Columns: untrusted organisation, trusted organisation.
PUBLISHES_DIRECTLY = {
    "none": ". .",
    "anonymous": ". .",
    "no_organisation": ". .",
    "outsider": ". .",
    "partner_only": ". .",
    "member": ". Y",
    "curator": "Y Y",
    "admin": "Y Y",
}


@pytest.mark.parametrize(
    ("actor", "trusted", "expected"),
    [
        (actor, trusted, flag == "Y")
        for actor, flags in PUBLISHES_DIRECTLY.items()
        for trusted, flag in zip((False, True), flags.split(), strict=True)
    ],
)
def test_publishes_directly(actor, trusted, expected):
    assert permissions.publishes_directly(person(actor), organisation(trusted=trusted)) is expected


@pytest.mark.parametrize("actor", ["curator", "admin"])
def test_staff_publish_directly_without_an_organisation(actor):
    assert permissions.publishes_directly(person(actor), None) is True
    assert permissions.publishes_directly(person("member"), None) is False


def test_partner_and_funder_links_do_not_make_a_lead():
    funder = person("member")
    funder.memberships = [SimpleNamespace(organisation_id=4)]
    entry = initiative(Status.PROPOSED)
    assert not permissions.leads(funder, entry)
    assert not permissions.can_view_initiative(funder, entry)
    assert not permissions.can_edit_initiative(funder, entry)
    assert permissions.leads(person("member"), entry)


def test_no_organisation_means_not_a_member():
    assert not permissions.is_member(person("member"), None)


def test_every_template_rule_is_covered():
    covered = {rule for rule, _, _ in ENTRY_RULES} | set(ACTOR_RULES) | {"publishes_directly"}
    assert {rule.__name__ for rule in permissions.TEMPLATE_RULES.values()} <= covered


# -- a stored logo that is not public: actor × whose logo it is ---------------------------------
# Columns: a logo of the OWN organisation, of the OTHER one (the outsider's), of none.
STORED_LOGO = {
    "none": ". . .",
    "anonymous": ". . .",
    "no_organisation": ". . .",
    "outsider": ". Y .",
    "partner_only": ". . .",
    "member": "Y . .",
    "curator": "Y Y Y",
    "admin": "Y Y Y",
}


@pytest.mark.parametrize(
    ("actor", "owners", "expected"),
    [
        (actor, owners, flag == "Y")
        for actor, flags in STORED_LOGO.items()
        for owners, flag in zip(([OWN], [OTHER], []), flags.split(), strict=True)
    ],
)
def test_can_view_stored_logo(actor, owners, expected):
    organisations = [Organisation(id=oid, slug=f"o{oid}", name="O") for oid in owners]
    assert permissions.can_view_stored_logo(person(actor), organisations) is expected
