"""Partner forms: hostile input, communes, logos and rich text, seen through the web."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_user
from PIL import Image

from directory.extensions import db
from directory.models import Initiative, Organisation, Revision, RevisionState, Role, Status, User
from directory.services import workflow

NEW = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"
EDIT_ORGANISATION = "/espace-partenaire/organisations/association-alpha/modifier"
TRUSTED_ORGANISATION = "/espace-partenaire/organisations/collectif-confiance/modifier"


@pytest.fixture
def world(app):
    with app.app_context():
        org_a = make_organisation(name="Association Alpha", slug="association-alpha")
        trusted = make_organisation(name="Collectif de confiance", slug="collectif-confiance")
        trusted.trusted = True
        make_initiative(slug="jardin-alpha", title="Jardin partagé Alpha", lead=org_a)
        make_user(organisation=org_a, email="alice@example.org")
        make_user(organisation=trusted, email="tess@example.org")
        make_user(role=Role.CURATOR, email="claire@example.org")
        db.session.commit()


@pytest.fixture
def login(app, client, sign_in, world):
    def _login(email: str = "alice@example.org"):
        with app.app_context():
            sign_in(client, db.session.scalar(sa.select(User).where(User.email == email)))
        return client

    return _login


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(sa.select(sa.func.count()).select_from(Initiative)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Revision)),
        )


def _valid(**overrides) -> dict:
    data = {
        "title": "Repair café des Tilleuls",
        "summary": "Réparer ensemble plutôt que jeter.",
        "description": "Un samedi par mois.",
        "stage": "",
        "start_year": "2010",
        "end_year": "2012",
        "website": "https://repair.example.org",
        "contact_email": "contact@repair.example.org",
        "contact_phone": "+33 4 91 00 00 00",
        "source": "Journée régionale 2011",
        "places-0-label": "Maison de quartier",
        "places-0-commune": "Marseille",
        "lead": "association-alpha",
        "organisations-0-organisation": "",
        "organisations-0-role": "partenaire",
        "action": "save",
    }
    data.update(overrides)
    return data


def _post(client, csrf_token, url, data, **kwargs):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)}, **kwargs)


def _created(app, title="Repair café des Tilleuls") -> Initiative | None:
    with app.app_context():
        initiative = db.session.scalar(sa.select(Initiative).where(Initiative.title == title))
        if initiative is not None:
            places = [(p.label, p.commune_code, p.latitude, p.longitude) for p in initiative.places]
            db.session.expunge(initiative)
            initiative.place_rows = places
        return initiative


# -- hostile input ------------------------------------------------------------------------------

LONG = "x" * 10_000
HOSTILE = [
    ("title", "", "Ce champ est obligatoire."),
    ("title", LONG, "200 caractères au plus."),
    ("title", "Jardin\x00caché", "caractères non autorisés"),
    ("title", "<script>alert(1)</script>", "balises HTML"),
    ("summary", LONG, "300 caractères au plus."),
    ("summary", "a\x00b", "caractères non autorisés"),
    ("description", "y" * 20_001, "20000 caractères au plus."),
    ("description", "texte\x00nul", "caractères non autorisés"),
    ("genesis", "\x1b[31m", "caractères non autorisés"),
    ("start_year", "abc", "Saisissez une année en chiffres"),
    ("start_year", "1800", "entre 1900 et 2100"),
    ("start_year", "99999999999999999999", "Saisissez une année en chiffres"),
    ("end_year", "2005", "ne peut pas précéder"),
    ("website", "javascript:alert(1)", "http://"),
    ("website", "ftp://exemple.fr", "http://"),
    ("website", "https://" + "a" * 400 + ".fr", "300 caractères au plus."),
    ("contact_email", "pas-une-adresse", "adresse électronique valide"),
    ("contact_phone", "appelez-moi", "numéro de téléphone"),
    ("stage", "inexistante", "Choisissez parmi les propositions"),
    ("themes", "theme-inconnu", "Choisissez parmi les propositions"),
    ("publics", "<b>", "Choisissez parmi les propositions"),
    ("lead", "", "Choisissez parmi les propositions"),
    ("lead", "organisation-inconnue", "Choisissez parmi les propositions"),
    ("organisations-0-organisation", "inconnue", "Choisissez parmi les propositions"),
    ("lead", "association-alpha\x00", "Choisissez parmi les propositions"),
    ("organisations-0-organisation", "a\x00", "Choisissez parmi les propositions"),
    ("organisations-0-role", "proprietaire", "Choisissez parmi les propositions"),
    ("places-0-latitude", "abc", "nombre décimal"),
    ("places-0-latitude", "95", "entre −90 et 90"),
    ("places-0-longitude", "2.5", "ou aucune des deux"),
    ("places-0-label", LONG, "200 caractères au plus."),
    ("places-0-commune", "Zzzyxville", "Commune introuvable"),
    ("places-0-commune", "Marseille\x00", "caractères non autorisés"),
]


@pytest.mark.parametrize(("field", "value", "message"), HOSTILE)
def test_hostile_input_gives_form_errors_and_stores_nothing(
    app, login, csrf_token, field, value, message
):
    client = login()
    before = _counts(app)
    response = _post(client, csrf_token, NEW, _valid(**{field: value}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "fr-alert--error" in html  # summary at the top...
    assert "fr-message--error" in html  # ...and the message next to the field
    assert _counts(app) == before


def test_error_summary_links_to_fields(app, login, csrf_token):
    client = login()
    response = _post(client, csrf_token, NEW, _valid(title="", start_year="abc"))
    html = response.get_data(as_text=True)
    assert '<a href="#title">Titre : Ce champ est obligatoire.</a>' in html
    assert 'href="#start_year"' in html
    assert "entre 1900 et 2100" not in html  # one message for « abc », not two
    assert 'aria-describedby="title-messages"' in html
    assert 'aria-invalid="true"' in html
    assert html.count("<title>Erreur — ") == 1


def test_malformed_hidden_values_are_harmless(app, login, csrf_token):
    client = login()
    data = _valid(**{"places-0-commune": "Nice", "places-0-commune_code": "../../x\x00"})
    assert _post(client, csrf_token, NEW, data).status_code == 302
    assert _created(app).place_rows[0][1] == "06088"
    # A garbled edit token never matches: the save is refused as a conflict, nothing written.
    url = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    before = _counts(app)
    response = _post(client, csrf_token, url, _valid(title="Autre", token="v1r0\x00"))
    assert response.status_code == 409
    assert _counts(app) == before


def test_list_values_and_odd_types_never_give_500(app, login, csrf_token):
    client = login()
    before = _counts(app)
    data = _valid()
    data["title"] = ["un", "deux"]
    data["start_year"] = ["2010", "abc"]
    data["places-99999999999999999999-label"] = "trop loin"
    response = _post(client, csrf_token, NEW, data)
    assert response.status_code in (302, 422)
    response = _post(client, csrf_token, NEW, {"lead": "association-alpha"})
    assert response.status_code == 422
    assert _counts(app)[0] <= before[0] + 1


def test_valid_form_is_saved_with_cleaned_values(app, login, csrf_token):
    client = login()
    data = _valid(
        description='<p onclick="x()">Bonjour <a href="javascript:alert(1)">piège</a></p>',
        **{"places-0-latitude": "43,2965", "places-0-longitude": "5.3698"},
    )
    response = _post(client, csrf_token, NEW, data)
    assert response.status_code == 302
    created = _created(app)
    assert created.description == '<p>Bonjour <a rel="noopener nofollow">piège</a></p>'
    assert created.place_rows == [("Maison de quartier", "13055", 43.2965, 5.3698)]
    assert (created.start_year, created.end_year) == (2010, 2012)


def test_add_place_button_adds_a_row_without_saving(app, login, csrf_token):
    client = login()
    before = _counts(app)
    response = _post(client, csrf_token, NEW, _valid(action="add_place"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="places-1-commune"' in html
    assert 'value="Repair café des Tilleuls"' in html
    assert _counts(app) == before


def test_removed_and_empty_place_rows_are_ignored(app, login, csrf_token):
    client = login()
    data = _valid(
        **{
            "places-1-label": "Ancien local",
            "places-1-commune": "Nice",
            "places-1-remove": "y",
            "places-2-label": "",
        }
    )
    assert _post(client, csrf_token, NEW, data).status_code == 302
    assert [row[1] for row in _created(app).place_rows] == ["13055"]


# -- communes ------------------------------------------------------------------------------------


def test_commune_suggestions_forgive_accents_and_take_postcodes(login):
    client = login()
    results = client.get("/espace-partenaire/communes?q=nimes").get_json()
    assert results[0] == {
        "code": "30189",
        "name": "Nîmes",
        "postcode": results[0]["postcode"],
        "departement": "30",
        "label": "Nîmes (30)",
        "latitude": results[0]["latitude"],
        "longitude": results[0]["longitude"],
    }
    assert 43 < results[0]["latitude"] < 44 and 4 < results[0]["longitude"] < 5
    assert results[0]["postcode"].startswith("30")
    by_postcode = client.get("/espace-partenaire/communes?q=13001").get_json()
    assert by_postcode[0]["code"] == "13055" and by_postcode[0]["postcode"] == "13001"
    assert client.get("/espace-partenaire/communes?q=").get_json() == []
    assert client.get("/espace-partenaire/communes?q=%00%00").get_json() == []
    assert client.get("/espace-partenaire/communes?q=" + "a" * 5000).status_code == 200


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Marseille", "13055"),
        ("marseille", "13055"),
        ("nimes", "30189"),
        ("13001", "13055"),  # a postcode first, not Aix-en-Provence's INSEE code
        ("06000", "06088"),
        ("84007", "84007"),  # an INSEE code that is no postcode
        ("Saint-Martin (32)", "32389"),
        ("Nîmes (30)", "30189"),
    ],
)
def test_server_resolves_the_commune_without_script(app, login, csrf_token, typed, code):
    client = login()
    response = _post(client, csrf_token, NEW, _valid(**{"places-0-commune": typed}))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _created(app).place_rows[0][1] == code


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (
            "Saint-Martin",
            ["Plusieurs communes portent ce nom", "Saint-Martin (32)", "Saint-Martin (65)"],
        ),
        ("13100", ["plusieurs communes", "Aix-en-Provence (13)", "Le Tholonet (13)"]),
    ],
)
def test_ambiguous_commune_lists_the_choices(app, login, csrf_token, typed, expected):
    client = login()
    response = _post(client, csrf_token, NEW, _valid(**{"places-0-commune": typed}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for text in expected:
        assert text in html
    assert _created(app) is None


def test_autocomplete_code_is_used_when_it_matches_the_text(app, login, csrf_token):
    client = login()
    data = _valid(**{"places-0-commune": "Saint-Martin (65)", "places-0-commune_code": "65392"})
    assert _post(client, csrf_token, NEW, data).status_code == 302
    assert _created(app).place_rows[0][1] == "65392"


def test_edit_form_shows_the_commune_label(login):
    client = login()
    html = client.get("/espace-partenaire/initiatives/jardin-alpha/modifier").get_data(as_text=True)
    assert 'name="places-0-commune"' in html
    assert "partner-communes.js" in html


# -- organisation profile and logo -------------------------------------------------------------


def _image(fmt: str, size=(60, 40), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (10, 120, 200))
    buffer = io.BytesIO()
    options = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "Appareil secret"
        options["exif"] = data.tobytes()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _organisation_data(**overrides) -> dict:
    data = {
        "name": "Association Alpha",
        "acronym": "AA",
        "kind": "association",
        "tagline": "Des jardins partout",
        "description": "Présentation.\n\nDeuxième paragraphe.",
        "website": "https://alpha.example.org",
        "email": "bonjour@alpha.example.org",
        "phone": "04 91 00 00 00",
        "address": "2 place de la Mairie",
        "commune": "Avignon",
        "themes": ["entraide-et-solidarite"],
        "departements": ["13", "84"],
    }
    data.update(overrides)
    return data


def _org_token(app, slug) -> str:
    with app.app_context():
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))
        return workflow.edit_token(organisation)


def test_partner_proposes_organisation_changes_with_a_logo(app, login, csrf_token):
    client = login()
    page = client.get(EDIT_ORGANISATION)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    data = _organisation_data(token=_org_token(app, "association-alpha"))
    data["logo"] = (io.BytesIO(_image("JPEG", exif=True)), "logo.jpg")
    response = _post(client, csrf_token, EDIT_ORGANISATION, data)
    assert response.status_code == 302
    with app.app_context():
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "association-alpha")
        )
        assert organisation.logo_path is None  # published version unchanged until approval
        revision = workflow.pending_for(organisation)[0]
        snapshot = revision.snapshot
    assert snapshot["commune_code"] == "84007"
    assert snapshot["departements"] == ["13", "84"]
    assert snapshot["description"] == "<p>Présentation.</p><p>Deuxième paragraphe.</p>"
    # Pending: not public, shown to its organisation through the signed-in route.
    assert app.test_client().get("/medias/" + snapshot["logo_path"]).status_code == 404
    logo = client.get("/medias/apercu/" + snapshot["logo_path"])
    assert logo.status_code == 200
    assert "/medias/apercu/" + snapshot["logo_path"] in client.get(EDIT_ORGANISATION).text
    assert logo.mimetype == "image/jpeg"
    assert b"Appareil secret" not in logo.data
    assert not Image.open(io.BytesIO(logo.data)).getexif()


def test_trusted_organisation_logo_is_shown_and_served_safely(app, login, csrf_token):
    client = login("tess@example.org")
    data = _organisation_data(
        name="Collectif de confiance",
        description='<p>Bienvenue</p><script>alert("x")</script><a href="https://a.fr">lien</a>',
        token=_org_token(app, "collectif-confiance"),
    )
    data["logo"] = (io.BytesIO(_image("WEBP")), "logo.webp")
    response = _post(client, csrf_token, TRUSTED_ORGANISATION, data)
    assert response.status_code == 302
    public = app.test_client()
    page = public.get("/organisations/collectif-confiance").get_data(as_text=True)
    assert 'alt="Logo de Collectif de confiance"' in page
    assert "<p>Bienvenue</p>" in page and "alert(" not in page
    # The search index holds the words of the rich text, not its markup.
    found = public.get("/recherche?q=bienvenue&onglet=organisations").get_data(as_text=True)
    assert "1\u00a0organisation pour « bienvenue »" in found
    for markup in ("script", "nofollow", "href"):
        html = public.get(f"/recherche?q={markup}&onglet=organisations").get_data(as_text=True)
        assert "1\u00a0organisation pour" not in html
    with app.app_context():
        logo_path = db.session.scalar(
            sa.select(Organisation.logo_path).where(Organisation.slug == "collectif-confiance")
        )
    response = public.get("/medias/" + logo_path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    # Removing the logo.
    data = _organisation_data(
        name="Collectif de confiance", remove_logo="y", token=_org_token(app, "collectif-confiance")
    )
    assert _post(client, csrf_token, TRUSTED_ORGANISATION, data).status_code == 302
    assert "Logo de Collectif" not in public.get("/organisations/collectif-confiance").get_data(
        as_text=True
    )


def _bomb() -> bytes:
    """A small PNG announcing 40,000 × 40,000 pixels (1 bit each, all zero)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    size = 40_000
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * ((1 + size // 8) * 500), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg", "Format non accepté : SVG"),
        (None, "logo.gif", "Format non accepté : GIF"),
        (b"juste du texte", "logo.png", "Format non accepté : fichier non reconnu"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024 + 10), "gros.png", "2 Mo"),
        ("big", "immense.png", "4000 × 4000"),
        ("bomb", "bombe.png", "trop grande"),
    ],
)
def test_bad_logos_are_refused_in_french(app, login, csrf_token, content, filename, message):
    if content is None:
        buffer = io.BytesIO()
        Image.new("P", (10, 10)).save(buffer, format="GIF")
        content = buffer.getvalue()
    elif content == "big":
        content = _image("PNG", size=(5000, 5000))
    elif content == "bomb":
        content = _bomb()
    client = login()
    before = _counts(app)
    data = _organisation_data(token=_org_token(app, "association-alpha"))
    data["logo"] = (io.BytesIO(content), filename)
    response = _post(client, csrf_token, EDIT_ORGANISATION, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="Des jardins partout"' in html  # the rest of the form is kept
    assert _counts(app) == before
    assert not list(Path(app.instance_path).glob("uploads/**/logos/*"))


def test_too_large_request_gets_a_french_413(app, login, csrf_token):
    client = login()
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    data = _organisation_data(token=_org_token(app, "association-alpha"))
    data["logo"] = (io.BytesIO(b"\x00" * (128 * 1024)), "gros.png")
    response = _post(client, csrf_token, EDIT_ORGANISATION, data)
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/medias/logos/..%2F..%2Fsecret_key",
        "/medias/logos/../secret_key",
        "/medias/logos/" + "0" * 32 + ".png",
        "/medias/logos/" + "0" * 32 + ".svg",
        "/medias/logos/secret_key",
        "/medias/logos/%00.png",
    ],
)
def test_logo_route_refuses_anything_but_stored_names(client, path):
    assert client.get(path).status_code == 404


def test_organisation_form_hostile_input(app, login, csrf_token):
    client = login()
    before = _counts(app)
    data = _organisation_data(
        name="A" * 10_000,
        email="x",
        kind="secte",
        departements=["99"],
        website="javascript:alert(1)",
        token=_org_token(app, "association-alpha"),
    )
    response = _post(client, csrf_token, EDIT_ORGANISATION, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for text in ("200 caractères au plus.", "adresse électronique valide", "http://"):
        assert text in html
    assert _counts(app) == before


def test_organisation_form_without_csrf_is_refused(app, login):
    client = login()
    response = client.post(EDIT_ORGANISATION, data=_organisation_data())
    assert response.status_code == 400


def test_seed_plain_text_still_renders_as_paragraphs(app, client):
    with app.app_context():
        organisation = make_organisation(
            slug="texte-ancien",
            description="Premier.\n\nSecond <b>brut</b>.",
            status=Status.PUBLISHED,
        )
        db.session.commit()
        assert organisation.id
    html = client.get("/organisations/texte-ancien").get_data(as_text=True)
    assert "<p>Premier.</p><p>Second brut.</p>" in html


def test_revision_states_after_staff_edit_of_organisation(app, login, csrf_token):
    client = login("claire@example.org")
    data = _organisation_data(token=_org_token(app, "association-alpha"))
    assert _post(client, csrf_token, EDIT_ORGANISATION, data).status_code == 302
    with app.app_context():
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "association-alpha")
        )
        assert workflow.history(organisation)[0].state == RevisionState.APPLIED
        assert organisation.commune_code == "84007"
