"""Merging two entries that describe the same initiative or organisation (issue #6).

A curator keeps one entry (the survivor) and retires the other. For each field the curator
chooses whose value to keep; relations are united without duplicate rows:

- initiatives: themes, publics, places, organisation links and event links;
- organisations: themes, départements, memberships, initiative links, event links, speakers.

History is kept: the retired entry's revisions stay, the survivor gets an APPLIED revision
(snapshot in the workflow's format) recording the merge, and the retired entry is ARCHIVED,
never deleted. Its address answers 301 to the survivor through a ``SlugRedirect``; earlier
redirects to the retired entry are pointed at the survivor too, so chains never form. Pending
proposals on the retired entry are closed. An ``entry.merged`` audit row records who merged
what. Everything happens in one transaction; the search index follows through its outbox.

Optimistic locking: ``merge_token(survivor, retired)`` combines both entries' edit tokens; a
merge posted with a token that no longer matches raises ``StaleEdit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    EventOrganisation,
    Initiative,
    InitiativeOrganisation,
    Membership,
    Organisation,
    Revision,
    RevisionAction,
    RevisionState,
    SlugRedirect,
    Speaker,
    Status,
    event_initiative,
)
from ..models.base import utcnow
from . import entry_data, permissions, revisions, workflow
from .entry_data import (
    INITIATIVE,
    ORGANISATION,
    NotAllowed,
    StaleEdit,
    WorkflowError,
    apply_snapshot,
)

KEEP = "garder"
TAKE = "retirer"  # take the value of the entry being retired

INITIATIVE_FIELDS = (
    "title", "summary", "description", "stage", "start_year", "end_year", "website",
    "contact_email", "contact_phone", "genesis", "evaluation", "policy_impact",
    "public_support", "source",
)  # fmt: skip
ORGANISATION_FIELDS = (
    "name", "acronym", "kind", "tagline", "description", "website", "email", "phone",
    "address", "commune_code", "logo_path",
)  # fmt: skip
UNITED = {
    INITIATIVE: ("themes", "publics", "places", "organisations"),
    ORGANISATION: ("themes", "departements"),
}
MODELS = {INITIATIVE: Initiative, ORGANISATION: Organisation}


class MergeError(WorkflowError):
    """The merge cannot be made as asked (same entry, archived entry, bad choice...)."""


@dataclass(frozen=True)
class FieldChoice:
    """One field of the side-by-side form."""

    name: str
    label: str
    kept: Any  # the survivor's value
    retired: Any  # the retired entry's value
    default: str  # KEEP or TAKE

    @property
    def differs(self) -> bool:
        return _empty(self.kept) != _empty(self.retired) or (
            not _empty(self.kept) and self.kept != self.retired
        )


@dataclass(frozen=True)
class MergePlan:
    kind: str
    survivor: Initiative | Organisation
    retired: Initiative | Organisation
    fields: list[FieldChoice]
    united: list[FieldChoice]  # relations shown for information: they are united
    token: str


def _empty(value: Any) -> bool:
    return value in (None, "", [])


def _label(entry: Initiative | Organisation) -> str:
    return entry.title if isinstance(entry, Initiative) else entry.name


def merge_token(survivor: Initiative | Organisation, retired: Initiative | Organisation) -> str:
    return f"{workflow.edit_token(survivor)}-{workflow.edit_token(retired)}"


def _check_pair(
    kind: str, survivor: Initiative | Organisation | None, retired: Initiative | Organisation | None
) -> None:
    if kind not in MODELS:
        raise MergeError("Type de fiche inconnu : choisissez initiative ou organisation.")
    if survivor is None or retired is None:
        raise MergeError("Fiche introuvable : vérifiez les deux adresses.")
    if survivor.id == retired.id:
        raise MergeError("Choisissez deux fiches différentes.")
    if survivor.status == Status.ARCHIVED:
        raise MergeError("La fiche à garder est archivée : désarchivez-la d’abord.")
    if retired.status == Status.ARCHIVED:
        raise MergeError("La fiche à retirer est déjà archivée.")


def plan(kind: str, keep_slug: str, retire_slug: str) -> MergePlan:
    """What the side-by-side form shows; raises ``MergeError`` for an impossible pair."""
    survivor = workflow.find_entry(kind, keep_slug) if kind in MODELS else None
    retired = workflow.find_entry(kind, retire_slug) if kind in MODELS else None
    _check_pair(kind, survivor, retired)
    kept, other = entry_data.snapshot(survivor), entry_data.snapshot(retired)
    names = INITIATIVE_FIELDS if kind == INITIATIVE else ORGANISATION_FIELDS
    fields = [
        FieldChoice(
            name,
            entry_data.FIELD_LABELS.get(name, name),
            kept.get(name),
            other.get(name),
            TAKE if _empty(kept.get(name)) and not _empty(other.get(name)) else KEEP,
        )
        for name in names
    ]
    united = [
        FieldChoice(name, entry_data.FIELD_LABELS.get(name, name), kept[name], other[name], KEEP)
        for name in UNITED[kind]
    ]
    return MergePlan(kind, survivor, retired, fields, united, merge_token(survivor, retired))


def _union(first: list, second: list) -> list:
    result = list(first)
    for item in second:
        if item not in result:
            result.append(item)
    return result


def _merged_snapshot(
    kind: str, kept: dict, other: dict, choices: dict[str, str], defaults: dict[str, str]
) -> tuple[dict, list[str]]:
    names = INITIATIVE_FIELDS if kind == INITIATIVE else ORGANISATION_FIELDS
    merged = dict(kept)
    taken: list[str] = []
    for name in names:
        choice = choices.get(name, defaults[name])
        if choice not in (KEEP, TAKE):
            raise MergeError(
                f"Choix invalide pour « {entry_data.FIELD_LABELS.get(name, name)} ».", field=name
            )
        if choice == TAKE:
            merged[name] = other.get(name)
            taken.append(name)
    for name in UNITED[kind]:
        merged[name] = _union(kept.get(name) or [], other.get(name) or [])
    return merged, taken


# -- relations ----------------------------------------------------------------------------------


def _copy_event_links(survivor: Initiative, retired: Initiative) -> None:
    """The retired initiative's events also list the survivor (its own rows stay, archived)."""
    have = set(
        db.session.scalars(
            sa.select(event_initiative.c.event_id).where(
                event_initiative.c.initiative_id == survivor.id
            )
        )
    )
    rows = db.session.execute(
        sa.select(event_initiative.c.event_id, event_initiative.c.programme_item_id).where(
            event_initiative.c.initiative_id == retired.id
        )
    ).all()
    for event_id, item_id in rows:
        if event_id not in have:
            db.session.execute(
                event_initiative.insert().values(
                    event_id=event_id, initiative_id=survivor.id, programme_item_id=item_id
                )
            )


def _move_organisation_relations(user: Any, survivor: Organisation, retired: Organisation) -> int:
    """Hand the retired organisation's links to the survivor; returns initiatives touched."""
    # Initiatives: each changed initiative gets a revision, so its history stays readable.
    links = list(retired.initiative_links)
    initiatives = {link.initiative.id: link.initiative for link in links}
    for initiative in initiatives.values():
        revisions.ensure_baseline(initiative)
    for link in links:
        initiative = link.initiative
        exists = any(
            other.organisation_id == survivor.id and other.role == link.role
            for other in initiative.organisation_links
        )
        if not exists:
            initiative.organisation_links.append(
                InitiativeOrganisation(
                    organisation=survivor, role=link.role, position=link.position
                )
            )
        initiative.organisation_links.remove(link)
    db.session.flush()
    for initiative in initiatives.values():
        revisions.record(
            initiative,
            user=user,
            action=RevisionAction.UPDATE,
            state=RevisionState.APPLIED,
            snap=entry_data.snapshot(initiative),
            organisation=survivor,
            comment=f"Organisation « {retired.name} » fusionnée dans « {survivor.name} ».",
        )
        # A pending proposal naming the retired organisation now names the survivor.
        for revision in workflow.pending_for(initiative):
            _rename_in_snapshot(revision, retired.slug, survivor.slug)

    # Members: union; the retired organisation keeps none (it is archived).
    members = {membership.user_id for membership in survivor.memberships}
    for membership in list(retired.memberships):
        if membership.user_id not in members:
            db.session.add(Membership(user_id=membership.user_id, organisation_id=survivor.id))
            members.add(membership.user_id)
        retired.memberships.remove(membership)

    # Events (organiser, partner) and speakers.
    event_roles = set(
        db.session.execute(
            sa.select(EventOrganisation.event_id, EventOrganisation.role).where(
                EventOrganisation.organisation_id == survivor.id
            )
        ).all()
    )
    for link in db.session.scalars(
        sa.select(EventOrganisation).where(EventOrganisation.organisation_id == retired.id)
    ):
        if (link.event_id, link.role) not in event_roles:
            db.session.add(
                EventOrganisation(
                    event_id=link.event_id,
                    organisation_id=survivor.id,
                    role=link.role,
                    position=link.position,
                )
            )
            event_roles.add((link.event_id, link.role))
        db.session.delete(link)
    db.session.execute(
        sa.update(Speaker)
        .where(Speaker.organisation_id == retired.id)
        .values(organisation_id=survivor.id)
    )
    # The queue filter by organisation finds pending proposals under the survivor.
    db.session.execute(
        sa.update(Revision)
        .where(Revision.organisation_id == retired.id, Revision.state == RevisionState.PROPOSED)
        .values(organisation_id=survivor.id)
    )
    survivor.trusted = survivor.trusted or retired.trusted
    survivor.is_event_partner = survivor.is_event_partner or retired.is_event_partner
    return len(initiatives)


def _rename_in_snapshot(revision: Revision, old_slug: str, new_slug: str) -> None:
    snap = revision.snapshot
    if not isinstance(snap, dict) or not isinstance(snap.get("organisations"), list):
        return
    links: list = []
    for link in snap["organisations"]:
        if isinstance(link, dict) and link.get("slug") == old_slug:
            link = {**link, "slug": new_slug}
        if link not in links:
            links.append(link)
    if links != snap["organisations"]:
        revision.snapshot = {**snap, "organisations": links}


def _redirect(kind: str, survivor: Initiative | Organisation, retired: Initiative | Organisation):
    """Old address of the retired entry (and every address that led to it) → survivor."""
    db.session.execute(
        sa.update(SlugRedirect)
        .where(SlugRedirect.entity_type == kind, SlugRedirect.target_id == retired.id)
        .values(target_id=survivor.id)
    )
    # The survivor's own address is live: no redirect may shadow it.
    db.session.execute(
        sa.delete(SlugRedirect).where(
            SlugRedirect.entity_type == kind, SlugRedirect.old_slug == survivor.slug
        )
    )
    existing = db.session.scalar(
        sa.select(SlugRedirect).where(
            SlugRedirect.entity_type == kind, SlugRedirect.old_slug == retired.slug
        )
    )
    if existing is None:
        db.session.add(SlugRedirect(entity_type=kind, old_slug=retired.slug, target_id=survivor.id))
    else:
        existing.target_id = survivor.id


# -- the merge ------------------------------------------------------------------------------------


def merge(
    user: Any,
    kind: str,
    survivor: Initiative | Organisation | None,
    retired: Initiative | Organisation | None,
    choices: dict[str, str],
    token: str | None,
) -> Revision:
    """Merge ``retired`` into ``survivor`` (see the module docstring); returns the survivor's
    merge revision. ``choices`` maps field names to ``KEEP`` or ``TAKE``; a missing field takes
    the default of the form (the survivor's value unless it is empty)."""
    if not permissions.can_review(user):
        raise NotAllowed("Seule l’équipe de la DRJSCS peut fusionner des fiches.")
    _check_pair(kind, survivor, retired)
    if not isinstance(choices, dict):
        raise MergeError("Les choix envoyés sont invalides.")
    if token != merge_token(survivor, retired):
        raise StaleEdit(
            "L’une des deux fiches a été modifiée depuis l’ouverture de ce formulaire : "
            "rien n’a été fusionné. Vérifiez les valeurs ci-dessous, puis fusionnez à nouveau."
        )
    current = plan(kind, survivor.slug, retired.slug)
    defaults = {choice.name: choice.default for choice in current.fields}

    def work() -> Revision:
        kept, other = entry_data.snapshot(survivor), entry_data.snapshot(retired)
        merged, taken = _merged_snapshot(kind, kept, other, choices, defaults)
        snap = (
            entry_data.normalise_initiative(merged)
            if kind == INITIATIVE
            else entry_data.normalise_organisation(merged)
        )
        revisions.ensure_baseline(survivor)
        revisions.ensure_baseline(retired)
        moved = 0
        if kind == INITIATIVE:
            _copy_event_links(survivor, retired)
            if survivor.external_id is None:
                survivor.external_id = retired.external_id
            if survivor.featured_position is None:
                survivor.featured_position = retired.featured_position
            retired.featured_position = None
        else:
            moved = _move_organisation_relations(user, survivor, retired)
            if survivor.external_id is None:
                survivor.external_id = retired.external_id
        apply_snapshot(survivor, snap)
        db.session.flush()
        note = f"Fusion : « {_label(retired)} » ({retired.slug}) réunie dans cette fiche."
        revision = revisions.record(
            survivor,
            user=user,
            action=RevisionAction.UPDATE,
            state=RevisionState.APPLIED,
            snap=entry_data.snapshot(survivor),
            organisation=revisions.entry_organisation(survivor),
            comment=note,
        )

        # The retired entry: its pending proposals closed, archived, its address redirected.
        for pending in workflow.pending_for(retired):
            pending.state = RevisionState.REJECTED
            pending.reviewer_id = revisions.user_id(user)
            pending.reviewed_at = utcnow()
            pending.comment = f"Fiche fusionnée dans « {_label(survivor)} »."
        retired.status = Status.ARCHIVED
        db.session.flush()
        archived = revisions.record(
            retired,
            user=user,
            action=RevisionAction.ARCHIVE,
            state=RevisionState.APPLIED,
            snap=entry_data.snapshot(retired),
            organisation=revisions.entry_organisation(retired),
            comment=f"Fusionnée dans « {_label(survivor)} » ({survivor.slug}).",
        )
        _redirect(kind, survivor, retired)
        db.session.flush()
        revisions.audit(
            user,
            "entry.merged",
            entity_type=kind,
            survivor_id=survivor.id,
            survivor_slug=survivor.slug,
            retired_id=retired.id,
            retired_slug=retired.slug,
            fields_taken=taken,
            revision_id=revision.id,
            archive_revision_id=archived.id,
            initiatives_relinked=moved,
        )
        return revision

    return revisions.guarded(work)


# -- old addresses ------------------------------------------------------------------------------


def redirect_target(kind: str, slug: str) -> str | None:
    """The slug of the published entry that ``slug`` (a merged entry's address) now points to."""
    model = MODELS.get(kind)
    if model is None or not isinstance(slug, str) or not slug or "\x00" in slug or len(slug) > 200:
        return None
    return db.session.scalar(
        sa.select(model.slug)
        .join(SlugRedirect, SlugRedirect.target_id == model.id)
        .where(
            SlugRedirect.entity_type == kind,
            SlugRedirect.old_slug == slug,
            model.status == Status.PUBLISHED,
        )
    )
