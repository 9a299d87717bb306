"""Mail texts: plain-text templates, rendered with or without a request."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from factories import make_user

from directory.extensions import db
from directory.services import accounts, mail


def _outbox(app) -> list:
    folder = Path(app.instance_path) / "outbox"
    return [
        message_from_bytes(path.read_bytes(), policy=default_policy)
        for path in sorted(folder.glob("*.eml"))
    ]


def test_mail_texts_are_not_html_escaped(app_ctx):
    organisation = SimpleNamespace(name="Café & Cie <Nord>")
    subject, text = mail.render_mail(
        "invitation_deactivated.txt", organisation=organisation, actor="Léa « L » O'Neil"
    )
    assert subject == (
        "Invitation à rejoindre Café & Cie <Nord> sur l'Annuaire de l'innovation sociale"
    )
    assert text.startswith("Bonjour,\n\nLéa « L » O'Neil vous a invité·e")
    assert "« Café & Cie <Nord> »" in text


def test_a_subject_must_be_one_line(app_ctx):
    organisation = SimpleNamespace(name="Deux\nlignes")
    with pytest.raises(ValueError, match="one line"):
        mail.render_mail("invitation_deactivated.txt", organisation=organisation, actor="Léa")


def test_a_reset_asked_outside_a_request_links_to_the_public_address(app, app_ctx):
    user = make_user(email="hors-requete@example.org")
    db.session.commit()
    accounts.request_password_reset(user.email)  # no request: the mail leaves at once
    [message] = _outbox(app)
    assert message["Subject"].startswith("Réinitialisation de votre mot de passe")
    assert "http://localhost/reinitialiser/" in message.get_content()
