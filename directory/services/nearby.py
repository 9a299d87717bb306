"""Initiatives near a commune: the « à proximité » filter of the search page and its exports."""

from __future__ import annotations

import math

import sqlalchemy as sa

from ..extensions import db
from ..models import Commune, Initiative, Place, Status

EARTH_RADIUS_KM = 6371.0


def initiatives_near(commune: Commune, radius_km: int) -> set[int]:
    """Published initiatives with a place within ``radius_km`` of the commune's centre."""
    if commune.latitude is None or commune.longitude is None:
        return set()
    latitude = sa.func.coalesce(Place.latitude, Commune.latitude)
    longitude = sa.func.coalesce(Place.longitude, Commune.longitude)
    delta_lat = radius_km / 111.0
    delta_lon = radius_km / (111.0 * max(math.cos(math.radians(commune.latitude)), 0.01))
    rows = db.session.execute(
        sa.select(Place.initiative_id, latitude, longitude)
        .join(Initiative, Initiative.id == Place.initiative_id)
        .outerjoin(Commune, Commune.code == Place.commune_code)
        .where(
            Initiative.status == Status.PUBLISHED,
            latitude.between(commune.latitude - delta_lat, commune.latitude + delta_lat),
            longitude.between(commune.longitude - delta_lon, commune.longitude + delta_lon),
        )
    ).all()
    return {
        initiative_id
        for initiative_id, lat, lon in rows
        if distance_km(commune.latitude, commune.longitude, lat, lon) <= radius_km
    }


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
