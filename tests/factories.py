"""Small factories for test data: each helper adds one published entry with a unique slug.

Call them inside an app context; they flush (ids are set) but leave the commit to the caller's
``db.session.commit()`` so a test can build several rows at once.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from directory.extensions import db
from directory.models import (
    Commune,
    Departement,
    Event,
    EventOrganisation,
    EventRole,
    Initiative,
    InitiativeOrganisation,
    Membership,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Region,
    Role,
    Status,
    Theme,
    User,
)

_counter = itertools.count(1)

# Facts of the official geographic code, enough for tests that need a territory.
REGIONS = {"93": "Provence-Alpes-Côte d'Azur", "76": "Occitanie"}
DEPARTEMENTS = {
    "04": ("Alpes-de-Haute-Provence", "93"),
    "05": ("Hautes-Alpes", "93"),
    "06": ("Alpes-Maritimes", "93"),
    "13": ("Bouches-du-Rhône", "93"),
    "83": ("Var", "93"),
    "84": ("Vaucluse", "93"),
    "11": ("Aude", "76"),
    "30": ("Gard", "76"),
    "34": ("Hérault", "76"),
    "48": ("Lozère", "76"),
    "66": ("Pyrénées-Orientales", "76"),
}
COMMUNES = {
    "13055": ("Marseille", "13"),
    "13001": ("Aix-en-Provence", "13"),
    "06088": ("Nice", "06"),
    "83137": ("Toulon", "83"),
    "84007": ("Avignon", "84"),
    "34172": ("Montpellier", "34"),
    "30189": ("Nîmes", "30"),
}


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def make_region(code: str = "93") -> Region:
    region = db.session.get(Region, code)
    if region is None:
        name = REGIONS.get(code, f"Région {code}")
        region = Region(code=code, name=name, slug=unique("region"))
        db.session.add(region)
        db.session.flush()
    return region


def make_departement(code: str = "13") -> Departement:
    departement = db.session.get(Departement, code)
    if departement is None:
        name, region_code = DEPARTEMENTS.get(code, (f"Département {code}", "93"))
        make_region(region_code)
        departement = Departement(code=code, name=name, region_code=region_code)
        db.session.add(departement)
        db.session.flush()
    return departement


def make_commune(code: str = "13055") -> Commune:
    commune = db.session.get(Commune, code)
    if commune is None:
        name, departement_code = COMMUNES.get(code, (f"Commune {code}", code[:2]))
        make_departement(departement_code)
        commune = Commune(
            code=code, name=name, search_name=name.lower(), departement_code=departement_code
        )
        db.session.add(commune)
        db.session.flush()
    return commune


def make_theme(**overrides: Any) -> Theme:
    slug = overrides.pop("slug", None) or unique("theme")
    theme = Theme(slug=slug, name=overrides.pop("name", f"Thème {slug}"), **overrides)
    db.session.add(theme)
    db.session.flush()
    return theme


def make_public(**overrides: Any) -> Public:
    slug = overrides.pop("slug", None) or unique("public")
    public = Public(slug=slug, name=overrides.pop("name", f"Public {slug}"), **overrides)
    db.session.add(public)
    db.session.flush()
    return public


def make_organisation(**overrides: Any) -> Organisation:
    values: dict[str, Any] = {
        "slug": unique("organisation"),
        "name": "Organisation de test",
        "kind": OrganisationKind.ASSOCIATION,
        "status": Status.PUBLISHED,
    }
    values.update(overrides)
    organisation = Organisation(**values)
    db.session.add(organisation)
    db.session.flush()
    return organisation


def make_initiative(
    *,
    commune: str | None = None,
    lead: Organisation | None = None,
    partners: tuple[Organisation, ...] = (),
    funders: tuple[Organisation, ...] = (),
    **overrides: Any,
) -> Initiative:
    """A published initiative; ``commune`` adds a place, ``lead``/``partners`` add links."""
    values: dict[str, Any] = {
        "slug": unique("initiative"),
        "title": "Initiative de test",
        "summary": "Un résumé de test.",
        "status": Status.PUBLISHED,
    }
    values.update(overrides)
    initiative = Initiative(**values)
    if commune:
        make_commune(commune)
        initiative.places.append(Place(commune_code=commune))
    position = itertools.count()
    for role, organisations in (
        (OrganisationRole.PORTEUR, (lead,) if lead else ()),
        (OrganisationRole.PARTENAIRE, partners),
        (OrganisationRole.FINANCEUR, funders),
    ):
        for organisation in organisations:
            initiative.organisation_links.append(
                InitiativeOrganisation(
                    organisation=organisation, role=role, position=next(position)
                )
            )
    db.session.add(initiative)
    db.session.flush()
    return initiative


def make_event(
    *,
    organisers: tuple[Organisation, ...] = (),
    partners: tuple[Organisation, ...] = (),
    **overrides: Any,
) -> Event:
    values: dict[str, Any] = {
        "slug": unique("evenement"),
        "title": "Événement de test",
        "date": date(2011, 6, 15),
        "status": Status.PUBLISHED,
    }
    values.update(overrides)
    event = Event(**values)
    position = itertools.count()
    for role, organisations in (
        (EventRole.ORGANISATEUR, organisers),
        (EventRole.PARTENAIRE, partners),
    ):
        for organisation in organisations:
            event.organisation_links.append(
                EventOrganisation(organisation=organisation, role=role, position=next(position))
            )
    db.session.add(event)
    db.session.flush()
    return event


# Every test account has this password; hashed once per run (argon2 is slow on purpose).
TEST_PASSWORD = "phrase de passe des tests"
_test_hash: list[str] = []


def make_user(
    *,
    organisation: Organisation | None = None,
    organisations: tuple[Organisation, ...] = (),
    role: Role = Role.PARTNER,
    **overrides: Any,
) -> User:
    """An active account (partner by default) belonging to the given organisations."""
    from directory.services.accounts import hash_password

    if not _test_hash:
        _test_hash.append(hash_password(TEST_PASSWORD))
    values: dict[str, Any] = {
        "email": f"{unique('compte')}@example.org",
        "name": "Personne de test",
        "role": role,
        "password_hash": _test_hash[0],
    }
    values.update(overrides)
    user = User(**values)
    db.session.add(user)
    for member_of in ((organisation,) if organisation else ()) + tuple(organisations):
        db.session.add(Membership(user=user, organisation=member_of))
    db.session.flush()
    return user
