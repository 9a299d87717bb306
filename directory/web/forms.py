"""Forms for organisations and initiatives (partner space, reused by staff editing).

Each form turns what a person typed into the snapshot format of ``services.workflow``
(``to_snapshot``) and never writes anything itself. Every message is in French; hostile input
(control characters, markup in plain fields, oversized text, wrong types, choices that are not
offered) is refused field by field, never with a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    FloatField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.meta import DefaultMeta
from wtforms.validators import Email, InputRequired, Length
from wtforms.validators import Optional as OptionalValue

from ..extensions import db
from ..models import (
    Commune,
    Departement,
    Initiative,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Public,
    Stage,
    Status,
    Theme,
)
from ..models.initiative import STAGE_LABELS, SUMMARY_MAX_LENGTH
from ..models.organisation import ORGANISATION_KIND_LABELS
from ..richtext import editable, sanitize
from ..services import gazetteer, media, permissions
from ..text import fold

RICH_TEXT_MAX_LENGTH = 20_000
MAX_PLACES = 20
MAX_LINKS = 30
YEAR_MIN, YEAR_MAX = 1900, 2100

# C0 controls and DEL, except tab, line feed and carriage return (kept in text areas).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\t]")
_TAG = re.compile(r"</?[a-zA-Z!?]")
_SLUG = re.compile(r"[A-Za-z0-9_-]{1,200}")
_PHONE = re.compile(r"^\+?[0-9 .()\-]{6,40}$")
_COMMUNE_WITH_HINT = re.compile(r"^(?P<name>.+?)\s*\((?P<hint>[0-9AB]{2,5})\)$", re.IGNORECASE)
_COMMUNE_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.IGNORECASE)


class FrenchMeta(DefaultMeta):
    """WTForms' own messages in French ("Valeur entière invalide"...)."""

    locales = ("fr_FR", "fr")

    def get_translations(self, form):
        return DefaultMeta.get_translations(self, form)


class SubForm(Form):
    Meta = FrenchMeta


class BaseForm(FlaskForm):
    class Meta:
        locales = FrenchMeta.locales

        def get_translations(self, form):
            return DefaultMeta.get_translations(self, form)

    def validate(self, extra_validators=None) -> bool:
        # Cross-field checks may add errors to nested fields without raising: count them too.
        valid = super().validate(extra_validators)
        return valid and not self.error_summary

    @property
    def error_summary(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) of every error, nested fields included, for the top."""
        summary: list[tuple[str, str, str]] = []
        for field in self:
            _collect_errors(field, summary, prefix="")
        return summary


def _collect_errors(field: Field, summary: list, prefix: str) -> None:
    if isinstance(field, FieldList):
        for number, entry in enumerate(field.entries, start=1):
            _collect_errors(entry, summary, prefix=f"{field.label.text} {number} — ")
        return
    if isinstance(field, FormField):
        for sub in field.form:
            _collect_errors(sub, summary, prefix)
        return
    for message in field.errors if isinstance(field.errors, list) else []:
        if isinstance(message, str):
            summary.append((field.id, f"{prefix}{field.label.text}", message))


# -- validators -------------------------------------------------------------------------------


def safe_text(multiline: bool = False):
    """Refuse NUL bytes and control characters (and line breaks in one-line fields)."""

    def check(form, field) -> None:
        value = field.data
        if not isinstance(value, str):
            return
        if _CONTROL.search(value) or (not multiline and _LINE_BREAK.search(value)):
            raise ValidationError("Ce champ contient des caractères non autorisés.")

    return check


def no_markup(form, field) -> None:
    if isinstance(field.data, str) and _TAG.search(field.data):
        raise ValidationError("Les balises HTML ne sont pas acceptées dans ce champ.")


def web_address(form, field) -> None:
    value = field.data
    if not value:
        return
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or " " in value:
        raise ValidationError(
            "Saisissez une adresse web complète commençant par http:// ou https://."
        )


def phone_number(form, field) -> None:
    if field.data and not _PHONE.match(field.data):
        raise ValidationError("Saisissez un numéro de téléphone (chiffres, espaces, « + »).")


def between(minimum: float, maximum: float, message: str):
    """A range check that stays silent when the value could not even be read as a number."""

    def check(form, field) -> None:
        if field.data is not None and not minimum <= field.data <= maximum:
            raise ValidationError(message)

    return check


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=f"{maximum} caractères au plus.")


def text_field(label: str, maximum: int, *extra, required: bool = False, **kwargs) -> StringField:
    checks = [safe_text(), _length(maximum), no_markup, *extra]
    if required:
        checks.insert(0, InputRequired(message="Ce champ est obligatoire."))
    else:
        checks.insert(0, OptionalValue())
    return StringField(label, checks, filters=[_strip], **kwargs)


def rich_text_field(label: str, **kwargs) -> TextAreaField:
    return TextAreaField(
        label,
        [OptionalValue(), safe_text(multiline=True), _length(RICH_TEXT_MAX_LENGTH)],
        filters=[_strip],
        **kwargs,
    )


class FrenchIntegerField(IntegerField):
    def process_formdata(self, valuelist):
        if valuelist and valuelist[0] not in ("", None):
            text = str(valuelist[0]).strip()
            if not re.fullmatch(r"-?\d{1,9}", text):
                self.data = None
                raise ValueError("Saisissez une année en chiffres, par exemple 2011.")
            self.data = int(text)
        else:
            self.data = None


class FrenchFloatField(FloatField):
    def process_formdata(self, valuelist):
        if valuelist and valuelist[0] not in ("", None):
            text = str(valuelist[0]).strip().replace(",", ".")
            if not re.fullmatch(r"-?\d{1,3}(\.\d{1,12})?", text):
                self.data = None
                raise ValueError("Saisissez un nombre décimal, par exemple 43,2965.")
            self.data = float(text)
        else:
            self.data = None


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form) -> None:
        offered = {str(choice.value) for choice in self.choices or []}
        if any(value not in offered for value in self.data or []):
            raise ValidationError("Choisissez parmi les propositions de la liste.")


class ListSelect(widgets.Select):
    """WTForms' ``<select>``, its plain options written directly: ``html_params`` for each of
    the 3,800 options of a form naming every organisation took 0.3 s."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = " selected" if choice.selected else ""
        value, label = escape(choice.value), escape(choice.label or choice.value)
        return Markup(f'<option value="{value}"{selected}>{label}</option>')  # noqa: S704 - escaped


class ChoiceField(SelectField):
    widget = ListSelect()

    def pre_validate(self, form) -> None:
        offered = {str(choice.value) for choice in self.choices or []}
        if self.data not in offered:
            raise ValidationError("Choisissez parmi les propositions de la liste.")


def year_field(label: str) -> FrenchIntegerField:
    return FrenchIntegerField(
        label,
        [
            OptionalValue(),
            between(YEAR_MIN, YEAR_MAX, f"Une année entre {YEAR_MIN} et {YEAR_MAX}."),
        ],
    )


def email_field(label: str) -> StringField:
    return text_field(
        label,
        254,
        Email(message="Saisissez une adresse électronique valide, par exemple nom@exemple.fr."),
    )


# -- communes ---------------------------------------------------------------------------------


class CommuneChoiceError(ValueError):
    """The text names no commune, or several: ``args[0]`` is the French message."""


def resolve_commune(text: str | None, code: str | None = None) -> Commune | None:
    """The commune meant by what a person typed: a name, "Nom (13)", a postcode, an INSEE code.

    ``code`` comes from the autocomplete (JavaScript) and wins when it agrees with the text.
    """
    text = (text or "").strip()
    if not text:
        return None
    if code and _COMMUNE_CODE.match(code):
        chosen = db.session.get(Commune, code.upper())
        if chosen is not None and text in (commune_label(chosen), chosen.name, chosen.code):
            return chosen
    if text.isdigit() or _COMMUNE_CODE.match(text):
        return _commune_by_number(text.upper())
    name, hint = text, None
    match = _COMMUNE_WITH_HINT.match(text)
    if match:
        name, hint = match.group("name"), match.group("hint").upper()
    key = gazetteer.normalize_name(name)
    candidates = gazetteer.find_communes(name, limit=gazetteer.MAX_RESULTS)
    exact = [c for c in candidates if gazetteer.normalize_name(c.name) == key]
    if hint:
        exact = [c for c in exact if hint in (c.departement_code, c.code, *c.postcode_list)]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise CommuneChoiceError(
            "Plusieurs communes portent ce nom : "
            + ", ".join(commune_label(c) for c in exact[:8])
            + ". Précisez le département, par exemple « "
            + commune_label(exact[0])
            + " »."
        )
    if candidates:
        raise CommuneChoiceError(
            "Commune introuvable. Vouliez-vous dire : "
            + ", ".join(commune_label(c) for c in candidates[:5])
            + " ?"
        )
    raise CommuneChoiceError("Commune introuvable : saisissez son nom ou son code postal.")


def _commune_by_number(digits: str) -> Commune:
    if len(digits) != 5:
        raise CommuneChoiceError("Un code postal ou un code INSEE a cinq caractères.")
    found = gazetteer.find_communes(digits, limit=gazetteer.MAX_RESULTS)
    by_postcode = [c for c in found if digits in c.postcode_list]
    # A postcode shared by a commune and its arrondissements means the commune.
    whole = [c for c in by_postcode if c.kind == "COM"]
    if len(whole) == 1:
        return whole[0]
    if len(by_postcode) == 1:
        return by_postcode[0]
    if len(by_postcode) > 1:
        raise CommuneChoiceError(
            "Ce code postal couvre plusieurs communes : "
            + ", ".join(commune_label(c) for c in by_postcode[:8])
            + ". Saisissez le nom de la commune."
        )
    commune = db.session.get(Commune, digits)
    if commune is None:
        raise CommuneChoiceError("Aucune commune n’a ce code postal ou ce code INSEE.")
    return commune


def commune_label(commune: Commune) -> str:
    return f"{commune.name} ({commune.departement_code})"


class CommuneMixin:
    """Resolve ``commune`` (text) with the help of ``commune_code`` (hidden, set by the script)."""

    resolved_commune: Commune | None = None

    def validate_commune(self, field) -> None:
        if field.errors:  # control characters...: never sent to the database
            return
        try:
            self.resolved_commune = resolve_commune(field.data, self.commune_code.data)
        except CommuneChoiceError as error:
            raise ValidationError(error.args[0]) from error


def _commune_code(value: Any) -> str:
    """The hidden code set by the autocomplete; anything malformed is simply ignored."""
    value = value.strip() if isinstance(value, str) else ""
    return value.upper() if _COMMUNE_CODE.match(value) else ""


def _edit_token(value: Any) -> str:
    """The hidden edit token; a malformed one is kept as a value that never matches."""
    value = value.strip() if isinstance(value, str) else ""
    return value if re.fullmatch(r"[A-Za-z0-9_-]{0,100}", value) else "invalide"


def _commune_fields():
    return (
        text_field(
            "Commune",
            120,
            description="Nom, code postal ou code INSEE, par exemple « Marseille » ou « 13001 ».",
        ),
        HiddenField(filters=[_commune_code]),
    )


# -- initiative ---------------------------------------------------------------------------------


class PlaceForm(CommuneMixin, SubForm):
    label = text_field("Nom du lieu", 200)
    address = text_field("Adresse", 300)
    commune, commune_code = _commune_fields()
    latitude = FrenchFloatField(
        "Latitude",
        [OptionalValue(), between(-90, 90, "Une latitude entre −90 et 90.")],
    )
    longitude = FrenchFloatField(
        "Longitude",
        [OptionalValue(), between(-180, 180, "Une longitude entre −180 et 180.")],
    )
    remove = BooleanField("Retirer ce lieu")

    @property
    def is_blank(self) -> bool:
        """Removed, or left empty: the row is ignored."""
        if self.remove.data:
            return True
        typed = (self.label.data, self.address.data, self.commune.data)
        return not any(typed) and self.latitude.data is None and self.longitude.data is None

    def validate_commune(self, field) -> None:
        if not self.remove.data:
            super().validate_commune(field)

    def validate_longitude(self, field) -> None:
        if (self.latitude.data is None) != (field.data is None):
            raise ValidationError("Renseignez la latitude et la longitude, ou aucune des deux.")

    def validate_label(self, field) -> None:
        if self.is_blank:
            return
        if not (field.data or self.commune.data):
            raise ValidationError("Donnez au moins le nom du lieu ou sa commune.")

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "label": self.label.data or None,
            "address": self.address.data or None,
            "commune_code": self.resolved_commune.code if self.resolved_commune else None,
            "latitude": self.latitude.data,
            "longitude": self.longitude.data,
        }


ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in OrganisationRole]


class LinkForm(SubForm):
    organisation = ChoiceField("Organisation", choices=[], validate_choice=False)
    role = ChoiceField("Rôle", choices=ROLE_CHOICES, default=OrganisationRole.PARTENAIRE.value)

    @property
    def is_blank(self) -> bool:
        return not self.organisation.data


class InitiativeForm(BaseForm):
    title = text_field("Titre", 200, required=True)
    summary = TextAreaField(
        "Résumé",
        [OptionalValue(), safe_text(multiline=True), _length(SUMMARY_MAX_LENGTH), no_markup],
        filters=[_strip],
        description=f"En une ou deux phrases ({SUMMARY_MAX_LENGTH} caractères au plus).",
    )
    description = rich_text_field("Description")
    stage = ChoiceField(
        "Étape",
        choices=[SelectChoice("", "Non précisée")]
        + [SelectChoice(s.value, STAGE_LABELS[s]) for s in Stage],
        default="",
    )
    start_year = year_field("Année de début")
    end_year = year_field("Année de fin")
    website = text_field("Site web", 300, web_address, description="Par exemple https://…")
    contact_email = email_field("Adresse électronique de contact")
    contact_phone = text_field("Téléphone de contact", 40, phone_number)
    genesis = rich_text_field("Comment est-elle née ?")
    evaluation = rich_text_field("Comment est-elle évaluée et valorisée ?")
    policy_impact = rich_text_field("Comment transforme-t-elle les politiques publiques ?")
    public_support = rich_text_field(
        "Comment les politiques publiques la soutiennent-elles ?",
        description="Soutiens, financements.",
    )
    source = text_field("Source de l’information", 300)
    themes = CheckboxesField("Thèmes", choices=[])
    publics = CheckboxesField("Publics visés", choices=[])
    places = FieldList(FormField(PlaceForm), "Lieu", min_entries=1, max_entries=MAX_PLACES)
    lead = ChoiceField("Organisation porteuse", choices=[])
    organisations = FieldList(
        FormField(LinkForm), "Organisation associée", min_entries=1, max_entries=MAX_LINKS
    )
    token = HiddenField(filters=[_edit_token])

    RICH_FIELDS = ("description", "genesis", "evaluation", "policy_impact", "public_support")

    def __init__(self, *args, user=None, initiative: Initiative | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.initiative = initiative

    def validate_end_year(self, field) -> None:
        start = self.start_year.data
        if field.data is not None and isinstance(start, int) and field.data < start:
            raise ValidationError("L’année de fin ne peut pas précéder l’année de début.")

    def validate_lead(self, field) -> None:
        if field.errors:  # not one of the choices offered: already said
            return
        organisation = organisation_by_slug(field.data)
        if organisation is None:
            raise ValidationError("Choisissez l’organisation porteuse.")
        if not permissions.can_create_initiative_for(self.user, organisation) and not (
            self.initiative is not None and organisation.slug in self.current_porteurs
        ):
            raise ValidationError(
                "Vous ne pouvez pas rattacher cette initiative à cette organisation."
            )

    def validate_organisations(self, field) -> None:
        seen: set[tuple[str, str]] = {(self.lead.data, OrganisationRole.PORTEUR.value)}
        for entry in field.entries:
            link = entry.form
            if link.is_blank:
                continue
            key = (link.organisation.data, link.role.data)
            if key in seen:
                link.organisation.errors.append("Cette organisation figure déjà avec ce rôle.")
            elif link.role.data == OrganisationRole.PORTEUR.value and not self._may_lead(
                link.organisation.data
            ):
                link.organisation.errors.append(
                    "Seules vos organisations peuvent être porteuses de l’initiative."
                )
            seen.add(key)

    def _may_lead(self, slug: str) -> bool:
        if permissions.is_staff(self.user) or slug in self.current_porteurs:
            return True
        organisation = organisation_by_slug(slug)
        return organisation is not None and permissions.can_create_initiative_for(
            self.user, organisation
        )

    @property
    def current_porteurs(self) -> set[str]:
        if self.initiative is None:
            return set()
        return {o.slug for o in self.initiative.lead_organisations}

    def lead_organisation(self) -> Organisation | None:
        return organisation_by_slug(self.lead.data)

    def to_snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: _none_if_empty(getattr(self, name).data)
            for name in ("title", "summary", "start_year", "end_year", "website")
        }
        data.update(
            contact_email=_none_if_empty(self.contact_email.data),
            contact_phone=_none_if_empty(self.contact_phone.data),
            source=_none_if_empty(self.source.data),
            stage=self.stage.data or None,
            themes=list(self.themes.data or []),
            publics=list(self.publics.data or []),
            places=[e.form.to_snapshot() for e in self.places.entries if not e.form.is_blank],
        )
        for name in self.RICH_FIELDS:
            data[name] = sanitize(getattr(self, name).data) or None
        links = [{"slug": self.lead.data, "role": OrganisationRole.PORTEUR.value}]
        for entry in self.organisations.entries:
            if not entry.form.is_blank:
                links.append({"slug": entry.form.organisation.data, "role": entry.form.role.data})
        data["organisations"] = links
        return data


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", None) else value


# -- organisation ------------------------------------------------------------------------------


class OrganisationForm(CommuneMixin, BaseForm):
    name = text_field("Nom", 200, required=True)
    acronym = text_field("Sigle", 40)
    kind = ChoiceField(
        "Type d’organisation",
        choices=[
            SelectChoice(kind.value, ORGANISATION_KIND_LABELS[kind]) for kind in OrganisationKind
        ],
        default=OrganisationKind.ASSOCIATION.value,
    )
    tagline = text_field("Accroche", 300, description="Une phrase qui présente l’organisation.")
    description = rich_text_field("Présentation")
    website = text_field("Site web", 300, web_address, description="Par exemple https://…")
    email = email_field("Adresse électronique publique")
    phone = text_field("Téléphone", 40, phone_number)
    address = text_field("Adresse", 300)
    commune, commune_code = _commune_fields()
    logo = FileField(
        "Logo",
        description="PNG, JPEG ou WebP, 2 Mo et 4 000 × 4 000 pixels au plus.",
    )
    remove_logo = BooleanField("Retirer le logo actuel")
    themes = CheckboxesField("Thèmes", choices=[])
    departements = CheckboxesField("Territoires d’action", choices=[])
    token = HiddenField(filters=[_edit_token])

    prepared_logo: tuple[bytes, str] | None = None
    # The logo of the version being edited (set by ``build_organisation_form``).
    current_logo: str | None = None

    def __init__(self, *args, organisation: Organisation | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def validate_logo(self, field) -> None:
        upload = field.data
        if not upload or not getattr(upload, "filename", None):
            return
        try:
            self.prepared_logo = media.clean_image(media.read_upload(upload.stream))
        except media.MediaError as error:
            raise ValidationError(error.args[0]) from error

    def to_snapshot(self) -> dict[str, Any]:
        """The snapshot; stores the new logo file (call only after validation)."""
        logo_path = self.current_logo
        if self.remove_logo.data:
            logo_path = None
        if self.prepared_logo is not None:
            logo_path = media.store_logo(*self.prepared_logo)
        data: dict[str, Any] = {
            name: _none_if_empty(getattr(self, name).data)
            for name in ("name", "acronym", "tagline", "website", "email", "phone", "address")
        }
        data.update(
            kind=self.kind.data,
            description=sanitize(self.description.data) or None,
            commune_code=self.resolved_commune.code if self.resolved_commune else None,
            logo_path=logo_path,
            themes=list(self.themes.data or []),
            departements=list(self.departements.data or []),
        )
        return data


# -- building forms with their choices and initial values ------------------------------------


def is_slug(value: Any) -> bool:
    return isinstance(value, str) and bool(_SLUG.fullmatch(value))


def organisation_by_slug(slug: str | None) -> Organisation | None:
    if not is_slug(slug):
        return None
    return db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))


def _theme_choices() -> list[SelectChoice]:
    return [
        SelectChoice(t.slug, t.name)
        for t in db.session.scalars(sa.select(Theme).order_by(Theme.position, Theme.name))
    ]


def _public_choices() -> list[SelectChoice]:
    return [
        SelectChoice(p.slug, p.name)
        for p in db.session.scalars(sa.select(Public).order_by(Public.position, Public.name))
    ]


def _departement_choices() -> list[SelectChoice]:
    return [
        SelectChoice(d.code, d.label)
        for d in db.session.scalars(sa.select(Departement).order_by(Departement.code))
    ]


def _organisation_label(organisation: Any) -> str:
    if organisation.acronym and organisation.acronym not in organisation.name:
        return f"{organisation.name} ({organisation.acronym})"
    return organisation.name


# Three columns, not whole organisations: every organisation is a choice.
_CHOICE_COLUMNS = (Organisation.slug, Organisation.name, Organisation.acronym)


def _sorted_choices(organisations: Iterable[Any]) -> list[SelectChoice]:
    unique = {o.slug: o for o in organisations}
    return sorted(
        (SelectChoice(slug, _organisation_label(o)) for slug, o in unique.items()),
        key=lambda choice: fold(choice.label),
    )


def lead_choices(user: Any, initiative: Initiative | None) -> list[SelectChoice]:
    """Organisations the person may name as porteur: their own (staff: any not archived)."""
    if permissions.is_staff(user):
        candidates = list(
            db.session.execute(
                sa.select(*_CHOICE_COLUMNS).where(Organisation.status != Status.ARCHIVED)
            )
        )
    else:
        candidates = [
            m.organisation for m in user.memberships if m.organisation.status != Status.ARCHIVED
        ]
    if initiative is not None:
        candidates += initiative.lead_organisations
    return _sorted_choices(candidates)


def partner_choices(initiative: Initiative | None) -> list[SelectChoice]:
    """Published organisations (and those already linked) for the partner rows."""
    candidates = list(
        db.session.execute(
            sa.select(*_CHOICE_COLUMNS).where(Organisation.status == Status.PUBLISHED)
        )
    )
    if initiative is not None:
        candidates += [link.organisation for link in initiative.organisation_links]
    return [SelectChoice("", "— Choisir une organisation —"), *_sorted_choices(candidates)]


def _commune_text(code: str | None) -> str:
    commune = db.session.get(Commune, code) if code else None
    return commune_label(commune) if commune else ""


INITIATIVE_TEXTS = (
    "title", "summary", "description", "start_year", "end_year", "website", "contact_email",
    "contact_phone", "genesis", "evaluation", "policy_impact", "public_support", "source",
)  # fmt: skip
ORGANISATION_TEXTS = (
    "name", "acronym", "tagline", "description", "website", "email", "phone", "address",
)  # fmt: skip


def initiative_initial(snap: dict[str, Any], user: Any) -> dict[str, Any]:
    """Form data from an initiative snapshot (``workflow.snapshot`` or a pending proposal)."""
    mine = permissions.member_organisation_ids(user)
    links = list(snap.get("organisations") or [])
    porteurs = [link["slug"] for link in links if link.get("role") == "porteur"]
    own = [slug for slug in porteurs if (o := organisation_by_slug(slug)) and o.id in mine]
    lead = (own or porteurs or [""])[0]
    others = [
        {"organisation": link["slug"], "role": link["role"]}
        for link in links
        if not (link["slug"] == lead and link.get("role") == "porteur")
    ]
    places = [
        {
            "label": place.get("label") or "",
            "address": place.get("address") or "",
            "commune": _commune_text(place.get("commune_code")),
            "commune_code": place.get("commune_code") or "",
            "latitude": place.get("latitude"),
            "longitude": place.get("longitude"),
        }
        for place in snap.get("places") or []
    ]
    values: dict[str, Any] = {name: snap.get(name) for name in INITIATIVE_TEXTS}
    for name in InitiativeForm.RICH_FIELDS:
        values[name] = editable(values[name])
    values.update(
        stage=snap.get("stage") or "",
        themes=list(snap.get("themes") or []),
        publics=list(snap.get("publics") or []),
        places=[*places, {}],
        lead=lead,
        organisations=[*others, {}],
    )
    return values


def build_initiative_form(
    user: Any,
    *,
    initiative: Initiative | None = None,
    snapshot: dict[str, Any] | None = None,
    lead: Organisation | None = None,
    token: str | None = None,
    formdata: Any = None,
) -> InitiativeForm:
    """The initiative form with its choices, filled from ``formdata`` or from ``snapshot``."""
    if formdata is not None:
        form = InitiativeForm(formdata=formdata, user=user, initiative=initiative)
    elif snapshot is not None:
        form = InitiativeForm(
            formdata=None,
            data=initiative_initial(snapshot, user),
            user=user,
            initiative=initiative,
        )
        form.token.data = token or ""
    else:
        form = InitiativeForm(formdata=None, user=user, initiative=None)
        form.lead.data = lead.slug if lead else ""
        form.token.data = token or ""
    form.themes.choices = _theme_choices()
    form.publics.choices = _public_choices()
    form.lead.choices = lead_choices(user, initiative)
    links = partner_choices(initiative)
    for entry in form.organisations.entries:
        entry.form.organisation.choices = links
    return form


def organisation_initial(snap: dict[str, Any]) -> dict[str, Any]:
    """Form data from an organisation snapshot."""
    values: dict[str, Any] = {name: snap.get(name) for name in ORGANISATION_TEXTS}
    values["description"] = editable(values["description"])
    values.update(
        kind=snap.get("kind") or OrganisationKind.AUTRE.value,
        commune=_commune_text(snap.get("commune_code")),
        commune_code=snap.get("commune_code") or "",
        themes=list(snap.get("themes") or []),
        departements=list(snap.get("departements") or []),
    )
    return values


def build_organisation_form(
    organisation: Organisation,
    *,
    snapshot: dict[str, Any] | None = None,
    token: str | None = None,
    formdata: Any = None,
) -> OrganisationForm:
    if formdata is not None:
        form = OrganisationForm(formdata=formdata, organisation=organisation)
    else:
        form = OrganisationForm(
            formdata=None, data=organisation_initial(snapshot or {}), organisation=organisation
        )
        form.token.data = token or ""
    form.current_logo = (snapshot or {}).get("logo_path")
    form.themes.choices = _theme_choices()
    form.departements.choices = _departement_choices()
    return form


def add_place_row(form: InitiativeForm) -> None:
    """One more empty place row (the « Ajouter un lieu » button, which works without script)."""
    if len(form.places.entries) < MAX_PLACES:
        form.places.append_entry()


def add_link_row(form: InitiativeForm) -> None:
    """One more organisation row (« Ajouter une organisation »)."""
    if len(form.organisations.entries) < MAX_LINKS:
        entry = form.organisations.append_entry()
        entry.form.organisation.choices = form.organisations.entries[0].form.organisation.choices


def apply_service_error(form: BaseForm, field: str | None, message: str) -> bool:
    """Show a ``WorkflowError`` next to its field; False when no field of the form matches."""
    target = {"places": "places", "organisations": "lead"}.get(field or "", field)
    if not target or not hasattr(form, target):
        return False
    bound = getattr(form, target)
    if isinstance(bound, FieldList):
        bound = bound.entries[0].form.commune if target == "places" else bound
    bound.errors = [*list(bound.errors or []), message]
    return True
