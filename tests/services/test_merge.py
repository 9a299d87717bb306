"""Merging duplicates: chosen fields, united relations, history, archive, redirects, locking."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import (
    make_commune,
    make_event,
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
    Membership,
    Organisation,
    Revision,
    RevisionAction,
    RevisionState,
    Role,
    SlugRedirect,
    Status,
    event_initiative,
)
from directory.services import merge, workflow
from directory.services.merge import KEEP, TAKE, MergeError
from directory.services.workflow import NotAllowed, StaleEdit


@pytest.fixture
def world(app_ctx):
    make_commune("13055")
    make_commune("06088")
    theme_a = make_theme(slug="theme-a", name="Thème A")
    theme_b = make_theme(slug="theme-b", name="Thème B")
    public = make_public(slug="public-a", name="Public A")
    org_a = make_organisation(name="Association Alpha", slug="association-alpha")
    org_b = make_organisation(name="Association Beta", slug="association-beta")
    curator = make_user(role=Role.CURATOR, email="claire@example.org", name="Claire")
    partner = make_user(organisation=org_a, email="alice@example.org")
    keep = make_initiative(
        slug="jardin-partage",
        title="Jardin partagé",
        summary=None,
        description="<p>Texte gardé.</p>",
        lead=org_a,
        commune="13055",
        start_year=2010,
    )
    keep.themes = [theme_a]
    retire = make_initiative(
        slug="jardins-partages",
        title="Jardins partagés du quartier",
        summary="Résumé de la fiche retirée.",
        description="<p>Texte retiré.</p>",
        lead=org_a,
        partners=(org_b,),
        commune="06088",
        start_year=2011,
        external_id="EXT-7",
        featured_position=2,
    )
    retire.themes = [theme_a, theme_b]
    retire.publics = [public]
    event = make_event(slug="journee-2011")
    db.session.commit()
    db.session.execute(event_initiative.insert().values(event_id=event.id, initiative_id=retire.id))
    db.session.commit()
    return {
        "curator": curator,
        "partner": partner,
        "keep": keep,
        "retire": retire,
        "event": event,
        "org_a": org_a,
        "org_b": org_b,
    }


def _merge(world, choices=None, kind="initiative", keep="keep", retire="retire"):
    survivor, retired = world[keep], world[retire]
    return merge.merge(
        world["curator"],
        kind,
        survivor,
        retired,
        choices or {},
        merge.merge_token(survivor, retired),
    )


def test_plan_defaults_to_the_survivor_unless_its_value_is_empty(world):
    plan = merge.plan("initiative", "jardin-partage", "jardins-partages")
    defaults = {choice.name: choice.default for choice in plan.fields}
    assert defaults["title"] == KEEP
    assert defaults["summary"] == TAKE  # empty on the survivor
    assert defaults["description"] == KEEP
    assert plan.token == merge.merge_token(world["keep"], world["retire"])
    assert [choice.name for choice in plan.united] == [
        "themes",
        "publics",
        "places",
        "organisations",
    ]


def test_merge_keeps_chosen_fields_and_unites_relations(world):
    revision = _merge(world, {"title": TAKE, "start_year": KEEP})
    keep = db.session.get(Initiative, world["keep"].id)
    assert keep.title == "Jardins partagés du quartier"
    assert keep.summary == "Résumé de la fiche retirée."  # default: survivor's was empty
    assert keep.description == "<p>Texte gardé.</p>"
    assert keep.start_year == 2010
    assert [theme.slug for theme in keep.themes] == ["theme-a", "theme-b"]
    assert [public.slug for public in keep.publics] == ["public-a"]
    assert sorted(place.commune_code for place in keep.places) == ["06088", "13055"]
    links = {(link.organisation.slug, link.role.value) for link in keep.organisation_links}
    assert links == {("association-alpha", "porteur"), ("association-beta", "partenaire")}
    assert len(keep.organisation_links) == 2  # the shared lead is not doubled
    assert [event.slug for event in keep.events] == ["journee-2011"]
    assert keep.external_id == "EXT-7"
    assert keep.featured_position == 2
    assert keep.status == Status.PUBLISHED

    assert revision.state == RevisionState.APPLIED
    assert revision.entity_id == keep.id
    assert revision.snapshot["title"] == "Jardins partagés du quartier"
    assert "jardins-partages" in revision.comment


def test_retired_entry_is_archived_with_history_and_redirected(world):
    retire_id = world["retire"].id
    _merge(world)
    retired = db.session.get(Initiative, retire_id)
    assert retired.status == Status.ARCHIVED
    assert retired.featured_position is None
    # Its own relations and history stay on the archived row.
    assert [place.commune_code for place in retired.places] == ["06088"]
    actions = [revision.action for revision in workflow.history(retired)]
    assert actions == [RevisionAction.ARCHIVE, RevisionAction.CREATE]
    assert merge.redirect_target("initiative", "jardins-partages") == "jardin-partage"
    assert merge.redirect_target("organisation", "jardins-partages") is None
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "entry.merged"))
    assert audit.user_id == world["curator"].id
    assert audit.details["retired_slug"] == "jardins-partages"
    assert audit.details["survivor_slug"] == "jardin-partage"
    assert audit.details["fields_taken"] == ["summary"]


def test_chain_of_merges_collapses(world):
    _merge(world)  # jardins-partages -> jardin-partage
    third = make_initiative(slug="jardin-final", title="Jardin partagé final")
    db.session.commit()
    world["third"] = third
    _merge(world, keep="third", retire="keep")  # jardin-partage -> jardin-final
    assert merge.redirect_target("initiative", "jardin-partage") == "jardin-final"
    assert merge.redirect_target("initiative", "jardins-partages") == "jardin-final"
    targets = set(db.session.scalars(sa.select(SlugRedirect.target_id)))
    assert targets == {third.id}


def test_pending_proposal_of_retired_entry_is_closed(world):
    proposal = workflow.submit_initiative(
        world["partner"],
        {"summary": "Nouvelle proposition"},
        initiative=world["retire"],
        token=workflow.edit_token(world["retire"]),
    )
    assert proposal.state == RevisionState.PROPOSED
    _merge(world)
    closed = db.session.get(Revision, proposal.id)
    assert closed.state == RevisionState.REJECTED
    assert "fusionnée" in closed.comment


def test_stale_token_is_refused_and_nothing_changes(world):
    survivor, retired = world["keep"], world["retire"]
    token = merge.merge_token(survivor, retired)
    workflow.submit_initiative(
        world["curator"], {"summary": "Changée entre-temps"}, initiative=retired, token=None
    )
    with pytest.raises(StaleEdit):
        merge.merge(world["curator"], "initiative", survivor, retired, {}, token)
    assert db.session.get(Initiative, retired.id).status == Status.PUBLISHED
    assert db.session.scalar(sa.select(sa.func.count(SlugRedirect.id))) == 0


@pytest.mark.parametrize(
    "choices",
    [{"title": "les deux"}, {"title": None}, "garder"],
)
def test_bad_choices_are_refused_without_writing(world, choices):
    survivor, retired = world["keep"], world["retire"]
    with pytest.raises(MergeError):
        merge.merge(
            world["curator"],
            "initiative",
            survivor,
            retired,
            choices,
            merge.merge_token(survivor, retired),
        )
    db.session.rollback()
    assert db.session.get(Initiative, retired.id).status == Status.PUBLISHED
    assert db.session.scalar(sa.select(sa.func.count(SlugRedirect.id))) == 0


def test_only_staff_may_merge(world):
    survivor, retired = world["keep"], world["retire"]
    token = merge.merge_token(survivor, retired)
    for user in (None, world["partner"]):
        with pytest.raises(NotAllowed):
            merge.merge(user, "initiative", survivor, retired, {}, token)


def test_impossible_pairs(world):
    with pytest.raises(MergeError):
        merge.plan("initiative", "jardin-partage", "jardin-partage")
    with pytest.raises(MergeError):
        merge.plan("initiative", "jardin-partage", "inconnue")
    with pytest.raises(MergeError):
        merge.plan("evenement", "jardin-partage", "jardins-partages")
    with pytest.raises(MergeError):
        merge.plan("initiative", "jardin-partage\x00", "jardins-partages")
    world["retire"].status = Status.ARCHIVED
    db.session.commit()
    with pytest.raises(MergeError):
        merge.plan("initiative", "jardin-partage", "jardins-partages")


def test_merging_organisations_moves_links_members_and_events(world):
    org_a, org_b = world["org_a"], world["org_b"]
    member_b = make_user(organisation=org_b, email="bruno@example.org")
    both = make_user(organisations=(org_a, org_b), email="both@example.org")
    event = make_event(slug="atelier-83", organisers=(org_b,), partners=(org_a,))
    org_b.website = "https://beta.example"
    org_b.trusted = True
    db.session.commit()
    _merge(world, kind="organisation", keep="org_a", retire="org_b")

    survivor = db.session.get(Organisation, org_a.id)
    retired = db.session.get(Organisation, org_b.id)
    assert retired.status == Status.ARCHIVED
    assert survivor.website == "https://beta.example"  # survivor had none
    assert survivor.trusted
    members = set(
        db.session.scalars(
            sa.select(Membership.user_id).where(Membership.organisation_id == survivor.id)
        )
    )
    assert {member_b.id, both.id, world["partner"].id} <= members
    assert retired.memberships == []
    retire_initiative = db.session.get(Initiative, world["retire"].id)
    links = {
        (link.organisation.slug, link.role.value) for link in retire_initiative.organisation_links
    }
    assert links == {("association-alpha", "porteur"), ("association-alpha", "partenaire")}
    event_links = {(link.organisation.slug, link.role.value) for link in event.organisation_links}
    assert ("association-alpha", "organisateur") in event_links
    assert all(slug != "association-beta" for slug, _ in event_links)
    # The initiative whose links changed has a revision saying why.
    latest = workflow.history(retire_initiative)[0]
    assert "fusionnée" in latest.comment
    assert merge.redirect_target("organisation", "association-beta") == "association-alpha"
