"""Institutional pages: legal notice, accessibility statement, personal data, site map."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from ..guards import classify

bp = classify(Blueprint("pages", __name__), "public")


@bp.get("/mentions-legales")
def legal_notice() -> str:
    return render_template(
        "pages/legal_notice.html",
        publisher=current_app.config["LEGAL_PUBLISHER"],
        host=current_app.config["LEGAL_HOST"],
        contact=current_app.config["LEGAL_CONTACT"],
    )


@bp.get("/accessibilite")
def accessibility() -> str:
    return render_template("pages/accessibility.html", contact=current_app.config["LEGAL_CONTACT"])


@bp.get("/donnees-personnelles")
def personal_data() -> str:
    return render_template("pages/personal_data.html", contact=current_app.config["LEGAL_CONTACT"])


@bp.get("/plan-du-site")
def sitemap() -> str:
    return render_template("pages/sitemap.html")
