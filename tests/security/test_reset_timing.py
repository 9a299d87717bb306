"""Threat: timing the password-reset form tells which addresses have an account.

The page says the same for every address, but the request for an existing account used to
talk to the SMTP server before answering: hundreds of milliseconds, or the whole SMTP timeout
when the mail server is slow, against an instant answer for an unknown address. Now the mail
leaves after the response (``mail.after_response``): against real gunicorn servers (gevent
workers, as ``make run``), with a mail server that does not answer until the test lets it,
the response arrives first, and the mail is delivered afterwards. Had the response waited,
the app's SMTP client would have given up before the server answered, and no mail would come.
"""

from __future__ import annotations

import contextlib
import email
import re
import socket
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from signin_client import Visitor, add_account

KNOWN = "cible@example.org"
UNKNOWN = "personne@example.org"


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class HeldMailServer:
    """A mail server that accepts connections and stays silent until :meth:`release`: each
    connection is then handed to a real SMTP server (aiosmtpd), greeting first."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=_free_port())
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.released = threading.Event()
        self.accepted = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> HeldMailServer:
        self.smtp.start()
        self._spawn(self._accept)
        return self

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.released.set()
        self.listener.close()
        self.smtp.stop()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._spawn(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        self.released.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.smtp.port))
        except OSError:  # stopped before this connection was relayed
            client.close()
            return
        self._spawn(_pipe, upstream, client)
        _pipe(client, upstream)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        # Both directions end together: the other pipe's recv() returns once these shut down.
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, what: str, deadline: float = 60) -> None:
    """Poll until ``condition()``; the deadline only bounds a broken run, it measures nothing."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"toujours pas : {what}")
        time.sleep(0.05)


def _page(text: str, address: str) -> str:
    text = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', text)
    return text.replace(address, "ADRESSE")


@pytest.fixture
def mail_server():
    server = HeldMailServer().start()
    yield server
    server.stop()


def test_the_reset_answer_does_not_wait_for_the_mail_server(gunicorn_server, mail_server, tmp_path):
    server = gunicorn_server(
        workers=2, env={"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(mail_server.port)}
    )
    add_account(gunicorn_server.database_url, tmp_path / "seed", KNOWN)

    known = Visitor(server.url).post_form("/mot-de-passe-oublie", {"email": KNOWN})
    # The answer is here while the mail server has not said a word.
    assert known.status == 200
    assert mail_server.inbox.messages == []
    mail_server.release()
    _wait_for(lambda: mail_server.inbox.messages, "le courriel de réinitialisation")
    (message,) = mail_server.inbox.messages
    assert message["To"] == KNOWN
    assert "/reinitialiser/" in message.get_content()

    unknown = Visitor(server.url).post_form("/mot-de-passe-oublie", {"email": UNKNOWN})
    assert unknown.status == known.status
    assert _page(unknown.text, UNKNOWN) == _page(known.text, KNOWN)
    assert mail_server.accepted == 1  # nothing was sent, nor tried, for the unknown address
