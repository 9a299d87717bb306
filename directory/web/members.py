"""Members of an organisation: list, invite by email, remove (partner space, issue #5).

Members manage their own organisation's members; staff reach the same page for any
organisation (``permissions.can_manage_members``). A member cannot remove the last member
(nobody could manage the organisation any more); staff can.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from ..extensions import db
from ..guards import classify
from ..models import Organisation
from ..services import accounts, permissions, throttle
from ..services.accounts import AccountError
from .auth import email_address, no_control_characters

bp = classify(
    Blueprint("members", __name__, url_prefix="/espace-partenaire/organisations"), "partner"
)

SLUG_MAX = 200
TOO_MANY_INVITATIONS = (
    "Vous avez envoyé beaucoup d’invitations en peu de temps. Pour éviter les envois abusifs, "
    "patientez un peu avant d’en envoyer d’autres."
)


def no_markup(form: FlaskForm, field: Any) -> None:
    if "<" in (field.data or "") or ">" in (field.data or ""):
        raise ValidationError("Ce champ n’accepte que du texte, sans « < » ni « > ».")


class InviteForm(FlaskForm):
    email = EmailField(
        "Adresse électronique de la personne",
        validators=[
            InputRequired("Saisissez l’adresse électronique de la personne à inviter."),
            Length(max=254, message="254 caractères au maximum."),
            no_control_characters,
            email_address,
        ],
    )
    name = StringField(
        "Nom et prénom (facultatif)",
        validators=[
            Length(max=200, message="200 caractères au maximum."),
            no_control_characters,
            no_markup,
        ],
    )


def _organisation_or_abort(slug: str) -> Organisation:
    """The organisation, if the current user may manage its members (403, or 404 if private)."""
    organisation = None
    if len(slug) <= SLUG_MAX:
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        abort(404)
    if not permissions.can_manage_members(current_user, organisation):
        abort(403 if permissions.can_view_organisation(current_user, organisation) else 404)
    return organisation


def _render(organisation: Organisation, form: InviteForm, status: int = 200):
    page = render_template(
        "members/members.html",
        organisation=organisation,
        members=accounts.members_of(organisation),
        form=form,
        is_staff=permissions.is_staff(current_user),
    )
    return page, status


@bp.route("/<slug>/membres")
def members(slug: str):
    organisation = _organisation_or_abort(slug)
    return _render(organisation, InviteForm(formdata=None))


@bp.route("/<slug>/membres/inviter", methods=["POST"])
def invite(slug: str):
    organisation = _organisation_or_abort(slug)
    form = InviteForm()
    if not form.validate_on_submit():
        return _render(organisation, form)
    # Invitations send mail to any address: bounded per inviting account (503 if uncountable).
    limit = current_app.config["INVITATION_RATE_LIMIT"]
    if not throttle.hit(limit, "invitation-user", str(current_user.id)):
        form.email.errors = [*form.email.errors, TOO_MANY_INVITATIONS]
        page, status = _render(organisation, form, 429)
        return page, status, {"Retry-After": str(throttle.longest_period(limit))}
    try:
        invitation = accounts.invite_member(
            current_user._get_current_object(),
            organisation,
            form.email.data,
            form.name.data or "",
            ip=request.remote_addr,
        )
    except AccountError as error:
        form.email.errors = [*form.email.errors, str(error)]
        return _render(organisation, form)
    # The same answer whether the address had an account or not (no account enumeration).
    flash(
        f"Invitation envoyée à {invitation.user.email} : si cette adresse peut recevoir une "
        "invitation, un courriel vient de lui être envoyé. La personne apparaît « en attente » "
        "jusqu’à sa première connexion.",
        "success",
    )
    return redirect(url_for("members.members", slug=organisation.slug))


@bp.route("/<slug>/membres/<int:user_id>/retirer", methods=["POST"])
def remove(slug: str, user_id: int):
    organisation = _organisation_or_abort(slug)
    try:
        member = accounts.remove_member(
            current_user._get_current_object(), organisation, user_id, ip=request.remote_addr
        )
    except LookupError:
        abort(404)
    except AccountError as error:
        flash(str(error), "error")
        return redirect(url_for("members.members", slug=organisation.slug))
    # The address, not the name: a pending member's name is not shown (it may be an existing
    # account's own).
    flash(f"{member.email} ne fait plus partie des membres.", "success")
    if member.id == current_user.id and not permissions.can_manage_members(
        current_user, organisation
    ):
        return redirect(url_for("auth.account"))
    return redirect(url_for("members.members", slug=organisation.slug))
