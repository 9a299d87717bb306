"""Moderation workflow (DESIGN.md §3-4): proposals, review, history, archive and restore.

Every change to an initiative or an organisation goes through this module and leaves a
``Revision`` holding the *full* snapshot of the entry after the change, its author and its
state. The service checks permissions itself (``services.permissions``), commits, and raises
``WorkflowError`` subclasses whose message is French text meant for the user.

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

Lifecycle (draft → proposed → published → archived)
----------------------------------------------------
- A direct publisher (staff, or a member of a trusted organisation) changes an entry at once:
  revision APPLIED, entry published unless archived. On a draft or proposed entry this also
  closes its pending proposals (the row held their text, now published).
- Anyone else proposes. A change to a *published* entry is stored as a PROPOSED revision
  (``base_version`` = the entry's version) and the entry stays as it is until approved; the same
  author's older pending proposal on that entry is closed (REJECTED, "Remplacée par ...").
  A change to a draft or proposed entry is applied to the row at once (it is not public) and the
  entry goes (back) to PROPOSED with a PROPOSED revision for the queue; every older pending
  proposal of that entry is closed, the row now holding the newest text.
- ``approve`` applies the proposal's snapshot and publishes the entry (an archived entry stays
  archived); the revision goes straight to APPLIED (the APPROVED state is not used for entries
  that exist, since approval and application are one transaction). ``reject`` needs a comment;
  a rejected proposal leaves a non-published entry in DRAFT. Both notify the author by mail.
  Approving a proposal made against an older version overwrites the newer text with the
  proposal's: the review page shows the diff against the current version for that reason.
- ``archive`` / ``unarchive`` / ``restore`` are staff actions, each recorded as a revision
  and an audit log entry; ``restore`` brings an old snapshot back as a new APPLIED revision.

An entry without any revision (loaded from the seed or an import) gets a baseline revision
(CREATE, APPLIED, no author) holding its state before its first recorded change.

Optimistic locking: ``edit_token(entry)`` encodes the entry's version and the id of its latest
revision (any state); a submit with a token that no longer matches raises ``StaleEdit``, and so
does SQLAlchemy's ``StaleDataError`` (the version column) at flush time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models import (
    AuditLog,
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Place,
    Public,
    Revision,
    RevisionAction,
    RevisionState,
    Stage,
    Status,
    Theme,
    initiative_departement,
)
from ..models.base import utcnow
from ..text import slugify
from . import permissions
from .browse import Page, organisation_in_departement

log = logging.getLogger(__name__)

INITIATIVE = "initiative"
ORGANISATION = "organisation"
ENTITY_LABELS = {INITIATIVE: "Initiative", ORGANISATION: "Organisation"}

STALE_MESSAGE = (
    "Cette fiche a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte. "
    "Vos modifications n'ont pas été enregistrées : rechargez la fiche pour voir la "
    "nouvelle version, puis reportez-y vos changements."
)
SUPERSEDED_COMMENT = "Remplacée par une proposition plus récente."
BASELINE_COMMENT = "Version d'origine, enregistrée avant la première modification."

# fmt: off
INITIATIVE_TEXT_FIELDS = (
    "title", "summary", "description", "website", "contact_email", "contact_phone",
    "genesis", "evaluation", "policy_impact", "public_support", "source",
)
ORGANISATION_TEXT_FIELDS = (
    "name", "acronym", "tagline", "description", "website", "email", "phone", "address",
    "logo_path",
)
# fmt: on

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

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# -- errors and values ---------------------------------------------------------------------


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


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: Any
    after: Any


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


def _latest_revision_id(entry: Initiative | Organisation) -> int:
    if entry.id is None:
        return 0
    return (
        db.session.scalar(
            sa.select(sa.func.max(Revision.id)).where(
                Revision.entity_type == entity_type(entry), Revision.entity_id == entry.id
            )
        )
        or 0
    )


def edit_token(entry: Initiative | Organisation) -> str:
    """An opaque token for an edit form: it changes whenever the entry or its history does."""
    return f"v{entry.version}r{_latest_revision_id(entry)}"


def _check_token(entry: Initiative | Organisation, token: str | None) -> None:
    if token is not None and token != edit_token(entry):
        raise StaleEdit(STALE_MESSAGE)


# -- validation -----------------------------------------------------------------------------


def _max_length(model: type, name: str) -> int | None:
    column = model.__table__.c.get(name)
    return getattr(column.type, "length", None) if column is not None else None


def _text(value: Any, field: str, max_length: int | None) -> str | None:
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
    if value is not None and not _EMAIL_RE.fullmatch(value):
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
        clean[name] = _text(raw[name], name, _max_length(Initiative, name))
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
            "label": _text(item.get("label"), "places", _max_length(Place, "label")),
            "address": _text(item.get("address"), "places", _max_length(Place, "address")),
            "commune_code": _text(item.get("commune_code"), "places", 5),
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
        clean[name] = _text(raw[name], name, _max_length(Organisation, name))
    if not clean["name"]:
        raise WorkflowError("Indiquez le nom de l'organisation.", field="name")
    _email(clean["email"], "email")
    _url(clean["website"], "website")
    clean["kind"] = _choice(raw["kind"], OrganisationKind, "kind") or OrganisationKind.AUTRE.value
    clean["commune_code"] = _text(raw["commune_code"], "commune_code", 5)
    if clean["commune_code"]:
        _check_known(Commune, Commune.code, [clean["commune_code"]], "commune_code")
    clean["themes"] = _slug_list(raw["themes"], "themes")
    _check_known(Theme, Theme.slug, clean["themes"], "themes")
    clean["departements"] = _slug_list(raw["departements"], "departements")
    _check_known(Departement, Departement.code, clean["departements"], "departements")
    return {key: clean[key] for key in ORGANISATION_KEYS}


# -- applying a snapshot to a row ----------------------------------------------------------


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


def _apply_initiative(initiative: Initiative, snap: dict) -> None:
    for name in INITIATIVE_TEXT_FIELDS:
        setattr(initiative, name, snap.get(name))
    initiative.stage = Stage(snap["stage"]) if snap.get("stage") else None
    initiative.start_year = snap.get("start_year")
    initiative.end_year = snap.get("end_year")
    initiative.themes = _by_slug(Theme, snap.get("themes") or [])
    initiative.publics = _by_slug(Public, snap.get("publics") or [])

    current_places = snapshot(initiative)["places"] if initiative.id else []
    places = snap.get("places") or []
    if current_places != places:
        initiative.places = [
            Place(**{key: place.get(key) for key in PLACE_KEYS}) for place in places
        ]
    codes = {place["commune_code"] for place in places if place.get("commune_code")}
    if codes:
        departement_codes = sorted(
            set(
                db.session.scalars(
                    sa.select(Commune.departement_code).where(Commune.code.in_(codes))
                )
            )
        )
        initiative.departements = list(
            db.session.scalars(
                sa.select(Departement)
                .where(Departement.code.in_(departement_codes))
                .order_by(Departement.code)
            )
        )

    wanted = snap.get("organisations") or []
    organisations = {
        organisation.slug: organisation
        for organisation in _by_slug(Organisation, [link["slug"] for link in wanted])
    }
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


def _apply_organisation(organisation: Organisation, snap: dict) -> None:
    for name in ORGANISATION_TEXT_FIELDS:
        if name == "name":
            organisation.name = snap["name"]
        else:
            setattr(organisation, name, snap.get(name))
    organisation.kind = OrganisationKind(snap.get("kind") or OrganisationKind.AUTRE.value)
    organisation.commune_code = snap.get("commune_code")
    organisation.themes = _by_slug(Theme, snap.get("themes") or [])
    codes = snap.get("departements") or []
    rows = {
        row.code: row
        for row in db.session.scalars(sa.select(Departement).where(Departement.code.in_(codes)))
    }
    organisation.departements = [rows[code] for code in codes if code in rows]


def _apply(entry: Initiative | Organisation, snap: dict) -> None:
    if isinstance(entry, Initiative):
        _apply_initiative(entry, snap)
    else:
        _apply_organisation(entry, snap)


# -- helpers ------------------------------------------------------------------------------


def _user_id(user: Any) -> int | None:
    return getattr(user, "id", None) if permissions._signed_in(user) else None


def _unique_slug(model: type, text: str) -> str:
    base = slugify(text, max_length=150)
    taken = set(
        db.session.scalars(
            sa.select(model.slug).where(sa.or_(model.slug == base, model.slug.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _lead_organisations(initiative: Initiative) -> list[Organisation]:
    return [
        link.organisation
        for link in sorted(initiative.organisation_links, key=lambda link: link.position)
        if link.role == OrganisationRole.PORTEUR
    ]


def _pending(entry: Initiative | Organisation, author_id: int | None = None) -> list[Revision]:
    query = sa.select(Revision).where(
        Revision.entity_type == entity_type(entry),
        Revision.entity_id == entry.id,
        Revision.state == RevisionState.PROPOSED,
    )
    if author_id is not None:
        query = query.where(Revision.author_id == author_id)
    return list(db.session.scalars(query.order_by(Revision.id)))


def _close(revisions: list[Revision]) -> None:
    for revision in revisions:
        revision.state = RevisionState.REJECTED
        revision.comment = SUPERSEDED_COMMENT
        revision.reviewed_at = utcnow()


def _has_applied(entry: Initiative | Organisation) -> bool:
    return (
        db.session.scalar(
            sa.select(Revision.id)
            .where(
                Revision.entity_type == entity_type(entry),
                Revision.entity_id == entry.id,
                Revision.state.in_((RevisionState.APPLIED, RevisionState.APPROVED)),
                # The baseline of a seeded entry is not a publication by anyone.
                sa.or_(Revision.comment.is_(None), Revision.comment != BASELINE_COMMENT),
            )
            .limit(1)
        )
        is not None
    )


def _audit(user: Any, action: str, **details: Any) -> None:
    db.session.add(AuditLog(user_id=_user_id(user), action=action, details=details))


def _commit() -> None:
    """Commit, turning a concurrent update of a versioned row into ``StaleEdit``."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise StaleEdit(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise


def _guarded(work):
    """Run ``work`` and commit; any error rolls everything back (nothing half-written)."""
    try:
        result = work()
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleEdit(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise
    _commit()
    return result


def _record(
    entry: Initiative | Organisation,
    *,
    user: Any,
    action: RevisionAction,
    state: RevisionState,
    snap: dict,
    organisation: Organisation | None,
    base_version: int | None = None,
    comment: str | None = None,
) -> Revision:
    revision = Revision(
        entity_type=entity_type(entry),
        entity_id=entry.id,
        action=action,
        state=state,
        snapshot=snap,
        base_version=base_version,
        author_id=_user_id(user),
        organisation_id=organisation.id if organisation is not None else None,
        comment=comment,
    )
    db.session.add(revision)
    return revision


def _ensure_baseline(entry: Initiative | Organisation) -> None:
    """Record an entry that has no history yet (seed, import) as it is, before it changes,
    so that its history shows what changed and its original version can be restored."""
    if _latest_revision_id(entry):
        return
    _record(
        entry,
        user=None,
        action=RevisionAction.CREATE,
        state=RevisionState.APPLIED,
        snap=snapshot(entry),
        organisation=_entry_organisation(entry),
        comment=BASELINE_COMMENT,
    )
    db.session.flush()


def _change_existing(
    user: Any,
    entry: Initiative | Organisation,
    snap: dict,
    *,
    direct: bool,
    organisation: Organisation | None,
) -> Revision:
    """The shared rules for a change to an existing entry (module docstring, Lifecycle)."""
    _ensure_baseline(entry)
    if direct:
        if entry.status in (Status.DRAFT, Status.PROPOSED):
            # The row holds the pending text: publishing it settles those proposals.
            _close(_pending(entry))
        _apply(entry, snap)
        if entry.status != Status.ARCHIVED:
            entry.status = Status.PUBLISHED
        db.session.flush()
        return _record(
            entry,
            user=user,
            action=RevisionAction.UPDATE,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=organisation,
        )
    if entry.status == Status.PUBLISHED:
        _close(_pending(entry, author_id=_user_id(user)))
        return _record(
            entry,
            user=user,
            action=RevisionAction.UPDATE,
            state=RevisionState.PROPOSED,
            snap=snap,
            organisation=organisation,
            base_version=entry.version,
        )
    if entry.status == Status.ARCHIVED:
        raise NotAllowed("Cette fiche est archivée : seule l'équipe de la DRJSCS peut la modifier.")
    _close(_pending(entry))
    action = RevisionAction.UPDATE if _has_applied(entry) else RevisionAction.CREATE
    _apply(entry, snap)
    entry.status = Status.PROPOSED
    db.session.flush()
    return _record(
        entry,
        user=user,
        action=action,
        state=RevisionState.PROPOSED,
        snap=snapshot(entry),
        organisation=organisation,
        base_version=entry.version,
    )


def _keeps_own_lead(user: Any, snap: dict) -> None:
    """A partner may not hand an initiative over to organisations it does not belong to."""
    if permissions.is_staff(user):
        return
    mine = permissions.member_organisation_ids(user)
    lead_slugs = [link["slug"] for link in snap["organisations"] if link["role"] == "porteur"]
    if not lead_slugs or not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Organisation)
        .where(Organisation.slug.in_(lead_slugs), Organisation.id.in_(mine or {0}))
    ):
        raise WorkflowError(
            "Votre organisation doit rester porteuse de l'initiative.", field="organisations"
        )


# -- submitting changes -------------------------------------------------------------------


def submit_initiative(
    user: Any,
    data: dict,
    *,
    initiative: Initiative | None = None,
    organisation: Organisation | None = None,
    token: str | None = None,
) -> Revision:
    """Create (``initiative`` None, for ``organisation``) or change an initiative."""
    if initiative is None:
        return _create_initiative(user, data, organisation)
    if not permissions.can_edit_initiative(user, initiative):
        raise NotAllowed("Vous ne pouvez pas modifier cette initiative.")
    _check_token(initiative, token)

    def work() -> Revision:
        snap = normalise_initiative(data, snapshot(initiative))
        _keeps_own_lead(user, snap)
        leads = _lead_organisations(initiative)
        mine = [org for org in leads if permissions.is_member(user, org)]
        direct = permissions.is_staff(user) or any(
            permissions.publishes_directly(user, org) for org in mine
        )
        target = organisation if organisation in leads else (mine or leads or [None])[0]
        return _change_existing(user, initiative, snap, direct=direct, organisation=target)

    return _guarded(work)


def _create_initiative(user: Any, data: dict, organisation: Organisation | None) -> Revision:
    if organisation is None:
        if not permissions.is_staff(user):
            raise NotAllowed("Choisissez l'organisation qui porte cette initiative.")
    elif not permissions.can_create_initiative_for(user, organisation):
        raise NotAllowed("Vous ne pouvez pas ajouter d'initiative pour cette organisation.")

    def work() -> Revision:
        snap = normalise_initiative(data)
        if organisation is not None:
            lead = {"slug": organisation.slug, "role": OrganisationRole.PORTEUR.value}
            if lead not in snap["organisations"]:
                snap["organisations"].insert(0, lead)
        _keeps_own_lead(user, snap)
        direct = permissions.publishes_directly(user, organisation)
        initiative = Initiative(
            slug=_unique_slug(Initiative, snap["title"]),
            title=snap["title"],
            status=Status.PUBLISHED if direct else Status.PROPOSED,
        )
        db.session.add(initiative)
        _apply(initiative, snap)
        db.session.flush()
        leads = _lead_organisations(initiative)
        return _record(
            initiative,
            user=user,
            action=RevisionAction.CREATE,
            state=RevisionState.APPLIED if direct else RevisionState.PROPOSED,
            snap=snapshot(initiative),
            organisation=organisation or (leads[0] if leads else None),
        )

    return _guarded(work)


def submit_organisation(
    user: Any, data: dict, *, organisation: Organisation, token: str | None
) -> Revision:
    """Change an organisation's profile (proposed, or applied for direct publishers)."""
    if not permissions.can_edit_organisation(user, organisation):
        raise NotAllowed("Vous ne pouvez pas modifier cette organisation.")
    _check_token(organisation, token)

    def work() -> Revision:
        snap = normalise_organisation(data, snapshot(organisation))
        direct = permissions.publishes_directly(user, organisation)
        return _change_existing(user, organisation, snap, direct=direct, organisation=organisation)

    return _guarded(work)


def propose_anonymous(data: dict, *, proposer_name: str, proposer_email: str) -> Revision:
    """A visitor's suggestion (/proposer): a PROPOSED initiative awaiting review."""
    name = _text(proposer_name, "proposer_name", 200)
    email = _text(proposer_email, "proposer_email", 254)
    if not name:
        raise WorkflowError("Indiquez votre nom.", field="proposer_name")
    if not email or not _EMAIL_RE.fullmatch(email):
        raise WorkflowError("Indiquez une adresse électronique valide.", field="proposer_email")

    def work() -> Revision:
        snap = normalise_initiative(data)
        initiative = Initiative(
            slug=_unique_slug(Initiative, snap["title"]),
            title=snap["title"],
            status=Status.PROPOSED,
        )
        db.session.add(initiative)
        _apply(initiative, snap)
        db.session.flush()
        leads = _lead_organisations(initiative)
        revision = _record(
            initiative,
            user=None,
            action=RevisionAction.CREATE,
            state=RevisionState.PROPOSED,
            snap=snapshot(initiative),
            organisation=leads[0] if leads else None,
        )
        revision.proposer_name = name
        revision.proposer_email = email
        return revision

    return _guarded(work)


# -- review -------------------------------------------------------------------------------


def entry_of(revision: Revision) -> Initiative | Organisation | None:
    model = Initiative if revision.entity_type == INITIATIVE else Organisation
    if revision.entity_type not in (INITIATIVE, ORGANISATION) or revision.entity_id is None:
        return None
    return db.session.get(model, revision.entity_id)


def _require_reviewer(user: Any) -> None:
    if not permissions.can_review(user):
        raise NotAllowed("Seule l'équipe de la DRJSCS peut traiter les propositions.")


def _require_proposed(revision: Revision) -> Initiative | Organisation:
    if revision.state != RevisionState.PROPOSED:
        raise InvalidTransition("Cette proposition a déjà été traitée.")
    entry = entry_of(revision)
    if entry is None:
        raise InvalidTransition("La fiche concernée par cette proposition n'existe plus.")
    return entry


def _notify(revision: Revision) -> None:
    """Tell the author; a mail that fails is logged and never undoes the committed review."""
    from . import notifications

    try:
        notifications.revision_reviewed(revision)
    except Exception:
        log.exception("Notification of revision %s failed", revision.id)


def _close_review(
    user: Any, revision: Revision, state: RevisionState, comment: str | None, action: str
) -> None:
    """Record a curator's decision on a proposal, and audit it."""
    revision.state = state
    revision.reviewer_id = _user_id(user)
    revision.reviewed_at = utcnow()
    revision.comment = comment
    _audit(
        user,
        action,
        revision_id=revision.id,
        entity_type=revision.entity_type,
        entity_id=revision.entity_id,
    )


def approve(user: Any, revision: Revision, comment: str = "") -> Revision:
    """Apply a proposal, publish the entry (unless archived) and notify its author."""
    _require_reviewer(user)
    entry = _require_proposed(revision)
    comment = _text(comment, "comment", 5000) if comment else None

    def work() -> Revision:
        snap = (
            normalise_initiative(revision.snapshot)
            if isinstance(entry, Initiative)
            else normalise_organisation(revision.snapshot)
        )
        _apply(entry, snap)
        if entry.status != Status.ARCHIVED:
            entry.status = Status.PUBLISHED
        db.session.flush()
        revision.snapshot = snapshot(entry)
        _close_review(user, revision, RevisionState.APPLIED, comment, "revision.approved")
        return revision

    _guarded(work)
    _notify(revision)
    return revision


def reject(user: Any, revision: Revision, comment: str) -> Revision:
    """Refuse a proposal with a reason; its author is told why."""
    _require_reviewer(user)
    entry = _require_proposed(revision)
    reason = _text(comment, "comment", 5000) if isinstance(comment, str) else None
    if not reason:
        raise WorkflowError(
            "Indiquez le motif du refus : il sera envoyé à l'auteur.", field="comment"
        )

    def work() -> Revision:
        _close_review(user, revision, RevisionState.REJECTED, reason, "revision.rejected")
        db.session.flush()
        if entry.status == Status.PROPOSED and not _pending(entry):
            entry.status = Status.DRAFT
        return revision

    _guarded(work)
    _notify(revision)
    return revision


# -- curation -----------------------------------------------------------------------------


def _entry_organisation(entry: Initiative | Organisation) -> Organisation | None:
    if isinstance(entry, Organisation):
        return entry
    leads = _lead_organisations(entry)
    return leads[0] if leads else None


def _status_change(
    user: Any, entry: Initiative | Organisation, status: Status, action: RevisionAction,
    comment: str | None,
) -> Revision:  # fmt: skip
    def work() -> Revision:
        _ensure_baseline(entry)
        entry.status = status
        db.session.flush()
        revision = _record(
            entry,
            user=user,
            action=action,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=_entry_organisation(entry),
            comment=comment,
        )
        db.session.flush()
        _audit(
            user,
            f"entry.{action.value}d",
            revision_id=revision.id,
            entity_type=entity_type(entry),
            entity_id=entry.id,
        )
        return revision

    return _guarded(work)


def archive(user: Any, entry: Initiative | Organisation, reason: str = "") -> Revision:
    """Take an entry off the public site (pages, lists, search, map); history is kept."""
    if not permissions.can_archive(user):
        raise NotAllowed("Seule l'équipe de la DRJSCS peut archiver une fiche.")
    if entry.status == Status.ARCHIVED:
        raise InvalidTransition("Cette fiche est déjà archivée.")
    reason = _text(reason, "comment", 5000) if reason else None
    return _status_change(user, entry, Status.ARCHIVED, RevisionAction.ARCHIVE, reason)


def unarchive(user: Any, entry: Initiative | Organisation) -> Revision:
    """Bring an archived entry back online (published)."""
    if not permissions.can_archive(user):
        raise NotAllowed("Seule l'équipe de la DRJSCS peut désarchiver une fiche.")
    if entry.status != Status.ARCHIVED:
        raise InvalidTransition("Cette fiche n'est pas archivée.")
    return _status_change(user, entry, Status.PUBLISHED, RevisionAction.UNARCHIVE, None)


def restore(user: Any, revision: Revision) -> Revision:
    """Bring back the version recorded by ``revision``, as a new APPLIED revision."""
    if not permissions.can_review(user):
        raise NotAllowed("Seule l'équipe de la DRJSCS peut restaurer une version.")
    if revision.state == RevisionState.PROPOSED:
        raise InvalidTransition(
            "Cette version est une proposition en attente : acceptez-la plutôt que de la restaurer."
        )
    entry = entry_of(revision)
    if entry is None:
        raise InvalidTransition("La fiche de cette version n'existe plus.")

    def work() -> Revision:
        snap = (
            normalise_initiative(revision.snapshot)
            if isinstance(entry, Initiative)
            else normalise_organisation(revision.snapshot)
        )
        _apply(entry, snap)
        db.session.flush()
        restored = _record(
            entry,
            user=user,
            action=RevisionAction.RESTORE,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=_entry_organisation(entry),
            comment=f"Version n° {revision.id} restaurée.",
        )
        db.session.flush()
        _audit(
            user,
            "revision.restored",
            revision_id=restored.id,
            restored_from=revision.id,
            entity_type=revision.entity_type,
            entity_id=revision.entity_id,
        )
        return restored

    return _guarded(work)


# -- reading history ----------------------------------------------------------------------


def history(entry: Initiative | Organisation) -> list[Revision]:
    """Every revision of ``entry``, newest first."""
    return list(
        db.session.scalars(
            sa.select(Revision)
            .where(Revision.entity_type == entity_type(entry), Revision.entity_id == entry.id)
            .order_by(Revision.created_at.desc(), Revision.id.desc())
        )
    )


def previous_snapshot(revision: Revision) -> dict | None:
    """The snapshot recorded just before ``revision`` (APPLIED states only), or None."""
    if revision.entity_id is None:
        return None
    earlier = db.session.scalar(
        sa.select(Revision)
        .where(
            Revision.entity_type == revision.entity_type,
            Revision.entity_id == revision.entity_id,
            Revision.state == RevisionState.APPLIED,
            Revision.id < revision.id,
        )
        .order_by(Revision.id.desc())
        .limit(1)
    )
    return earlier.snapshot if earlier is not None else None


def _comparable(value: Any) -> Any:
    return None if value in ("", [], None) else value


def diff(before: dict | None, after: dict) -> list[FieldChange]:
    """Fields whose value differs, in snapshot order; ``before`` None compares with nothing."""
    before = before or {}
    keys = list(after) + [key for key in before if key not in after]
    return [
        FieldChange(key, FIELD_LABELS.get(key, key), before.get(key), after.get(key))
        for key in keys
        if _comparable(before.get(key)) != _comparable(after.get(key))
    ]


def changes_of(revision: Revision) -> list[FieldChange]:
    """What ``revision`` changes, field by field.

    A pending proposal on an online (published or archived) entry is compared with the entry as
    it is now, which is what approving it would overwrite; a creation with nothing; any other
    revision with the version applied just before it.
    """
    entry = entry_of(revision)
    if revision.action == RevisionAction.CREATE:
        return diff(None, revision.snapshot)
    if (
        revision.state == RevisionState.PROPOSED
        and entry is not None
        and entry.status in (Status.PUBLISHED, Status.ARCHIVED)
    ):
        return diff(snapshot(entry), revision.snapshot)
    return diff(previous_snapshot(revision), revision.snapshot)


def is_outdated(revision: Revision) -> bool:
    """A pending proposal made against a version of the entry that has changed since."""
    entry = entry_of(revision)
    return (
        revision.state == RevisionState.PROPOSED
        and revision.base_version is not None
        and entry is not None
        and entry.status in (Status.PUBLISHED, Status.ARCHIVED)
        and entry.version != revision.base_version
    )


@dataclass(frozen=True)
class HistoryItem:
    revision: Revision
    changes: list[FieldChange]


def history_items(entry: Initiative | Organisation) -> list[HistoryItem]:
    """``history(entry)`` with the fields each revision changed (against the version before)."""
    items: list[HistoryItem] = []
    applied: dict | None = None
    for revision in reversed(history(entry)):
        if revision.action == RevisionAction.CREATE:
            changes = diff(None, revision.snapshot)
        else:
            changes = diff(applied, revision.snapshot) if applied is not None else []
        items.append(HistoryItem(revision, changes))
        if revision.state in (RevisionState.APPLIED, RevisionState.APPROVED):
            applied = revision.snapshot
    return list(reversed(items))


def find_entry(kind: str, slug: str) -> Initiative | Organisation | None:
    """An initiative or organisation (``kind``) by slug, whatever its status."""
    model = {INITIATIVE: Initiative, ORGANISATION: Organisation}.get(kind)
    if model is None or not isinstance(slug, str) or "\x00" in slug or len(slug) > 200:
        return None
    return db.session.scalar(sa.select(model).where(model.slug == slug))


def pending_for(entry: Initiative | Organisation) -> list[Revision]:
    """Proposed revisions of ``entry``, oldest first."""
    return _pending(entry)


def review_queue(
    *,
    organisation_id: int | None = None,
    departement: str | None = None,
    entity_type: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Pending proposals, oldest first; ``action`` is "create" or "update"."""
    conditions: list[Any] = [Revision.state == RevisionState.PROPOSED]
    if organisation_id is not None:
        conditions.append(Revision.organisation_id == organisation_id)
    if entity_type:
        conditions.append(Revision.entity_type == entity_type)
    if action:
        conditions.append(Revision.action == RevisionAction(action))
    if departement:
        in_initiative = sa.exists().where(
            initiative_departement.c.initiative_id == Revision.entity_id,
            initiative_departement.c.departement_code == departement,
        )
        in_organisation = sa.exists().where(
            Organisation.id == Revision.entity_id, organisation_in_departement(departement)
        )
        conditions.append(
            sa.or_(
                sa.and_(Revision.entity_type == INITIATIVE, in_initiative),
                sa.and_(Revision.entity_type == ORGANISATION, in_organisation),
            )
        )
    page = max(1, page)
    total = db.session.scalar(sa.select(sa.func.count(Revision.id)).where(*conditions)) or 0
    items = list(
        db.session.scalars(
            sa.select(Revision)
            .where(*conditions)
            .order_by(Revision.created_at, Revision.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items=items, total=total, page=page, per_page=per_page)


def queue_counts() -> dict[tuple[str, str], int]:
    """Pending proposals by (entity type, action)."""
    rows = db.session.execute(
        sa.select(Revision.entity_type, Revision.action, sa.func.count(Revision.id))
        .where(Revision.state == RevisionState.PROPOSED)
        .group_by(Revision.entity_type, Revision.action)
    )
    return {(kind, RevisionAction(action).value): count for kind, action, count in rows}


def queue_organisations() -> list[Organisation]:
    """Organisations that have pending proposals (choices of the queue filter)."""
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.id.in_(
                    sa.select(Revision.organisation_id).where(
                        Revision.state == RevisionState.PROPOSED
                    )
                )
            )
            .order_by(Organisation.name)
        )
    )


_REFERENCES: dict[str, tuple[type, str]] = {
    "themes": (Theme, "slug"),
    "publics": (Public, "slug"),
    "organisations": (Organisation, "slug"),
    "departements": (Departement, "code"),
    "communes": (Commune, "code"),
}


def reference_names(kind: str, keys: list[str]) -> dict[str, str]:
    """Display names of snapshot references: themes, publics, organisations (by slug),
    départements and communes (by code); unknown keys are left out."""
    model, key = _REFERENCES[kind]
    wanted = [value for value in keys if isinstance(value, str)]
    if not wanted:
        return {}
    column = getattr(model, key)
    rows = db.session.scalars(sa.select(model).where(column.in_(wanted)))
    return {getattr(row, key): row.label if model is Commune else row.name for row in rows}


def covered_departements() -> list[Departement]:
    """The départements the directory covers, for filters."""
    from ..territories import COVERED_DEPARTEMENTS

    return list(
        db.session.scalars(
            sa.select(Departement)
            .where(Departement.code.in_(COVERED_DEPARTEMENTS))
            .order_by(Departement.code)
        )
    )


def pending_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(Revision.id)).where(Revision.state == RevisionState.PROPOSED)
        )
        or 0
    )
