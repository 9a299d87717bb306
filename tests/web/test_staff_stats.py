"""Staff statistics, follow-up and audit log pages: access, figures shown, filters, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_theme, make_user

from directory.extensions import db
from directory.models import AuditLog, Initiative, Role
from directory.models.base import utcnow

PAGES = ["/gestion/statistiques", "/gestion/suivi", "/gestion/journal"]


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR, email="curatrice@example.org")
    db.session.commit()
    return user


@pytest.mark.parametrize("path", PAGES)
def test_partners_are_refused_and_anonymous_people_sent_to_sign_in(app, client, sign_in, path):
    assert client.get(path).status_code == 302
    with app.app_context():
        partner = make_user(organisation=make_organisation())
        db.session.commit()
    sign_in(client, partner)
    assert client.get(path).status_code == 403


def test_statistics_show_counts_as_text_and_tables(client, sign_in, curator):
    make_initiative(themes=[make_theme(name="Mobilité solidaire")])
    db.session.commit()
    sign_in(client, curator)
    html = client.get("/gestion/statistiques").get_data(as_text=True)
    assert "<h1>Statistiques du catalogue</h1>" in html
    assert "Mobilité solidaire" in html
    assert html.count("<table>") >= 6  # every chart has its table, plus the coverage table
    assert "0 — lacune" in html
    filtered = client.get("/gestion/statistiques?region=languedoc-roussillon&demo=non")
    assert filtered.status_code == 200
    assert "en Languedoc-Roussillon" in filtered.get_data(as_text=True)
    assert client.get("/gestion/statistiques?region=%00&demo=<b>").status_code == 200


def test_follow_up_sends_reminders_with_csrf(app, client, sign_in, csrf_token, curator):
    organisation = make_organisation()
    make_user(organisation=organisation, email="membre-relance@example.org")
    old = make_initiative(title="Fiche à relancer", lead=organisation)
    db.session.commit()
    db.session.execute(
        sa.update(Initiative)
        .where(Initiative.id == old.id)
        .values(updated_at=utcnow() - timedelta(days=500))
    )
    db.session.commit()
    sign_in(client, curator)
    html = client.get("/gestion/suivi?page=abc").get_data(as_text=True)
    assert "Fiche à relancer" in html

    refused = client.post("/gestion/suivi/rappels", data={"fiche": f"initiative:{old.id}"})
    assert refused.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "reminder.sent")) == 0  # fmt: skip

    response = client.post(
        "/gestion/suivi/rappels",
        data={"fiche": f"initiative:{old.id}", "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert "1 courriel(s) de rappel envoyé(s)" in response.get_data(as_text=True)
    empty = client.post(
        "/gestion/suivi/rappels",
        data={"fiche": "nimporte:quoi", "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert "Choisissez au moins une fiche" in empty.get_data(as_text=True)


def test_audit_log_filters_and_hides_secrets(client, sign_in, curator):
    other = make_user(email="autre@example.org")
    db.session.add_all(
        [
            AuditLog(user_id=curator.id, action="import.run", details={"fichier": "a.csv"}),
            AuditLog(
                user_id=other.id,
                action="auth.failed",
                ip_address="192.0.2.7",
                details={"email": "autre@example.org", "password": "jamais-affiché"},
            ),
        ]
    )
    db.session.commit()
    sign_in(client, curator)
    html = client.get("/gestion/journal").get_data(as_text=True)
    assert "Import" in html and "Connexion refusée" in html
    assert "jamais-affiché" not in html
    only_other = client.get("/gestion/journal?personne=autre@").get_data(as_text=True)
    assert "192.0.2.7" in only_other and "a.csv" not in only_other
    by_action = client.get("/gestion/journal?action=import.run").get_data(as_text=True)
    assert "a.csv" in by_action and "192.0.2.7" not in by_action
    future = client.get("/gestion/journal?du=2999-01-01").get_data(as_text=True)
    assert "Aucune action ne correspond" in future
    for query in ("du=pas-une-date&au=2020-13-45", "personne=%00" + "x" * 5000, "page=-3"):
        assert client.get(f"/gestion/journal?{query}").status_code == 200
