"""The map in headless Chromium: clusters for every published place, filters, popups, embed.

The server runs on its own copy of the seeded database with generated demo initiatives (flagged
``is_demo``), so that the map has enough places to cluster. No tile loads here (no network): the
test also shows that clusters and the département layer draw without tiles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler, make_server

from directory import create_app
from directory.extensions import db
from directory.models import Commune, Initiative, Place, Status, initiative_departement
from directory.services import demo

pytestmark = pytest.mark.browser

SUM_SHOWN = """() => {
  const clusters = [...document.querySelectorAll('.map-cluster')]
    .reduce((total, el) => total + Number(el.textContent), 0);
  return clusters + document.querySelectorAll('.map-point').length;
}"""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture(scope="module")
def map_server(databases, tmp_path_factory) -> Iterator[tuple[str, object]]:
    instance = tmp_path_factory.mktemp("map-instance")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": databases.seeded(),
            "SEARCH_INDEX_DIR": str(instance / "search-index"),
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    with app.app_context():
        demo.create_demo_data(300, seed=2011)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="map-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def published_places(app, departement: str | None = None) -> int:
    """Located places of published initiatives, counted independently of the map code."""
    with app.app_context():
        statement = (
            sa.select(sa.func.count(Place.id))
            .join(Initiative, Initiative.id == Place.initiative_id)
            .outerjoin(Commune, Commune.code == Place.commune_code)
            .where(
                Initiative.status == Status.PUBLISHED,
                sa.or_(Place.latitude.is_not(None), Commune.latitude.is_not(None)),
            )
        )
        if departement:
            in_departement = (
                sa.select(Place.initiative_id)
                .join(Commune, Commune.code == Place.commune_code)
                .where(Commune.departement_code == departement)
            )
            declared = sa.select(initiative_departement.c.initiative_id).where(
                initiative_departement.c.departement_code == departement
            )
            statement = statement.where(
                sa.or_(Initiative.id.in_(in_departement), Initiative.id.in_(declared))
            )
        count = db.session.scalar(statement)
        db.session.remove()
    return count


def wait_ready(page) -> None:
    page.wait_for_selector("#map-canvas[data-state=ready]")


@pytest.fixture
def csp_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_map_shows_every_published_place_and_follows_the_filters(map_server, page, csp_errors):
    url, app = map_server
    total = published_places(app)
    assert total > 300

    page.goto(url + "/carte")
    wait_ready(page)

    assert page.locator(".map-cluster").count() > 0, "places are clustered"
    assert int(page.get_attribute("#map-canvas", "data-places")) == total
    assert page.evaluate(SUM_SHOWN) == total
    status_digits = "".join(ch for ch in page.text_content("#map-status") if ch.isdigit())
    assert status_digits.startswith(str(total))
    assert page.locator("path.leaflet-interactive, .leaflet-overlay-pane path").count() > 0, (
        "the département layer draws without tiles"
    )

    expected = published_places(app, "84")
    assert 0 < expected < total
    page.select_option("#map-departement", "84")
    page.wait_for_function(
        "n => document.querySelector('#map-canvas').dataset.places === String(n)"
        " && document.querySelector('#map-canvas').dataset.state === 'ready'",
        arg=expected,
    )
    assert page.evaluate(SUM_SHOWN) == expected
    query = parse_qs(urlsplit(page.url).query)
    assert query["departement"] == ["84"], "the address keeps the filters"
    list_link = page.get_attribute("#map-list-link", "href")
    assert parse_qs(urlsplit(list_link).query)["departement"] == ["84"]
    assert urlsplit(list_link).path == "/initiatives"
    vaucluse_row = page.text_content('#map-counts tr[data-code="84"] td')
    assert int(vaucluse_row) > 0
    assert not csp_errors


def test_a_popup_opens_from_the_keyboard_with_details_loaded_on_demand(
    map_server, page, csp_errors
):
    url, app = map_server
    page.goto(url + "/carte?departement=05")
    wait_ready(page)

    # Zoom into clusters (click, like a visitor) until single places show.
    for _ in range(12):
        if page.locator(".map-point").count():
            break
        page.locator(".map-cluster").first.click()
        page.wait_for_timeout(400)
    point = page.locator(".map-point").first
    point.focus()
    page.keyboard.press("Enter")

    title = page.locator(".leaflet-popup-content .map-popup__title a")
    title.wait_for()
    href = title.get_attribute("href")
    assert href.startswith("/initiatives/")
    with app.app_context():
        initiative = db.session.scalar(
            sa.select(Initiative).where(Initiative.slug == href.removeprefix("/initiatives/"))
        )
        assert initiative.status == Status.PUBLISHED
        assert title.text_content().strip() == initiative.title
        db.session.remove()
    assert not csp_errors


def test_the_embedded_map_draws_the_same_places(map_server, page, csp_errors):
    url, app = map_server
    expected = published_places(app, "84")
    page.goto(url + "/embed/carte?departement=84")
    wait_ready(page)

    assert int(page.get_attribute("#map-canvas", "data-places")) == expected
    # The map opens on the Vaucluse; zoomed out, every place of the results is drawn.
    page.evaluate(
        "() => { const c = JSON.parse(document.getElementById('map-config').textContent);"
        " window[c.map].setZoom(7, { animate: false }); }"
    )
    page.wait_for_timeout(300)
    assert page.evaluate(SUM_SHOWN) == expected, page.evaluate(
        "() => { const c = JSON.parse(document.getElementById('map-config').textContent);"
        " const m = window[c.map]; return [m.getZoom(), m.getSize(), m.getBounds().toBBoxString(),"
        " document.querySelector('#map-canvas').dataset]; }"
    )
    assert page.locator("header.fr-header").count() == 0
    assert not csp_errors


@pytest.mark.parametrize("path", ["/carte", "/embed/carte?region=paca"])
def test_no_serious_accessibility_violation_on_the_map(map_server, browser, axe_source, path):
    url, _app = map_server
    # CSP bypassed only so that axe-core can be injected.
    context = browser.new_context(
        locale="fr-FR", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    page = context.new_page()
    try:
        page.goto(url + path)
        wait_ready(page)
        page.add_script_tag(path=str(axe_source))
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
    finally:
        context.close()
    blocking = [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not blocking, "\n".join(blocking)


def test_small_maps_draw_on_the_departement_and_initiative_pages(map_server, page, csp_errors):
    url, app = map_server
    with app.app_context():
        slug = db.session.scalar(
            sa.select(Initiative.slug)
            .join(Place, Place.initiative_id == Initiative.id)
            .where(Initiative.status == Status.PUBLISHED, Initiative.is_demo)
            .limit(1)
        )
        db.session.remove()

    page.goto(url + "/territoires/84")
    page.wait_for_selector(".mini-map[data-points]")
    assert int(page.get_attribute(".mini-map", "data-points")) > 0
    assert page.locator(".mini-map path.leaflet-interactive, .mini-map path").count() > 1

    page.goto(url + f"/initiatives/{slug}")
    page.wait_for_selector(".mini-map[data-points]")
    assert int(page.get_attribute(".mini-map", "data-points")) >= 1
    assert not csp_errors
