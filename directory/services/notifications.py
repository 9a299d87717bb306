"""Mails sent by the moderation workflow: authors learn what became of their proposals.

A notification never undoes the change it reports: it is sent after the commit, and a mail
that cannot leave is logged by ``services.mail`` and reported as False.
"""

from __future__ import annotations

from flask import url_for

from ..extensions import db
from ..models import Initiative, Organisation, Revision, RevisionState
from .mail import send_mail

SIGNATURE = "L'équipe de l'Annuaire de l'innovation sociale (DRJSCS PACA)"


def _recipient(revision: Revision) -> tuple[str | None, str]:
    """The address to write to and the name to greet."""
    if revision.author is not None:
        return revision.author.email, revision.author.name or ""
    return revision.proposer_email, revision.proposer_name or ""


def _entry_title(revision: Revision) -> str:
    if revision.entity_type == "initiative":
        entry = db.session.get(Initiative, revision.entity_id) if revision.entity_id else None
        return entry.title if entry else (revision.snapshot or {}).get("title", "")
    entry = db.session.get(Organisation, revision.entity_id) if revision.entity_id else None
    return entry.name if entry else (revision.snapshot or {}).get("name", "")


def _public_link(revision: Revision) -> str | None:
    """The public address of the entry (from PUBLIC_URL, in a request or not), when online."""
    model = Initiative if revision.entity_type == "initiative" else Organisation
    entry = db.session.get(model, revision.entity_id) if revision.entity_id else None
    if entry is None or not entry.is_published:
        return None
    endpoint = "public.initiative" if model is Initiative else "public.organisation"
    try:
        return url_for(endpoint, slug=entry.slug, _external=True)
    except Exception:  # a missing route must not stop the mail
        return None


def revision_reviewed(revision: Revision) -> bool:
    """Tell the author (or the anonymous proposer) that a proposal was accepted or refused."""
    address, name = _recipient(revision)
    if not address:
        return False
    title = _entry_title(revision)
    kind = "l'initiative" if revision.entity_type == "initiative" else "l'organisation"
    greeting = f"Bonjour {name}," if name else "Bonjour,"
    if revision.state == RevisionState.APPLIED:
        subject = f"Votre proposition pour « {title} » a été acceptée"
        lines = [
            greeting,
            "",
            f"Votre proposition concernant {kind} « {title} » a été acceptée par l'équipe de "
            "la DRJSCS. Elle est désormais publiée dans l'annuaire.",
        ]
        link = _public_link(revision)
        if link:
            lines += ["", f"Consulter la fiche : {link}"]
    else:
        subject = f"Votre proposition pour « {title} » n'a pas été retenue"
        lines = [
            greeting,
            "",
            f"Votre proposition concernant {kind} « {title} » n'a pas été retenue par "
            "l'équipe de la DRJSCS.",
        ]
    if revision.comment:
        lines += ["", "Commentaire de l'équipe :", revision.comment]
    lines += ["", "Cordialement,", SIGNATURE]
    return send_mail(address, subject, "\n".join(lines))
