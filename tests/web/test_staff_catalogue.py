"""Staff pages for themes, publics and featured initiatives."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_theme, make_user

from directory.extensions import db
from directory.models import Initiative, Role, Status, Theme

ROUTES = [
    ("GET", "/gestion/themes"),
    ("GET", "/gestion/publics"),
    ("GET", "/gestion/a-la-une"),
    ("POST", "/gestion/themes/ajouter"),
    ("POST", "/gestion/a-la-une/ajouter"),
]


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    db.session.commit()
    return user


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_partners_get_403(app, client, sign_in, csrf_token, method, path):
    with app.app_context():
        partner = make_user(organisation=make_organisation())
        db.session.commit()
    sign_in(client, partner)
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 403


def test_add_rename_merge_and_move_through_the_pages(client, sign_in, csrf_token, curator):
    sign_in(client, curator)
    page = client.get("/gestion/themes").get_data(as_text=True)
    assert "<h1>Thèmes</h1>" in page

    def post(path, **data):
        data["csrf_token"] = csrf_token(client)
        return client.post(path, data=data, follow_redirects=True).get_data(as_text=True)

    assert "a été ajouté" in post("/gestion/themes/ajouter", name="Habitat inclusif")
    assert "existe déjà" in post("/gestion/themes/ajouter", name="habitat INCLUSIF")
    assert "s’appelle désormais" in post(
        "/gestion/themes/habitat-inclusif/renommer", name="Habitat partagé"
    )
    target = make_theme(name="Logement")
    make_initiative(
        themes=[db.session.scalar(sa.select(Theme).where(Theme.slug == "habitat-inclusif"))]
    )
    db.session.commit()
    merged = post("/gestion/themes/fusionner", removed="habitat-inclusif", kept=target.slug)
    assert "a été fusionné dans « Logement » (1 fiche(s) déplacée(s))" in merged
    assert (
        client.post(
            f"/gestion/themes/{target.slug}/deplacer",
            data={"direction": "up", "csrf_token": csrf_token(client)},
        ).status_code
        == 303
    )
    bad = client.post(
        f"/gestion/themes/{target.slug}/deplacer",
        data={"direction": "sideways", "csrf_token": csrf_token(client)},
    )
    assert bad.status_code == 400
    missing = client.post(
        "/gestion/themes/inconnu/renommer", data={"name": "x", "csrf_token": csrf_token(client)}
    )
    assert missing.status_code == 404
    assert client.post("/gestion/themes/ajouter", data={"name": "Sans jeton"}).status_code == 400


def test_featured_initiatives_lead_the_home_page_in_order(client, sign_in, csrf_token, curator):
    first = make_initiative(title="Première à la une")
    second = make_initiative(title="Seconde à la une")
    hidden = make_initiative(title="Proposition cachée", status=Status.PROPOSED)
    db.session.commit()
    sign_in(client, curator)

    def post(path, **data):
        data["csrf_token"] = csrf_token(client)
        return client.post(path, data=data, follow_redirects=True).get_data(as_text=True)

    post("/gestion/a-la-une/ajouter", initiative=first.slug)
    post("/gestion/a-la-une/ajouter", initiative=f"https://exemple.fr/initiatives/{second.slug}/")
    assert "Aucune initiative publiée" in post("/gestion/a-la-une/ajouter", initiative=hidden.slug)
    assert "déjà à la une" in post("/gestion/a-la-une/ajouter", initiative=first.slug)
    updated_before = db.session.scalar(
        sa.select(Initiative.updated_at).where(Initiative.id == first.id)
    )
    post(f"/gestion/a-la-une/{second.slug}/deplacer", direction="up")

    home = client.get("/").get_data(as_text=True)
    featured = home.split('id="a-la-une"', 1)[1].split("</section>", 1)[0]
    assert featured.index("Seconde à la une") < featured.index("Première à la une")
    # Featuring is not an edit: the sheet's last-update date does not move.
    db.session.expire_all()
    assert (
        db.session.scalar(sa.select(Initiative.updated_at).where(Initiative.id == first.id))
        == updated_before
    )

    post(f"/gestion/a-la-une/{second.slug}/retirer")
    home = client.get("/").get_data(as_text=True)
    assert "Seconde à la une" not in home.split('id="a-la-une"', 1)[1].split("</section>", 1)[0]
    # An archived initiative leaves the home page without any action.
    db.session.get(Initiative, first.id).status = Status.ARCHIVED
    db.session.commit()
    assert 'id="a-la-une"' not in client.get("/").get_data(as_text=True)


def test_staff_home_links_every_staff_tool(client, sign_in, app_ctx):
    admin = make_user(role=Role.ADMIN)
    db.session.commit()
    sign_in(client, admin)
    html = client.get("/gestion/").get_data(as_text=True)
    for path in (
        "/gestion/statistiques",
        "/gestion/suivi",
        "/gestion/journal",
        "/gestion/themes",
        "/gestion/publics",
        "/gestion/a-la-une",
        "/gestion/comptes",
        "/gestion/import",
        "/gestion/doublons",
    ):
        assert f'href="{path}' in html, path
    assert "changer les rôles" in html
