"""Moderation workflow (DESIGN.md §3-4): proposals, review, history, archive and restore.

Every change to an initiative or an organisation goes through this module and leaves a
``Revision`` holding the *full* snapshot of the entry after the change, its author and its
state. The service checks permissions itself (``services.permissions``), commits, and raises
``WorkflowError`` subclasses whose message is French text meant for the user.

The snapshot format is described in ``entry_data``.

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
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Initiative,
    Organisation,
    OrganisationRole,
    Public,
    Revision,
    RevisionAction,
    RevisionState,
    Status,
    Theme,
    initiative_departement,
)
from ..models.base import utcnow
from ..text import slugify
from . import permissions, revisions
from .browse import Page, organisation_in_departement
from .entry_data import (
    EMAIL_RE,
    FIELD_LABELS,
    INITIATIVE,
    ORGANISATION,
    InvalidTransition,
    NotAllowed,
    StaleEdit,
    WorkflowError,
    apply_snapshot,
    clean_text,
    entity_type,
    lead_organisations,
    normalise_initiative,
    normalise_organisation,
    snapshot,
)
from .revisions import STALE_MESSAGE

log = logging.getLogger(__name__)


# fmt: off
# fmt: on


# -- errors and values ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: Any
    after: Any


# -- snapshots ------------------------------------------------------------------------------


def edit_token(entry: Initiative | Organisation) -> str:
    """An opaque token for an edit form: it changes whenever the entry or its history does."""
    return f"v{entry.version}r{revisions.latest_revision_id(entry)}"


def _check_token(entry: Initiative | Organisation, token: str | None) -> None:
    if token is not None and token != edit_token(entry):
        raise StaleEdit(STALE_MESSAGE)


# -- validation -----------------------------------------------------------------------------


# -- applying a snapshot to a row ----------------------------------------------------------


# -- helpers ------------------------------------------------------------------------------


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


def _change_existing(
    user: Any,
    entry: Initiative | Organisation,
    snap: dict,
    *,
    direct: bool,
    organisation: Organisation | None,
) -> Revision:
    """The shared rules for a change to an existing entry (module docstring, Lifecycle)."""
    revisions.ensure_baseline(entry)
    if direct:
        if entry.status in (Status.DRAFT, Status.PROPOSED):
            # The row holds the pending text: publishing it settles those proposals.
            revisions.close_superseded(revisions.pending_revisions(entry))
        apply_snapshot(entry, snap)
        if entry.status != Status.ARCHIVED:
            entry.status = Status.PUBLISHED
        db.session.flush()
        return revisions.record(
            entry,
            user=user,
            action=RevisionAction.UPDATE,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=organisation,
        )
    if entry.status == Status.PUBLISHED:
        revisions.close_superseded(
            revisions.pending_revisions(entry, author_id=revisions.user_id(user))
        )
        return revisions.record(
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
    revisions.close_superseded(revisions.pending_revisions(entry))
    action = RevisionAction.UPDATE if revisions.has_applied(entry) else RevisionAction.CREATE
    apply_snapshot(entry, snap)
    entry.status = Status.PROPOSED
    db.session.flush()
    return revisions.record(
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
        leads = lead_organisations(initiative)
        mine = [org for org in leads if permissions.is_member(user, org)]
        direct = permissions.is_staff(user) or any(
            permissions.publishes_directly(user, org) for org in mine
        )
        target = organisation if organisation in leads else (mine or leads or [None])[0]
        return _change_existing(user, initiative, snap, direct=direct, organisation=target)

    return revisions.guarded(work)


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
        apply_snapshot(initiative, snap)
        db.session.flush()
        leads = lead_organisations(initiative)
        return revisions.record(
            initiative,
            user=user,
            action=RevisionAction.CREATE,
            state=RevisionState.APPLIED if direct else RevisionState.PROPOSED,
            snap=snapshot(initiative),
            organisation=organisation or (leads[0] if leads else None),
        )

    return revisions.guarded(work)


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

    return revisions.guarded(work)


def propose_anonymous(data: dict, *, proposer_name: str, proposer_email: str) -> Revision:
    """A visitor's suggestion (/proposer): a PROPOSED initiative awaiting review."""
    name = clean_text(proposer_name, "proposer_name", 200)
    email = clean_text(proposer_email, "proposer_email", 254)
    if not name:
        raise WorkflowError("Indiquez votre nom.", field="proposer_name")
    if not email or not EMAIL_RE.fullmatch(email):
        raise WorkflowError("Indiquez une adresse électronique valide.", field="proposer_email")

    def work() -> Revision:
        snap = normalise_initiative(data)
        initiative = Initiative(
            slug=_unique_slug(Initiative, snap["title"]),
            title=snap["title"],
            status=Status.PROPOSED,
        )
        db.session.add(initiative)
        apply_snapshot(initiative, snap)
        db.session.flush()
        leads = lead_organisations(initiative)
        revision = revisions.record(
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

    return revisions.guarded(work)


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
    revision.reviewer_id = revisions.user_id(user)
    revision.reviewed_at = utcnow()
    revision.comment = comment
    revisions.audit(
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
    comment = clean_text(comment, "comment", 5000) if comment else None

    def work() -> Revision:
        snap = (
            normalise_initiative(revision.snapshot)
            if isinstance(entry, Initiative)
            else normalise_organisation(revision.snapshot)
        )
        apply_snapshot(entry, snap)
        if entry.status != Status.ARCHIVED:
            entry.status = Status.PUBLISHED
        db.session.flush()
        revision.snapshot = snapshot(entry)
        _close_review(user, revision, RevisionState.APPLIED, comment, "revision.approved")
        return revision

    revisions.guarded(work)
    _notify(revision)
    return revision


def reject(user: Any, revision: Revision, comment: str) -> Revision:
    """Refuse a proposal with a reason; its author is told why."""
    _require_reviewer(user)
    entry = _require_proposed(revision)
    reason = clean_text(comment, "comment", 5000) if isinstance(comment, str) else None
    if not reason:
        raise WorkflowError(
            "Indiquez le motif du refus : il sera envoyé à l'auteur.", field="comment"
        )

    def work() -> Revision:
        _close_review(user, revision, RevisionState.REJECTED, reason, "revision.rejected")
        db.session.flush()
        if entry.status == Status.PROPOSED and not revisions.pending_revisions(entry):
            entry.status = Status.DRAFT
        return revision

    revisions.guarded(work)
    _notify(revision)
    return revision


# -- curation -----------------------------------------------------------------------------


def _status_change(
    user: Any, entry: Initiative | Organisation, status: Status, action: RevisionAction,
    comment: str | None,
) -> Revision:  # fmt: skip
    def work() -> Revision:
        revisions.ensure_baseline(entry)
        entry.status = status
        db.session.flush()
        revision = revisions.record(
            entry,
            user=user,
            action=action,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=revisions.entry_organisation(entry),
            comment=comment,
        )
        db.session.flush()
        revisions.audit(
            user,
            f"entry.{action.value}d",
            revision_id=revision.id,
            entity_type=entity_type(entry),
            entity_id=entry.id,
        )
        return revision

    return revisions.guarded(work)


def archive(user: Any, entry: Initiative | Organisation, reason: str = "") -> Revision:
    """Take an entry off the public site (pages, lists, search, map); history is kept."""
    if not permissions.can_archive(user):
        raise NotAllowed("Seule l'équipe de la DRJSCS peut archiver une fiche.")
    if entry.status == Status.ARCHIVED:
        raise InvalidTransition("Cette fiche est déjà archivée.")
    reason = clean_text(reason, "comment", 5000) if reason else None
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
        apply_snapshot(entry, snap)
        db.session.flush()
        restored = revisions.record(
            entry,
            user=user,
            action=RevisionAction.RESTORE,
            state=RevisionState.APPLIED,
            snap=snapshot(entry),
            organisation=revisions.entry_organisation(entry),
            comment=f"Version n° {revision.id} restaurée.",
        )
        db.session.flush()
        revisions.audit(
            user,
            "revision.restored",
            revision_id=restored.id,
            restored_from=revision.id,
            entity_type=revision.entity_type,
            entity_id=revision.entity_id,
        )
        return restored

    return revisions.guarded(work)


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
    return revisions.pending_revisions(entry)


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
