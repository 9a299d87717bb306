"""Staff pages for the curated lists (themes, publics) and the home page's featured initiatives."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import classify
from ..models import Initiative
from ..services import featured, taxonomies

bp = classify(Blueprint("staff_catalogue", __name__, url_prefix="/gestion"), "staff")
KIND_PATH = "<any(themes, publics):kind>"


def _kind(kind: str) -> taxonomies.Kind:
    return taxonomies.KINDS[kind]


def _term(kind: taxonomies.Kind, slug: str):
    if "\x00" in slug:  # PostgreSQL refuses NUL bytes in text: no such term
        abort(404)
    term = db.session.scalar(sa.select(kind.model).where(kind.model.slug == slug))
    if term is None:
        abort(404)
    return term


def _field(name: str) -> str:
    return str(request.form.get(name) or "").replace("\x00", "")[:1000]


@bp.get(f"/{KIND_PATH}")
def terms(kind: str):
    return render_template(
        "staff_catalogue/terms.html",
        kind=kind,
        info=_kind(kind),
        terms=taxonomies.terms(_kind(kind)),
    )


@bp.post(f"/{KIND_PATH}/ajouter")
def add_term(kind: str):
    try:
        term = taxonomies.add(current_user, _kind(kind), _field("name"), _field("description"))
    except taxonomies.TaxonomyError as error:
        flash(str(error), "error")
    else:
        flash(f"« {term.name} » a été ajouté.", "success")
    return redirect(url_for(".terms", kind=kind), code=303)


@bp.post(f"/{KIND_PATH}/<slug>/renommer")
def rename_term(kind: str, slug: str):
    info = _kind(kind)
    term = _term(info, slug)
    old = term.name
    try:
        taxonomies.rename(current_user, info, term, _field("name"))
    except taxonomies.TaxonomyError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(f"« {old} » s’appelle désormais « {term.name} ».", "success")
    return redirect(url_for(".terms", kind=kind), code=303)


@bp.post(f"/{KIND_PATH}/fusionner")
def merge_terms(kind: str):
    info = _kind(kind)
    removed = _term(info, _field("removed"))
    kept = _term(info, _field("kept"))
    names = (removed.name, kept.name)
    try:
        moved = taxonomies.merge(current_user, info, removed, kept)
    except taxonomies.TaxonomyError as error:
        flash(str(error), "error")
    else:
        flash(
            f"« {names[0]} » a été fusionné dans « {names[1]} » ({moved} fiche(s) déplacée(s)).",
            "success",
        )
    return redirect(url_for(".terms", kind=kind), code=303)


@bp.post(f"/{KIND_PATH}/<slug>/deplacer")
def move_term(kind: str, slug: str):
    info = _kind(kind)
    direction = _field("direction")
    if direction not in ("up", "down"):
        abort(400)
    taxonomies.move(info, _term(info, slug), direction)
    return redirect(url_for(".terms", kind=kind, _anchor=f"terme-{slug}"), code=303)


# -- featured initiatives --------------------------------------------------------------------


def _initiative(slug: str) -> Initiative:
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    if initiative is None:
        abort(404)
    return initiative


@bp.get("/a-la-une")
def featured_page():
    return render_template(
        "staff_catalogue/featured.html",
        items=featured.featured(published_only=False),
        maximum=featured.MAX_FEATURED,
    )


@bp.post("/a-la-une/ajouter")
def feature():
    raw = _field("initiative").strip()
    # Accept the sheet's address as well as its slug.
    slug = raw.rstrip("/").rsplit("/initiatives/", 1)[-1]
    try:
        initiative = featured.add(current_user, slug)
    except featured.FeaturedError as error:
        flash(str(error), "error")
    else:
        flash(f"« {initiative.title} » est à la une.", "success")
    return redirect(url_for(".featured_page"), code=303)


@bp.post("/a-la-une/<slug>/retirer")
def unfeature(slug: str):
    initiative = _initiative(slug)
    featured.remove(current_user, initiative)
    flash(f"« {initiative.title} » n’est plus à la une.", "success")
    return redirect(url_for(".featured_page"), code=303)


@bp.post("/a-la-une/<slug>/deplacer")
def move_featured(slug: str):
    direction = _field("direction")
    if direction not in ("up", "down"):
        abort(400)
    featured.move(_initiative(slug), direction)
    return redirect(url_for(".featured_page"), code=303)
