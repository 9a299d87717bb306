"""axe-core audits of the main pages in headless Chromium, and the first visitor journey."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.extensions import db
from directory.models import Event, Initiative, Organisation, Status

pytestmark = pytest.mark.browser

BLOCKING_IMPACTS = {"serious", "critical"}


def first_published_slug(live_server, model) -> str:
    with live_server.app.app_context():
        slug = db.session.scalar(
            select(model.slug)
            .where(model.status == Status.PUBLISHED)
            .order_by(model.is_demo, model.id)
            .limit(1)
        )
        db.session.remove()
    assert slug, f"the seeded database has no published {model.__name__}"
    return slug


def audited_paths(live_server) -> dict[str, str]:
    """Name → path of the pages audited: the public pages and the layout's own pages."""
    return {
        "accueil": "/",
        "liste des initiatives": "/initiatives",
        "fiche initiative": f"/initiatives/{first_published_slug(live_server, Initiative)}",
        "fiche organisation": (f"/organisations/{first_published_slug(live_server, Organisation)}"),
        "événement": f"/evenements/{first_published_slug(live_server, Event)}",
        "mentions légales": "/mentions-legales",
        "page introuvable": "/cette-page-n-existe-pas",
    }


def describe(violations: list[dict]) -> str:
    """One readable block per violation: rule, impact, help, and where it happens."""
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} [{violation['impact']}] {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"       {summary[:300]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def run_axe(page, axe_source) -> list[dict]:
    page.add_script_tag(path=str(axe_source))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def test_axe_reports_a_known_violation(audit_page, axe_source):
    """The audit harness itself: an image without text alternative must be reported."""
    audit_page.set_content('<html lang="fr"><body><main><img src="x.png"></main></body></html>')
    violations = run_axe(audit_page, axe_source)
    assert "image-alt" in {v["id"] for v in violations}


@pytest.mark.parametrize(
    "name",
    [
        "accueil",
        "liste des initiatives",
        "fiche initiative",
        "fiche organisation",
        "événement",
        "mentions légales",
        "page introuvable",
    ],
)
def test_no_serious_accessibility_violation(live_server, audit_page, axe_source, name):
    path = audited_paths(live_server)[name]
    response = audit_page.goto(live_server(path))
    assert response is not None
    assert response.status == (404 if name == "page introuvable" else 200), path
    violations = run_axe(audit_page, axe_source)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    others = [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
    if others:
        print(f"\n{name} ({path}) — minor/moderate axe findings:\n{describe(others)}")
    assert not blocking, f"{name} ({path}):\n{describe(blocking)}"


def test_home_to_first_initiative_sheet(live_server, page):
    """A visitor opens the home page and follows the first initiative to its sheet."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server("/"))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").count() == 1
    link = page.locator("#contenu a[href^='/initiatives/']").first
    title = link.inner_text().strip()
    assert title
    link.click()
    page.wait_for_load_state()

    assert page.url.startswith(live_server("/initiatives/"))
    heading = page.locator("h1")
    assert heading.count() == 1
    assert heading.inner_text().strip() == title
    assert page.locator("a.fr-nav__link[aria-current='page']").inner_text().strip() == (
        "Initiatives"
    )
    # The DSFR script ran (it marks the page) and the Content-Security-Policy blocked nothing.
    assert page.locator("html[data-fr-js='true']").count() == 1
    assert errors == []


def test_layout_uses_vendored_marianne_font(live_server, page):
    page.goto(live_server("/mentions-legales"))
    page.evaluate("async () => await document.fonts.ready")
    loaded = page.evaluate(
        "() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert any("Marianne" in family for family in loaded), loaded


def test_skip_link_moves_focus_to_content(live_server, page):
    page.goto(live_server("/mentions-legales"))
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "contenu"


def test_display_settings_switch_to_dark_theme(live_server, page):
    page.goto(live_server("/mentions-legales"))
    page.get_by_role("button", name="Paramètres d’affichage").click()
    page.locator("label[for='fr-radios-theme-dark']").click()
    page.wait_for_function("() => document.documentElement.dataset.frTheme === 'dark'")
    page.reload()
    assert page.locator("html").get_attribute("data-fr-theme") == "dark"
