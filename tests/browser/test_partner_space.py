"""Partner forms in Chromium: commune suggestions, the point map, errors announced, axe audits."""

from __future__ import annotations

import pytest
from factories import make_initiative, make_organisation, make_user
from test_moderation_journey import assert_accessible, sign_in

from directory.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def partner(live_server):
    with live_server.app.app_context():
        organisation = make_organisation(name="Les Jardins du Lez", slug="jardins-du-lez")
        make_initiative(
            slug="potager-du-lez", title="Potager du Lez", lead=organisation, commune="34172"
        )
        user = make_user(organisation=organisation)
        db.session.commit()
        email = user.email
        db.session.remove()
    return email


def test_commune_suggestions_fill_the_code_and_centre_the_map(
    live_server, browser, axe_source, partner
):
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server, partner)
        page.goto(live_server("/espace-partenaire/initiatives/potager-du-lez/modifier"))
        assert_accessible(page, axe_source, "formulaire d'initiative")
        commune = page.locator("input[name='places-1-commune']")
        commune.press_sequentially("nime", delay=30)
        page.wait_for_function(
            "document.querySelectorAll('datalist option').length > 0"
            " && [...document.querySelectorAll('datalist option')]"
            ".some(o => o.value === 'Nîmes (30)')"
        )
        commune.fill("Nîmes (30)")
        assert page.input_value("input[name='places-1-commune_code']") == "30189"
        # A click on the map of that place sets its point.
        page.locator(".app-point-map").nth(1).click(position={"x": 150, "y": 80})
        latitude = float(page.input_value("input[name='places-1-latitude']"))
        longitude = float(page.input_value("input[name='places-1-longitude']"))
        assert 43.5 < latitude < 44.2 and 3.9 < longitude < 4.8  # around Nîmes
        page.get_by_role("button", name="Envoyer pour relecture").click()
        page.wait_for_load_state()
        assert "transmise à l’équipe de la DRJSCS" in page.locator("main").inner_text()
    finally:
        context.close()


def test_errors_are_summarised_linked_and_accessible(live_server, browser, axe_source, partner):
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server, partner)
        page.goto(live_server("/espace-partenaire/organisations/jardins-du-lez/modifier"))
        assert_accessible(page, axe_source, "fiche organisation")
        page.fill("input[name='name']", "")
        page.fill("input[name='website']", "javascript:alert(1)")
        page.get_by_role("button", name="Envoyer pour relecture").click()
        page.wait_for_load_state()
        assert page.title().startswith("Erreur")
        assert page.locator("[aria-invalid='true']").count() == 2
        page.get_by_role("link", name="Nom : Ce champ est obligatoire.").click()
        assert page.evaluate("location.hash") == "#name"
        assert_accessible(page, axe_source, "fiche organisation avec erreurs")
    finally:
        context.close()
