"""Staff pages for duplicates (/gestion/doublons): likely pairs, and the side-by-side merge.

Views parse the request, call ``services.duplicates`` or ``services.merge`` (which checks the
permission and commits) and render; merge errors are shown on the form, never as a 500.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import HiddenField

from ..extensions import db
from ..guards import classify
from ..models import Status
from ..services import duplicates, merge, permissions, workflow
from ..services.browse import parse_page
from .forms import BaseForm
from .staff import present

bp = classify(Blueprint("staff_merge", __name__, url_prefix="/gestion/doublons"), "staff")

TYPES = {"initiative": "Initiatives", "organisation": "Organisations"}
MAX_PARAM_LENGTH = 200


class MergeForm(BaseForm):
    """CSRF, the token of both entries; the per-field radios are read by name (``choix-*``)."""

    token = HiddenField()


def _kind(value: str | None) -> str | None:
    return value if value in TYPES else None


def _param(name: str) -> str:
    """A slug from the query string; a pasted address gives its last segment."""
    value = request.args.get(name, "")
    if "\x00" in value or len(value) > MAX_PARAM_LENGTH:
        return ""
    return value.strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@bp.get("")
def pairs():
    if not permissions.can_review(current_user):
        abort(403)
    kind = _kind(request.args.get("type")) or "initiative"
    page = duplicates.duplicate_pairs(kind, parse_page(request.args.get("page")))
    return render_template("staff_merge/pairs.html", page=page, kind=kind, types=TYPES)


def _merge_page(kind, form, *, plan=None, error=None, stale=None, keep="", retire=""):
    return render_template(
        "staff_merge/merge.html",
        kind=kind,
        types=TYPES,
        form=form,
        plan=plan,
        error=error,
        stale=stale,
        keep=keep,
        retire=retire,
        present=present,
        KEEP=merge.KEEP,
        TAKE=merge.TAKE,
    )


def _again(kind: str, form: MergeForm, keep: str, retire: str, **messages: str):
    """The form again after a refused merge, with the entries as they are now."""
    db.session.rollback()
    try:
        fresh = merge.plan(kind, keep, retire)
    except merge.MergeError as error:
        return _merge_page(kind, form, error=str(error), keep=keep, retire=retire)
    form.token.data = fresh.token
    return _merge_page(kind, form, plan=fresh, keep=keep, retire=retire, **messages)


@bp.route("/fusionner", methods=["GET", "POST"])
def merge_entries():
    if not permissions.can_review(current_user):
        abort(403)
    kind = _kind(request.args.get("type"))
    keep, retire = _param("garder"), _param("retirer")
    form = MergeForm()
    if request.method == "GET" and not request.args:
        return _merge_page("initiative", form)  # choose the two entries
    if kind is None or not keep or not retire:
        error = "Indiquez le type de fiche et les deux fiches à fusionner."
        return _merge_page(kind or "initiative", form, error=error, keep=keep, retire=retire), 400
    try:
        plan = merge.plan(kind, keep, retire)
    except merge.MergeError as error:
        missing = (
            workflow.find_entry(kind, keep) is None or workflow.find_entry(kind, retire) is None
        )
        status = 404 if missing else 400
        return _merge_page(kind, form, error=str(error), keep=keep, retire=retire), status

    if request.method == "GET":
        form.token.data = plan.token
        return _merge_page(kind, form, plan=plan, keep=keep, retire=retire)

    if not form.validate():
        form.token.data = plan.token
        return _merge_page(
            kind, form, plan=plan, error="Le formulaire a expiré : renvoyez-le.", keep=keep,
            retire=retire,
        ), 400  # fmt: skip
    choices = {
        choice.name: request.form[f"choix-{choice.name}"]
        for choice in plan.fields
        if f"choix-{choice.name}" in request.form
    }
    survivor, retired = plan.survivor, plan.retired
    try:
        merge.merge(current_user, kind, survivor, retired, choices, form.token.data)
    except workflow.NotAllowed:
        abort(403)
    except workflow.StaleEdit as error:
        return _again(kind, form, keep, retire, stale=str(error)), 409
    except workflow.WorkflowError as error:
        return _again(kind, form, keep, retire, error=str(error)), 400
    retired_name = retired.title if kind == "initiative" else retired.name
    flash(
        f"Fiches fusionnées : « {retired_name} » est archivée et son ancienne adresse mène "
        "désormais à cette fiche.",
        "success",
    )
    if survivor.status == Status.PUBLISHED:
        endpoint = "public.initiative" if kind == "initiative" else "public.organisation"
        return redirect(url_for(endpoint, slug=survivor.slug))
    return redirect(url_for(f"staff.{kind}_history", slug=survivor.slug))
