"""A partner proposes a change, a curator approves it: the whole journey in Chromium.

The published sheet keeps its text until the curator approves; the signed-in pages pass axe-core
without serious or critical violations.
"""

from __future__ import annotations

import pytest
from factories import TEST_PASSWORD, make_initiative, make_organisation, make_user
from test_accessibility import BLOCKING_IMPACTS, describe, run_axe

from directory.extensions import db
from directory.models import Role

pytestmark = pytest.mark.browser

OLD_SUMMARY = "Des habitants qui se retrouvent chaque semaine autour d'un jardin partagé."
NEW_SUMMARY = "Un jardin partagé ouvert aux familles du quartier, avec des ateliers de cuisine."


@pytest.fixture
def world(live_server):
    """A published initiative led by an organisation with one partner member, and a curator."""
    with live_server.app.app_context():
        organisation = make_organisation(name="Jardins du parcours (test navigateur)")
        initiative = make_initiative(
            title="Jardin partagé du Panier (test navigateur)",
            summary=OLD_SUMMARY,
            lead=organisation,
        )
        partner = make_user(organisation=organisation)
        curator = make_user(role=Role.CURATOR)
        db.session.commit()
        names = {
            "slug": initiative.slug,
            "title": initiative.title,
            "partner": partner.email,
            "curator": curator.email,
        }
        db.session.remove()
    return names


def sign_in(page, live_server, email: str) -> None:
    page.goto(live_server("/connexion"))
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe", exact=False).first.fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    assert "/connexion" not in page.url, page.locator("main").inner_text()


def assert_accessible(page, axe_source, name: str) -> None:
    violations = run_axe(page, axe_source)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name} ({page.url}):\n{describe(blocking)}"


def test_partner_proposal_is_published_after_a_curator_approves_it(
    live_server, browser, axe_source, world
):
    # axe-core is injected into the pages, so these tabs bypass the CSP; the CSP itself is
    # checked on every page by tests/web/test_security_headers.py.
    partner_context = browser.new_context(locale="fr-FR", bypass_csp=True)
    curator_context = browser.new_context(locale="fr-FR", bypass_csp=True)
    try:
        partner = partner_context.new_page()
        partner.set_default_timeout(15_000)
        partner.goto(live_server("/connexion"))
        assert_accessible(partner, axe_source, "connexion")
        sign_in(partner, live_server, world["partner"])

        # The dashboard lists the organisation's initiative; its edit link opens the form.
        partner.goto(live_server("/espace-partenaire/"))
        assert world["title"] in partner.locator("main").inner_text()
        assert_accessible(partner, axe_source, "tableau de bord partenaire")
        partner.get_by_role("link", name=f"Modifier « {world['title']} »").click()
        partner.wait_for_load_state()
        assert_accessible(partner, axe_source, "formulaire d'initiative")
        partner.locator("textarea[name='summary']").fill(NEW_SUMMARY)
        partner.get_by_role("button", name="Envoyer pour relecture").click()
        partner.wait_for_load_state()
        assert "transmise à l’équipe de la DRJSCS" in partner.locator("main").inner_text()

        # Until a curator approves, the public sheet keeps the published text.
        public = partner_context.new_page()
        public.goto(live_server(f"/initiatives/{world['slug']}"))
        assert OLD_SUMMARY in public.locator("main").inner_text()
        assert NEW_SUMMARY not in public.locator("main").inner_text()

        curator = curator_context.new_page()
        curator.set_default_timeout(15_000)
        sign_in(curator, live_server, world["curator"])
        curator.goto(live_server("/gestion/propositions"))
        assert_accessible(curator, axe_source, "file des propositions")
        curator.get_by_role("link", name=world["title"]).first.click()
        curator.wait_for_load_state()
        page_text = curator.locator("main").inner_text()
        assert OLD_SUMMARY in page_text and NEW_SUMMARY in page_text  # the diff, both sides
        assert_accessible(curator, axe_source, "proposition (différences)")
        curator.get_by_role("button", name="Accepter et publier").click()
        curator.wait_for_load_state()

        public.reload()
        assert NEW_SUMMARY in public.locator("main").inner_text()
        assert OLD_SUMMARY not in public.locator("main").inner_text()
    finally:
        partner_context.close()
        curator_context.close()


@pytest.mark.parametrize("path", ["/proposer", "/mot-de-passe-oublie"])
def test_public_forms_are_accessible(live_server, audit_page, axe_source, path):
    response = audit_page.goto(live_server(path))
    assert response is not None and response.status == 200
    assert_accessible(audit_page, axe_source, path)


def test_form_errors_are_announced_and_linked(live_server, audit_page, axe_source):
    """An empty proposal comes back with an error summary whose links reach the fields."""
    audit_page.goto(live_server("/proposer"))
    audit_page.locator("main form[method='post'] button[type='submit']").last.click()
    audit_page.wait_for_load_state()
    assert audit_page.title().startswith("Erreur")
    invalid = audit_page.locator("[aria-invalid='true']")
    assert invalid.count() > 0
    assert_accessible(audit_page, axe_source, "proposition avec erreurs")
