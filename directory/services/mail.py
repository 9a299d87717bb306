"""Outgoing mail: SMTP when ``MAIL_SERVER`` is set, otherwise files in the instance outbox.

With no SMTP server configured (a newcomer's machine), each message is written to
``instance/outbox/`` as an ``.eml`` file and logged, so invitation and reset links can be
followed by hand. A mail that cannot be sent is logged and reported to the caller as False:
a notification must never undo the change it reports.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)

DEFAULT_SENDER = "Annuaire de l'innovation sociale <ne-pas-repondre@annuaire.invalid>"


def build_message(to: str | list[str], subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config.get("MAIL_DEFAULT_SENDER") or DEFAULT_SENDER
    message["To"] = ", ".join([to] if isinstance(to, str) else to)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="annuaire.invalid")
    message.set_content(text)
    return message


def _outbox() -> Path:
    path = Path(current_app.instance_path) / "outbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    host = config["MAIL_SERVER"]
    port = int(config.get("MAIL_PORT") or 25)
    timeout = float(config.get("MAIL_TIMEOUT") or 10)
    if config.get("MAIL_USE_SSL"):
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if config.get("MAIL_USE_TLS"):
            client.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            client.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        client.send_message(message)


def send_mail(to: str | list[str], subject: str, text: str) -> bool:
    """Send a plain-text mail; True when it left (or was written to the outbox)."""
    message = build_message(to, subject, text)
    if not current_app.config.get("MAIL_SERVER"):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = _outbox() / f"{stamp}.eml"
        path.write_bytes(bytes(message))
        log.warning(
            "Courriel non envoyé (aucun MAIL_SERVER) : « %s » pour %s, écrit dans %s",
            subject,
            message["To"],
            path,
        )
        return True
    try:
        _send_smtp(message)
    except (OSError, smtplib.SMTPException) as error:
        log.error("Échec de l'envoi du courriel « %s » à %s : %s", subject, message["To"], error)
        return False
    return True
