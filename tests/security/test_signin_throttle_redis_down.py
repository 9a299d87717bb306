"""Threat: with ``REDIS_URL`` set but Redis unreachable, the throttles failed open.

The limiter fell back to counting nothing (12 of 12 wrong passwords were checked), so an
attacker able to disturb Redis could guess passwords without limit. The throttles now fail
closed: sign-in, password reset, invitations and public proposals are refused with a French
503 page, without checking the password or sending anything, and the outage is logged as an
error. Public pages and the API keep answering.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from factories import TEST_PASSWORD, make_organisation, make_user
from signin_client import Visitor, add_account, attempts

from directory import create_app
from directory.extensions import db
from directory.models import AuditLog, Initiative, User

REDIS_DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1
UNAVAILABLE = "Service momentanément indisponible"
LOGGED = "Limitation des tentatives indisponible"


def _sign_in_audits(database_url: str, instance) -> list[str]:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    with app.app_context():
        actions = list(
            db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action.like("auth.%")))
        )
        db.session.remove()
        db.engine.dispose()
    return actions


def test_sign_in_is_refused_and_the_password_never_checked(gunicorn_server, tmp_path):
    server = gunicorn_server(workers=2, env={"REDIS_URL": REDIS_DOWN})
    add_account(gunicorn_server.database_url, tmp_path / "seed", "cible@example.org")

    assert attempts([server.url], "cible@example.org", 12) == Counter(unavailable=12)
    # Not even the right password opens a session.
    visitor = Visitor(server.url)
    answer = visitor.post_form(
        "/connexion", {"email": "cible@example.org", "password": TEST_PASSWORD}
    )
    assert answer.status == 503
    assert UNAVAILABLE in answer.text and "la connexion n’est pas possible" in answer.text
    assert answer.headers["Retry-After"]
    assert visitor.request("/compte").status == 302
    assert _sign_in_audits(gunicorn_server.database_url, tmp_path / "check") == []
    assert LOGGED in server.log()

    # The public site and the API go on.
    for path in ("/", "/recherche", "/api/v1/initiatives"):
        assert Visitor(server.url).request(path).status == 200, path


def _redis_down(app) -> None:
    # The throttle store is made at first use: the app has not counted anything yet.
    app.config["REDIS_URL"] = REDIS_DOWN


def test_password_reset_is_refused(app, client, csrf_token, caplog):
    with app.app_context():
        make_user(email="membre@example.org")
        db.session.commit()
    _redis_down(app)
    with caplog.at_level(logging.ERROR, logger="directory.services.throttle"):
        response = client.post(
            "/mot-de-passe-oublie",
            data={"email": "membre@example.org", "csrf_token": csrf_token(client)},
        )
    assert response.status_code == 503
    assert "la demande de réinitialisation du mot de passe" in response.get_data(as_text=True)
    assert LOGGED in caplog.text
    assert not list((Path(app.instance_path) / "outbox").glob("*.eml"))  # no mail sent


def test_invitation_is_refused(app, client, sign_in, csrf_token):
    with app.app_context():
        horizon = make_organisation(name="Association Horizon", slug="horizon")
        alice = make_user(organisation=horizon, email="alice@example.org")
        db.session.commit()
        sign_in(client, alice)
    _redis_down(app)
    response = client.post(
        "/espace-partenaire/organisations/horizon/membres/inviter",
        data={"email": "nouveau@example.org", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 503
    assert "l’envoi d’invitations n’est pas possible" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "nouveau@example.org")) is None


def test_public_proposal_is_refused(app, client, csrf_token):
    _redis_down(app)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))
    response = client.post(
        "/proposer",
        data={
            "title": "Jardin partagé des Tilleuls",
            "summary": "Un jardin cultivé par les habitants du quartier, ouvert à tous.",
            "description": "Né en 2010 d’une idée de voisins.",
            "commune": "Marseille",
            "themes": ["entraide-et-solidarite"],
            "proposer_name": "Camille Martin",
            "proposer_email": "camille@example.org",
            "consent": "y",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 503
    assert "l’envoi de propositions n’est pas possible" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Initiative)) == before
