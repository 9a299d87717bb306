"""Who may open which page and post to which route: the permission matrix, as data.

Each row is a route (with A's real entries), a method, what is posted (always with a valid
CSRF token) and the exact status for each person:

    anonymous · member of A · member of B · curator · admin

302 to a page is the answer after a successful post (or the sign-in page for anonymous
people); 200 or 422 with a form means "allowed, but the form has errors"; 403 "you may see
this entry but not change it"; 404 "this entry does not exist for you". Every person gets a
fresh set of entries (``build_world``), so that an allowed destructive action does not change
what the next person meets. A refused request must leave every table as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from security_world import (
    ROLES,
    WRITE_METHODS,
    World,
    build_world,
    database_state,
    rules,
    sample_url,
    sign_in_as,
)
from werkzeug.datastructures import MultiDict

from directory.extensions import db
from directory.guards import route_access
from directory.models import Initiative, Membership, Revision, RevisionState, Status

ALLOWED = {200, 201, 302, 303, 400, 409, 422}


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # formatted with the World's fields
    expected: tuple[int, int, int, int, int]  # in ROLES order
    data: dict = field(default_factory=dict)

    def status_for(self, role: str) -> int:
        return self.expected[ROLES.index(role)]

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}"


# fmt: off
MATRIX = [
    # Public sheets: a PROPOSED or ARCHIVED initiative does not exist on the public site.
    #                                                                   anon  A    B  cur  adm
    Row("GET", "/initiatives/{initiative_a}",                          (200, 200, 200, 200, 200)),
    Row("GET", "/initiatives/{proposed_a}",                            (404, 404, 404, 404, 404)),
    Row("GET", "/initiatives/{archived_a}",                            (404, 404, 404, 404, 404)),
    Row("GET", "/api/v1/initiatives/{proposed_a}",                     (404, 404, 404, 404, 404)),
    Row("GET", "/organisations/{organisation_a}",                      (200, 200, 200, 200, 200)),
    # A logo in A's pending change: never public; A's members and the staff see it signed in.
    Row("GET", "/medias/logos/{pending_logo_a}",                       (404, 404, 404, 404, 404)),
    Row("GET", "/medias/apercu/logos/{pending_logo_a}",                (302, 200, 404, 200, 200)),
    # Account.
    Row("GET", "/compte",                                              (302, 200, 200, 200, 200)),
    Row("POST", "/compte/mot-de-passe",                                (302, 200, 200, 200, 200)),
    Row("POST", "/compte/deconnexion-partout",                         (302, 302, 302, 302, 302)),
    Row("POST", "/deconnexion",                                        (302, 302, 302, 302, 302)),
    # Partner space: A's organisation and initiatives.
    Row("GET", "/espace-partenaire/",                                  (302, 200, 200, 200, 200)),
    Row("GET", "/espace-partenaire/communes?q=Mars",                   (302, 200, 200, 200, 200)),
    Row("GET", "/espace-partenaire/organisations/{organisation_a}/modifier",
                                                                       (302, 200, 403, 200, 200)),
    Row("POST", "/espace-partenaire/organisations/{organisation_a}/modifier",
                                                                       (302, 422, 403, 422, 422)),
    Row("GET", "/espace-partenaire/organisations/{organisation_b}/modifier",
                                                                       (302, 403, 200, 200, 200)),
    Row("GET", "/espace-partenaire/initiatives/{initiative_a}/modifier",
                                                                       (302, 200, 403, 200, 200)),
    Row("POST", "/espace-partenaire/initiatives/{initiative_a}/modifier",
                                                                       (302, 422, 403, 422, 422)),
    # A's initiative under review: B may not even know it exists.
    Row("GET", "/espace-partenaire/initiatives/{proposed_a}/modifier",
                                                                       (302, 200, 404, 200, 200)),
    Row("POST", "/espace-partenaire/initiatives/{proposed_a}/modifier",
                                                                       (302, 422, 404, 422, 422)),
    # An archived initiative is frozen for its members; staff may still edit it.
    Row("GET", "/espace-partenaire/initiatives/{archived_a}/modifier",
                                                                       (302, 403, 404, 200, 200)),
    Row("POST", "/espace-partenaire/initiatives/{archived_a}/modifier",
                                                                       (302, 403, 404, 422, 422)),
    Row("GET", "/espace-partenaire/initiatives/inconnue/modifier",     (302, 404, 404, 404, 404)),
    Row("GET", "/espace-partenaire/initiatives/nouvelle",              (302, 200, 200, 200, 200)),
    Row("GET", "/espace-partenaire/initiatives/nouvelle?organisation={organisation_a}",
                                                                       (302, 200, 403, 200, 200)),
    Row("POST", "/espace-partenaire/initiatives/nouvelle?organisation={organisation_a}",
                                                                       (302, 422, 403, 422, 422)),
    # Members of A.
    Row("GET", "/espace-partenaire/organisations/{organisation_a}/membres",
                                                                       (302, 200, 403, 200, 200)),
    Row("POST", "/espace-partenaire/organisations/{organisation_a}/membres/inviter",
                                                                       (302, 200, 403, 200, 200)),
    Row("POST", "/espace-partenaire/organisations/{organisation_a}/membres/{colleague_a_id}/retirer",  # noqa: E501
                                                                       (302, 302, 403, 302, 302)),
    # Staff: review queue, history, archive, restore.
    Row("GET", "/gestion/",                                            (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/propositions",                                (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/propositions/{revision_a_id}",                (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/propositions/999999",                         (302, 403, 403, 404, 404)),
    Row("POST", "/gestion/propositions/{revision_a_id}/accepter",      (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/propositions/{revision_a_id}/refuser",       (302, 403, 403, 302, 302),
        {"refuser-comment": "Fiche en double."}),
    Row("POST", "/gestion/propositions/{revision_a_id}/refuser",       (302, 403, 403, 400, 400)),
    Row("GET", "/gestion/revisions/{revision_a_id}",                   (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/revisions/{revision_a_id}/restaurer",        (302, 403, 403, 302, 302)),
    Row("GET", "/gestion/initiatives/{initiative_a}/historique",       (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/initiatives/{proposed_a}/historique",         (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/organisations/{organisation_a}/historique",   (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/initiatives/{initiative_a}/archiver",        (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/initiatives/{archived_a}/desarchiver",       (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/organisations/{organisation_a}/archiver",    (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/organisations/{organisation_a}/desarchiver", (302, 403, 403, 302, 302)),
    # Duplicates: finding and merging two entries is staff work.
    Row("GET", "/gestion/doublons",                                    (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/doublons/fusionner",                          (302, 403, 403, 200, 200)),
    Row("GET", "/gestion/doublons/fusionner?type=initiative&garder={initiative_a}&retirer={proposed_a}",  # noqa: E501
                                                                       (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/doublons/fusionner?type=initiative&garder={initiative_a}&retirer={proposed_a}",  # noqa: E501
                                                                       (302, 403, 403, 409, 409)),
    # Events: speakers, workshops, organisations, round tables are curators' work.
    Row("GET", "/gestion/evenements/{event}/ateliers",                 (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/evenements/{event}/ateliers",                (302, 403, 403, 303, 303),
        {"title": "Atelier mobilité"}),
    Row("POST", "/gestion/evenements/{event}/ateliers",                (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/evenements/{event}/ateliers/999999/supprimer",
                                                                       (302, 403, 403, 404, 404)),
    Row("GET", "/gestion/evenements/{event}/organisations",            (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/evenements/{event}/organisations",           (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/evenements/{event}/organisations/{organisation_a_id}/partenaire/retirer",
                                                                       (302, 403, 403, 404, 404)),
    Row("POST", "/gestion/evenements/{event}/programme/999999/intervenants",
                                                                       (302, 403, 403, 404, 404)),
    Row("POST", "/gestion/evenements/{event}/initiatives/{initiative_a}/table-ronde",
                                                                       (302, 403, 403, 303, 303)),
    # Accounts: staff (de)activate partner accounts; only admins touch staff accounts and roles.
    Row("GET", "/gestion/comptes",                                     (302, 403, 403, 200, 200)),
    Row("POST", "/gestion/comptes/{colleague_a_id}/desactiver",        (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/comptes/{colleague_a_id}/reactiver",         (302, 403, 403, 302, 302)),
    Row("POST", "/gestion/comptes/{curator_id}/desactiver",            (302, 403, 403, 403, 302)),
    Row("POST", "/gestion/comptes/{admin_id}/desactiver",              (302, 403, 403, 403, 403)),
    Row("POST", "/gestion/comptes/999999/desactiver",                  (302, 403, 403, 404, 404)),
    Row("POST", "/gestion/comptes/{colleague_a_id}/role",              (302, 403, 403, 403, 302),
        {"role": "curator"}),
    Row("POST", "/gestion/comptes/{curator_id}/role",                  (302, 403, 403, 403, 302),
        {"role": "admin"}),
    Row("POST", "/gestion/comptes/{member_a_id}/role",                 (302, 403, 403, 403, 302),
        {"role": "admin"}),
    Row("POST", "/gestion/comptes/{admin_id}/role",                    (302, 403, 403, 403, 403),
        {"role": "partner"}),
]
# fmt: on


def _request(app, client, csrf_token, row: Row, world: World):
    url = row.url.format(**vars(world))
    if row.method == "GET":
        return url, client.get(url)
    data = {**row.data, "csrf_token": csrf_token(client)}
    return url, client.open(url, method=row.method, data=data)


def _endpoint(app, row: Row) -> str | None:
    path = row.url.split("?")[0].format(**dict.fromkeys(World.__dataclass_fields__, "1"))
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method=row.method)
    except Exception:
        return None
    return endpoint


def _level(app, row: Row) -> str | None:
    endpoint = _endpoint(app, row)
    return route_access(app, endpoint) if endpoint else None


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_permission_matrix(app, csrf_token, row):
    assert _endpoint(app, row) is not None, f"route not registered: {row.method} {row.url}"
    world = build_world(app)
    for role in ROLES:
        expected = row.status_for(role)
        refused = expected in (403, 404) or role == "anonymous"
        if row.method != "GET" and not refused:
            world = build_world(app)  # an allowed write must not change what others meet
        client = app.test_client()
        sign_in_as(app, client, world, role)
        before = database_state(app) if refused and row.method != "GET" else None
        url, response = _request(app, client, csrf_token, row, world)
        assert response.status_code == expected, f"{row.method} {url} as {role}"
        if expected == 302 and role == "anonymous" and _level(app, row) != "public":
            assert "/connexion" in response.headers["Location"], url
        if before is not None:
            assert database_state(app) == before, f"{row.method} {url} as {role} changed data"
        if expected in (403, 404):
            assert "Initiative proposée de A" not in response.get_data(as_text=True)


def test_every_partner_route_has_a_row(app):
    """Routes where ownership decides (partner level) need a row here: add one when one lands.

    Staff and admin routes have no ownership: the generic tests below walk every one of them
    (nobody below the level gets in, refusals change nothing), whenever they land.
    """
    covered = {_endpoint(app, row) for row in MATRIX}
    missing = sorted(
        f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if route_access(app, rule.endpoint) == "partner" and rule.endpoint not in covered
    )
    assert missing == []


# -- generic checks over every route of a level (routes added later are covered) --------------


@pytest.mark.parametrize(
    ("role", "levels"), [("member_a", ("staff", "admin")), ("curator", ("admin",))]
)
def test_nobody_reaches_a_level_above_their_own(app, csrf_token, role, levels):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, role)
    before = database_state(app)
    for rule in rules(app, methods={"GET"} | WRITE_METHODS, levels=levels):
        for method in sorted(rule.methods & ({"GET"} | WRITE_METHODS)):
            data = {"csrf_token": csrf_token(client)} if method != "GET" else None
            response = client.open(sample_url(rule, world), method=method, data=data)
            assert response.status_code == 403, f"{method} {rule.rule} as {role}"
    assert database_state(app) == before


def test_anonymous_people_are_sent_to_sign_in_even_with_a_valid_token(app, csrf_token):
    world = build_world(app)
    client = app.test_client()
    before = database_state(app)
    for rule in rules(app, methods={"GET"} | WRITE_METHODS, levels=("partner", "staff", "admin")):
        for method in sorted(rule.methods & ({"GET"} | WRITE_METHODS)):
            data = {"csrf_token": csrf_token(client)} if method != "GET" else None
            response = client.open(sample_url(rule, world), method=method, data=data)
            assert response.status_code == 302, f"{method} {rule.rule}"
            assert "/connexion" in response.headers["Location"]
    assert database_state(app) == before


def test_member_of_b_never_sees_a_drafts(app):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, "member_b")
    secret = "Initiative proposée de A"
    for rule in rules(app, methods={"GET"}):
        response = client.get(sample_url(rule, world))
        assert secret not in response.get_data(as_text=True), rule.rule
    for url in (
        f"/initiatives/{world.proposed_a}",
        f"/espace-partenaire/initiatives/{world.proposed_a}/modifier",
        f"/api/v1/initiatives/{world.proposed_a}",
    ):
        assert client.get(url).status_code == 404, url


# -- a real, valid form of A's member, replayed by B -------------------------------------------


class FormReader(HTMLParser):
    """The fields of the first POST form of a page, as a browser would submit them."""

    def __init__(self, action_contains: str = "") -> None:
        super().__init__()
        self.action_contains = action_contains
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._done = False
        self._textarea: str | None = None
        # The select being read: its name, its first option, whether one is selected.
        self._select: list | None = None

    def _opens_form(self, tag: str, attributes: dict) -> bool:
        return (
            tag == "form"
            and not self._done
            and (attributes.get("method") or "").lower() == "post"
            and self.action_contains in (attributes.get("action") or "")
        )

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._opens_form(tag, a):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            self.fields.append((name, a.get("value") or ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.append((name, ""))
        elif tag == "select" and name:
            self._select = [name, None, False]
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in a:
                self._select[2] = True
                self.fields.append((self._select[0], value))

    def handle_data(self, data):
        if self._textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            name, first, selected = self._select
            if not selected and first is not None:  # browsers send the first option
                self.fields.append((name, first))
            self._select = None
        elif tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def _form_of(client, url: str) -> list[tuple[str, str]]:
    reader = FormReader(action_contains=url)
    reader.feed(client.get(url).get_data(as_text=True))
    assert reader.fields, f"no form on {url}"
    return reader.fields


def _replace(fields, name, value):
    return [(key, value if key == name else old) for key, old in fields]


def _proposed_titles(app, initiative_slug: str) -> list[str]:
    """Titles in the pending (PROPOSED) revisions of an initiative."""
    with app.app_context():
        initiative = db.session.scalars(
            sa.select(Initiative).where(Initiative.slug == initiative_slug)
        ).one()
        revisions = db.session.scalars(
            sa.select(Revision).where(
                Revision.entity_type == "initiative",
                Revision.entity_id == initiative.id,
                Revision.state == RevisionState.PROPOSED,
            )
        )
        return [revision.snapshot.get("title") for revision in revisions]


@pytest.mark.parametrize("target", ["initiative_a", "proposed_a"])
def test_member_of_b_cannot_replay_a_valid_edit_of_a(app, csrf_token, target):
    world = build_world(app)
    slug = getattr(world, target)
    url = f"/espace-partenaire/initiatives/{slug}/modifier"
    owner = app.test_client()
    sign_in_as(app, owner, world, "member_a")
    fields = _replace(_form_of(owner, url), "title", "Titre changé par quelqu’un")

    intruder = app.test_client()
    sign_in_as(app, intruder, world, "member_b")
    before = database_state(app)
    replayed = _replace(fields, "csrf_token", csrf_token(intruder))  # B's own valid token
    response = intruder.post(url, data=MultiDict(replayed))
    assert response.status_code in (403, 404)
    assert database_state(app) == before

    # The same form from its owner goes through: the refusal was about who, not what.
    response = owner.post(url, data=MultiDict(fields))
    assert response.status_code == 302, response.get_data(as_text=True)[-12000:]
    with app.app_context():
        initiative = db.session.scalars(sa.select(Initiative).where(Initiative.slug == slug)).one()
        if initiative.status == Status.PUBLISHED:
            # A change to a published entry waits for review; the sheet is unchanged.
            assert initiative.title != "Titre changé par quelqu’un"
            assert "Titre changé par quelqu’un" in _proposed_titles(app, slug)
        else:
            assert initiative.title == "Titre changé par quelqu’un"


def test_member_of_b_cannot_remove_a_member_of_a(app, csrf_token):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, "member_b")
    url = (
        f"/espace-partenaire/organisations/{world.organisation_a}/membres/"
        f"{world.colleague_a_id}/retirer"
    )
    response = client.post(url, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 403
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Membership)
                .where(Membership.user_id == world.colleague_a_id)
            )
            == 1
        )
