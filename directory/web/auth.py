"""Sign-in and sign-out, invitation and password-reset links, the « Mon compte » page (issue #5).

Every address here is public except the account pages (signed in). Sign-in opens a brand-new
session; sign-out, a password change or reset and « déconnecter tous les appareils » bump the
account's ``session_version``, which ends every other session (the user loader refuses old
versions); sessions also end when idle or too old (``sessions.py``). There is no "remember me":
a shared office computer must not keep a staff session for weeks. Sign-in and reset requests
are rate limited per address asked for and per client address (``services/throttle.py``:
shared by every worker and server; when the counters cannot be reached, these forms answer
503 instead of letting attempts through).
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from ..guards import access, classify
from ..services import accounts, permissions, throttle, tokens
from ..services.accounts import MAX_PASSWORD_LENGTH, AccountError
from . import errors, sessions

bp = classify(Blueprint("auth", __name__), "public")

EMAIL_MAX = 254
NEXT_MAX = 2000
WRONG_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."


# -- forms ---------------------------------------------------------------------------------


def no_control_characters(form: FlaskForm, field: Any) -> None:
    if any(unicodedata.category(c) == "Cc" for c in field.data or ""):
        raise ValidationError("Ce champ contient des caractères non autorisés.")


def email_address(form: FlaskForm, field: Any) -> None:
    try:
        accounts.normalise_email(field.data or "")
    except AccountError as error:
        raise ValidationError(
            "Saisissez une adresse électronique valide, par exemple nom@exemple.fr."
        ) from error


def _email_field() -> EmailField:
    return EmailField(
        "Adresse électronique",
        validators=[
            InputRequired("Saisissez votre adresse électronique."),
            Length(max=EMAIL_MAX, message=f"{EMAIL_MAX} caractères au maximum."),
            no_control_characters,
        ],
    )


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        "Nouveau mot de passe",
        validators=[
            InputRequired("Choisissez un mot de passe."),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=f"{MAX_PASSWORD_LENGTH} caractères au maximum.",
            ),
        ],
    )
    confirm = PasswordField(
        "Confirmez le nouveau mot de passe",
        validators=[
            InputRequired("Saisissez une seconde fois le mot de passe."),
            EqualTo("password", message="Les deux mots de passe ne sont pas identiques."),
        ],
    )
    return password, confirm


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Mot de passe",
        validators=[
            InputRequired("Saisissez votre mot de passe."),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=f"{MAX_PASSWORD_LENGTH} caractères au maximum.",
            ),
        ],
    )


class ForgotPasswordForm(FlaskForm):
    email = _email_field()

    def validate_email(self, field: Any) -> None:
        email_address(self, field)


class SetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()
    account: Any = None  # the account of the link: its address and name are not passwords

    def validate_password(self, field: Any) -> None:
        _strong_password(field, self.account)


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        "Mot de passe actuel",
        validators=[
            InputRequired("Saisissez votre mot de passe actuel."),
            Length(max=MAX_PASSWORD_LENGTH, message="Mot de passe actuel incorrect."),
        ],
    )
    password, confirm = _new_password_fields()

    def validate_password(self, field: Any) -> None:
        _strong_password(field, current_user)


def _strong_password(field: Any, account: Any = None) -> None:
    try:
        accounts.check_password_strength(
            field.data or "",
            email=getattr(account, "email", "") or "",
            name=getattr(account, "name", "") or "",
        )
    except AccountError as error:
        raise ValidationError(str(error)) from error


class EmptyForm(FlaskForm):
    """A form with nothing but its CSRF token (buttons that change something)."""


# -- helpers -------------------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """A path inside this site to go back to after sign-in, or None for anything else."""
    if not target or len(target) > NEXT_MAX:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in target):
        return None
    if "\\" in target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    """Where a signed-in person lands: staff pages for staff, the partner space for partners."""
    endpoints = ("partner.dashboard", "public.home")
    if permissions.is_staff(current_user):
        endpoints = ("staff.index", *endpoints)
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return "/"


def _client_address() -> str:
    return request.remote_addr or "inconnue"


def _email_key(raw: str) -> str:
    """The counter key of an address: normalised when valid, else a bounded folded copy."""
    try:
        return accounts.normalise_email(raw)
    except AccountError:
        return accounts.printable(raw.strip().lower())


def _record_limited(email: str, address: str, action: str = "auth") -> None:
    """Audit a refused attempt, at most once a minute per address and account (a flood of
    refused requests must not flood the audit log)."""
    if throttle.hit("1 per minute", f"{action}-limited-audit", address, _email_key(email)):
        accounts.record_limited_attempt(email, ip=address, action=action)


def _too_many(kind: str) -> tuple[str, int, dict[str, str]]:
    return (
        render_template("auth/too_many.html", kind=kind),
        429,
        {"Retry-After": "60"},
    )


# What each throttled form does, by counter namespace, for the « service unavailable » page.
THROTTLED_ACTIONS = {
    "login": "la connexion",
    "auth": "la connexion",
    "reset": "la demande de réinitialisation du mot de passe",
    "account.password_reset": "la demande de réinitialisation du mot de passe",
    "invitation": "l’envoi d’invitations",
    "proposal": "l’envoi de propositions",
}


@bp.app_errorhandler(throttle.ThrottleUnavailable)
def _throttle_unavailable(error: throttle.ThrottleUnavailable):
    # Fail closed, for every throttled form of the site: without its counters an action that
    # guards accounts is refused, never let through unlimited (the service has logged why).
    action = THROTTLED_ACTIONS.get(error.namespace.split("-")[0], "cette action")
    page = render_template("auth/unavailable.html", action=action)
    return page, 503, {"Retry-After": "60", "Cache-Control": "no-store"}


def _open_session(user: Any) -> None:
    """A brand-new session for ``user``: nothing of the previous one is kept."""
    session.clear()
    login_user(user)
    sessions.start(session)
    accounts.record_sign_in(user, ip=_client_address())


def _private(response: Any) -> Response:
    """Pages reached through a secret link: never cached, never leaked through Referer."""
    response = current_app.make_response(response)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _https_required_page() -> tuple[str, int]:
    """Why sign-in cannot work over plain http here, instead of a bare CSRF refusal."""
    page = render_template(
        "auth/login.html", form=LoginForm(), https_url=sessions.https_address("auth.login")
    )
    return page, 200 if request.method == "GET" else 400


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    # Over plain http the Secure session cookie never comes back, so every form here fails
    # its CSRF check: say why. Other refusals keep the site's generic page.
    if sessions.https_required():
        return _https_required_page()
    title, message = errors.error_wording(400)
    page = render_template(
        "errors/error.html", error=error, error_title=title, error_message=message
    )
    return page, 400


# -- sign-in and sign-out ------------------------------------------------------------------


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"))
    if sessions.https_required():
        return _https_required_page()
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url or home_url())
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next_url=next_url)

    email, address = form.email.data, _client_address()
    allowed_email = throttle.hit(
        current_app.config["AUTH_RATE_LIMIT_PER_EMAIL"], "login-email", _email_key(email)
    )
    allowed_address = throttle.hit(
        current_app.config["AUTH_RATE_LIMIT_PER_ADDRESS"], "login-address", address
    )
    if not (allowed_email and allowed_address):
        _record_limited(email, address)
        return _too_many("login")

    user = accounts.authenticate(email, form.password.data, ip=address)
    if user is None:
        form.password.data = ""
        return render_template(
            "auth/login.html", form=form, next_url=next_url, error=WRONG_CREDENTIALS
        )
    _open_session(user)
    flash(f"Bienvenue, {user.name or user.email}.", "success")
    return redirect(next_url or home_url())


@bp.route("/deconnexion", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        accounts.sign_out_everywhere(current_user._get_current_object(), ip=_client_address())
    session.clear()
    logout_user()  # also deletes the remember-me cookie
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("public.home") if "public.home" in current_app.view_functions else "/")


# -- links sent by mail --------------------------------------------------------------------


def _token_page(token: str, purpose: tokens.Purpose, template_title: str):
    try:
        user = tokens.read_token(token, purpose)
    except tokens.TokenError as error:
        page = render_template(
            "auth/link_error.html",
            message=str(error),
            expired=isinstance(error, tokens.TokenExpired),
            purpose=purpose.value,
        )
        return _private((page, error.status))
    form = SetPasswordForm()
    form.account = user
    if form.validate_on_submit():
        accounts.complete_from_token(
            user, form.password.data, purpose=purpose, ip=_client_address()
        )
        _open_session(user)
        if purpose == tokens.Purpose.INVITATION:
            flash("Votre compte est activé : bienvenue dans l’annuaire.", "success")
        else:
            flash("Votre mot de passe a été changé.", "success")
        return redirect(home_url())
    page = render_template(
        "auth/set_password.html",
        form=form,
        user=user,
        title=template_title,
        purpose=purpose.value,
    )
    return _private(page)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _token_page(token, tokens.Purpose.INVITATION, "Activer votre compte")


@bp.route("/reinitialiser/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _token_page(token, tokens.Purpose.PASSWORD_RESET, "Choisir un nouveau mot de passe")


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot_password.html", form=form)
    email, address = form.email.data, _client_address()
    allowed_email = throttle.hit(
        current_app.config["PASSWORD_RESET_RATE_LIMIT_PER_EMAIL"], "reset-email", _email_key(email)
    )
    allowed_address = throttle.hit(
        current_app.config["PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS"], "reset-address", address
    )
    if not (allowed_email and allowed_address):
        _record_limited(email, address, action="account.password_reset")
        return _too_many("reset")
    accounts.request_password_reset(email, ip=address)
    return render_template("auth/forgot_password_sent.html")


# -- my account ----------------------------------------------------------------------------


@bp.route("/compte")
@access("partner")
def account():
    return render_template(
        "auth/account.html", password_form=ChangePasswordForm(), everywhere_form=EmptyForm()
    )


@bp.route("/compte/mot-de-passe", methods=["POST"])
@access("partner")
def change_password():
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        # Guessing the current password from a stolen session counts like sign-in attempts.
        if not throttle.hit(
            current_app.config["AUTH_RATE_LIMIT_PER_EMAIL"], "login-email", user.email
        ):
            _record_limited(user.email, _client_address())
            return _too_many("login")
        try:
            accounts.change_password(
                user, form.current.data, form.password.data, ip=_client_address()
            )
        except AccountError as error:
            form.current.errors = [*form.current.errors, str(error)]
        else:
            # The other sessions are over; this one goes on with the new version.
            login_user(user, fresh=True)
            flash(
                "Votre mot de passe a été changé. Vos autres appareils ont été déconnectés.",
                "success",
            )
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", password_form=form, everywhere_form=EmptyForm())


@bp.route("/compte/deconnexion-partout", methods=["POST"])
@access("partner")
def sign_out_everywhere():
    accounts.sign_out_everywhere(
        current_user._get_current_object(), ip=_client_address(), action="auth.logout_everywhere"
    )
    session.clear()
    logout_user()
    flash("Vous êtes déconnecté·e de tous vos appareils, y compris celui-ci.", "info")
    return redirect(url_for("auth.login"))
