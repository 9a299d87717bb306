"""Staff pages (/gestion): review queue, proposals with their diff, history, archive, restore.

Views parse the request, call ``services.workflow`` (which checks permissions and commits) and
render; workflow errors become a flash message (invalid transition) or a form error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import InputRequired
from wtforms.validators import Optional as OptionalValue

from ..extensions import db
from ..guards import classify
from ..models import (
    Initiative,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Revision,
    RevisionState,
    Stage,
)
from ..richtext import rich_text
from ..services import workflow
from ..services.browse import parse_page
from ..territories import COVERED_DEPARTEMENTS
from .forms import BaseForm, _length, _strip, no_markup, safe_text
from .media import logo_preview

bp = classify(Blueprint("staff", __name__, url_prefix="/gestion"), "staff")

COMMENT_MAX_LENGTH = 2000
# Address segment of each kind of entry, and the workflow's name for it.
KINDS = {"initiatives": workflow.INITIATIVE, "organisations": workflow.ORGANISATION}
KIND_SEGMENTS = {value: key for key, value in KINDS.items()}
QUEUE_TYPES = {
    "initiative": "Initiatives",
    "organisation": "Organisations",
}
QUEUE_ACTIONS = {"create": "Créations", "update": "Modifications"}
STATE_LABELS = {
    RevisionState.PROPOSED: "En attente",
    RevisionState.APPROVED: "Acceptée",
    RevisionState.APPLIED: "Appliquée",
    RevisionState.REJECTED: "Refusée",
}
STATE_BADGES = {
    RevisionState.PROPOSED: "fr-badge--new",
    RevisionState.APPROVED: "fr-badge--success",
    RevisionState.APPLIED: "fr-badge--success",
    RevisionState.REJECTED: "fr-badge--error",
}
RICH_FIELDS = {"description", "genesis", "evaluation", "policy_impact", "public_support"}


# -- forms ------------------------------------------------------------------------------------


def _comment_field(label: str, *, required: bool) -> TextAreaField:
    first = (
        InputRequired(message="Indiquez le motif du refus : il sera envoyé à l’auteur.")
        if required
        else OptionalValue()
    )
    return TextAreaField(
        label,
        [first, safe_text(multiline=True), _length(COMMENT_MAX_LENGTH), no_markup],
        filters=[_strip],
    )


class ApproveForm(BaseForm):
    comment = _comment_field("Commentaire facultatif, envoyé à l’auteur", required=False)


class RejectForm(BaseForm):
    comment = _comment_field("Motif du refus, envoyé à l’auteur", required=True)


class ArchiveForm(BaseForm):
    reason = _comment_field("Motif de l’archivage (facultatif)", required=False)


class ConfirmForm(BaseForm):
    """A button only: CSRF protection and nothing else."""


# -- presenting snapshot values ------------------------------------------------------------


def _names(kind: str, keys: list[str]) -> dict[str, str]:
    return workflow.reference_names(kind, keys)


def present(field: str, value: Any) -> Any:
    """A snapshot value as a person reads it (names rather than slugs and codes)."""
    if value in (None, "", []):
        return Markup('<span class="fr-text-mention--grey">(vide)</span>')
    if field in RICH_FIELDS:
        return rich_text(value)
    if field == "stage":
        return _label(Stage, value)
    if field == "kind":
        return _label(OrganisationKind, value)
    if field == "themes":
        return ", ".join(_names("themes", value).get(slug, slug) for slug in value)
    if field == "publics":
        return ", ".join(_names("publics", value).get(slug, slug) for slug in value)
    if field == "departements":
        names = _names("departements", value)
        return ", ".join(f"{names.get(code, code)} ({code})" for code in value)
    if field == "commune_code":
        return _commune(value)
    if field == "logo_path":  # shown, not named: a pending logo through the signed-in route
        return logo_preview(value, "Logo")
    if field == "organisations":
        names = _names("organisations", [link.get("slug") for link in value])
        return "; ".join(
            f"{names.get(link.get('slug'), link.get('slug'))} "
            f"({_label(OrganisationRole, link.get('role'))})"
            for link in value
        )
    if field == "places":
        return "; ".join(_place(place) for place in value)
    return value


def _label(enum_cls: type, value: Any) -> str:
    try:
        return enum_cls(value).label
    except ValueError:
        return str(value)


def _commune(code: str | None) -> str:
    return _names("communes", [code]).get(code, code) if code else ""


def _place(place: dict) -> str:
    parts = [place.get("label"), place.get("address"), _commune(place.get("commune_code"))]
    text = ", ".join(part for part in parts if part)
    if place.get("latitude") is not None and place.get("longitude") is not None:
        text += f" ({place['latitude']:.5f}, {place['longitude']:.5f})"
    return text or "(lieu sans précision)"


def _entry_name(entry: Initiative | Organisation | None, revision: Revision | None = None) -> str:
    if entry is not None:
        return entry.title if isinstance(entry, Initiative) else entry.name
    snap = revision.snapshot if revision is not None else {}
    return snap.get("title") or snap.get("name") or "(fiche supprimée)"


def _render(template: str, **context: Any):
    context.setdefault("present", present)
    context.setdefault("state_labels", STATE_LABELS)
    context.setdefault("state_badges", STATE_BADGES)
    context.setdefault("entry_name", _entry_name)
    context.setdefault("entry_url", entry_url)
    return render_template(template, **context)


def _revision_or_404(revision_id: int) -> Revision:
    return db.get_or_404(Revision, revision_id)


def _entry_or_404(kind: str, slug: str) -> Initiative | Organisation:
    entry = workflow.find_entry(KINDS.get(kind, ""), slug)
    if entry is None:
        abort(404)
    return entry


def entry_url(action: str, entry: Initiative | Organisation) -> str:
    """Address of a staff page of ``entry``: action is history, archive or unarchive."""
    return url_for(f"staff.{workflow.entity_type(entry)}_{action}", slug=entry.slug)


def _history_url(entry: Initiative | Organisation) -> str:
    return entry_url("history", entry)


# -- landing and queue ---------------------------------------------------------------------


@bp.get("/")
def index():
    counts = workflow.queue_counts()
    return _render(
        "staff/index.html",
        counts=counts,
        total=sum(counts.values()),
        queue_types=QUEUE_TYPES,
        queue_actions=QUEUE_ACTIONS,
    )


@bp.get("/propositions")
def queue():
    args = request.args
    organisations = workflow.queue_organisations()
    by_slug = {organisation.slug: organisation for organisation in organisations}
    chosen_organisation = by_slug.get(args.get("organisation", ""))
    departement = args.get("departement", "")
    departement = departement if departement in COVERED_DEPARTEMENTS else ""
    entity_type = args.get("type", "")
    entity_type = entity_type if entity_type in QUEUE_TYPES else ""
    action = args.get("action", "")
    action = action if action in QUEUE_ACTIONS else ""
    page = workflow.review_queue(
        organisation_id=chosen_organisation.id if chosen_organisation else None,
        departement=departement or None,
        entity_type=entity_type or None,
        action=action or None,
        page=parse_page(args.get("page")),
    )
    entries = {revision.id: workflow.entry_of(revision) for revision in page.items}
    departements = workflow.covered_departements()
    return _render(
        "staff/queue.html",
        page=page,
        entries=entries,
        organisations=organisations,
        departements=departements,
        filters={
            "organisation": chosen_organisation.slug if chosen_organisation else "",
            "departement": departement,
            "type": entity_type,
            "action": action,
        },
        queue_types=QUEUE_TYPES,
        queue_actions=QUEUE_ACTIONS,
    )


# -- one proposal ---------------------------------------------------------------------------


def _proposal_page(
    revision: Revision,
    approve_form: ApproveForm | None = None,
    reject_form: RejectForm | None = None,
    status: int = 200,
):
    entry = workflow.entry_of(revision)
    return (
        _render(
            "staff/proposal.html",
            revision=revision,
            entry=entry,
            changes=workflow.changes_of(revision),
            outdated=workflow.is_outdated(revision),
            approve_form=approve_form or ApproveForm(prefix="accepter"),
            reject_form=reject_form or RejectForm(prefix="refuser"),
        ),
        status,
    )


@bp.get("/propositions/<int:revision_id>")
def proposal(revision_id: int):
    return _proposal_page(_revision_or_404(revision_id))


@bp.post("/propositions/<int:revision_id>/accepter")
def approve(revision_id: int):
    revision = _revision_or_404(revision_id)
    return _decide(
        revision,
        ApproveForm(prefix="accepter"),
        "approve_form",
        workflow.approve,
        lambda: (
            f"Proposition acceptée : « {_entry_name(workflow.entry_of(revision), revision)} » "
            "est à jour et son auteur a été prévenu."
        ),
    )


@bp.post("/propositions/<int:revision_id>/refuser")
def reject(revision_id: int):
    return _decide(
        _revision_or_404(revision_id),
        RejectForm(prefix="refuser"),
        "reject_form",
        workflow.reject,
        lambda: "Proposition refusée : son auteur a été prévenu, avec votre motif.",
    )


def _decide(revision: Revision, form, form_name: str, decide, done: Callable[[], str]):
    """Accept or refuse: the form, the workflow's answer, and where the curator goes next."""
    if not form.validate():
        return _proposal_page(revision, status=400, **{form_name: form})
    try:
        decide(current_user, revision, form.comment.data or "")
    except workflow.NotAllowed:
        abort(403)
    except workflow.InvalidTransition as error:
        flash(str(error), "error")
        return redirect(url_for("staff.proposal", revision_id=revision.id))
    except workflow.WorkflowError as error:
        if error.field == "comment":
            form.comment.errors = [str(error)]
            return _proposal_page(revision, status=400, **{form_name: form})
        flash(f"La proposition n’a pas pu être appliquée : {error}", "error")
        return redirect(url_for("staff.proposal", revision_id=revision.id))
    flash(done(), "success")
    return redirect(url_for("staff.queue"))


# -- history, versions, restore, archive ---------------------------------------------------


def history(kind: str, slug: str):
    entry = _entry_or_404(kind, slug)
    return _render(
        "staff/history.html",
        entry=entry,
        kind=kind,
        items=workflow.history_items(entry),
        archive_form=ArchiveForm(),
        confirm_form=ConfirmForm(),
    )


@bp.get("/revisions/<int:revision_id>")
def revision(revision_id: int):
    revision = _revision_or_404(revision_id)
    entry = workflow.entry_of(revision)
    labels = workflow.FIELD_LABELS
    fields = [(labels.get(key, key), key, value) for key, value in revision.snapshot.items()]
    return _render(
        "staff/revision.html",
        revision=revision,
        entry=entry,
        fields=fields,
        confirm_form=ConfirmForm(),
    )


@bp.post("/revisions/<int:revision_id>/restaurer")
def restore(revision_id: int):
    revision = _revision_or_404(revision_id)
    try:
        restored = workflow.restore(current_user, revision)
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        flash(str(error), "error")
        return redirect(url_for("staff.revision", revision_id=revision_id))
    entry = workflow.entry_of(restored)
    flash(f"La version n° {revision.id} a été restaurée.", "success")
    return redirect(_history_url(entry))


def archive(kind: str, slug: str):
    entry = _entry_or_404(kind, slug)
    form = ArchiveForm()
    if not form.validate():
        for message in form.reason.errors:
            flash(f"Archivage impossible : {message}", "error")
        return redirect(_history_url(entry))
    try:
        workflow.archive(current_user, entry, form.reason.data or "")
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        flash(str(error), "error")
        return redirect(_history_url(entry))
    flash(
        f"La fiche « {_entry_name(entry)} » est archivée : elle n’apparaît plus sur le site "
        "public.",
        "success",
    )
    return redirect(_history_url(entry))


def unarchive(kind: str, slug: str):
    entry = _entry_or_404(kind, slug)
    try:
        workflow.unarchive(current_user, entry)
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        flash(str(error), "error")
        return redirect(_history_url(entry))
    flash(f"La fiche « {_entry_name(entry)} » est de nouveau publiée.", "success")
    return redirect(_history_url(entry))


def _bind(view, segment: str):
    @wraps(view)
    def bound(slug: str):
        return view(segment, slug)

    return bound


# One address per kind of entry: /gestion/initiatives/<slug>/historique, /gestion/organisations/...
for _segment, _entity in KINDS.items():
    for _path, _view, _methods in (
        ("historique", history, ["GET"]),
        ("archiver", archive, ["POST"]),
        ("desarchiver", unarchive, ["POST"]),
    ):
        bp.add_url_rule(
            f"/{_segment}/<slug>/{_path}",
            endpoint=f"{_entity}_{_view.__name__}",
            view_func=_bind(_view, _segment),
            methods=_methods,
        )
