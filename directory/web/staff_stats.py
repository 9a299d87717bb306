"""Staff dashboard: statistics and coverage gaps, follow-up of stale entries, audit log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..guards import classify
from ..services import audit, reminders, stats
from ..services.browse import parse_page

bp = classify(Blueprint("staff_stats", __name__, url_prefix="/gestion"), "staff")


@bp.get("/statistiques")
def statistics():
    scope = stats.Scope.from_args(request.args)
    return render_template(
        "staff_stats/statistics.html",
        board=stats.dashboard(scope),
        regions=stats.STATS_REGIONS,
    )


@bp.get("/suivi")
def follow_up():
    kind = (
        request.args.get("type") if request.args.get("type") in reminders.KINDS else "initiatives"
    )
    page = reminders.stale_entries(kind, parse_page(request.args.get("page")))
    return render_template(
        "staff_stats/follow_up.html",
        page=page,
        kind=kind,
        pause_days=reminders.REMINDER_PAUSE.days,
    )


@bp.post("/suivi/rappels")
def send_reminders():
    keys = reminders.parse_keys(request.form.getlist("fiche"))
    back = url_for(".follow_up", type=request.form.get("type") or None)
    if not keys:
        flash("Choisissez au moins une fiche à rappeler.", "error")
        return redirect(back, code=303)
    report = reminders.send_reminders(current_user, keys, ip_address=request.remote_addr)
    if report.mails_sent:
        flash(
            f"{report.mails_sent} courriel(s) de rappel envoyé(s) pour "
            f"{report.entries_reminded} fiche(s).",
            "success",
        )
    if report.skipped_recent:
        flash(
            "Déjà rappelées il y a moins de "
            f"{reminders.REMINDER_PAUSE.days} jours : {', '.join(report.skipped_recent)}.",
            "info",
        )
    if report.skipped_no_member:
        flash(
            "Aucun membre à prévenir (invitez-en un depuis la page de l’organisation) : "
            f"{', '.join(report.skipped_no_member)}.",
            "warning",
        )
    if report.failed:
        flash(f"Envoi impossible à : {', '.join(report.failed)}.", "error")
    return redirect(back, code=303)


@bp.get("/journal")
def audit_log():
    filters = audit.AuditFilters.from_args(request.args)
    return render_template(
        "staff_stats/audit_log.html",
        page=audit.entries(filters, parse_page(request.args.get("page"))),
        filters=filters,
        actions=audit.known_actions(),
        label=audit.label,
        visible_details=audit.visible_details,
    )
