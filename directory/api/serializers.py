"""Model -> JSON: English snake_case fields, ISO 8601 dates, public fields only.

Never serialised: accounts, memberships, revisions, drafts, moderation flags (``trusted``),
the optimistic-lock version. Links to entries that are not published are left out.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import current_app, url_for

from ..models import (
    Commune,
    Departement,
    Event,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationRole,
    ProgrammeItem,
    Public,
    Theme,
)
from ..services.browse import EventPage, InitiativeSheet, OrganisationProfile
from ..territories import REGION_GROUPS
from .queries import MapPoint


def iso_datetime(value: datetime | None) -> str | None:
    """Stored times are naive UTC: written with an explicit ``Z``."""
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def iso_time(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


def site_url(endpoint: str, **values: Any) -> str | None:
    """Absolute address of a public page, or ``None`` while that page does not exist."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, _external=True, **values)


def api_url(endpoint: str, **values: Any) -> str:
    return url_for(f"api.{endpoint}", _external=True, **values)


def _timestamps(entry: Any) -> dict[str, Any]:
    return {
        "is_demo": bool(entry.is_demo),
        "created_at": iso_datetime(entry.created_at),
        "updated_at": iso_datetime(entry.updated_at),
    }


# --- Small shared shapes ---------------------------------------------------------------------


def theme_ref(theme: Theme) -> dict[str, Any]:
    return {"slug": theme.slug, "name": theme.name}


def public_ref(public: Public) -> dict[str, Any]:
    return {"slug": public.slug, "name": public.name}


def commune_ref(commune: Commune | None) -> dict[str, Any] | None:
    if commune is None:
        return None
    return {
        "code": commune.code,
        "name": commune.name,
        "departement_code": commune.departement_code,
    }


def departement_ref(departement: Departement) -> dict[str, Any]:
    return {"code": departement.code, "name": departement.name}


def organisation_ref(organisation: Organisation) -> dict[str, Any]:
    return {
        "slug": organisation.slug,
        "name": organisation.name,
        "api_url": api_url("organisation", slug=organisation.slug),
    }


def initiative_ref(initiative: Initiative) -> dict[str, Any]:
    return {
        "slug": initiative.slug,
        "title": initiative.title,
        "api_url": api_url("initiative", slug=initiative.slug),
    }


def event_ref(event: Event) -> dict[str, Any]:
    return {
        "slug": event.slug,
        "title": event.title,
        "date": iso_date(event.date),
        "api_url": api_url("event", slug=event.slug),
    }


# --- Initiatives -----------------------------------------------------------------------------


def _public_links(links: list[InitiativeOrganisation]) -> list[InitiativeOrganisation]:
    return [link for link in links if link.organisation.is_published]


def initiative_summary(initiative: Initiative) -> dict[str, Any]:
    links = _public_links(initiative.organisation_links)
    communes = {p.commune.code: p.commune for p in initiative.places if p.commune is not None}
    return {
        "slug": initiative.slug,
        "title": initiative.title,
        "summary": initiative.summary,
        "stage": initiative.stage.value if initiative.stage else None,
        "stage_label": initiative.stage.label if initiative.stage else None,
        "start_year": initiative.start_year,
        "end_year": initiative.end_year,
        "themes": [theme_ref(theme) for theme in initiative.themes],
        "lead_organisations": [
            organisation_ref(link.organisation)
            for link in links
            if link.role == OrganisationRole.PORTEUR
        ],
        "communes": [commune_ref(commune) for commune in communes.values()],
        **_timestamps(initiative),
        "url": site_url("public.initiative", slug=initiative.slug),
        "api_url": api_url("initiative", slug=initiative.slug),
    }


def initiative_detail(sheet: InitiativeSheet) -> dict[str, Any]:
    initiative = sheet.initiative
    data = initiative_summary(initiative)
    data.update(
        {
            "description": initiative.description,
            "website": initiative.website,
            "contact": {"email": initiative.contact_email, "phone": initiative.contact_phone},
            "genesis": initiative.genesis,
            "evaluation": initiative.evaluation,
            "policy_impact": initiative.policy_impact,
            "public_support": initiative.public_support,
            "source": initiative.source,
            "publics": [public_ref(public) for public in initiative.publics],
            "departements": [departement_ref(d) for d in initiative.departements],
            "places": [
                {
                    "label": place.label,
                    "address": place.address,
                    "commune": commune_ref(place.commune),
                    "latitude": place.latitude,
                    "longitude": place.longitude,
                }
                for place in initiative.places
            ],
            "organisations": [
                {**organisation_ref(link.organisation), "role": link.role.value}
                for link in sheet.organisation_links
            ],
            "events": [event_ref(event) for event in sheet.events],
        }
    )
    return data


def map_feature(point: MapPoint) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": [round(point.longitude, 6), round(point.latitude, 6)],
        },
        "properties": {
            "slug": point.slug,
            "title": point.title,
            "commune_code": point.commune_code,
            "is_demo": bool(point.is_demo),
        },
    }


# --- Organisations ---------------------------------------------------------------------------


def organisation_summary(organisation: Organisation) -> dict[str, Any]:
    return {
        "slug": organisation.slug,
        "name": organisation.name,
        "acronym": organisation.acronym,
        "kind": organisation.kind.value,
        "kind_label": organisation.kind.label,
        "tagline": organisation.tagline,
        "website": organisation.website,
        "commune": commune_ref(organisation.commune),
        "themes": [theme_ref(theme) for theme in organisation.themes],
        **_timestamps(organisation),
        "url": site_url("public.organisation", slug=organisation.slug),
        "api_url": api_url("organisation", slug=organisation.slug),
    }


def organisation_detail(profile: OrganisationProfile) -> dict[str, Any]:
    organisation = profile.organisation
    data = organisation_summary(organisation)
    data.update(
        {
            "description": organisation.description,
            # The organisation's public contact (DESIGN.md §2), not an account's address.
            "email": organisation.email,
            "phone": organisation.phone,
            "address": organisation.address,
            "departements": [departement_ref(d) for d in organisation.departements],
            "is_event_partner": bool(organisation.is_event_partner),
            "initiatives": [
                {**initiative_ref(link.initiative), "role": link.role.value}
                for link in profile.initiative_links
            ],
            "events": [{**event_ref(event), "roles": roles} for event, roles in profile.events],
        }
    )
    return data


# --- Events ----------------------------------------------------------------------------------


def event_summary(event: Event) -> dict[str, Any]:
    return {
        "slug": event.slug,
        "title": event.title,
        "kind": event.kind.value,
        "kind_label": event.kind.label,
        "cycle": event.cycle,
        "theme": event.theme,
        "date": iso_date(event.date),
        "starts_at": iso_time(event.starts_at),
        "ends_at": iso_time(event.ends_at),
        "venue": event.venue,
        "address": event.address,
        "commune": commune_ref(event.commune),
        **_timestamps(event),
        "url": site_url("public.event", slug=event.slug),
        "api_url": api_url("event", slug=event.slug),
    }


def _programme_item(item: ProgrammeItem, presented: list[Initiative]) -> dict[str, Any]:
    speakers = []
    for link in item.speaker_links:
        speaker = link.speaker
        organisation = speaker.organisation
        speakers.append(
            {
                "name": speaker.name,
                "role": speaker.role,
                "part": link.part.value,
                "organisation": (
                    organisation_ref(organisation)
                    if organisation is not None and organisation.is_published
                    else None
                ),
                "organisation_name": speaker.organisation_name
                or (organisation.name if organisation is not None else None),
            }
        )
    return {
        "section": item.section,
        "starts_at": iso_time(item.starts_at),
        "ends_at": iso_time(item.ends_at),
        "kind": item.kind.value,
        "kind_label": item.kind.label,
        "title": item.title,
        "description": item.description,
        "questions": item.question_list,
        "speakers": speakers,
        "initiatives": [initiative_ref(initiative) for initiative in presented],
    }


def event_detail(page: EventPage) -> dict[str, Any]:
    event = page.event
    data = event_summary(event)
    data.update(
        {
            "description": event.description,
            "source": event.source,
            "organisers": [organisation_ref(link.organisation) for link in page.organisers],
            "partners": [
                {**organisation_ref(link.organisation), "role": link.role.value}
                for link in page.partners
            ],
            "programme": [
                _programme_item(item, page.presented_at.get(item.id, []))
                for section in page.sections
                for item in section.items
            ],
            "workshops": [
                {
                    "title": workshop.title,
                    "description": workshop.description,
                    "restitution": workshop.restitution,
                }
                for workshop in event.workshops
            ],
            "initiatives": [initiative_ref(initiative) for initiative in page.initiatives],
        }
    )
    return data


# --- Taxonomies and territories --------------------------------------------------------------


def theme_item(theme: Theme, count: int) -> dict[str, Any]:
    return {**theme_ref(theme), "description": theme.description, "initiative_count": count}


def public_item(public: Public, count: int) -> dict[str, Any]:
    return {**public_ref(public), "initiative_count": count}


def region_groups() -> list[dict[str, Any]]:
    return [
        {"slug": slug, "name": label, "departements": list(codes)}
        for slug, (label, codes) in REGION_GROUPS.items()
    ]


def departement_item(departement: Departement) -> dict[str, Any]:
    return {
        **departement_ref(departement),
        "region": {"code": departement.region.code, "name": departement.region.name},
        "region_groups": [
            slug for slug, (_label, codes) in REGION_GROUPS.items() if departement.code in codes
        ],
    }


def commune_item(commune: Commune) -> dict[str, Any]:
    return {
        **commune_ref(commune),
        "kind": commune.kind,
        "postcodes": commune.postcode_list,
        "latitude": commune.latitude,
        "longitude": commune.longitude,
        "population": commune.population,
    }
