"""Moderation workflow: proposals, direct publishing, review, locking, archive, restore."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import (
    make_commune,
    make_initiative,
    make_organisation,
    make_public,
    make_theme,
    make_user,
)

from directory.extensions import db
from directory.models import (
    AuditLog,
    Initiative,
    Organisation,
    Revision,
    RevisionAction,
    RevisionState,
    Role,
    Status,
)
from directory.services import entry_data, revisions, workflow
from directory.services import search as search_service
from directory.services.workflow import (
    InvalidTransition,
    NotAllowed,
    StaleEdit,
    WorkflowError,
)


@pytest.fixture
def world(app_ctx):
    """Two partner organisations, their members, a curator and an initiative led by A."""
    org_a = make_organisation(name="Association Alpha", slug="association-alpha")
    org_b = make_organisation(name="Association Beta", slug="association-beta")
    trusted = make_organisation(name="Collectif de confiance", slug="collectif-confiance")
    trusted.trusted = True
    theme = make_theme(slug="theme-solidarite", name="Solidarité de test")
    make_public(slug="public-jeunes", name="Jeunes de test")
    make_commune("13055")
    make_commune("06088")
    member_a = make_user(organisation=org_a, email="alice@example.org", name="Alice")
    member_b = make_user(organisation=org_b, email="bruno@example.org", name="Bruno")
    member_trusted = make_user(organisation=trusted, email="tess@example.org")
    curator = make_user(role=Role.CURATOR, email="claire@example.org", name="Claire")
    initiative = make_initiative(
        slug="jardin-partage-alpha", title="Jardin partagé Alpha", lead=org_a, commune="13055"
    )
    initiative.themes = [theme]
    db.session.commit()
    return {
        "org_a": org_a,
        "org_b": org_b,
        "trusted": trusted,
        "member_a": member_a,
        "member_b": member_b,
        "member_trusted": member_trusted,
        "curator": curator,
        "initiative": initiative,
    }


def revisions_of(entry) -> list[Revision]:
    return workflow.history(entry)


def outbox(app) -> list:
    folder = Path(app.instance_path) / "outbox"
    if not folder.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=default_policy)
        for path in sorted(folder.glob("*.eml"))
    ]


def found(word: str) -> set[str]:
    outcome = search_service.search(search_service.SearchRequest.from_args({"q": word}))
    return {hit.entry.title for hit in outcome.initiatives.hits}


# -- snapshots and diff ---------------------------------------------------------------------


def test_snapshot_lists_every_editable_field(world):
    snap = workflow.snapshot(world["initiative"])
    assert list(snap) == list(entry_data.INITIATIVE_KEYS)
    assert snap["title"] == "Jardin partagé Alpha"
    assert snap["themes"] == ["theme-solidarite"]
    assert snap["organisations"] == [{"slug": "association-alpha", "role": "porteur"}]
    assert snap["places"][0]["commune_code"] == "13055"
    org_snap = workflow.snapshot(world["org_a"])
    assert list(org_snap) == list(entry_data.ORGANISATION_KEYS)
    assert org_snap["kind"] == "association"


def test_diff_lists_changed_fields_with_french_labels():
    before = {"title": "A", "summary": "Même", "themes": ["x"]}
    after = {"title": "B", "summary": "Même", "themes": ["x", "y"]}
    changes = workflow.diff(before, after)
    assert [(c.field, c.label) for c in changes] == [("title", "Titre"), ("themes", "Thèmes")]
    assert changes[0].before == "A" and changes[0].after == "B"
    assert [c.field for c in workflow.diff(None, {"title": "T", "summary": None})] == ["title"]


# -- creating --------------------------------------------------------------------------------


def test_partner_creates_a_proposed_initiative_led_by_their_organisation(world):
    revision = workflow.submit_initiative(
        world["member_a"],
        {"title": "Repair café", "themes": ["theme-solidarite"], "places": [
            {"commune_code": "06088", "label": "Local associatif"}
        ]},
        organisation=world["org_a"],
    )  # fmt: skip
    initiative = db.session.get(Initiative, revision.entity_id)
    assert initiative.status == Status.PROPOSED
    assert initiative.slug == "repair-cafe"
    assert revision.action == RevisionAction.CREATE
    assert revision.state == RevisionState.PROPOSED
    assert revision.organisation_id == world["org_a"].id
    assert revision.author_id == world["member_a"].id
    assert [o.slug for o in initiative.lead_organisations] == ["association-alpha"]
    assert [d.code for d in initiative.departements] == ["06"]
    assert workflow.pending_for(initiative) == [revision]


def test_trusted_member_and_staff_publish_directly(world):
    revision = workflow.submit_initiative(
        world["member_trusted"], {"title": "Épicerie solidaire"}, organisation=world["trusted"]
    )
    initiative = db.session.get(Initiative, revision.entity_id)
    assert initiative.status == Status.PUBLISHED
    assert revision.state == RevisionState.APPLIED
    staff_revision = workflow.submit_initiative(world["curator"], {"title": "Épicerie solidaire"})
    second = db.session.get(Initiative, staff_revision.entity_id)
    assert second.status == Status.PUBLISHED
    assert second.slug == "epicerie-solidaire-2"


def test_creation_refused_for_another_organisation_or_anonymous(world):
    with pytest.raises(NotAllowed):
        workflow.submit_initiative(world["member_b"], {"title": "X"}, organisation=world["org_a"])
    with pytest.raises(NotAllowed):
        workflow.submit_initiative(None, {"title": "X"}, organisation=world["org_a"])
    with pytest.raises(NotAllowed):
        workflow.submit_initiative(world["member_a"], {"title": "X"})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Nul\x00"}, "title"),
        ({"title": "T", "themes": ["inconnu"]}, "themes"),
        ({"title": "T", "publics": ["inconnu"]}, "publics"),
        ({"title": "T", "places": [{"commune_code": "99999"}]}, "places"),
        ({"title": "T", "organisations": [{"slug": "nulle-part", "role": "porteur"}]},
         "organisations"),
        ({"title": "T", "organisations": [{"slug": "association-beta", "role": "mécène"}]},
         "organisations"),
        ({"title": "T", "stage": "inconnu"}, "stage"),
        ({"title": "T", "start_year": "deux mille"}, "start_year"),
        ({"title": "T", "start_year": 2012, "end_year": 2010}, "end_year"),
        ({"title": "T", "contact_email": "pas-une-adresse"}, "contact_email"),
        ({"title": "T", "website": "javascript:alert(1)"}, "website"),
    ],
)  # fmt: skip
def test_bad_data_is_refused_and_nothing_is_written(world, data, field):
    before = db.session.scalar(sa.select(sa.func.count(Initiative.id)))
    with pytest.raises(WorkflowError) as error:
        workflow.submit_initiative(world["member_a"], data, organisation=world["org_a"])
    assert error.value.field == field
    assert str(error.value)
    assert db.session.scalar(sa.select(sa.func.count(Initiative.id))) == before
    assert db.session.scalar(sa.select(sa.func.count(Revision.id))) == 0


def test_partner_cannot_hand_the_initiative_to_another_organisation(world):
    with pytest.raises(WorkflowError):
        workflow.submit_initiative(
            world["member_a"],
            {"organisations": [{"slug": "association-beta", "role": "porteur"}]},
            initiative=world["initiative"],
            token=workflow.edit_token(world["initiative"]),
        )


# -- changing --------------------------------------------------------------------------------


def test_change_to_published_entry_is_proposed_and_entry_untouched(world, client):
    initiative = world["initiative"]
    version = initiative.version
    revision = workflow.submit_initiative(
        world["member_a"],
        {"title": "Jardin partagé Alpha et Oméga"},
        initiative=initiative,
        token=workflow.edit_token(initiative),
    )
    assert revision.state == RevisionState.PROPOSED
    assert revision.base_version == version
    assert revision.snapshot["title"] == "Jardin partagé Alpha et Oméga"
    db.session.refresh(initiative)
    assert initiative.title == "Jardin partagé Alpha"
    assert initiative.status == Status.PUBLISHED
    page = client.get("/initiatives/jardin-partage-alpha")
    assert "Jardin partagé Alpha" in page.text and "Oméga" not in page.text

    newer = workflow.submit_initiative(
        world["member_a"],
        {"title": "Jardin partagé Alpha (nouveau titre)"},
        initiative=initiative,
        token=workflow.edit_token(initiative),
    )
    db.session.refresh(revision)
    assert revision.state == RevisionState.REJECTED
    assert revision.comment == "Remplacée par une proposition plus récente."
    assert workflow.pending_for(initiative) == [newer]


def test_change_to_unpublished_entry_is_applied_and_goes_back_to_proposed(world):
    draft = make_initiative(title="Brouillon", lead=world["org_a"], status=Status.DRAFT)
    db.session.commit()
    revision = workflow.submit_initiative(
        world["member_a"], {"summary": "Un résumé neuf."}, initiative=draft,
        token=workflow.edit_token(draft),
    )  # fmt: skip
    db.session.refresh(draft)
    assert draft.summary == "Un résumé neuf."
    assert draft.status == Status.PROPOSED
    assert revision.state == RevisionState.PROPOSED
    assert revision.action == RevisionAction.CREATE


def test_staff_edit_of_a_proposed_entry_publishes_it_and_settles_the_proposal(world):
    proposal = workflow.submit_initiative(
        world["member_a"], {"title": "Atelier vélo"}, organisation=world["org_a"]
    )
    initiative = db.session.get(Initiative, proposal.entity_id)
    workflow.submit_initiative(
        world["curator"], {"summary": "Relu par l’équipe."}, initiative=initiative,
        token=workflow.edit_token(initiative),
    )  # fmt: skip
    assert initiative.status == Status.PUBLISHED
    assert proposal.state == RevisionState.REJECTED
    assert proposal.comment == revisions.SUPERSEDED_COMMENT
    assert workflow.pending_for(initiative) == []


def test_member_of_another_organisation_may_not_edit(world):
    with pytest.raises(NotAllowed):
        workflow.submit_initiative(
            world["member_b"], {"title": "Pris"}, initiative=world["initiative"], token=None
        )
    with pytest.raises(NotAllowed):
        workflow.submit_organisation(
            world["member_b"], {"name": "Pris"}, organisation=world["org_a"], token=None
        )
    assert db.session.scalar(sa.select(sa.func.count(Revision.id))) == 0


def test_staff_change_is_applied_and_recorded(world):
    initiative = world["initiative"]
    revision = workflow.submit_initiative(
        world["curator"], {"title": "Jardin des Alpes", "stage": "deploiement"},
        initiative=initiative, token=workflow.edit_token(initiative),
    )  # fmt: skip
    db.session.refresh(initiative)
    assert initiative.title == "Jardin des Alpes"
    assert initiative.stage.value == "deploiement"
    assert revision.state == RevisionState.APPLIED
    assert revision.snapshot == workflow.snapshot(initiative)
    assert "Jardin des Alpes" in found("alpes")


def test_organisation_change_proposed_by_member_then_applied_by_trusted(world):
    org_a = world["org_a"]
    revision = workflow.submit_organisation(
        world["member_a"], {"tagline": "Nouvelle accroche", "departements": ["13"]},
        organisation=org_a, token=workflow.edit_token(org_a),
    )  # fmt: skip
    assert revision.state == RevisionState.PROPOSED
    assert revision.organisation_id == org_a.id
    db.session.refresh(org_a)
    assert org_a.tagline is None
    trusted = world["trusted"]
    applied = workflow.submit_organisation(
        world["member_trusted"], {"tagline": "Direct"}, organisation=trusted,
        token=workflow.edit_token(trusted),
    )  # fmt: skip
    assert applied.state == RevisionState.APPLIED
    assert db.session.get(Organisation, trusted.id).tagline == "Direct"
    with pytest.raises(WorkflowError) as error:
        workflow.submit_organisation(
            world["curator"], {"departements": ["99"]}, organisation=trusted, token=None
        )
    assert error.value.field == "departements"


# -- optimistic locking ----------------------------------------------------------------------


def test_second_submit_with_the_same_token_is_stale(world):
    initiative = world["initiative"]
    token = workflow.edit_token(initiative)
    workflow.submit_initiative(
        world["member_a"], {"summary": "Première"}, initiative=initiative, token=token
    )
    with pytest.raises(StaleEdit) as error:
        workflow.submit_initiative(
            world["curator"], {"summary": "Seconde"}, initiative=initiative, token=token
        )
    assert "modifiée par quelqu'un d'autre" in str(error.value)
    db.session.refresh(initiative)
    assert initiative.summary == "Un résumé de test."


def test_staff_edits_race_and_the_second_is_stale(world):
    initiative = world["initiative"]
    token = workflow.edit_token(initiative)
    workflow.submit_initiative(world["curator"], {"summary": "A"}, initiative=initiative,
                               token=token)  # fmt: skip
    with pytest.raises(StaleEdit):
        workflow.submit_initiative(world["curator"], {"summary": "B"}, initiative=initiative,
                                   token=token)  # fmt: skip
    assert db.session.get(Initiative, initiative.id).summary == "A"


def test_concurrent_orm_update_raises_stale_edit(world):
    initiative = world["initiative"]
    initiative_id = initiative.id
    assert initiative.title  # loaded in this session
    with db.engine.begin() as connection:  # another process saves meanwhile
        connection.execute(
            sa.update(Initiative.__table__)
            .where(Initiative.__table__.c.id == initiative_id)
            .values(summary="Ailleurs", version=Initiative.__table__.c.version + 1)
        )
    with pytest.raises(StaleEdit):
        workflow.submit_initiative(
            world["curator"], {"summary": "Ici"}, initiative=initiative, token=None
        )
    db.session.expire_all()
    assert db.session.get(Initiative, initiative_id).summary == "Ailleurs"
    assert db.session.scalar(sa.select(sa.func.count(Revision.id))) == 0


# -- review ----------------------------------------------------------------------------------


def test_approve_applies_publishes_logs_and_notifies(world, app):
    initiative = world["initiative"]
    revision = workflow.submit_initiative(
        world["member_a"], {"title": "Potager Zéphyrin"}, initiative=initiative,
        token=workflow.edit_token(initiative),
    )  # fmt: skip
    assert "Potager Zéphyrin" not in found("zephyrin")
    with pytest.raises(NotAllowed):
        workflow.approve(world["member_a"], revision)
    workflow.approve(world["curator"], revision, "Merci !")
    db.session.refresh(initiative)
    assert initiative.title == "Potager Zéphyrin"
    assert revision.state == RevisionState.APPLIED
    assert revision.reviewer_id == world["curator"].id
    assert revision.reviewed_at is not None
    assert revision.comment == "Merci !"
    log = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "revision.approved"))
    assert [entry.details["revision_id"] for entry in log] == [revision.id]
    assert "Potager Zéphyrin" in found("zephyrin")
    [mail] = outbox(app)
    assert mail["To"] == "alice@example.org"
    assert "acceptée" in mail["Subject"]
    assert "Merci !" in mail.get_content()
    with pytest.raises(InvalidTransition):
        workflow.approve(world["curator"], revision)
    with pytest.raises(InvalidTransition):
        workflow.reject(world["curator"], revision, "Trop tard")


def test_approve_creation_publishes_it(world):
    revision = workflow.submit_initiative(
        world["member_a"], {"title": "Ressourcerie Quetzal"}, organisation=world["org_a"]
    )
    assert found("quetzal") == set()
    workflow.approve(world["curator"], revision)
    initiative = db.session.get(Initiative, revision.entity_id)
    assert initiative.status == Status.PUBLISHED
    assert found("quetzal") == {"Ressourcerie Quetzal"}


def test_reject_needs_a_comment_leaves_creation_in_draft_and_notifies(world, app):
    revision = workflow.submit_initiative(
        world["member_a"], {"title": "Idée refusée"}, organisation=world["org_a"]
    )
    with pytest.raises(WorkflowError):
        workflow.reject(world["curator"], revision, "   ")
    assert revision.state == RevisionState.PROPOSED
    with pytest.raises(NotAllowed):
        workflow.reject(world["member_b"], revision, "Non")
    workflow.reject(world["curator"], revision, "Doublon d'une fiche existante.")
    initiative = db.session.get(Initiative, revision.entity_id)
    assert initiative.status == Status.DRAFT
    assert revision.state == RevisionState.REJECTED
    [mail] = outbox(app)
    assert mail["To"] == "alice@example.org"
    assert "n'a pas été retenue" in mail["Subject"]
    assert "Doublon d'une fiche existante." in mail.get_content()


def test_anonymous_proposal_and_its_notification(world, app):
    revision = workflow.propose_anonymous(
        {"title": "Jardin partagé Alpha", "summary": "Vu au marché."},
        proposer_name="Dominique",
        proposer_email="dominique@example.net",
    )
    initiative = db.session.get(Initiative, revision.entity_id)
    assert initiative.status == Status.PROPOSED
    assert initiative.slug == "jardin-partage-alpha-2"
    assert revision.author_id is None
    assert revision.proposer_email == "dominique@example.net"
    assert revision.action == RevisionAction.CREATE
    assert revision.state == RevisionState.PROPOSED
    workflow.approve(world["curator"], revision)
    [mail] = outbox(app)
    assert mail["To"] == "dominique@example.net"
    assert "Bonjour Dominique" in mail.get_content()
    with pytest.raises(WorkflowError):
        workflow.propose_anonymous({"title": "X"}, proposer_name="D", proposer_email="non")
    with pytest.raises(WorkflowError):
        workflow.propose_anonymous({"title": "X"}, proposer_name=" ", proposer_email="a@b.fr")


# -- archive, restore, history, queue -----------------------------------------------------


def test_archive_removes_from_public_page_and_search_then_unarchive(world, client):
    initiative = world["initiative"]
    assert "Jardin partagé Alpha" in found("jardin")
    with pytest.raises(NotAllowed):
        workflow.archive(world["member_a"], initiative)
    revision = workflow.archive(world["curator"], initiative, "Action terminée")
    assert revision.action == RevisionAction.ARCHIVE
    assert revision.comment == "Action terminée"
    assert initiative.status == Status.ARCHIVED
    assert client.get("/initiatives/jardin-partage-alpha").status_code == 404
    assert "Jardin partagé Alpha" not in found("jardin")
    with pytest.raises(InvalidTransition):
        workflow.archive(world["curator"], initiative)
    with pytest.raises(NotAllowed):
        workflow.submit_initiative(
            world["member_a"], {"title": "Retour"}, initiative=initiative, token=None
        )
    workflow.unarchive(world["curator"], initiative)
    assert initiative.status == Status.PUBLISHED
    assert client.get("/initiatives/jardin-partage-alpha").status_code == 200
    actions = [log.action for log in db.session.scalars(sa.select(AuditLog))]
    assert "entry.archived" in actions and "entry.unarchived" in actions
    with pytest.raises(InvalidTransition):
        workflow.unarchive(world["curator"], initiative)


def test_restore_brings_an_old_version_back_as_a_new_revision(world):
    initiative = world["initiative"]
    first = workflow.submit_initiative(
        world["curator"], {"title": "Version un"}, initiative=initiative, token=None
    )
    workflow.submit_initiative(
        world["curator"], {"title": "Version deux", "themes": []}, initiative=initiative,
        token=None,
    )  # fmt: skip
    with pytest.raises(NotAllowed):
        workflow.restore(world["member_a"], first)
    restored = workflow.restore(world["curator"], first)
    db.session.refresh(initiative)
    assert initiative.title == "Version un"
    assert [theme.slug for theme in initiative.themes] == ["theme-solidarite"]
    assert restored.action == RevisionAction.RESTORE
    assert restored.state == RevisionState.APPLIED
    assert restored.id != first.id
    history = workflow.history(initiative)
    assert history[0] == restored
    assert [r.snapshot["title"] for r in history] == [
        "Version un",
        "Version deux",
        "Version un",
        "Jardin partagé Alpha",  # the seeded version, recorded before its first change
    ]
    assert history[-1].comment == revisions.BASELINE_COMMENT
    assert history[-1].author_id is None
    workflow.restore(world["curator"], history[-1])
    assert initiative.title == "Jardin partagé Alpha"
    pending = workflow.submit_initiative(
        world["member_a"], {"title": "Proposé"}, initiative=initiative,
        token=workflow.edit_token(initiative),
    )  # fmt: skip
    with pytest.raises(InvalidTransition):
        workflow.restore(world["curator"], pending)


def test_review_queue_filters_and_orders_oldest_first(world):
    org_a, org_b = world["org_a"], world["org_b"]
    first = workflow.submit_initiative(
        world["member_a"], {"title": "Proposition Marseille", "places": [
            {"commune_code": "13055"}]}, organisation=org_a,
    )  # fmt: skip
    second = workflow.submit_initiative(
        world["member_b"], {"title": "Proposition Nice", "places": [
            {"commune_code": "06088"}]}, organisation=org_b,
    )  # fmt: skip
    third = workflow.submit_organisation(
        world["member_a"], {"tagline": "Accroche"}, organisation=org_a,
        token=workflow.edit_token(org_a),
    )  # fmt: skip
    fourth = workflow.submit_initiative(
        world["member_a"], {"summary": "Modifié"}, initiative=world["initiative"],
        token=workflow.edit_token(world["initiative"]),
    )  # fmt: skip
    assert workflow.review_queue().items == [first, second, third, fourth]
    assert workflow.review_queue(organisation_id=org_b.id).items == [second]
    assert workflow.review_queue(departement="06").items == [second]
    assert workflow.review_queue(entity_type="organisation").items == [third]
    assert workflow.review_queue(entity_type="initiative", action="update").items == [fourth]
    page = workflow.review_queue(per_page=3, page=2)
    assert page.items == [fourth] and page.total == 4 and page.pages == 2
    assert workflow.pending_count() == 4
