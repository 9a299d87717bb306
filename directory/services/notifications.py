"""Mails sent by the moderation workflow: authors learn what became of their proposals.

A notification never undoes the change it reports: it is sent after the commit, and a mail
that cannot leave is logged by ``services.mail`` and reported as False.
"""

from __future__ import annotations

from flask import url_for

from ..extensions import db
from ..models import Initiative, Organisation, Revision, RevisionState
from .mail import render_mail, send_mail


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
    context = {
        "name": name,
        "title": _entry_title(revision),
        "entity_type": revision.entity_type,
        "comment": revision.comment,
    }
    if revision.state == RevisionState.APPLIED:
        subject, text = render_mail("revision_accepted.txt", link=_public_link(revision), **context)
    else:
        subject, text = render_mail("revision_refused.txt", **context)
    return send_mail(address, subject, text)
