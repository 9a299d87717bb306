"""Outgoing mail: SMTP when ``MAIL_SERVER`` is set, otherwise files in the instance outbox.

With no SMTP server configured (a newcomer's machine), each message is written to
``instance/outbox/`` as an ``.eml`` file and logged, so invitation and reset links can be
followed by hand. A mail that cannot be sent is logged and reported to the caller as False:
a notification must never undo the change it reports.

Texts live in ``templates/mail/`` (plain text, not autoescaped), one file per mail: the
first line is the subject, the body follows the blank line; :func:`render_mail` splits them.
Links are built by the caller (``url_for(..., _external=True)``, from ``PUBLIC_URL``) and
passed in. Rendering needs an app context, which requests, commands and
:func:`after_response` jobs all have.

Mails whose sending must not show in the answer (password resets, invitations: whether one
leaves says whether an account exists) are sent with :func:`after_response`, once the
response has gone out: the answer never waits for the SMTP server, and takes as long whether
or not a mail leaves.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from flask import (
    after_this_request,
    copy_current_request_context,
    current_app,
    g,
    has_request_context,
    render_template,
)
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)


def render_mail(template: str, /, **context: Any) -> tuple[str, str]:
    """The subject and the text of ``templates/mail/<template>``."""
    rendered = render_template(f"mail/{template}", **context)
    subject, blank, text = rendered.split("\n", 2)
    if blank:
        raise ValueError(f"mail/{template}: the subject must be one line, then a blank line")
    return subject, text


def build_message(to: str | list[str], subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
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
    port = int(config["MAIL_PORT"])
    timeout = float(config["MAIL_TIMEOUT"])
    if config["MAIL_USE_SSL"]:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if config["MAIL_USE_TLS"]:
            client.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            client.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        client.send_message(message)


def send_mail(to: str | list[str], subject: str, text: str) -> bool:
    """Send a plain-text mail; True when it left (or was written to the outbox)."""
    message = build_message(to, subject, text)
    if not current_app.config["MAIL_SERVER"]:
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


def after_response(job: Callable[[], object]) -> None:
    """Run ``job`` (which sends mail) once the response has been sent; at once outside a
    request (commands).

    The WSGI server closes the response after writing it to the client (gunicorn, gevent
    workers included, writes the whole body first, then closes); werkzeug's
    ``call_on_close`` runs the queued jobs then. Each job runs in a copy of the request's
    context, so links are built as in the request, and in an app context of its own (its own
    database session: load rows by id). A failing job is logged and never reaches the client.
    """
    if not has_request_context():
        job()
        return
    queued = g.setdefault("_after_response", [])
    if not queued:
        after_this_request(_run_after_close)
    queued.append(copy_current_request_context(job))


def _run_after_close(response: Response) -> Response:
    jobs = g.pop("_after_response", [])
    response.call_on_close(lambda: _run(jobs))
    return response


def _run(jobs: list[Callable[[], object]]) -> None:
    for job in jobs:
        try:
            job()
        except Exception:  # the response is gone: log, and let the next job run
            log.exception("Échec d'un envoi de courriel après la réponse")
