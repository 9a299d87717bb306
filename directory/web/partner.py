"""Partner space (/espace-partenaire): dashboard, organisation profile and initiative forms.

Staff use the same forms (they may edit anything; the workflow applies their changes at once).
Views load the entry, check the rules of ``services.permissions`` (404 for entries the person may
not even see, 403 for what they may see but not change), then hand the form's snapshot to
``services.workflow``, which decides between a proposal and a direct change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import CombinedMultiDict

from ..extensions import db
from ..guards import classify
from ..models import (
    Initiative,
    Organisation,
    OrganisationRole,
    Revision,
    RevisionState,
    Status,
)
from ..richtext import rich_text
from ..services import duplicates, gazetteer, permissions, revisions, workflow
from . import forms

bp = classify(Blueprint("partner", __name__, url_prefix="/espace-partenaire"), "partner")

PROPOSED_MESSAGE = (
    "Votre proposition a été transmise à l’équipe de la DRJSCS. Elle sera publiée après "
    "relecture ; vous pouvez suivre son état sur cette page."
)
PUBLISHED_MESSAGE = "Modifications publiées."
CREATED_MESSAGE = "Initiative publiée."
STALE_TITLE = "Quelqu’un d’autre a modifié cette fiche"


@bp.record_once
def _register_filters(state) -> None:
    state.app.jinja_env.filters.setdefault("rich_text", rich_text)


# -- dashboard ----------------------------------------------------------------------------------


@dataclass
class EntryState:
    """An entry on the dashboard with its latest proposal (pending or refused), if any."""

    entry: Initiative | Organisation
    pending: Revision | None = None
    refused: Revision | None = None


@dataclass
class OrganisationBlock:
    organisation: EntryState
    initiatives: list[EntryState] = field(default_factory=list)


def _entry_state(entry: Initiative | Organisation) -> EntryState:
    history = workflow.history(entry)
    latest = history[0] if history else None
    state = EntryState(entry)
    if latest is None:
        return state
    if latest.state == RevisionState.PROPOSED:
        state.pending = latest
    elif latest.state == RevisionState.REJECTED and latest.comment != revisions.SUPERSEDED_COMMENT:
        state.refused = latest
    return state


def _dashboard(user: Any) -> list[OrganisationBlock]:
    organisations = sorted(
        (membership.organisation for membership in user.memberships),
        key=lambda organisation: organisation.name.casefold(),
    )
    blocks = []
    for organisation in organisations:
        led = {
            link.initiative.id: link.initiative
            for link in organisation.initiative_links
            if link.role == OrganisationRole.PORTEUR
        }
        initiatives = sorted(led.values(), key=lambda i: (i.status != Status.PROPOSED, i.title))
        blocks.append(
            OrganisationBlock(_entry_state(organisation), [_entry_state(i) for i in initiatives])
        )
    return blocks


@bp.get("/")
def dashboard():
    return render_template(
        "partner/dashboard.html",
        blocks=_dashboard(current_user),
        is_staff=permissions.is_staff(current_user),
    )


# -- loading entries ---------------------------------------------------------------------------


def _organisation_or_404(slug: str) -> Organisation:
    organisation = forms.organisation_by_slug(slug)
    if organisation is None or not permissions.can_view_organisation(current_user, organisation):
        abort(404)
    return organisation


def _initiative_or_404(slug: str) -> Initiative:
    if not forms.is_slug(slug):  # a NUL byte would not even reach the database
        abort(404)
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    if initiative is None or not permissions.can_view_initiative(current_user, initiative):
        abort(404)
    return initiative


def _editing_snapshot(entry: Initiative | Organisation) -> tuple[dict, Revision | None]:
    """What the form starts from: the person's own pending proposal, else the entry itself."""
    mine = [
        revision
        for revision in workflow.pending_for(entry)
        if revision.author_id == current_user.id and isinstance(revision.snapshot, dict)
    ]
    if mine:
        return mine[-1].snapshot, mine[-1]
    return workflow.snapshot(entry), None


def _after_save(revision: Revision, entry: Initiative | Organisation, *, created: bool = False):
    if revision.state == RevisionState.APPLIED:
        flash(CREATED_MESSAGE if created else PUBLISHED_MESSAGE, "success")
        if entry.status == Status.PUBLISHED:
            endpoint = (
                "public.initiative" if isinstance(entry, Initiative) else "public.organisation"
            )
            return redirect(url_for(endpoint, slug=entry.slug))
    else:
        flash(PROPOSED_MESSAGE, "success")
    return redirect(url_for(".dashboard"))


def _row_action(form: forms.InitiativeForm) -> bool:
    """The « add a row » buttons: re-show the form with one more row, save nothing."""
    action = request.form.get("action")
    if action == "add_place":
        forms.add_place_row(form)
        return True
    if action == "add_organisation":
        forms.add_link_row(form)
        return True
    return False


# -- organisation -------------------------------------------------------------------------------


@bp.route("/organisations/<slug>/modifier", methods=["GET", "POST"])
def edit_organisation(slug: str):
    organisation = _organisation_or_404(slug)
    if not permissions.can_edit_organisation(current_user, organisation):
        abort(403)
    snapshot, pending = _editing_snapshot(organisation)
    if request.method == "GET":
        form = forms.build_organisation_form(
            organisation, snapshot=snapshot, token=workflow.edit_token(organisation)
        )
        return _organisation_page(organisation, form, pending=pending)

    form = forms.build_organisation_form(
        organisation,
        snapshot=snapshot,
        formdata=CombinedMultiDict((request.files, request.form)),
    )
    if not form.validate():
        return _organisation_page(organisation, form, pending=pending), 422
    try:
        revision = workflow.submit_organisation(
            current_user, form.to_snapshot(), organisation=organisation, token=form.token.data
        )
    except workflow.StaleEdit as error:
        return _organisation_page(organisation, form, pending=pending, stale=str(error)), 409
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        error_message = (
            None if forms.apply_service_error(form, error.field, str(error)) else str(error)
        )
        return _organisation_page(organisation, form, pending=pending, error=error_message), 422
    return _after_save(revision, organisation)


def _organisation_page(organisation, form, *, pending=None, stale=None, error=None):
    return render_template(
        "partner/organisation_form.html",
        organisation=organisation,
        form=form,
        pending=pending,
        stale=stale,
        service_error=error,
        direct=permissions.publishes_directly(current_user, organisation),
    )


# -- initiatives --------------------------------------------------------------------------------


@bp.route("/initiatives/nouvelle", methods=["GET", "POST"])
def new_initiative():
    lead = None
    slug = request.args.get("organisation", "").strip()
    if slug:
        lead = _organisation_or_404(slug)
        if not permissions.can_create_initiative_for(current_user, lead):
            abort(403)
    elif not permissions.is_staff(current_user):
        mine = [
            m.organisation
            for m in current_user.memberships
            if permissions.can_create_initiative_for(current_user, m.organisation)
        ]
        if not mine:
            abort(403)
        if len(mine) == 1:
            lead = mine[0]

    if request.method == "GET":
        form = forms.build_initiative_form(current_user, lead=lead)
        return _initiative_page(None, form, lead=lead)

    form = forms.build_initiative_form(current_user, formdata=request.form)
    if _row_action(form):
        return _initiative_page(None, form, lead=lead)
    if not form.validate():
        return _initiative_page(None, form, lead=lead), 422
    likely = _likely_duplicates(form)
    if likely:
        return _initiative_page(None, form, lead=lead, likely=likely)
    try:
        revision = workflow.submit_initiative(
            current_user, form.to_snapshot(), organisation=form.lead_organisation()
        )
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        error_message = (
            None if forms.apply_service_error(form, error.field, str(error)) else str(error)
        )
        return _initiative_page(None, form, lead=lead, error=error_message), 422
    initiative = db.session.get(Initiative, revision.entity_id)
    return _after_save(revision, initiative, created=True)


@bp.route("/initiatives/<slug>/modifier", methods=["GET", "POST"])
def edit_initiative(slug: str):
    initiative = _initiative_or_404(slug)
    if not permissions.can_edit_initiative(current_user, initiative):
        abort(403)
    snapshot, pending = _editing_snapshot(initiative)
    if request.method == "GET":
        form = forms.build_initiative_form(
            current_user,
            initiative=initiative,
            snapshot=snapshot,
            token=workflow.edit_token(initiative),
        )
        return _initiative_page(initiative, form, pending=pending)

    form = forms.build_initiative_form(current_user, initiative=initiative, formdata=request.form)
    if _row_action(form):
        return _initiative_page(initiative, form, pending=pending)
    if not form.validate():
        return _initiative_page(initiative, form, pending=pending), 422
    try:
        revision = workflow.submit_initiative(
            current_user,
            form.to_snapshot(),
            initiative=initiative,
            organisation=form.lead_organisation(),
            token=form.token.data,
        )
    except workflow.StaleEdit as error:
        return _initiative_page(initiative, form, pending=pending, stale=str(error)), 409
    except workflow.NotAllowed:
        abort(403)
    except workflow.WorkflowError as error:
        error_message = (
            None if forms.apply_service_error(form, error.field, str(error)) else str(error)
        )
        return _initiative_page(initiative, form, pending=pending, error=error_message), 422
    return _after_save(revision, initiative)


def _likely_duplicates(form: forms.InitiativeForm) -> list:
    """Entries that may already describe this new initiative, until the person confirms."""
    if request.form.get("creer_quand_meme") == "1":
        return []
    found = duplicates.find_duplicates("initiative", form.to_snapshot())
    return [c for c in found if permissions.can_view_initiative(current_user, c.entry)]


def _initiative_page(
    initiative, form, *, lead=None, pending=None, stale=None, error=None, likely=None
):
    organisation = lead or form.lead_organisation()
    if initiative is not None:
        direct = permissions.is_staff(current_user) or any(
            permissions.publishes_directly(current_user, o) for o in initiative.lead_organisations
        )
    else:
        direct = permissions.publishes_directly(current_user, organisation)
    return render_template(
        "partner/initiative_form.html",
        initiative=initiative,
        lead=organisation,
        form=form,
        pending=pending,
        stale=stale,
        service_error=error,
        direct=direct,
        duplicates=likely,
    )


# -- commune autocomplete --------------------------------------------------------------------


@bp.get("/communes")
def communes():
    """Communes for the place fields: by name (accents optional) or postcode, as JSON."""
    query = request.args.get("q", "").replace("\x00", "").strip()[:100]
    found = gazetteer.find_communes(query, limit=10) if query else []
    return jsonify(
        [
            {
                "code": commune.code,
                "name": commune.name,
                "postcode": query
                if query.isdigit() and query in commune.postcode_list
                else (commune.postcode_list[0] if commune.postcode_list else ""),
                "departement": commune.departement_code,
                "label": forms.commune_label(commune),
                "latitude": commune.latitude,
                "longitude": commune.longitude,
            }
            for commune in found
        ]
    )
