"""Staff pages for the cycle's events (/gestion/evenements): event, initiatives, programme.

Views parse the form, call ``services.events_admin`` (which audits and commits) and render.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import HiddenField, TextAreaField, ValidationError
from wtforms.fields import DateField, TimeField
from wtforms.validators import Optional as OptionalValue

from ..models import STATUS_LABELS, EventKind, ProgrammeKind, Status
from ..models.event import PROGRAMME_KIND_LABELS
from ..services import events_admin
from .forms import (
    BaseForm,
    ChoiceField,
    CommuneMixin,
    _commune_fields,
    _length,
    _strip,
    commune_label,
    no_markup,
    safe_text,
    text_field,
)
from .guards import classify

bp = classify(Blueprint("staff_events", __name__, url_prefix="/gestion/evenements"), "staff")

DESCRIPTION_MAX_LENGTH = 20000


def _prose(label: str, maximum: int = DESCRIPTION_MAX_LENGTH, **kwargs) -> TextAreaField:
    return TextAreaField(
        label,
        [OptionalValue(), safe_text(multiline=True), _length(maximum), no_markup],
        filters=[_strip],
        **kwargs,
    )


def _time(label: str) -> TimeField:
    return TimeField(label, [OptionalValue()], format="%H:%M")


class EventForm(CommuneMixin, BaseForm):
    title = text_field("Titre", 300, required=True)
    kind = ChoiceField("Type", choices=[(kind.value, kind.label) for kind in EventKind])
    status = ChoiceField(
        "Statut",
        choices=[(status.value, STATUS_LABELS[status]) for status in Status],
        description="Seul un événement publié est visible du public.",
    )
    cycle = text_field("Cycle", 200, description="Par exemple « Ateliers territoriaux 2019 ».")
    theme = text_field("Thème", 300)
    date = DateField("Date", [OptionalValue()], description="Format : jj/mm/aaaa.")
    starts_at = _time("Heure de début")
    ends_at = _time("Heure de fin")
    venue = text_field("Lieu", 300, description="Nom de la salle ou de l’établissement.")
    address = text_field("Adresse", 300)
    commune, commune_code = _commune_fields()
    description = _prose("Présentation")
    source = text_field("Source", 300, description="D’où viennent ces informations.")
    version = HiddenField()

    def validate_ends_at(self, field) -> None:
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError("L’heure de fin doit suivre l’heure de début.")

    def to_data(self) -> events_admin.EventData:
        commune = self.resolved_commune
        return events_admin.EventData(
            title=self.title.data,
            kind=EventKind(self.kind.data),
            status=Status(self.status.data),
            cycle=self.cycle.data or None,
            theme=self.theme.data or None,
            description=self.description.data or None,
            date=self.date.data,
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            venue=self.venue.data or None,
            address=self.address.data or None,
            commune_code=commune.code if commune else None,
            source=self.source.data or None,
        )


class ItemForm(BaseForm):
    kind = ChoiceField(
        "Nature", choices=[(kind.value, PROGRAMME_KIND_LABELS[kind]) for kind in ProgrammeKind]
    )
    title = text_field("Intitulé", 300, required=True)
    section = text_field("Partie", 200, description="Par exemple « Matinée – Appels d’air ».")
    starts_at = _time("Début")
    ends_at = _time("Fin")
    description = _prose("Description")
    questions = _prose("Questions posées", 5000, description="Une question par ligne.")

    def validate_ends_at(self, field) -> None:
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError("L’heure de fin doit suivre l’heure de début.")

    def to_data(self) -> events_admin.ItemData:
        return events_admin.ItemData(
            title=self.title.data,
            kind=ProgrammeKind(self.kind.data),
            section=self.section.data or None,
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            description=self.description.data or None,
            questions=self.questions.data or None,
        )


def _event(slug: str):
    return events_admin.get_event(slug) or abort(404)


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
    return render_template("staff_events/form.html", form=form, event=event)


# -- initiatives presented ---------------------------------------------------------------------


@bp.post("/<slug>/initiatives/ajouter")
def add_initiative(slug: str):
    event = _event(slug)
    try:
        initiative = events_admin.add_initiative(
            current_user, event, str(request.form.get("initiative") or "")
        )
    except events_admin.EventError as error:
        flash(str(error), "error")
    else:
        flash(f"« {initiative.title} » est présentée à cet événement.", "success")
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


@bp.route("/<slug>/programme/<int:item_id>/modifier", methods=["GET", "POST"])
def edit_item(slug: str, item_id: int):
    event = _event(slug)
    item = _item(event, item_id)
    form = ItemForm(obj=item) if request.method == "GET" else ItemForm()
    if request.method == "GET":
        form.kind.data = item.kind.value
    if form.validate_on_submit():
        try:
            events_admin.update_item(current_user, event, item, form.to_data())
        except events_admin.EventError as error:
            flash(str(error), "error")
        else:
            flash("L’élément du programme a été modifié.", "success")
            return redirect(url_for(".programme", slug=event.slug), code=303)
    return render_template("staff_events/item.html", event=event, item=item, form=form)


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
    direction = str(request.form.get("direction") or "")
    if direction not in ("up", "down"):
        abort(400)
    events_admin.move_item(current_user, event, item, direction)
    return redirect(url_for(".programme", slug=event.slug, _anchor=f"element-{item.id}"), code=303)
