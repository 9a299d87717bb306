"""Organisations, events with their programme, taxonomies and territories in the API."""

from __future__ import annotations

import sqlalchemy as sa
from factories import make_event, make_initiative, make_organisation

from directory.extensions import db
from directory.models import Event, ProgrammeKind, Status
from directory.models.event import event_initiative


def test_organisations_list_and_filters(app, client):
    with app.app_context():
        make_organisation(slug="asso-nice", name="Association niçoise", commune_code=None)
        make_organisation(slug="asso-brouillon", name="Brouillon", status=Status.DRAFT)
        db.session.commit()

    everything = client.get("/api/v1/organisations?per_page=100").get_json()
    slugs = [item["slug"] for item in everything["data"]]
    assert "asso-nice" in slugs and "asso-brouillon" not in slugs
    assert everything["meta"]["total"] == len(slugs)

    state = client.get("/api/v1/organisations?kind=etat").get_json()["data"]
    assert [item["slug"] for item in state] == ["drjscs-paca"]
    assert state[0]["kind_label"] == "Service de l'État"

    by_name = client.get("/api/v1/organisations?q=ni%C3%A7oise").get_json()["data"]
    assert [item["slug"] for item in by_name] == ["asso-nice"]


def test_organisation_detail_lists_its_published_initiatives(app, client):
    with app.app_context():
        organisation = make_organisation(slug="porteuse", email="contact@porteuse.example")
        make_initiative(slug="projet-public", lead=organisation)
        make_initiative(slug="projet-brouillon", lead=organisation, status=Status.DRAFT)
        db.session.commit()

    data = client.get("/api/v1/organisations/porteuse").get_json()["data"]

    assert [(i["slug"], i["role"]) for i in data["initiatives"]] == [("projet-public", "porteur")]
    assert data["email"] == "contact@porteuse.example"
    assert not {"trusted", "memberships", "version", "status"} & set(data)
    assert client.get("/api/v1/organisations/porteuse?x=1").status_code == 400


def test_event_with_its_programme(client):
    events = client.get("/api/v1/events").get_json()["data"]
    assert [event["slug"] for event in events] == ["journee-regionale-2011"]
    assert events[0]["date"] == "2011-06-15"

    event = client.get("/api/v1/events/journee-regionale-2011").get_json()["data"]

    assert event["organisers"][0]["slug"] == "drjscs-paca"
    assert len(event["programme"]) == 14
    first = event["programme"][0]
    assert first["starts_at"] and len(first["starts_at"]) == 5  # "HH:MM"
    assert any(item["speakers"] for item in event["programme"])
    assert len(event["workshops"]) == 4


def test_unpublished_events_are_hidden(app, client):
    with app.app_context():
        make_event(slug="atelier-brouillon", status=Status.DRAFT)
        db.session.commit()

    slugs = [event["slug"] for event in client.get("/api/v1/events").get_json()["data"]]
    assert "atelier-brouillon" not in slugs
    assert client.get("/api/v1/events/atelier-brouillon").status_code == 404


def test_themes_and_publics_with_counts(client):
    themes = client.get("/api/v1/themes").get_json()["data"]
    assert len(themes) == 9
    assert sum(theme["initiative_count"] for theme in themes) > 0

    publics = client.get("/api/v1/publics").get_json()["data"]
    assert {"slug", "name", "initiative_count"} == set(publics[0])


def test_regions_and_departements(client):
    regions = {r["slug"]: r for r in client.get("/api/v1/regions").get_json()["data"]}
    assert regions["paca"]["departements"] == ["04", "05", "06", "13", "83", "84"]
    assert set(regions) == {"paca", "languedoc-roussillon", "occitanie"}

    departements = {d["code"]: d for d in client.get("/api/v1/departements").get_json()["data"]}
    assert departements["13"]["name"] == "Bouches-du-Rhône"
    assert departements["34"]["region_groups"] == ["languedoc-roussillon", "occitanie"]


def test_commune_lookup_for_autocomplete(client):
    def codes(query: str) -> list[str]:
        return [c["code"] for c in client.get(f"/api/v1/communes?{query}").get_json()["data"]]

    assert codes("q=marseil")[0] == "13055"  # the largest first
    assert "30189" in codes("q=nimes")  # accents optional
    assert codes("q=13090&limit=1") == ["13001"]  # Aix-en-Provence by its postcode
    assert all(code.startswith("84") for code in codes("q=saint&departement=84"))
    assert codes("q=%20") == []


def test_a_round_table_lists_the_initiatives_presented_there(app, client):
    with app.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.slug == "journee-regionale-2011"))
        round_table = next(i for i in event.programme if i.kind == ProgrammeKind.TABLE_RONDE)
        presented = make_initiative(slug="presentee-table-ronde")
        elsewhere = make_initiative(slug="presentee-sans-table")
        hidden = make_initiative(slug="presentee-brouillon", status=Status.DRAFT)
        db.session.flush()
        for initiative, item in (
            (presented, round_table),
            (elsewhere, None),
            (hidden, round_table),
        ):
            db.session.execute(
                sa.insert(event_initiative).values(
                    event_id=event.id,
                    initiative_id=initiative.id,
                    programme_item_id=item.id if item else None,
                )
            )
        db.session.commit()
        title = round_table.title

    data = client.get("/api/v1/events/journee-regionale-2011").get_json()["data"]

    by_title = {item["title"]: item for item in data["programme"]}
    assert [i["slug"] for i in by_title[title]["initiatives"]] == ["presentee-table-ronde"]
    assert sum(len(item["initiatives"]) for item in data["programme"]) == 1
    assert {i["slug"] for i in data["initiatives"]} >= {
        "presentee-table-ronde",
        "presentee-sans-table",
    }
    assert "presentee-brouillon" not in {i["slug"] for i in data["initiatives"]}
