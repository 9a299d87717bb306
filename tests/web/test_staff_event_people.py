"""Staff pages for an event's speakers, workshops (with restitution), organisations and the
round table where each initiative was presented; every change shows on the public page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_event, make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import (
    AuditLog,
    Event,
    EventOrganisation,
    Organisation,
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Role,
    Speaker,
    SpeakerPart,
    Status,
    Workshop,
    event_initiative,
)

BASE = "/gestion/evenements/atelier-test"

ROUTES = [
    ("POST", f"{BASE}/programme/1/intervenants"),
    ("GET", f"{BASE}/programme/1/intervenants/1/modifier"),
    ("POST", f"{BASE}/programme/1/intervenants/1/modifier"),
    ("POST", f"{BASE}/programme/1/intervenants/1/retirer"),
    ("POST", f"{BASE}/programme/1/intervenants/1/deplacer"),
    ("GET", f"{BASE}/ateliers"),
    ("POST", f"{BASE}/ateliers"),
    ("GET", f"{BASE}/ateliers/1/modifier"),
    ("POST", f"{BASE}/ateliers/1/modifier"),
    ("POST", f"{BASE}/ateliers/1/supprimer"),
    ("POST", f"{BASE}/ateliers/1/deplacer"),
    ("GET", f"{BASE}/organisations"),
    ("POST", f"{BASE}/organisations"),
    ("POST", f"{BASE}/organisations/1/partenaire/retirer"),
    ("POST", f"{BASE}/organisations/1/partenaire/deplacer"),
    ("POST", f"{BASE}/initiatives/x/table-ronde"),
]


@pytest.fixture
def world(app_ctx):
    """A curator, a published event with a round table and a talk, two organisations."""
    curator = make_user(role=Role.CURATOR)
    event = make_event(slug="atelier-test", title="Atelier de test")
    event.programme.append(
        ProgrammeItem(position=0, kind=ProgrammeKind.TABLE_RONDE, title="Table ronde du matin")
    )
    event.programme.append(
        ProgrammeItem(position=1, kind=ProgrammeKind.CONFERENCE, title="Conférence inaugurale")
    )
    make_organisation(slug="caf-13", name="CAF des Bouches-du-Rhône")
    make_organisation(slug="mairie-gap", name="Mairie de Gap")
    make_organisation(slug="en-projet", name="Association en projet", status=Status.DRAFT)
    db.session.commit()
    table, talk = event.programme
    # The seed's events have speakers of their own: counts are compared with this one.
    speakers = _count(Speaker)
    return {
        "curator": curator, "event": event, "id": event.id, "table": table.id, "talk": talk.id,
        "speakers": speakers,
    }  # fmt: skip


def _post(client, csrf_token, path, follow=True, **data):
    data["csrf_token"] = csrf_token(client)
    return client.post(path, data=data, follow_redirects=follow)


def _public(client) -> str:
    response = client.get("/evenements/atelier-test")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _audits(action: str) -> list[dict]:
    return list(
        db.session.scalars(
            sa.select(AuditLog.details).where(AuditLog.action == action).order_by(AuditLog.id)
        )
    )


def _speaker(name: str) -> Speaker | None:
    return db.session.scalar(sa.select(Speaker).where(Speaker.name == name))


def _add_speaker(client, csrf_token, item_id: int, follow=True, **fields):
    data = {"intervenant-part": "intervenant", **{f"intervenant-{k}": v for k, v in fields.items()}}
    return _post(client, csrf_token, f"{BASE}/programme/{item_id}/intervenants", follow, **data)


# -- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_people_are_sent_to_sign_in(client, csrf_token, world, method, path):
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_partners_get_403(client, sign_in, csrf_token, world, method, path):
    partner = make_user(organisation=make_organisation())
    db.session.commit()
    sign_in(client, partner)
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 403
    assert _count(AuditLog, AuditLog.action.like("event.%")) == 0


def test_csrf_is_required(client, sign_in, world):
    sign_in(client, world["curator"])
    for path, data in [
        (f"{BASE}/ateliers", {"title": "Atelier"}),
        (f"{BASE}/organisations", {"organisation": "caf-13", "role": "partenaire"}),
        (f"{BASE}/programme/{world['table']}/intervenants", {"intervenant-name": "Jo"}),
    ]:
        assert client.post(path, data=data).status_code == 400
    assert _count(Workshop, Workshop.event_id == world["id"]) == 0
    assert _count(EventOrganisation, EventOrganisation.event_id == world["id"]) == 0
    assert _count(Speaker) == world["speakers"]


def test_pages_link_each_other(client, sign_in, world):
    sign_in(client, world["curator"])
    edit = client.get(f"{BASE}/modifier").get_data(as_text=True)
    programme = client.get(f"{BASE}/programme").get_data(as_text=True)
    for page in (edit, programme):
        assert f'href="{BASE}/ateliers"' in page
        assert f'href="{BASE}/organisations"' in page
    assert f'href="{BASE}/programme/{world["table"]}/modifier"' in programme


# -- speakers ----------------------------------------------------------------------------------


def test_speakers_add_edit_move_remove(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    table = world["table"]
    page = _add_speaker(
        client, csrf_token, table, name="Claire Martin", role="Directrice", organisation="caf-13"
    ).get_data(as_text=True)
    assert "« Claire Martin » a été ajouté·e aux intervenants." in page
    assert "CAF des Bouches-du-Rhône" in page
    _add_speaker(
        client, csrf_token, table, part="moderateur", name="Paul Durand",
        organisation_name="Cabinet Durand",
    )  # fmt: skip
    public = _public(client)
    assert "Claire Martin" in public and 'href="/organisations/caf-13"' in public
    assert "Animation et modération" in public and "Cabinet Durand" in public

    claire, paul = _speaker("Claire Martin"), _speaker("Paul Durand")
    # An existing speaker is chosen from the list for the talk too.
    page = _add_speaker(client, csrf_token, world["talk"], speaker=str(claire.id))
    assert "« Claire Martin » a été ajouté·e" in page.get_data(as_text=True)
    assert _count(Speaker, Speaker.name == "Claire Martin") == 1  # the same person

    # Move Paul above Claire.
    _post(client, csrf_token, f"{BASE}/programme/{table}/intervenants/{paul.id}/deplacer",
          direction="up")  # fmt: skip
    db.session.expire_all()
    links = db.session.scalars(
        sa.select(ProgrammeSpeaker)
        .where(ProgrammeSpeaker.item_id == table)
        .order_by(ProgrammeSpeaker.position)
    ).all()
    assert [link.speaker.name for link in links] == ["Paul Durand", "Claire Martin"]

    # Edit: the page warns that Claire speaks elsewhere too.
    path = f"{BASE}/programme/{table}/intervenants/{claire.id}/modifier"
    form = client.get(path).get_data(as_text=True)
    assert 'value="Claire Martin"' in form and "la modification s’y appliquera" in form
    edited = _post(client, csrf_token, path, name="Claire Martin-Roux", role="Directrice",
                   organisation="", organisation_name="")  # fmt: skip
    assert "L’intervenant a été modifié." in edited.get_data(as_text=True)
    public = _public(client)
    assert "Claire Martin-Roux" in public and 'href="/organisations/caf-13"' not in public

    # Removing her from the round table keeps her (she speaks at the talk); Paul is deleted.
    for speaker_id in (claire.id, paul.id):
        removed = _post(
            client, csrf_token, f"{BASE}/programme/{table}/intervenants/{speaker_id}/retirer"
        )
        assert "a été retiré·e des intervenants" in removed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Speaker, claire.id) is not None
    assert db.session.get(Speaker, paul.id) is None
    assert "Paul Durand" not in _public(client)

    actions = [sorted(details) for details in _audits("event.speakers_changed")]
    assert actions == [
        ["added", "item", "name", "part", "slug"],
        ["added", "item", "name", "part", "slug"],
        ["added", "item", "name", "part", "slug"],
        ["direction", "item", "moved", "slug"],
        ["fields", "slug", "updated"],
        ["deleted", "item", "name", "removed", "slug"],
        ["deleted", "item", "name", "removed", "slug"],
    ]
    assert [d["deleted"] for d in _audits("event.speakers_changed")[-2:]] == [False, True]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Indiquez le nom du nouvel intervenant ou choisissez-le dans la liste."),
        ({"name": "Jo\x00"}, "caractères non autorisés"),
        ({"name": "x" * 201}, "200 caractères au plus."),
        ({"name": "<b>Jo</b>"}, "balises HTML"),
        ({"name": "Jo", "role": "r" * 301}, "300 caractères au plus."),
        ({"name": "Jo", "organisation": "inconnue"}, "Choisissez parmi les propositions"),
        ({"name": "Jo", "organisation": "en-projet"}, "Choisissez parmi les propositions"),
        ({"name": "Jo", "organisation": "caf-13", "organisation_name": "Autre"}, "pas les deux"),
        ({"speaker": "999999"}, "Choisissez parmi les propositions"),
        ({"speaker": "1\x00"}, "Choisissez parmi les propositions"),
        ({"name": "Jo", "part": "orateur"}, "Choisissez parmi les propositions"),
    ],
)
def test_speaker_bad_input(client, sign_in, csrf_token, world, fields, message):
    sign_in(client, world["curator"])
    response = _add_speaker(client, csrf_token, world["table"], **fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Le formulaire contient des erreurs" in page
    assert message in page
    assert _count(Speaker) == world["speakers"]
    assert _count(AuditLog, AuditLog.action.like("event.%")) == 0


def test_speaker_refusals_and_unknown_ids(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    table, talk = world["table"], world["talk"]
    _add_speaker(client, csrf_token, table, name="Jo")
    jo = _speaker("Jo")
    both = _add_speaker(client, csrf_token, talk, speaker=str(jo.id), name="Autre")
    assert "pas les deux" in both.get_data(as_text=True)
    twice = _add_speaker(client, csrf_token, table, speaker=str(jo.id))
    assert "« Jo » intervient déjà dans « Table ronde du matin »." in twice.get_data(as_text=True)
    assert _count(ProgrammeSpeaker, ProgrammeSpeaker.item_id.in_([table, talk])) == 1

    other = make_event(slug="autre", title="Autre événement")
    other.programme.append(ProgrammeItem(kind=ProgrammeKind.PAUSE, title="Pause"))
    db.session.commit()
    foreign_item = other.programme[0].id
    for path in (
        f"{BASE}/programme/{talk}/intervenants/{jo.id}/modifier",  # Jo is not on the talk
        f"{BASE}/programme/{foreign_item}/intervenants/{jo.id}/modifier",  # another event's item
        f"{BASE}/programme/{table}/intervenants/99999999999999999999/modifier",
        f"/gestion/evenements/a%00b/programme/{table}/intervenants/{jo.id}/modifier",
    ):
        assert client.get(path).status_code == 404, path
    for action in ("retirer", "deplacer"):
        path = f"{BASE}/programme/{talk}/intervenants/{jo.id}/{action}"
        assert _post(client, csrf_token, path, follow=False, direction="up").status_code == 404
    moved = _post(client, csrf_token, f"{BASE}/programme/{table}/intervenants/{jo.id}/deplacer",
                  follow=False, direction="sideways")  # fmt: skip
    assert moved.status_code == 400
    edit = f"{BASE}/programme/{table}/intervenants/{jo.id}/modifier"
    for data, message in [
        ({"name": ""}, "Ce champ est obligatoire."),
        ({"name": "Jo", "organisation": "en-projet"}, "Choisissez parmi les propositions"),
    ]:
        response = _post(client, csrf_token, edit, **data)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Speaker, jo.id).name == "Jo"
    assert len(_audits("event.speakers_changed")) == 1


def test_deleting_an_item_deletes_its_orphan_speakers(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    _add_speaker(client, csrf_token, world["table"], name="Seule ici")
    _add_speaker(client, csrf_token, world["table"], name="Partout")
    _add_speaker(client, csrf_token, world["talk"], speaker=str(_speaker("Partout").id))
    _post(client, csrf_token, f"{BASE}/programme/{world['table']}/supprimer")
    db.session.expire_all()
    assert _speaker("Seule ici") is None
    assert _speaker("Partout") is not None


# -- workshops ---------------------------------------------------------------------------------


def _workshops(world, column) -> list:
    return list(
        db.session.scalars(
            sa.select(column).where(Workshop.event_id == world["id"]).order_by(Workshop.position)
        )
    )


def test_workshops_add_edit_move_delete(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    path = f"{BASE}/ateliers"
    assert "Aucun atelier pour le moment." in client.get(path).get_data(as_text=True)
    page = _post(
        client, csrf_token, path, title="Mobilité", description="Se déplacer en zone rurale."
    )
    assert "L’atelier « Mobilité » a été ajouté." in page.get_data(as_text=True)
    _post(client, csrf_token, path, title="Logement")
    public = _public(client)
    assert "Ateliers et restitutions" in public and "Se déplacer en zone rurale." in public
    assert "Restitution non renseignée." in public

    mobility, housing = _workshops(world, Workshop)
    edited = _post(
        client, csrf_token, f"{path}/{mobility.id}/modifier", title="Mobilité solidaire",
        restitution="Premier constat : peu de bus.\nDeuxième constat : le covoiturage.",
    )  # fmt: skip
    assert "L’atelier a été modifié." in edited.get_data(as_text=True)
    public = _public(client)
    assert "Mobilité solidaire" in public
    assert "Premier constat : peu de bus.<br>Deuxième constat : le covoiturage." in public

    _post(client, csrf_token, f"{path}/{housing.id}/deplacer", direction="up")
    db.session.expire_all()
    assert _workshops(world, Workshop.title) == ["Logement", "Mobilité solidaire"]
    public = _public(client)
    assert public.index("Logement") < public.index("Mobilité solidaire")

    deleted = _post(client, csrf_token, f"{path}/{housing.id}/supprimer")
    assert "L’atelier « Logement » a été supprimé." in deleted.get_data(as_text=True)
    db.session.expire_all()
    assert _workshops(world, Workshop.position) == [0]
    assert "Logement" not in _public(client)
    actions = [sorted(d) for d in _audits("event.workshops_changed")]
    assert actions == [
        ["added", "slug", "title"],
        ["added", "slug", "title"],
        ["fields", "slug", "updated"],
        ["direction", "moved", "slug"],
        ["deleted", "slug", "title"],
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "Ce champ est obligatoire."),
        ("title", "Atelier\x00", "caractères non autorisés"),
        ("title", "x" * 301, "300 caractères au plus."),
        ("restitution", "a\x00b", "caractères non autorisés"),
        ("restitution", "x" * 20001, "20000 caractères au plus."),
        ("description", "<script>alert(1)</script>", "balises HTML"),
    ],
)
def test_workshop_bad_input(client, sign_in, csrf_token, world, field, value, message):
    sign_in(client, world["curator"])
    workshop = Workshop(title="Existant", position=0)
    world["event"].workshops.append(workshop)
    db.session.commit()
    for path in (f"{BASE}/ateliers", f"{BASE}/ateliers/{workshop.id}/modifier"):
        data = {"title": "Atelier", field: value}
        response = _post(client, csrf_token, path, **data)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Le formulaire contient des erreurs" in page and message in page
    db.session.expire_all()
    assert _workshops(world, Workshop.title) == ["Existant"]
    assert _audits("event.workshops_changed") == []


def test_workshop_of_another_event_is_404(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    other = make_event(slug="autre")
    other.workshops.append(Workshop(title="Ailleurs", position=0))
    db.session.commit()
    foreign = other.workshops[0].id
    assert client.get(f"{BASE}/ateliers/{foreign}/modifier").status_code == 404
    for action in ("supprimer", "deplacer"):
        response = _post(
            client, csrf_token, f"{BASE}/ateliers/{foreign}/{action}", follow=False,
            direction="up",
        )  # fmt: skip
        assert response.status_code == 404
    assert client.get("/gestion/evenements/inconnu/ateliers").status_code == 404
    assert client.get("/gestion/evenements/x%00y/ateliers").status_code == 404
    assert _count(Workshop, Workshop.event_id == other.id) == 1


# -- organisations -----------------------------------------------------------------------------


def _organisation_id(slug: str) -> int:
    return db.session.scalar(sa.select(Organisation.id).where(Organisation.slug == slug))


def test_organisations_add_move_remove(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    path = f"{BASE}/organisations"
    page = _post(client, csrf_token, path, organisation="caf-13", role="organisateur")
    assert "« CAF des Bouches-du-Rhône » a été ajoutée (organisateur)." in page.get_data(
        as_text=True
    )
    _post(client, csrf_token, path, organisation="mairie-gap", role="partenaire")
    twice = _post(client, csrf_token, path, organisation="caf-13", role="organisateur")
    assert "figure déjà comme « organisateur »" in twice.get_data(as_text=True)
    # The same organisation in another role is fine (organiser and host).
    _post(client, csrf_token, path, organisation="caf-13", role="lieu")
    _post(client, csrf_token, path, organisation="mairie-gap", role="organisateur")
    assert _count(EventOrganisation, EventOrganisation.event_id == world["id"]) == 4
    public = _public(client)
    assert "Organisé par" in public and "En partenariat avec" in public
    assert "(lieu d" in public  # the host, named apart

    caf, gap = (_organisation_id(slug) for slug in ("caf-13", "mairie-gap"))
    _post(client, csrf_token, f"{path}/{gap}/organisateur/deplacer", direction="up")
    public = _public(client)
    organisers = public[public.index("Organisé par") : public.index("En partenariat avec")]
    assert organisers.index("Mairie de Gap") < organisers.index("CAF des Bouches-du-Rhône")

    removed = _post(client, csrf_token, f"{path}/{caf}/lieu/retirer")
    assert "n’est plus rattachée à cet événement comme « lieu d" in removed.get_data(as_text=True)
    db.session.expire_all()
    roles = db.session.scalars(
        sa.select(EventOrganisation.role).where(
            EventOrganisation.organisation_id == caf, EventOrganisation.event_id == world["id"]
        )
    ).all()
    assert [role.value for role in roles] == ["organisateur"]
    actions = [(d.get("added") or d.get("moved") or d.get("removed"), d["role"])
               for d in _audits("event.organisations_changed")]  # fmt: skip
    assert actions == [
        ("caf-13", "organisateur"),
        ("mairie-gap", "partenaire"),
        ("caf-13", "lieu"),
        ("mairie-gap", "organisateur"),
        ("mairie-gap", "organisateur"),
        ("caf-13", "lieu"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"organisation": "", "role": "partenaire"}, "Choisissez une organisation."),
        ({"organisation": "inconnue", "role": "partenaire"}, "Choisissez parmi les propositions"),
        ({"organisation": "en-projet", "role": "partenaire"}, "Choisissez parmi les propositions"),
        ({"organisation": "caf\x00", "role": "partenaire"}, "Choisissez parmi les propositions"),
        ({"organisation": "caf-13", "role": "sponsor"}, "Choisissez parmi les propositions"),
    ],
)
def test_organisation_bad_input(client, sign_in, csrf_token, world, data, message):
    sign_in(client, world["curator"])
    response = _post(client, csrf_token, f"{BASE}/organisations", **data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _count(EventOrganisation, EventOrganisation.event_id == world["id"]) == 0
    assert _audits("event.organisations_changed") == []


def test_unknown_organisation_link_is_404(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    caf = _organisation_id("caf-13")
    for url in (f"{caf}/partenaire/retirer", f"{caf}/sponsor/retirer", "999999/lieu/deplacer"):
        response = _post(
            client, csrf_token, f"{BASE}/organisations/{url}", follow=False, direction="up"
        )
        assert response.status_code == 404, url


# -- round tables of the initiatives presented -------------------------------------------------


def _round_table_of(initiative_id: int) -> int | None:
    return db.session.scalar(
        sa.select(event_initiative.c.programme_item_id).where(
            event_initiative.c.initiative_id == initiative_id
        )
    )


def test_initiatives_under_their_round_table(client, sign_in, csrf_token, world):
    jardin = make_initiative(slug="jardin-partage", title="Jardin partagé")
    make_initiative(slug="repair-cafe", title="Repair café")
    db.session.commit()
    sign_in(client, world["curator"])
    table, talk = world["table"], world["talk"]
    edit = client.get(f"{BASE}/modifier").get_data(as_text=True)
    assert f'<option value="{table}">Table ronde du matin</option>' in edit
    assert f'<option value="{talk}">' not in edit  # only round tables are offered

    add = f"{BASE}/initiatives/ajouter"
    page = _post(client, csrf_token, add, initiative="jardin-partage", table_ronde=str(table))
    assert "« Jardin partagé » est présentée à cet événement." in page.get_data(as_text=True)
    _post(client, csrf_token, add, initiative="repair-cafe", table_ronde="")
    assert _round_table_of(jardin.id) == table
    public = _public(client)
    programme = public[public.index("Table ronde du matin") : public.index("Conférence inaugurale")]
    assert 'href="/initiatives/jardin-partage"' in programme
    assert "repair-cafe" not in programme
    assert 'href="/initiatives/repair-cafe"' in public  # still among the initiatives presented

    change = f"{BASE}/initiatives/jardin-partage/table-ronde"
    page = _post(client, csrf_token, change, table_ronde="")
    text = page.get_data(as_text=True)
    assert "« Jardin partagé » est présentée à une table ronde non précisée." in text
    db.session.expire_all()
    assert _round_table_of(jardin.id) is None
    _post(client, csrf_token, change, table_ronde=str(table))
    db.session.expire_all()
    assert _round_table_of(jardin.id) == table

    other = make_event(slug="autre")
    other.programme.append(ProgrammeItem(kind=ProgrammeKind.TABLE_RONDE, title="Ailleurs"))
    make_initiative(slug="autre-initiative", title="Autre initiative")
    db.session.commit()
    for value in (str(talk), str(other.programme[0].id), "abc", "1\x00", "9" * 40, "-1"):
        for path, data in ((change, {}), (add, {"initiative": "autre-initiative"})):
            response = _post(client, csrf_token, path, table_ronde=value, **data)
            assert response.status_code == 200
            assert "Choisissez une table ronde du programme de cet événement." in (
                response.get_data(as_text=True)
            )
    db.session.expire_all()
    assert _round_table_of(jardin.id) == table
    assert _count(event_initiative, event_initiative.c.event_id == world["id"]) == 2
    unknown = _post(client, csrf_token, f"{BASE}/initiatives/inconnue/table-ronde", table_ronde="")
    assert "Cette initiative n’est pas présentée à cet événement." in unknown.get_data(as_text=True)
    audits = _audits("event.initiatives_changed")
    assert [sorted(d) for d in audits] == [
        ["added", "round_table", "slug"],
        ["added", "slug"],
        ["moved", "round_table", "slug"],
        ["moved", "round_table", "slug"],
    ]

    # Deleting the round table leaves the initiative presented, at no given round table.
    _post(client, csrf_token, f"{BASE}/programme/{table}/supprimer")
    db.session.expire_all()
    assert _round_table_of(jardin.id) is None
    assert 'href="/initiatives/jardin-partage"' in _public(client)


def test_speaker_part_is_stored(app_ctx, world):
    """The part chosen is kept as the enum (moderators are shown apart on the public page)."""
    from directory.services import event_people

    event = db.session.scalar(sa.select(Event).where(Event.slug == "atelier-test"))
    item = event.programme[0]
    link = event_people.add_speaker(
        world["curator"], event, item, SpeakerPart.MODERATEUR,
        data=event_people.SpeakerData(name="Ana"),
    )  # fmt: skip
    assert link.part == SpeakerPart.MODERATEUR
    with pytest.raises(event_people.EventError):
        event_people.add_speaker(world["curator"], event, item, SpeakerPart.INTERVENANT)


def test_editing_a_speaker_keeps_an_unpublished_organisation(client, sign_in, csrf_token, world):
    sign_in(client, world["curator"])
    _add_speaker(client, csrf_token, world["table"], name="Léa", organisation="mairie-gap")
    lea = _speaker("Léa")
    lea.organisation.status = Status.ARCHIVED
    db.session.commit()
    path = f"{BASE}/programme/{world['table']}/intervenants/{lea.id}/modifier"
    form = client.get(path).get_data(as_text=True)
    assert '<option value="mairie-gap" selected>Mairie de Gap (non publiée)</option>' in form
    _post(client, csrf_token, path, name="Léa", role="Adjointe", organisation="mairie-gap")
    db.session.expire_all()
    lea = db.session.get(Speaker, lea.id)
    assert (lea.role, lea.organisation.slug) == ("Adjointe", "mairie-gap")
    # Another unpublished organisation is still refused.
    refused = _post(client, csrf_token, path, name="Léa", organisation="en-projet")
    assert "Choisissez parmi les propositions" in refused.get_data(as_text=True)
