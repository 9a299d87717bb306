"""Entries as plain data: the snapshot format, its validation and its application to rows.

Forms, proposals, imports, merges and restorations all describe an initiative or an
organisation as a snapshot; this module reads one from a row (``snapshot``), checks and
completes one (``normalise_initiative``, ``normalise_organisation``) and writes one to a row
(``apply_snapshot``). It also defines the errors of the services that change entries.

Snapshot format (``snapshot(entry)``; forms build ``data`` in the same format)
------------------------------------------------------------------------------
Initiative::

    title, summary, description, stage (Stage value or None), start_year, end_year, website,
    contact_email, contact_phone, genesis, evaluation, policy_impact, public_support, source,
    themes: [theme slugs], publics: [public slugs],
    places: [{label, address, commune_code, latitude, longitude}],
    organisations: [{slug, role}]      # role: porteur, partenaire or financeur; order kept

Organisation::

    name, acronym, kind (OrganisationKind value), tagline, description, website, email, phone,
    address, commune_code, logo_path, themes: [theme slugs], departements: [codes]

In ``data``, a missing key keeps the entry's current value (a new entry starts empty) and keys
that are not listed above are ignored. Texts are stripped and an empty text means "none"; rich
text (description and the four round-table answers) is sanitised by the caller and stored as
given. Unknown references (theme, public, commune, département, organisation, role, stage,
kind) raise ``WorkflowError`` whose ``field`` names the offending key.

The départements of an initiative are derived from its places' communes; an initiative whose
places name no commune keeps the départements it had (the seed gives some initiatives whole
regions without a place).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    INITIATIVE_TEXT_FIELDS,
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Stage,
    Theme,
)

# -- kinds of entry and their fields --------------------------------------------------------


INITIATIVE = "initiative"


ORGANISATION = "organisation"


ENTITY_LABELS = {INITIATIVE: "Initiative", ORGANISATION: "Organisation"}


ORGANISATION_TEXT_FIELDS = (
    "name",
    "acronym",
    "tagline",
    "description",
    "website",
    "email",
    "phone",
    "address",
    "logo_path",
)


FIELD_LABELS: dict[str, str] = {
    "title": "Titre",
    "summary": "Résumé",
    "description": "Description",
    "stage": "Stade",
    "start_year": "Année de début",
    "end_year": "Année de fin",
    "website": "Site internet",
    "contact_email": "Courriel de contact",
    "contact_phone": "Téléphone de contact",
    "genesis": "Comment est-elle née ?",
    "evaluation": "Comment est-elle évaluée et valorisée ?",
    "policy_impact": "Comment transforme-t-elle les politiques publiques ?",
    "public_support": "Comment les politiques publiques la soutiennent-elles ?",
    "source": "Source",
    "themes": "Thèmes",
    "publics": "Publics visés",
    "places": "Lieux",
    "organisations": "Organisations",
    "name": "Nom",
    "acronym": "Sigle",
    "kind": "Type de structure",
    "tagline": "Accroche",
    "email": "Courriel",
    "phone": "Téléphone",
    "address": "Adresse",
    "commune_code": "Commune",
    "logo_path": "Logo",
    "departements": "Départements d'action",
    "comment": "Commentaire",
    "proposer_name": "Votre nom",
    "proposer_email": "Votre adresse électronique",
}


INITIATIVE_KEYS = (
    "title", "summary", "description", "stage", "start_year", "end_year", "website",
    "contact_email", "contact_phone", "genesis", "evaluation", "policy_impact",
    "public_support", "source", "themes", "publics", "places", "organisations",
)  # fmt: skip


ORGANISATION_KEYS = (
    "name", "acronym", "kind", "tagline", "description", "website", "email", "phone",
    "address", "commune_code", "logo_path", "themes", "departements",
)  # fmt: skip


PLACE_KEYS = ("label", "address", "commune_code", "latitude", "longitude")


EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# -- errors ---------------------------------------------------------------------------------


class WorkflowError(Exception):
    """A change that cannot be made; the message (French) is meant for the user.

    ``field`` names the key of ``data`` at fault, when there is one, so a form can show the
    message next to that field.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotAllowed(WorkflowError):
    """The user may not do this (views answer 403)."""


class StaleEdit(WorkflowError):
    """Someone changed the entry since the form was loaded."""


class InvalidTransition(WorkflowError):
    """The revision or entry is not in a state that allows this action (views answer 409)."""


# -- snapshots ------------------------------------------------------------------------------


def entity_type(entry: Initiative | Organisation) -> str:
    return INITIATIVE if isinstance(entry, Initiative) else ORGANISATION


def snapshot(entry: Initiative | Organisation) -> dict:
    """Every editable field of ``entry``, as plain JSON values (see the module docstring)."""
    if isinstance(entry, Initiative):
        data: dict[str, Any] = {name: getattr(entry, name) for name in INITIATIVE_TEXT_FIELDS}
        data["stage"] = entry.stage.value if entry.stage else None
        data["start_year"] = entry.start_year
        data["end_year"] = entry.end_year
        data["themes"] = [theme.slug for theme in entry.themes]
        data["publics"] = [public.slug for public in entry.publics]
        data["places"] = [
            {
                "label": place.label,
                "address": place.address,
                "commune_code": place.commune_code,
                "latitude": place.latitude,
                "longitude": place.longitude,
            }
            for place in entry.places
        ]
        links = sorted(entry.organisation_links, key=lambda link: link.position)
        data["organisations"] = [
            {"slug": link.organisation.slug, "role": OrganisationRole(link.role).value}
            for link in links
        ]
        return {key: data[key] for key in INITIATIVE_KEYS}
    data = {name: getattr(entry, name) for name in ORGANISATION_TEXT_FIELDS}
    data["kind"] = OrganisationKind(entry.kind).value if entry.kind else None
    data["commune_code"] = entry.commune_code
    data["themes"] = [theme.slug for theme in entry.themes]
    data["departements"] = [departement.code for departement in entry.departements]
    return {key: data[key] for key in ORGANISATION_KEYS}


# -- validation -----------------------------------------------------------------------------


def _max_length(model: type, name: str) -> int | None:
    column = model.__table__.c.get(name)
    return getattr(column.type, "length", None) if column is not None else None


def clean_text(value: Any, field: str, max_length: int | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WorkflowError(f"« {FIELD_LABELS[field]} » doit être un texte.", field=field)
        value = str(value)
    if "\x00" in value:
        raise WorkflowError(
            f"« {FIELD_LABELS[field]} » contient un caractère invalide.", field=field
        )
    value = value.strip()
    if not value:
        return None
    if max_length is not None and len(value) > max_length:
        raise WorkflowError(
            f"« {FIELD_LABELS[field]} » compte {len(value)} caractères ({max_length} au plus).",
            field=field,
        )
    return value


def _year(value: Any, field: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
        raise WorkflowError(
            f"« {FIELD_LABELS[field]} » doit être une année entre 1900 et 2100.", field=field
        )
    return value


def _coordinate(value: Any, limit: float, field: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not -limit <= number <= limit:
        raise WorkflowError(
            f"Les coordonnées d'un lieu doivent être des nombres entre -{limit:g} et {limit:g}.",
            field=field,
        )
    return number


def _choice(value: Any, enum_cls: type, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return enum_cls(str(value).strip()).value
    except ValueError:
        raise WorkflowError(
            f"Valeur inconnue pour « {FIELD_LABELS[field]} ».", field=field
        ) from None


def _slug_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise WorkflowError(f"« {FIELD_LABELS[field]} » doit être une liste.", field=field)
    result: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise WorkflowError(f"Valeur invalide dans « {FIELD_LABELS[field]} ».", field=field)
        if item.strip() not in result:
            result.append(item.strip())
    return result


def _check_known(model: type, key: Any, values: list[str], field: str) -> None:
    if not values:
        return
    known = set(db.session.scalars(sa.select(key).where(key.in_(values))))
    unknown = [value for value in values if value not in known]
    if unknown:
        what = {
            "themes": "Thème inconnu",
            "publics": "Public inconnu",
            "departements": "Département inconnu",
            "organisations": "Organisation inconnue",
            "commune_code": "Commune inconnue",
            "places": "Commune inconnue",
        }[field]
        raise WorkflowError(f"{what} : « {unknown[0]} ».", field=field)


def _email(value: str | None, field: str) -> str | None:
    if value is not None and not EMAIL_RE.fullmatch(value):
        raise WorkflowError(
            f"« {FIELD_LABELS[field]} » n'est pas une adresse électronique valide.", field=field
        )
    return value


def _url(value: str | None, field: str) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise WorkflowError(
            f"« {FIELD_LABELS[field]} » doit commencer par https:// ou http://.", field=field
        )
    return value


def _merge(data: Any, base: dict, keys: tuple[str, ...]) -> dict:
    if not isinstance(data, dict):
        raise WorkflowError("Les données envoyées sont invalides.")
    return {key: (data[key] if key in data else base.get(key)) for key in keys}


def _empty_initiative() -> dict:
    return {key: [] if key in ("themes", "publics", "places", "organisations") else None
            for key in INITIATIVE_KEYS}  # fmt: skip


def _empty_organisation() -> dict:
    snap = {key: [] if key in ("themes", "departements") else None for key in ORGANISATION_KEYS}
    snap["kind"] = OrganisationKind.AUTRE.value
    return snap


def normalise_initiative(data: Any, base: dict | None = None) -> dict:
    """Validate ``data`` (merged over ``base``) and return it as a clean initiative snapshot."""
    raw = _merge(data, base or _empty_initiative(), INITIATIVE_KEYS)
    clean: dict[str, Any] = {}
    for name in INITIATIVE_TEXT_FIELDS:
        clean[name] = clean_text(raw[name], name, _max_length(Initiative, name))
    if not clean["title"]:
        raise WorkflowError("Indiquez le titre de l'initiative.", field="title")
    _email(clean["contact_email"], "contact_email")
    _url(clean["website"], "website")
    clean["stage"] = _choice(raw["stage"], Stage, "stage")
    clean["start_year"] = _year(raw["start_year"], "start_year")
    clean["end_year"] = _year(raw["end_year"], "end_year")
    if clean["start_year"] and clean["end_year"] and clean["end_year"] < clean["start_year"]:
        raise WorkflowError(
            "L'année de fin ne peut pas précéder l'année de début.", field="end_year"
        )
    clean["themes"] = _slug_list(raw["themes"], "themes")
    _check_known(Theme, Theme.slug, clean["themes"], "themes")
    clean["publics"] = _slug_list(raw["publics"], "publics")
    _check_known(Public, Public.slug, clean["publics"], "publics")

    places = raw["places"] or []
    if not isinstance(places, list | tuple):
        raise WorkflowError("« Lieux » doit être une liste.", field="places")
    clean["places"] = []
    for item in places:
        if not isinstance(item, dict):
            raise WorkflowError("Un lieu est mal décrit.", field="places")
        place = {
            "label": clean_text(item.get("label"), "places", _max_length(Place, "label")),
            "address": clean_text(item.get("address"), "places", _max_length(Place, "address")),
            "commune_code": clean_text(item.get("commune_code"), "places", 5),
            "latitude": _coordinate(item.get("latitude"), 90, "places"),
            "longitude": _coordinate(item.get("longitude"), 180, "places"),
        }
        if any(value is not None for value in place.values()):
            clean["places"].append(place)
    codes = [place["commune_code"] for place in clean["places"] if place["commune_code"]]
    _check_known(Commune, Commune.code, codes, "places")

    links = raw["organisations"] or []
    if not isinstance(links, list | tuple):
        raise WorkflowError("« Organisations » doit être une liste.", field="organisations")
    clean["organisations"] = []
    for item in links:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            raise WorkflowError("Une organisation est mal désignée.", field="organisations")
        role = _choice(item.get("role") or "porteur", OrganisationRole, "organisations")
        link = {"slug": item["slug"].strip(), "role": role}
        if link not in clean["organisations"]:
            clean["organisations"].append(link)
    _check_known(
        Organisation,
        Organisation.slug,
        [link["slug"] for link in clean["organisations"]],
        "organisations",
    )
    return {key: clean[key] for key in INITIATIVE_KEYS}


def normalise_organisation(data: Any, base: dict | None = None) -> dict:
    """Validate ``data`` (merged over ``base``) and return it as a clean organisation snapshot."""
    raw = _merge(data, base or _empty_organisation(), ORGANISATION_KEYS)
    clean: dict[str, Any] = {}
    for name in ORGANISATION_TEXT_FIELDS:
        clean[name] = clean_text(raw[name], name, _max_length(Organisation, name))
    if not clean["name"]:
        raise WorkflowError("Indiquez le nom de l'organisation.", field="name")
    _email(clean["email"], "email")
    _url(clean["website"], "website")
    clean["kind"] = _choice(raw["kind"], OrganisationKind, "kind") or OrganisationKind.AUTRE.value
    clean["commune_code"] = clean_text(raw["commune_code"], "commune_code", 5)
    if clean["commune_code"]:
        _check_known(Commune, Commune.code, [clean["commune_code"]], "commune_code")
    clean["themes"] = _slug_list(raw["themes"], "themes")
    _check_known(Theme, Theme.slug, clean["themes"], "themes")
    clean["departements"] = _slug_list(raw["departements"], "departements")
    _check_known(Departement, Departement.code, clean["departements"], "departements")
    return {key: clean[key] for key in ORGANISATION_KEYS}


# -- writing a snapshot to a row ------------------------------------------------------------


def _by_slug(model: type, slugs: list[str]) -> list:
    if not slugs:
        return []
    rows = {
        row.slug: row for row in db.session.scalars(sa.select(model).where(model.slug.in_(slugs)))
    }
    missing = [slug for slug in slugs if slug not in rows]
    if missing:
        raise WorkflowError(f"Référence inconnue : « {missing[0]} ».")
    return [rows[slug] for slug in slugs]


class References:
    """The rows a snapshot names, read from the database when it is applied.

    An import applies thousands of snapshots: it passes a subclass that serves them from
    memory (``exchange.importer``). Unknown slugs raise ``WorkflowError``.
    """

    def themes(self, slugs: list[str]) -> list[Theme]:
        return _by_slug(Theme, slugs)

    def publics(self, slugs: list[str]) -> list[Public]:
        return _by_slug(Public, slugs)

    def organisations(self, slugs: list[str]) -> dict[str, Organisation]:
        return {row.slug: row for row in _by_slug(Organisation, slugs)}

    def departements(self, codes: list[str]) -> list[Departement]:
        """The départements of ``codes`` in that order, unknown codes left out."""
        rows = {
            row.code: row
            for row in db.session.scalars(sa.select(Departement).where(Departement.code.in_(codes)))
        }
        return [rows[code] for code in codes if code in rows]

    def departements_of_communes(self, codes: set[str]) -> list[str]:
        """Codes of the départements of these communes, sorted."""
        return sorted(
            set(
                db.session.scalars(
                    sa.select(Commune.departement_code).where(Commune.code.in_(codes))
                )
            )
        )


def _apply_initiative(initiative: Initiative, snap: dict, refs: References) -> None:
    for name in INITIATIVE_TEXT_FIELDS:
        setattr(initiative, name, snap.get(name))
    initiative.stage = Stage(snap["stage"]) if snap.get("stage") else None
    initiative.start_year = snap.get("start_year")
    initiative.end_year = snap.get("end_year")
    initiative.themes = refs.themes(snap.get("themes") or [])
    initiative.publics = refs.publics(snap.get("publics") or [])

    current_places = snapshot(initiative)["places"] if initiative.id else []
    places = snap.get("places") or []
    if current_places != places:
        initiative.places = [
            Place(**{key: place.get(key) for key in PLACE_KEYS}) for place in places
        ]
    codes = {place["commune_code"] for place in places if place.get("commune_code")}
    if codes:
        initiative.departements = refs.departements(refs.departements_of_communes(codes))

    wanted = snap.get("organisations") or []
    organisations = refs.organisations([link["slug"] for link in wanted])
    existing = {
        (link.organisation.slug, OrganisationRole(link.role).value): link
        for link in initiative.organisation_links
    }
    links = []
    for position, item in enumerate(wanted):
        link = existing.get((item["slug"], item["role"]))
        if link is None:
            link = InitiativeOrganisation(
                organisation=organisations[item["slug"]], role=OrganisationRole(item["role"])
            )
        link.position = position
        links.append(link)
    initiative.organisation_links = links


def _apply_organisation(organisation: Organisation, snap: dict, refs: References) -> None:
    for name in ORGANISATION_TEXT_FIELDS:
        setattr(organisation, name, snap.get(name))
    organisation.kind = OrganisationKind(snap.get("kind") or OrganisationKind.AUTRE.value)
    organisation.commune_code = snap.get("commune_code")
    organisation.themes = refs.themes(snap.get("themes") or [])
    organisation.departements = refs.departements(snap.get("departements") or [])


def apply_snapshot(
    entry: Initiative | Organisation, snap: dict, refs: References | None = None
) -> None:
    """Write ``snap`` (normalised) to the row ``entry``; ``refs`` looks up what it names."""
    if isinstance(entry, Initiative):
        _apply_initiative(entry, snap, refs or References())
    else:
        _apply_organisation(entry, snap, refs or References())


def lead_organisations(initiative: Initiative) -> list[Organisation]:
    return [
        link.organisation
        for link in sorted(initiative.organisation_links, key=lambda link: link.position)
        if link.role == OrganisationRole.PORTEUR
    ]
