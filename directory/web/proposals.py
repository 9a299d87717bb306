"""« Proposer une initiative »: the public, moderated suggestion form (/proposer).

No account is needed. The proposal goes to the moderation queue through
``services.workflow.propose_anonymous``; the proposer's email stays private (it is kept on the
revision only). A hidden honeypot field catches naive robots (they get the same thank-you page,
nothing is stored) and valid submissions are rate limited per address (``PROPOSAL_RATE_LIMIT``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    EmailField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.i18n import get_translations
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..extensions import db
from ..guards import classify
from ..models import Commune, Theme
from ..services import gazetteer, throttle

if TYPE_CHECKING:
    from ..services.workflow import WorkflowError

bp = classify(Blueprint("proposals", __name__), "public")

TITLE_MAX = 200
SUMMARY_MAX = 300
DESCRIPTION_MAX = 10_000
COMMUNE_MAX = 100
WEBSITE_MAX = 300
NAME_MAX = 200
EMAIL_MAX = 254

# An opening tag, closing tag, comment or declaration: the fields take plain text only.
_MARKUP = re.compile(r"<\s*[/!?]?\s*[a-zA-Z]")


# Keys of the service's snapshot → fields of the form.
_SERVICE_FIELDS = {"places": "commune", "name": "proposer_name", "email": "proposer_email"}


# -- validators ----------------------------------------------------------------------------


def plain_text(form: FlaskForm, field: Any) -> None:
    """Refuse control characters (NUL bytes...) and HTML markup in a text field."""
    value = field.data or ""
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise ValidationError("Ce champ contient des caractères non autorisés.")
    if _MARKUP.search(value):
        raise ValidationError(
            "Ce champ n’accepte que du texte, sans balises HTML (« < » suivi d’une lettre)."
        )


def web_address(form: FlaskForm, field: Any) -> None:
    """An http(s) address with a host name."""
    value = (field.data or "").strip()
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValidationError(
            "Saisissez une adresse web complète, par exemple https://www.exemple.fr."
        )


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ThemeCheckboxes(SelectMultipleField):
    """Theme checkboxes; an unknown value is a French form error, never a crash."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: FlaskForm) -> None:
        known = {str(choice.value) for choice in self.choices or []}
        if any(value not in known for value in self.data or []):
            raise ValidationError("Choisissez des thèmes dans la liste proposée.")


class CommuneChoice(RadioField):
    """Choice among homonym communes, offered when the typed commune is ambiguous."""

    def pre_validate(self, form: FlaskForm) -> None:
        # The code is checked against the typed commune in ProposalForm.validate_commune.
        pass


# -- the form -------------------------------------------------------------------------------


class ProposalForm(FlaskForm):
    class Meta:
        def get_translations(self, form: FlaskForm) -> Any:
            return get_translations(["fr"])

    title = StringField(
        "Nom de l’initiative",
        filters=[_strip],
        validators=[
            DataRequired("Indiquez le nom de l’initiative."),
            Length(max=TITLE_MAX, message=f"{TITLE_MAX} caractères au plus."),
            plain_text,
        ],
    )
    summary = TextAreaField(
        "Résumé",
        description=f"En une ou deux phrases ({SUMMARY_MAX} caractères au plus).",
        filters=[_strip],
        validators=[
            DataRequired("Résumez l’initiative en une ou deux phrases."),
            Length(max=SUMMARY_MAX, message=f"{SUMMARY_MAX} caractères au plus."),
            plain_text,
        ],
    )
    description = TextAreaField(
        "Description",
        description="Ce que fait l’initiative, pour qui, avec qui, depuis quand.",
        filters=[_strip],
        validators=[
            Optional(),
            Length(
                max=DESCRIPTION_MAX,
                message=f"{DESCRIPTION_MAX:_} caractères au plus.".replace("_", "\u202f"),
            ),
            plain_text,
        ],
    )
    commune = StringField(
        "Commune",
        description="Nom, code postal ou code INSEE de la commune où l’initiative se déroule.",
        filters=[_strip],
        validators=[
            DataRequired("Indiquez la commune où l’initiative se déroule."),
            Length(max=COMMUNE_MAX, message=f"{COMMUNE_MAX} caractères au plus."),
            plain_text,
        ],
    )
    commune_code = CommuneChoice("Précisez la commune", choices=[], validate_choice=False)
    themes = ThemeCheckboxes("Thèmes", choices=[], validate_choice=True)
    website = StringField(
        "Site web de l’initiative",
        description="Facultatif. Par exemple https://www.exemple.fr",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=WEBSITE_MAX, message=f"{WEBSITE_MAX} caractères au plus."),
            plain_text,
            web_address,
        ],
    )
    proposer_name = StringField(
        "Votre nom",
        description="Pour que l’équipe sache à qui répondre. Il ne sera jamais publié.",
        filters=[_strip],
        validators=[
            DataRequired("Indiquez votre nom."),
            Length(max=NAME_MAX, message=f"{NAME_MAX} caractères au plus."),
            plain_text,
        ],
    )
    proposer_email = EmailField(
        "Votre adresse électronique",
        description="Pour vous recontacter si besoin. Elle ne sera jamais publiée.",
        filters=[_strip],
        validators=[
            DataRequired("Indiquez votre adresse électronique."),
            Length(max=EMAIL_MAX, message=f"{EMAIL_MAX} caractères au plus."),
            plain_text,
            Email(
                "Saisissez une adresse électronique valide, par exemple nom@exemple.fr.",
                check_deliverability=False,
            ),
        ],
    )
    consent = BooleanField(
        "J’accepte que mon adresse électronique soit utilisée pour me recontacter au sujet de "
        "cette proposition.",
        validators=[
            InputRequired("Cochez cette case pour que nous puissions traiter votre proposition.")
        ],
    )
    # Honeypot: hidden from people (visually and from assistive technologies).
    telecopie = StringField("Télécopie (ne pas remplir)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolved_commune: Commune | None = None

    @property
    def is_robot(self) -> bool:
        return bool((self.telecopie.data or "").strip())

    def validate_commune(self, field: StringField) -> None:
        if not field.data or field.errors:
            return
        result = resolve_commune(field.data, self.commune_code.data)
        if result.commune is not None:
            self.resolved_commune = result.commune
            return
        if result.candidates:
            self.commune_code.choices = [
                SelectChoice(commune.code, commune_label(commune)) for commune in result.candidates
            ]
            raise ValidationError(
                "Plusieurs communes correspondent : choisissez la vôtre dans la liste ci-dessous."
            )
        raise ValidationError(
            "Aucune commune ne correspond. Vérifiez l’orthographe ou saisissez le code postal."
        )

    def add_error(self, error: WorkflowError) -> None:
        """Show a refusal of the moderation service next to the field it names."""
        name = _SERVICE_FIELDS.get(error.field or "", error.field or "")
        target = self._fields.get(name, self.title)
        target.errors = [*target.errors, error.message]

    def snapshot(self) -> dict[str, Any]:
        """The proposal in the revision snapshot format of the moderation service."""
        commune = self.resolved_commune
        places = []
        if commune is not None:
            point = gazetteer.geocode(commune.code)
            places.append(
                {
                    "commune_code": commune.code,
                    "label": None,
                    "address": None,
                    "latitude": point[0] if point else None,
                    "longitude": point[1] if point else None,
                }
            )
        return {
            "title": self.title.data,
            "summary": self.summary.data,
            "description": self.description.data or None,
            "themes": list(self.themes.data or []),
            "places": places,
            "website": self.website.data or None,
        }


# -- commune look-up ------------------------------------------------------------------------


@dataclass
class CommuneMatch:
    commune: Commune | None = None
    candidates: list[Commune] = field(default_factory=list)


def commune_label(commune: Commune) -> str:
    postcodes = (commune.postcodes or "").split()
    suffix = f", {postcodes[0]}" if len(postcodes) == 1 else ""
    return f"{commune.name} ({commune.departement_code}{suffix})"


def resolve_commune(text: str, chosen_code: str | None = None) -> CommuneMatch:
    """One commune for a name, postcode or INSEE code; homonyms come back as candidates."""
    candidates = gazetteer.find_communes(text, limit=20)
    if chosen_code:
        for commune in candidates:
            if commune.code == chosen_code:
                return CommuneMatch(commune=commune)
    if len(candidates) == 1:
        return CommuneMatch(commune=candidates[0])
    if not candidates:
        return CommuneMatch()
    if text.isdigit():
        exact = [c for c in candidates if text in (c.postcodes or "").split() or c.code == text]
    else:
        key = gazetteer.normalize_name(text)
        exact = [c for c in candidates if gazetteer.normalize_name(c.name) == key]
    if len(exact) == 1:
        return CommuneMatch(commune=exact[0])
    return CommuneMatch(candidates=exact or candidates)


# -- views ----------------------------------------------------------------------------------


def _theme_choices() -> list[SelectChoice]:
    themes = db.session.scalars(select(Theme).order_by(Theme.position, Theme.name))
    return [SelectChoice(theme.slug, theme.name) for theme in themes]


def _proposal_limit() -> str:
    return current_app.config["PROPOSAL_RATE_LIMIT"]


def _count_submission() -> None:
    """Count one submission against the per-address limit; 429 once it is spent.

    The counter is shared by every worker and server (``services/throttle.py``); when it cannot
    be reached the submission is refused with 503 rather than let through unlimited.
    """
    limit = _proposal_limit()
    if not throttle.hit(limit, "proposal-address", request.remote_addr or "inconnue"):
        raise TooManyRequests(retry_after=throttle.longest_period(limit))


@bp.route("/proposer", methods=["GET", "POST"])
def propose() -> Any:
    form = ProposalForm()
    form.themes.choices = _theme_choices()
    if request.method == "POST":
        if form.is_robot:
            _count_submission()
            return redirect(url_for(".thanks"), code=303)
        if form.validate():
            from ..services import workflow

            _count_submission()
            try:
                workflow.propose_anonymous(
                    form.snapshot(),
                    proposer_name=form.proposer_name.data,
                    proposer_email=form.proposer_email.data,
                )
            except workflow.WorkflowError as error:
                form.add_error(error)
            else:
                return redirect(url_for(".thanks"), code=303)
    return render_template("proposals/propose.html", form=form)


@bp.get("/proposer/merci")
def thanks() -> Response | str:
    return render_template("proposals/thanks.html")
