"""Staff pages for the cycle's events: the event form, its initiatives, its programme."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, Event, EventKind, ProgrammeItem, ProgrammeKind, Role, Status

ROUTES = [
    ("GET", "/gestion/evenements/"),
    ("GET", "/gestion/evenements/nouveau"),
    ("POST", "/gestion/evenements/nouveau"),
    ("GET", "/gestion/evenements/atelier-test/modifier"),
    ("POST", "/gestion/evenements/atelier-test/modifier"),
    ("POST", "/gestion/evenements/atelier-test/initiatives/ajouter"),
    ("POST", "/gestion/evenements/atelier-test/initiatives/x/retirer"),
    ("GET", "/gestion/evenements/atelier-test/programme"),
    ("POST", "/gestion/evenements/atelier-test/programme"),
    ("GET", "/gestion/evenements/atelier-test/programme/1/modifier"),
    ("POST", "/gestion/evenements/atelier-test/programme/1/modifier"),
    ("POST", "/gestion/evenements/atelier-test/programme/1/supprimer"),
    ("POST", "/gestion/evenements/atelier-test/programme/1/deplacer"),
]


def _event(**overrides) -> Event:
    values = {
        "slug": "atelier-test",
        "title": "Atelier de test",
        "kind": EventKind.ATELIER_TERRITORIAL,
        "status": Status.DRAFT,
    }
    values.update(overrides)
    event = Event(**values)
    db.session.add(event)
    db.session.flush()
    return event


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    _event()
    db.session.commit()
    return user


def _post(client, csrf_token, path, follow=True, **data):
    data["csrf_token"] = csrf_token(client)
    return client.post(path, data=data, follow_redirects=follow)


def _event_data(**overrides) -> dict:
    data = {
        "title": "Atelier territorial de Gap",
        "kind": "atelier_territorial",
        "status": "published",
        "cycle": "Ateliers territoriaux 2019",
        "date": "2019-05-14",
        "starts_at": "09:30",
        "ends_at": "16:30",
        "venue": "Salle des fêtes",
        "description": "Une journée d’échanges entre acteurs du territoire.",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_people_are_sent_to_sign_in(client, csrf_token, curator, method, path):
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"] or "login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_partners_get_403(app, client, sign_in, csrf_token, curator, method, path):
    partner = make_user(organisation=make_organisation())
    db.session.commit()
    sign_in(client, partner)
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 403


def test_list_shows_every_status(client, sign_in, curator):
    _event(slug="archive", title="Atelier archivé", status=Status.ARCHIVED)
    db.session.commit()
    sign_in(client, curator)
    page = client.get("/gestion/evenements/").get_data(as_text=True)
    assert "Atelier de test" in page
    assert "Atelier archivé" in page
    assert 'href="/gestion/evenements/nouveau"' in page


def test_create_publish_and_see_it_publicly(client, sign_in, csrf_token, curator):
    sign_in(client, curator)
    response = _post(
        client, csrf_token, "/gestion/evenements/nouveau", follow=False, **_event_data()
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(
        "/gestion/evenements/atelier-territorial-de-gap/modifier"
    )
    event = db.session.scalar(sa.select(Event).where(Event.slug == "atelier-territorial-de-gap"))
    assert event.title == "Atelier territorial de Gap"
    assert str(event.date) == "2019-05-14"
    assert event.starts_at.strftime("%H:%M") == "09:30"
    public = client.get("/evenements/atelier-territorial-de-gap")
    assert public.status_code == 200
    assert "Une journée d’échanges" in public.get_data(as_text=True)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "event.created")
        )
        == 1
    )
    # Same title again: a unique slug with a suffix.
    _post(client, csrf_token, "/gestion/evenements/nouveau", **_event_data())
    assert (
        db.session.scalar(sa.select(Event).where(Event.slug == "atelier-territorial-de-gap-2"))
        is not None
    )


def test_draft_event_is_not_public_until_published(client, sign_in, csrf_token, curator):
    sign_in(client, curator)
    assert client.get("/evenements/atelier-test").status_code == 404
    page = client.get("/gestion/evenements/atelier-test/modifier").get_data(as_text=True)
    assert 'value="Atelier de test"' in page
    response = _post(
        client,
        csrf_token,
        "/gestion/evenements/atelier-test/modifier",
        **_event_data(title="Atelier renommé", version="1"),
    )
    assert "Les modifications ont été enregistrées." in response.get_data(as_text=True)
    public = client.get("/evenements/atelier-test")
    assert public.status_code == 200
    assert "Atelier renommé" in public.get_data(as_text=True)
    log = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "event.updated"))
    assert "title" in log.details["fields"]


def test_stale_version_is_refused(client, sign_in, csrf_token, curator):
    sign_in(client, curator)
    response = _post(
        client,
        csrf_token,
        "/gestion/evenements/atelier-test/modifier",
        **_event_data(title="Trop tard", version="0"),
    )
    assert "modifié entre-temps" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(Event.title).where(Event.slug == "atelier-test")) == (
        "Atelier de test"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "Ce champ est obligatoire."),
        ("title", "Atelier\x00nul", "caractères non autorisés"),
        ("title", "x" * 301, "300 caractères au plus."),
        ("description", "<script>alert(1)</script>", "balises HTML"),
        ("description", "x" * 20001, "20000 caractères au plus."),
        ("date", "31/02/2019", "Date"),
        ("date", "2019-13-45", "Date"),
        ("starts_at", "25:99", "Heure de début"),
        ("ends_at", "08:00", "L’heure de fin doit suivre l’heure de début."),
        ("kind", "congres", "Choisissez parmi les propositions de la liste."),
        ("status", "deleted", "Choisissez parmi les propositions de la liste."),
        ("commune", "Zzzzqqq", "Commune introuvable"),
    ],
)
def test_bad_input_gives_form_errors(client, sign_in, csrf_token, curator, field, value, message):
    sign_in(client, curator)
    for path in ("/gestion/evenements/nouveau", "/gestion/evenements/atelier-test/modifier"):
        response = _post(client, csrf_token, path, **_event_data(**{field: value}))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Le formulaire contient des erreurs" in page
        assert message in page
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == db.session.scalar(
        sa.select(sa.func.count()).select_from(Event)
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action.like("event.%"))
        )
        == 0
    )


def test_csrf_is_required(client, sign_in, curator):
    sign_in(client, curator)
    assert client.post("/gestion/evenements/nouveau", data=_event_data()).status_code == 400
    response = client.post(
        "/gestion/evenements/atelier-test/initiatives/ajouter", data={"initiative": "x"}
    )
    assert response.status_code == 400
    assert (
        client.post(
            "/gestion/evenements/atelier-test/programme", data={"title": "x", "kind": "pause"}
        ).status_code
        == 400
    )


def test_unknown_event_is_404(client, sign_in, curator):
    sign_in(client, curator)
    assert client.get("/gestion/evenements/inconnu/modifier").status_code == 404
    assert (
        client.get("/gestion/evenements/atelier-test/programme/999999/modifier").status_code == 404
    )


def test_add_and_remove_initiatives(client, sign_in, csrf_token, curator):
    event = db.session.scalar(sa.select(Event).where(Event.slug == "atelier-test"))
    event.status = Status.PUBLISHED
    shown = make_initiative(slug="jardin-partage", title="Jardin partagé")
    make_initiative(slug="brouillon", title="Brouillon", status=Status.DRAFT)
    db.session.commit()
    sign_in(client, curator)
    path = "/gestion/evenements/atelier-test/initiatives/ajouter"
    page = _post(
        client, csrf_token, path, initiative="https://exemple.fr/initiatives/jardin-partage/"
    ).get_data(as_text=True)
    assert "« Jardin partagé » est présentée à cet événement." in page
    assert "Jardin partagé" in client.get("/evenements/atelier-test").get_data(as_text=True)
    again = _post(client, csrf_token, path, initiative="jardin-partage").get_data(as_text=True)
    assert "déjà présentée" in again
    for reference in ("brouillon", "inconnue", "\x00" * 5, "x" * 5000):
        refused = _post(client, csrf_token, path, initiative=reference)
        assert refused.status_code == 200
        assert "Aucune initiative publiée ne porte cette adresse." in refused.get_data(as_text=True)
    removed = _post(
        client, csrf_token, f"/gestion/evenements/atelier-test/initiatives/{shown.slug}/retirer"
    ).get_data(as_text=True)
    assert "n’est plus présentée" in removed
    assert "Jardin partagé" not in client.get("/evenements/atelier-test").get_data(as_text=True)
    actions = db.session.scalars(
        sa.select(AuditLog.details).where(AuditLog.action == "event.initiatives_changed")
    ).all()
    assert [sorted(details) for details in actions] == [["added", "slug"], ["removed", "slug"]]


def test_programme_add_edit_move_delete(client, sign_in, csrf_token, curator):
    event = db.session.scalar(sa.select(Event).where(Event.slug == "atelier-test"))
    event.status = Status.PUBLISHED
    db.session.commit()
    sign_in(client, curator)
    path = "/gestion/evenements/atelier-test/programme"
    _post(client, csrf_token, path, kind="accueil", title="Accueil café", starts_at="09:00")
    _post(
        client, csrf_token, path, kind="table_ronde", title="Table ronde", section="Matinée",
        questions="Pourquoi ?\nComment ?",
    )  # fmt: skip
    items = db.session.scalars(
        sa.select(ProgrammeItem).join(Event).where(Event.slug == "atelier-test")
        .order_by(ProgrammeItem.position)
    ).all()  # fmt: skip
    assert [item.title for item in items] == ["Accueil café", "Table ronde"]
    assert items[1].question_list == ["Pourquoi ?", "Comment ?"]
    public = client.get("/evenements/atelier-test").get_data(as_text=True)
    assert "Accueil café" in public and "Table ronde" in public

    first, second = items[0].id, items[1].id
    _post(client, csrf_token, f"{path}/{second}/deplacer", direction="up")
    db.session.expire_all()
    positions = dict(db.session.execute(sa.select(ProgrammeItem.id, ProgrammeItem.position)).all())
    assert positions[second] < positions[first]
    assert (
        _post(
            client, csrf_token, f"{path}/{second}/deplacer", follow=False, direction="x"
        ).status_code
        == 400
    )

    edited = _post(
        client, csrf_token, f"{path}/{first}/modifier", kind="pause", title="Pause déjeuner",
        starts_at="12:00", ends_at="13:30",
    )  # fmt: skip
    assert "L’élément du programme a été modifié." in edited.get_data(as_text=True)
    db.session.expire_all()
    item = db.session.get(ProgrammeItem, first)
    assert (item.title, item.kind) == ("Pause déjeuner", ProgrammeKind.PAUSE)

    bad = _post(
        client, csrf_token, f"{path}/{first}/modifier", kind="pause", title="x\x00",
        starts_at="14:00", ends_at="13:00",
    )  # fmt: skip
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "caractères non autorisés" in text
    assert "L’heure de fin doit suivre l’heure de début." in text

    _post(client, csrf_token, f"{path}/{first}/supprimer")
    db.session.expire_all()
    assert db.session.get(ProgrammeItem, first) is None
    assert "Pause déjeuner" not in client.get("/evenements/atelier-test").get_data(as_text=True)
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditLog)
        .where(AuditLog.action == "event.programme_changed")
    ) == 5  # fmt: skip
