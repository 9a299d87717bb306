"""Staff pages for the cycle's events (/gestion/evenements): event, initiatives, programme,
speakers of each programme item, workshops with their restitution, organisations.

Views parse the form, call ``services.events_admin`` or ``services.event_people`` (which audit
and commit) and render.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..guards import classify
from ..models import EventKind, EventRole, ProgrammeKind, SpeakerPart, Status
from ..services import event_people, events_admin
from .event_forms import (
    EventForm,
    ItemForm,
    OrganisationLinkForm,
    SpeakerAddForm,
    SpeakerForm,
    WorkshopForm,
)
from .forms import commune_label

bp = classify(Blueprint("staff_events", __name__, url_prefix="/gestion/evenements"), "staff")


def _event(slug: str):
    return events_admin.get_event(slug) or abort(404)


def _posted_id(name: str) -> int | None:
    """A posted id: None when left empty, 0 (which matches nothing) when not a number."""
    value = str(request.form.get(name) or "").strip()
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 0


def _direction() -> str:
    direction = str(request.form.get("direction") or "")
    if direction not in ("up", "down"):
        abort(400)
    return direction


# -- events ------------------------------------------------------------------------------------


@bp.get("/")
def index():
    return render_template("staff_events/index.html", events=events_admin.list_events())


@bp.route("/nouveau", methods=["GET", "POST"])
def create():
    form = EventForm()
    if request.method == "GET":
        form.kind.data = EventKind.ATELIER_TERRITORIAL.value
        form.status.data = Status.DRAFT.value
    if form.validate_on_submit():
        try:
            event = events_admin.create_event(current_user, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash(f"L’événement « {event.title} » a été créé.", "success")
            return redirect(url_for(".edit", slug=event.slug), code=303)
    return render_template("staff_events/form.html", form=form, event=None)


@bp.route("/<slug>/modifier", methods=["GET", "POST"])
def edit(slug: str):
    event = _event(slug)
    form = EventForm()
    if request.method == "GET":
        for name in events_admin.EVENT_FIELDS:
            if name in form and name != "commune_code":
                value = getattr(event, name)
                form[name].data = value.value if hasattr(value, "value") else value
        form.commune.data = commune_label(event.commune) if event.commune else ""
        form.commune_code.data = event.commune_code or ""
        form.version.data = str(event.version)
    if form.validate_on_submit():
        version = int(form.version.data) if str(form.version.data or "").isdigit() else None
        try:
            events_admin.update_event(current_user, event, form.to_data(), version)
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash("Les modifications ont été enregistrées.", "success")
            return redirect(url_for(".edit", slug=event.slug), code=303)
    return render_template(
        "staff_events/form.html",
        form=form,
        event=event,
        round_tables=events_admin.round_tables(event),
        presented_at=events_admin.presented_at(event),
    )


# -- initiatives presented ---------------------------------------------------------------------


@bp.post("/<slug>/initiatives/ajouter")
def add_initiative(slug: str):
    event = _event(slug)
    try:
        initiative = events_admin.add_initiative(
            current_user,
            event,
            str(request.form.get("initiative") or ""),
            _posted_id("table_ronde"),
        )
    except events_admin.EventError as error:
        flash(str(error), "error")
    else:
        flash(f"« {initiative.title} » est présentée à cet événement.", "success")
    return redirect(url_for(".edit", slug=event.slug, _anchor="initiatives"), code=303)


@bp.post("/<slug>/initiatives/<initiative>/table-ronde")
def change_round_table(slug: str, initiative: str):
    event = _event(slug)
    try:
        presented, item = events_admin.change_round_table(
            current_user, event, initiative, _posted_id("table_ronde")
        )
    except events_admin.EventError as error:
        flash(str(error), "error")
    else:
        where = f"à « {item.title} »" if item else "à une table ronde non précisée"
        flash(f"« {presented.title} » est présentée {where}.", "success")
    return redirect(url_for(".edit", slug=event.slug, _anchor="initiatives"), code=303)


@bp.post("/<slug>/initiatives/<initiative>/retirer")
def remove_initiative(slug: str, initiative: str):
    event = _event(slug)
    try:
        removed = events_admin.remove_initiative(current_user, event, initiative)
    except events_admin.EventError as error:
        flash(str(error), "error")
    else:
        flash(f"« {removed.title} » n’est plus présentée à cet événement.", "success")
    return redirect(url_for(".edit", slug=event.slug, _anchor="initiatives"), code=303)


# -- programme ---------------------------------------------------------------------------------


def _item(event, item_id: int):
    return events_admin.get_item(event, item_id) or abort(404)


@bp.route("/<slug>/programme", methods=["GET", "POST"])
def programme(slug: str):
    event = _event(slug)
    form = ItemForm()
    if request.method == "GET":
        form.kind.data = ProgrammeKind.PRESENTATION.value
    if form.validate_on_submit():
        try:
            item = events_admin.add_item(current_user, event, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash(f"« {item.title} » a été ajouté au programme.", "success")
            return redirect(url_for(".programme", slug=event.slug), code=303)
    return render_template("staff_events/programme.html", event=event, form=form)


def _item_page(event, item, form=None, speaker_form=None):
    """The item's page: its fields and its speakers, each form kept when it has errors."""
    if form is None:
        form = ItemForm(formdata=None, obj=item)
        form.kind.data = item.kind.value
    if speaker_form is None:
        speaker_form = SpeakerAddForm(formdata=None, event=event, prefix="intervenant")
        speaker_form.part.data = SpeakerPart.INTERVENANT.value
    return render_template(
        "staff_events/item.html",
        event=event,
        item=item,
        form=form,
        speaker_form=speaker_form,
    )


@bp.route("/<slug>/programme/<int:item_id>/modifier", methods=["GET", "POST"])
def edit_item(slug: str, item_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    if request.method == "GET":
        return _item_page(event, item)
    form = ItemForm()
    if form.validate_on_submit():
        try:
            events_admin.update_item(current_user, event, item, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash("L’élément du programme a été modifié.", "success")
            return redirect(url_for(".programme", slug=event.slug), code=303)
    return _item_page(event, item, form=form)


@bp.post("/<slug>/programme/<int:item_id>/supprimer")
def delete_item(slug: str, item_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    title = item.title
    events_admin.delete_item(current_user, event, item)
    flash(f"« {title} » a été retiré du programme.", "success")
    return redirect(url_for(".programme", slug=event.slug), code=303)


@bp.post("/<slug>/programme/<int:item_id>/deplacer")
def move_item(slug: str, item_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    events_admin.move_item(current_user, event, item, _direction())
    return redirect(url_for(".programme", slug=event.slug, _anchor=f"element-{item.id}"), code=303)


# -- speakers of a programme item --------------------------------------------------------------


def _speaker_link(item, speaker_id: int):
    return event_people.get_speaker_link(item, speaker_id) or abort(404)


def _back_to_item(event, item, anchor: str = "intervenants"):
    return redirect(
        url_for(".edit_item", slug=event.slug, item_id=item.id, _anchor=anchor), code=303
    )


@bp.post("/<slug>/programme/<int:item_id>/intervenants")
def add_speaker(slug: str, item_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    form = SpeakerAddForm(event=event, prefix="intervenant")
    if form.validate_on_submit():
        try:
            link = event_people.add_speaker(
                current_user,
                event,
                item,
                SpeakerPart(form.part.data),
                speaker_id=form.speaker_id,
                data=None if form.speaker_id else form.speaker_data(),
            )
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash(f"« {link.speaker.name} » a été ajouté·e aux intervenants.", "success")
            return _back_to_item(event, item)
    return _item_page(event, item, speaker_form=form)


@bp.route(
    "/<slug>/programme/<int:item_id>/intervenants/<int:speaker_id>/modifier",
    methods=["GET", "POST"],
)
def edit_speaker(slug: str, item_id: int, speaker_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    speaker = _speaker_link(item, speaker_id).speaker
    form = SpeakerForm(obj=speaker, speaker=speaker) if request.method == "GET" else None
    form = form or SpeakerForm(speaker=speaker)
    if request.method == "GET":
        form.organisation.data = speaker.organisation.slug if speaker.organisation else ""
    if form.validate_on_submit():
        try:
            event_people.update_speaker(current_user, event, speaker, form.speaker_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash("L’intervenant a été modifié.", "success")
            return _back_to_item(event, item)
    return render_template(
        "staff_events/speaker.html",
        event=event,
        item=item,
        speaker=speaker,
        form=form,
        other_uses=event_people.other_uses(speaker, item),
    )


@bp.post("/<slug>/programme/<int:item_id>/intervenants/<int:speaker_id>/retirer")
def remove_speaker(slug: str, item_id: int, speaker_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    link = _speaker_link(item, speaker_id)
    name = link.speaker.name
    event_people.remove_speaker(current_user, event, item, link)
    flash(f"« {name} » a été retiré·e des intervenants de « {item.title} ».", "success")
    return _back_to_item(event, item)


@bp.post("/<slug>/programme/<int:item_id>/intervenants/<int:speaker_id>/deplacer")
def move_speaker(slug: str, item_id: int, speaker_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    link = _speaker_link(item, speaker_id)
    event_people.move_speaker(current_user, event, item, link, _direction())
    return _back_to_item(event, item, anchor=f"intervenant-{speaker_id}")


# -- workshops and their restitution -----------------------------------------------------------


def _workshop(event, workshop_id: int):
    return event_people.get_workshop(event, workshop_id) or abort(404)


@bp.route("/<slug>/ateliers", methods=["GET", "POST"])
def workshops(slug: str):
    event = _event(slug)
    form = WorkshopForm()
    if form.validate_on_submit():
        try:
            workshop = event_people.add_workshop(current_user, event, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash(f"L’atelier « {workshop.title} » a été ajouté.", "success")
            return redirect(url_for(".workshops", slug=event.slug), code=303)
    return render_template("staff_events/workshops.html", event=event, form=form)


@bp.route("/<slug>/ateliers/<int:workshop_id>/modifier", methods=["GET", "POST"])
def edit_workshop(slug: str, workshop_id: int):
    event = _event(slug)
    workshop = _workshop(event, workshop_id)
    form = WorkshopForm(obj=workshop) if request.method == "GET" else WorkshopForm()
    if form.validate_on_submit():
        try:
            event_people.update_workshop(current_user, event, workshop, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash("L’atelier a été modifié.", "success")
            anchor = f"atelier-{workshop.id}"
            return redirect(url_for(".workshops", slug=event.slug, _anchor=anchor), code=303)
    return render_template("staff_events/workshop.html", event=event, workshop=workshop, form=form)


@bp.post("/<slug>/ateliers/<int:workshop_id>/supprimer")
def delete_workshop(slug: str, workshop_id: int):
    event = _event(slug)
    workshop = _workshop(event, workshop_id)
    title = workshop.title
    event_people.delete_workshop(current_user, event, workshop)
    flash(f"L’atelier « {title} » a été supprimé.", "success")
    return redirect(url_for(".workshops", slug=event.slug), code=303)


@bp.post("/<slug>/ateliers/<int:workshop_id>/deplacer")
def move_workshop(slug: str, workshop_id: int):
    event = _event(slug)
    workshop = _workshop(event, workshop_id)
    event_people.move_workshop(current_user, event, workshop, _direction())
    return redirect(
        url_for(".workshops", slug=event.slug, _anchor=f"atelier-{workshop.id}"), code=303
    )


# -- organisers, partners and host -------------------------------------------------------------


def _organisation_link(event, organisation_id: int, role: str):
    return event_people.get_organisation_link(event, organisation_id, role) or abort(404)


@bp.route("/<slug>/organisations", methods=["GET", "POST"])
def organisations(slug: str):
    event = _event(slug)
    form = OrganisationLinkForm()
    if request.method == "GET":
        form.role.data = EventRole.PARTENAIRE.value
    if form.validate_on_submit():
        try:
            link = event_people.add_organisation(
                current_user, event, form.organisation.data, EventRole(form.role.data)
            )
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash(
                f"« {link.organisation.name} » a été ajoutée ({link.role.label.lower()}).",
                "success",
            )
            return redirect(url_for(".organisations", slug=event.slug), code=303)
    return render_template(
        "staff_events/organisations.html",
        event=event,
        form=form,
        groups=event_people.organisation_links_by_role(event),
    )


@bp.post("/<slug>/organisations/<int:organisation_id>/<role>/retirer")
def remove_organisation(slug: str, organisation_id: int, role: str):
    event = _event(slug)
    link = _organisation_link(event, organisation_id, role)
    label = link.role.label.lower()
    organisation = event_people.remove_organisation(current_user, event, link)
    flash(
        f"« {organisation.name} » n’est plus rattachée à cet événement comme « {label} ».",
        "success",
    )
    return redirect(url_for(".organisations", slug=event.slug), code=303)


@bp.post("/<slug>/organisations/<int:organisation_id>/<role>/deplacer")
def move_organisation(slug: str, organisation_id: int, role: str):
    event = _event(slug)
    link = _organisation_link(event, organisation_id, role)
    event_people.move_organisation(current_user, event, link, _direction())
    return redirect(
        url_for(
            ".organisations", slug=event.slug, _anchor=f"organisation-{role}-{organisation_id}"
        ),
        code=303,
    )
