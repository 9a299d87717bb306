"""Shared set-up of the security tests: two partner organisations, staff, and their entries.

``build_world(app)`` adds organisation A (published, one published initiative, one initiative
still PROPOSED, a pending change proposed by A's member) and organisation B with its own
member, plus a curator and an administrator. ``sample_url(rule, world)`` fills a route's
arguments with A's real slugs and ids, so that walking ``app.url_map`` reaches real pages and
routes added later are covered without editing the tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from factories import make_event, make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.guards import route_access
from directory.models import Revision, RevisionState, Role, Status

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ROLES = ("anonymous", "member_a", "member_b", "curator", "admin")


@dataclass
class World:
    organisation_a: str
    organisation_a_id: int
    organisation_b: str
    initiative_a: str  # published, led by A
    initiative_a_id: int
    proposed_a: str  # PROPOSED, led by A: private to A and staff
    proposed_a_id: int
    archived_a: str  # ARCHIVED, led by A
    revision_a_id: int  # pending change of initiative_a proposed by A's member
    pending_logo_a: str  # file name of a logo in a pending change of A proposed by A's member
    event: str
    member_a_id: int
    colleague_a_id: int  # a second member of A (a target for "remove member")
    member_b_id: int
    curator_id: int
    admin_id: int

    def user_id(self, role: str) -> int | None:
        return {
            "anonymous": None,
            "member_a": self.member_a_id,
            "member_b": self.member_b_id,
            "curator": self.curator_id,
            "admin": self.admin_id,
        }[role]


def build_world(app) -> World:
    from directory.services import workflow

    with app.app_context():
        organisation_a = make_organisation(name="Organisation A")
        organisation_b = make_organisation(name="Organisation B")
        member_a = make_user(organisation=organisation_a, name="Membre A")
        colleague_a = make_user(organisation=organisation_a, name="Collègue A")
        member_b = make_user(organisation=organisation_b, name="Membre B")
        curator = make_user(role=Role.CURATOR, name="Chargée de mission")
        admin = make_user(role=Role.ADMIN, name="Administratrice")
        initiative_a = make_initiative(title="Initiative publiée de A", lead=organisation_a)
        proposed_a = make_initiative(
            title="Initiative proposée de A", lead=organisation_a, status=Status.PROPOSED
        )
        archived_a = make_initiative(
            title="Initiative archivée de A", lead=organisation_a, status=Status.ARCHIVED
        )
        make_initiative(title="Initiative de B", lead=organisation_b)
        event = make_event()
        db.session.commit()
        workflow.submit_initiative(
            member_a,
            {"summary": "Changement proposé par A."},
            initiative=initiative_a,
            token=workflow.edit_token(initiative_a),
        )
        pending_logo = _propose_logo(member_a, organisation_a)
        revision = db.session.scalars(
            sa.select(Revision).where(
                Revision.entity_id == initiative_a.id,
                Revision.entity_type == "initiative",
                Revision.state == RevisionState.PROPOSED,
            )
        ).one()
        return World(
            organisation_a=organisation_a.slug,
            organisation_a_id=organisation_a.id,
            organisation_b=organisation_b.slug,
            initiative_a=initiative_a.slug,
            initiative_a_id=initiative_a.id,
            proposed_a=proposed_a.slug,
            proposed_a_id=proposed_a.id,
            archived_a=archived_a.slug,
            revision_a_id=revision.id,
            pending_logo_a=pending_logo,
            event=event.slug,
            member_a_id=member_a.id,
            colleague_a_id=colleague_a.id,
            member_b_id=member_b.id,
            curator_id=curator.id,
            admin_id=admin.id,
        )


def _propose_logo(member, organisation) -> str:
    """A change of ``organisation`` with a new logo, proposed by ``member``: the logo's name."""
    import io

    from PIL import Image

    from directory.services import media, workflow

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(buffer, format="PNG")
    path = media.store_logo(*media.clean_image(buffer.getvalue()))
    workflow.submit_organisation(
        member, {"logo_path": path}, organisation=organisation,
        token=workflow.edit_token(organisation),
    )  # fmt: skip
    return media.logo_name(path)


def sign_in_as(app, client, world: World, role: str) -> None:
    """Open a session for ``role`` on ``client`` (anonymous: nothing to do)."""
    from directory.models import User
    from directory.web import sessions

    user_id = world.user_id(role)
    if user_id is None:
        return
    with app.app_context():
        login_id = db.session.get(User, user_id).get_id()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
        sessions.start(session)  # a session opened now, as the sign-in form does


def _argument_value(rule, argument: str, world: World, chosen: dict[str, str]) -> str:
    path = rule.rule
    converter = rule._converters[argument]
    items = getattr(converter, "items", None)  # <any(a, b):name>
    if items:
        return "initiatives" if "initiatives" in items else sorted(items)[0]
    kind = " ".join(chosen.values())
    if argument == "slug":
        if "/initiatives/" in path or "initiatives" in kind:
            return world.initiative_a
        if "/organisations/" in path or "organisations" in kind:
            return world.organisation_a
        if "/evenements/" in path or "/events/" in path:
            return world.event
        return "inconnu"
    if argument in ("initiative_id", "entry_id") or (argument == "id" and "initiative" in path):
        return str(world.initiative_a_id)
    if argument == "organisation_id":
        return str(world.organisation_a_id)
    if argument in ("revision_id", "id") or "revision" in argument:
        return str(world.revision_a_id)
    if argument == "user_id":
        return str(world.colleague_a_id)
    if argument == "code":
        return "13"
    if argument == "name" and "/logos/" in path:
        return world.pending_logo_a
    if argument == "fmt":
        return "csv"
    if argument == "filename":
        return "css/app.css"
    if "int" in type(converter).__name__.lower():
        return "999999"
    return "inconnu"


def sample_url(rule, world: World) -> str:
    """The rule's address with A's real slugs and ids in place of its arguments."""
    # Arguments fixed by the rule's defaults are not in its address (but tell the kind).
    chosen: dict[str, str] = {key: str(value) for key, value in (rule.defaults or {}).items()}
    in_address = [name for name in rule.arguments if name in rule._converters]
    # Choices (<any(...)>) first: the slug that follows depends on them.
    ordered = sorted(in_address, key=lambda name: not hasattr(rule._converters[name], "items"))
    for argument in ordered:
        chosen[argument] = _argument_value(rule, argument, world, chosen)
    values = {
        key: (int(value) if "int" in type(rule._converters[key]).__name__.lower() else value)
        for key, value in chosen.items()
        if key in rule._converters
    }
    _, url = rule.build(values, append_unknown=False)
    return url


def rules(app, *, methods: set[str], levels: tuple[str, ...] | None = None):
    """Rules of the app that accept one of ``methods`` (API excepted: read-only, tested apart)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint.startswith("api."):
            continue
        if not rule.methods & methods:
            continue
        if levels and route_access(app, rule.endpoint) not in levels:
            continue
        yield rule


# Reference tables loaded by set-up: counted, not fingerprinted (thousands of rows).
REFERENCE_TABLES = {"commune", "departement", "region"}


def database_state(app) -> dict[str, object]:
    """Row count of every table, and a fingerprint of the content of every non-reference one.

    Two equal states mean nothing was added, removed or changed (a role, a title, a flag).
    """
    state: dict[str, object] = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in REFERENCE_TABLES:
                state[table.name] = db.session.scalar(sa.select(sa.func.count()).select_from(table))
                continue
            rows = db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            state[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        db.session.remove()
    return state
