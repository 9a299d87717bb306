"""Forms of the staff pages for events (``staff_events``): the event, a programme item, a
speaker, a workshop and an organisation of the event."""

from __future__ import annotations

from wtforms import HiddenField, SelectChoice, StringField, TextAreaField, ValidationError
from wtforms.fields import DateField, TimeField
from wtforms.validators import Optional as OptionalValue

from ..models import STATUS_LABELS, EventKind, EventRole, ProgrammeKind, SpeakerPart, Status
from ..models.event import PROGRAMME_KIND_LABELS
from ..services import event_people, events_admin
from .forms import (
    BaseForm,
    ChoiceField,
    CommuneMixin,
    _commune_fields,
    _length,
    _strip,
    no_markup,
    partner_choices,
    safe_text,
    text_field,
)

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
    kind = ChoiceField("Type", choices=[SelectChoice(kind.value, kind.label) for kind in EventKind])
    status = ChoiceField(
        "Statut",
        choices=[SelectChoice(status.value, STATUS_LABELS[status]) for status in Status],
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
        "Nature",
        choices=[SelectChoice(kind.value, PROGRAMME_KIND_LABELS[kind]) for kind in ProgrammeKind],
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


def _speaker_role() -> StringField:
    return text_field("Fonction", 300, description="Telle qu’annoncée au programme.")


def _organisation_choice() -> ChoiceField:
    # Left out of a post (as a browser never would): none chosen, not a wrong choice.
    return ChoiceField("Organisation de l’annuaire", choices=[], default="")


def _organisation_name() -> StringField:
    return text_field(
        "Autre organisation",
        300,
        description="Si elle n’est pas publiée dans l’annuaire : son nom.",
    )


class SpeakerFieldsMixin:
    """Checks and data shared by the forms that say who a speaker is."""

    def validate_organisation_name(self, field) -> None:
        if field.data and self.organisation.data:
            raise ValidationError(
                "Choisissez une organisation de l’annuaire ou saisissez un nom, pas les deux."
            )

    def speaker_data(self) -> event_people.SpeakerData:
        return event_people.SpeakerData(
            name=self.name.data,
            role=self.role.data or None,
            organisation_slug=self.organisation.data or None,
            organisation_name=self.organisation_name.data or None,
        )


class SpeakerAddForm(SpeakerFieldsMixin, BaseForm):
    speaker = ChoiceField("Intervenant déjà enregistré", choices=[], default="")
    part = ChoiceField(
        "Rôle dans la séquence", choices=[SelectChoice(p.value, p.label) for p in SpeakerPart]
    )
    name = text_field("Nom", 200, description="Pour un nouvel intervenant : prénom et nom.")
    role = _speaker_role()
    organisation = _organisation_choice()
    organisation_name = _organisation_name()

    def __init__(self, *args, event=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.speaker.choices = [
            SelectChoice("", "— Nouvel intervenant (à saisir ci-dessous) —")
        ] + [
            SelectChoice(str(speaker.id), speaker_label(speaker))
            for speaker in event_people.speaker_choices(event)
        ]
        self.organisation.choices = partner_choices(None)

    def validate_speaker(self, field) -> None:
        new_fields = (self.name, self.role, self.organisation, self.organisation_name)
        if field.data and any(other.data for other in new_fields):
            raise ValidationError(
                "Choisissez un intervenant déjà enregistré ou saisissez un nouvel intervenant, "
                "pas les deux."
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Checked here: the name's own checks stop at an empty value.
        if not self.speaker.data and not self.name.data and not self.name.errors:
            self.name.errors.append(
                "Indiquez le nom du nouvel intervenant ou choisissez-le dans la liste."
            )
            return False
        return valid

    @property
    def speaker_id(self) -> int | None:
        return int(self.speaker.data) if self.speaker.data else None


class SpeakerForm(SpeakerFieldsMixin, BaseForm):
    name = text_field("Nom", 200, required=True)
    role = _speaker_role()
    organisation = _organisation_choice()
    organisation_name = _organisation_name()

    def __init__(self, *args, speaker=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation.choices = partner_choices(None)
        # Their organisation stays on offer once unpublished, so that saving keeps it.
        current = speaker.organisation if speaker is not None else None
        if current is not None and current.status != Status.PUBLISHED:
            self.organisation.choices.append(
                SelectChoice(current.slug, f"{current.name} (non publiée)")
            )


def speaker_label(speaker) -> str:
    """ "Name, role (organisation)", to tell two speakers apart in a list."""
    organisation = speaker.organisation.name if speaker.organisation else speaker.organisation_name
    label = speaker.name + (f", {speaker.role}" if speaker.role else "")
    return label + (f" ({organisation})" if organisation else "")


class WorkshopForm(BaseForm):
    title = text_field("Intitulé", 300, required=True)
    description = _prose("Description", description="Le sujet, les questions de départ.")
    restitution = _prose(
        "Restitution", description="Ce que le sous-groupe a rapporté. Une idée par paragraphe."
    )

    def to_data(self) -> event_people.WorkshopData:
        return event_people.WorkshopData(
            title=self.title.data,
            description=self.description.data or None,
            restitution=self.restitution.data or None,
        )


class OrganisationLinkForm(BaseForm):
    organisation = ChoiceField("Organisation publiée", choices=[], default="")
    role = ChoiceField("Rôle", choices=[SelectChoice(role.value, role.label) for role in EventRole])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation.choices = partner_choices(None)

    def validate_organisation(self, field) -> None:
        if not field.data:
            raise ValidationError("Choisissez une organisation.")
