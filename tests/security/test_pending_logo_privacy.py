"""Threat: a logo that nobody published is served to anyone who has its address.

A partner proposes a change of their organisation with a new logo. Until the staff approve it,
the picture is not public content: it may be refused (an offensive image, someone else's brand),
and its address leaks easily (mails, browser history, a shared screen, a proxy's log). Before,
every upload went to the public media folder at once, served to anyone by its random name, and
stayed there when the proposal was refused. Here the proposed logo must answer 404 at its public
address, for visitors and for another organisation's partner, while the staff (review page) and
the proposing organisation see it through a signed-in route; approval makes it public, refusal
never does; ``flask setup`` hides the pending logos an older instance left in the public folder.
"""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from factories import make_organisation, make_user
from PIL import Image

from directory.extensions import db
from directory.models import Organisation, Revision, RevisionState, Role, Status, User
from directory.services import media

EDIT = "/espace-partenaire/organisations/{slug}/modifier"


@pytest.fixture
def world(app):
    with app.app_context():
        alpha = make_organisation(name="Association Alpha", slug="association-alpha")
        make_organisation(name="Association Beta", slug="association-beta")
        make_organisation(
            name="Atelier en attente", slug="atelier-en-attente", status=Status.PROPOSED
        )
        beta = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "association-beta")
        )
        pending = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "atelier-en-attente")
        )
        make_user(organisations=(alpha, pending), email="alice@example.org")
        make_user(organisation=beta, email="bruno@example.org")
        make_user(role=Role.CURATOR, email="claire@example.org")
        db.session.commit()


@pytest.fixture
def people(app, world, sign_in):
    """Signed-in clients: alice (Alpha), bruno (Beta), claire (staff); and an anonymous one."""

    def client_of(email: str | None):
        client = app.test_client()
        if email:
            with app.app_context():
                sign_in(client, db.session.scalar(sa.select(User).where(User.email == email)))
        return client

    return {
        "alice": client_of("alice@example.org"),
        "bruno": client_of("bruno@example.org"),
        "claire": client_of("claire@example.org"),
        "visitor": client_of(None),
    }


def picture(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def propose_logo(app, client, csrf_token, slug: str, colour=(200, 30, 30)) -> tuple[str, int]:
    """Alice sends her organisation's form with a new logo; returns (logo path, revision id)."""
    from directory.services import workflow

    with app.app_context():
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))
        token, name = workflow.edit_token(organisation), organisation.name
    response = client.post(
        EDIT.format(slug=slug),
        data={
            "csrf_token": csrf_token(client),
            "token": token,
            "name": name,
            "kind": "association",
            "logo": (io.BytesIO(picture(colour)), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    with app.app_context():
        revision = db.session.scalar(
            sa.select(Revision)
            .join(Organisation, Organisation.id == Revision.entity_id)
            .where(Revision.entity_type == "organisation", Organisation.slug == slug)
            .order_by(Revision.id.desc())
            .limit(1)
        )
        assert revision.state == RevisionState.PROPOSED
        return revision.snapshot["logo_path"], revision.id


def public_url(path: str) -> str:
    return "/medias/" + path


def signed_in_url(path: str) -> str:
    return "/medias/apercu/" + path


def decide(client, csrf_token, revision_id: int, verdict: str) -> None:
    field = "accepter-comment" if verdict == "accepter" else "refuser-comment"
    response = client.post(
        f"/gestion/propositions/{revision_id}/{verdict}",
        data={"csrf_token": csrf_token(client), field: "Motif : logo d'une autre structure."},
    )
    assert response.status_code == 302, response.text


def test_a_proposed_logo_is_private_until_approved(app, people, csrf_token):
    path, revision_id = propose_logo(app, people["alice"], csrf_token, "association-alpha")
    assert path and media.NAME_PATTERN.fullmatch(path.split("/", 1)[1])
    # Its public address answers as if it did not exist, to visitors and to other partners.
    for who in ("visitor", "bruno", "alice", "claire"):
        assert people[who].get(public_url(path)).status_code == 404, who
    # The signed-in route: anonymous visitors are sent to sign in, another organisation's
    # partner learns nothing, the proposing organisation and the staff see the picture.
    refused = people["visitor"].get(signed_in_url(path))
    assert refused.status_code == 302 and "/connexion" in refused.headers["Location"]
    assert people["bruno"].get(signed_in_url(path)).status_code == 404
    for who in ("alice", "claire"):
        shown = people[who].get(signed_in_url(path))
        assert shown.status_code == 200 and shown.mimetype == "image/png", who
        assert "no-store" in shown.headers["Cache-Control"]
        assert Image.open(io.BytesIO(shown.data)).size == (48, 32)
    # The partner's form shows the pending logo through the signed-in route.
    form = people["alice"].get(EDIT.format(slug="association-alpha")).text
    assert f'src="{signed_in_url(path)}"' in form
    # The staff review page shows it the same way, and so does the version page.
    review = people["claire"].get(f"/gestion/propositions/{revision_id}").text
    assert f'src="{signed_in_url(path)}"' in review
    assert public_url(path) + '"' not in review
    assert (
        f'src="{signed_in_url(path)}"'
        in people["claire"].get(f"/gestion/revisions/{revision_id}").text
    )
    # The public organisation page does not show it.
    assert path not in people["visitor"].get("/organisations/association-alpha").text

    decide(people["claire"], csrf_token, revision_id, "accepter")
    published = people["visitor"].get(public_url(path))
    assert published.status_code == 200 and published.mimetype == "image/png"
    assert "public" in published.headers["Cache-Control"]
    page = people["visitor"].get("/organisations/association-alpha").text
    assert f'src="{public_url(path)}"' in page
    # Once public, signed-in pages use the public address.
    assert (
        f'src="{public_url(path)}"'
        in people["alice"].get(EDIT.format(slug="association-alpha")).text
    )


def test_a_refused_logo_is_never_public(app, people, csrf_token):
    refused_path, refused_id = propose_logo(app, people["alice"], csrf_token, "association-alpha")
    decide(people["claire"], csrf_token, refused_id, "refuser")
    for who in ("visitor", "bruno", "alice"):
        assert people[who].get(public_url(refused_path)).status_code == 404, who
    # Kept private (a refused proposal may be looked at again), for the same people as before.
    assert people["claire"].get(signed_in_url(refused_path)).status_code == 200
    assert people["alice"].get(signed_in_url(refused_path)).status_code == 200
    assert people["bruno"].get(signed_in_url(refused_path)).status_code == 404
    # A later proposal, approved, publishes its own logo and not the refused one.
    later_path, later_id = propose_logo(
        app, people["alice"], csrf_token, "association-alpha", colour=(20, 160, 60)
    )
    assert later_path != refused_path
    decide(people["claire"], csrf_token, later_id, "accepter")
    assert people["visitor"].get(public_url(later_path)).status_code == 200
    assert people["visitor"].get(public_url(refused_path)).status_code == 404


def test_an_unpublished_organisation_keeps_its_logo_private(app, people, csrf_token):
    """A proposal on an entry that is not online is written to its row at once: still private."""
    path, revision_id = propose_logo(app, people["alice"], csrf_token, "atelier-en-attente")
    with app.app_context():
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "atelier-en-attente")
        )
        assert organisation.logo_path == path and organisation.status == Status.PROPOSED
    assert people["visitor"].get(public_url(path)).status_code == 404
    assert people["bruno"].get(public_url(path)).status_code == 404
    assert people["alice"].get(signed_in_url(path)).status_code == 200
    decide(people["claire"], csrf_token, revision_id, "refuser")
    assert people["visitor"].get(public_url(path)).status_code == 404
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(Organisation.status).where(Organisation.slug == "atelier-en-attente")
            )
            == Status.DRAFT
        )


def test_signed_in_route_serves_only_stored_names(people):
    for bad in ("..%2F..%2Fsecret_key", "../secret_key", "0" * 32 + ".png", "secret_key"):
        assert people["claire"].get("/medias/apercu/logos/" + bad).status_code == 404


def test_setup_hides_the_pending_logos_an_older_instance_left_public(
    app, people, csrf_token, runner
):
    """Before this fix every upload went to the public folder; ``flask setup`` repairs that."""
    path, _ = propose_logo(app, people["alice"], csrf_token, "association-alpha")
    name = path.split("/", 1)[1]
    with app.app_context():
        # Put the file where an older version stored it.
        private, _ = media.stored_logo_file(name)
        media.logo_dir().mkdir(parents=True, exist_ok=True)
        private.rename(media.logo_dir() / name)
    assert people["visitor"].get(public_url(path)).status_code == 200  # the old leak
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Logos : 1 rendu\(s\) privé\(s\)", result.output)
    assert people["visitor"].get(public_url(path)).status_code == 404
    assert people["claire"].get(signed_in_url(path)).status_code == 200
