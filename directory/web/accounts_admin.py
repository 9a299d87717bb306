"""Staff page of accounts (/gestion/comptes): list, deactivate, reactivate, change roles.

Curators (de)activate partner accounts; admins any account but their own, and change roles.
Deactivating ends every session of the account at once. People are invited from the members
page of an organisation (``members`` blueprint), which staff reach for every organisation.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import classify
from ..models import Role, User
from ..services import accounts, permissions

bp = classify(Blueprint("accounts_admin", __name__, url_prefix="/gestion/comptes"), "staff")

STATES = {"actifs": True, "desactives": False}
TEXT_MAX = 100


def _filters() -> dict:
    text = request.args.get("q", "").replace("\x00", "").strip()[:TEXT_MAX]
    role = request.args.get("role", "")
    state = request.args.get("etat", "")
    page = request.args.get("page", "1")
    return {
        "q": text,
        "role": role if role in Role._value2member_map_ else "",
        "etat": state if state in STATES else "",
        "page": int(page) if page.isdigit() and len(page) < 6 else 1,
    }


def _account_or_404(user_id: int) -> User:
    account = db.session.get(User, user_id)
    if account is None:
        abort(404)
    return account


def _back():
    return redirect(url_for("accounts_admin.index", **request.args))


@bp.route("")
def index():
    filters = _filters()
    page = accounts.list_accounts(
        text=filters["q"],
        role=Role(filters["role"]) if filters["role"] else None,
        active=STATES.get(filters["etat"]),
        page=filters["page"],
    )
    return render_template(
        "accounts_admin/index.html",
        page=page,
        filters=filters,
        roles=list(Role),
        may_toggle={a.id: permissions.can_deactivate_account(current_user, a) for a in page.items},
        may_change_roles=permissions.can_change_roles(current_user),
    )


@bp.route("/<int:user_id>/desactiver", methods=["POST"])
def deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.route("/<int:user_id>/reactiver", methods=["POST"])
def reactivate(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    account = _account_or_404(user_id)
    try:
        accounts.set_active(
            current_user._get_current_object(), account, active, ip=request.remote_addr
        )
    except PermissionError:
        abort(403)
    if active:
        flash(f"Le compte {account.email} est réactivé.", "success")
    else:
        flash(
            f"Le compte {account.email} est désactivé : ses sessions ouvertes sont fermées.",
            "success",
        )
    return _back()


@bp.route("/<int:user_id>/role", methods=["POST"])
def change_role(user_id: int):
    account = _account_or_404(user_id)
    if not permissions.can_change_roles(current_user):
        abort(403)
    value = request.form.get("role", "")
    if value not in Role._value2member_map_:
        flash("Rôle inconnu.", "error")
        return _back()
    try:
        accounts.change_role(
            current_user._get_current_object(), account, Role(value), ip=request.remote_addr
        )
    except PermissionError:
        abort(403)
    flash(f"Le compte {account.email} a désormais le rôle « {Role(value).label} ».", "success")
    return _back()
