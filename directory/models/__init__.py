"""Typed SQLAlchemy 2 models, one module per aggregate."""

from .base import STATUS_LABELS, Status
from .curation import ImportMapping, SlugRedirect
from .event import (
    Event,
    EventKind,
    EventOrganisation,
    EventRole,
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Speaker,
    SpeakerPart,
    Workshop,
    event_initiative,
)
from .initiative import (
    INITIATIVE_TEXT_FIELDS,
    SUMMARY_MAX_LENGTH,
    Initiative,
    InitiativeOrganisation,
    OrganisationRole,
    Place,
    Stage,
    initiative_departement,
    initiative_public,
    initiative_theme,
)
from .organisation import (
    Organisation,
    OrganisationKind,
    organisation_departement,
    organisation_theme,
)
from .revision import AuditLog, Revision, RevisionAction, RevisionState
from .search import SearchOutbox
from .taxonomy import Public, Theme
from .territory import Commune, Departement, Region
from .throttle import ThrottleAttempt
from .user import Membership, Role, User
from .version import CatalogueVersion

__all__ = [
    "INITIATIVE_TEXT_FIELDS",
    "STATUS_LABELS",
    "SUMMARY_MAX_LENGTH",
    "AuditLog",
    "CatalogueVersion",
    "Commune",
    "Departement",
    "Event",
    "EventKind",
    "EventOrganisation",
    "EventRole",
    "ImportMapping",
    "Initiative",
    "InitiativeOrganisation",
    "Membership",
    "Organisation",
    "OrganisationKind",
    "OrganisationRole",
    "Place",
    "ProgrammeItem",
    "ProgrammeKind",
    "ProgrammeSpeaker",
    "Public",
    "Region",
    "Revision",
    "RevisionAction",
    "RevisionState",
    "Role",
    "SearchOutbox",
    "SlugRedirect",
    "Speaker",
    "SpeakerPart",
    "Stage",
    "Status",
    "Theme",
    "ThrottleAttempt",
    "User",
    "Workshop",
    "event_initiative",
    "initiative_departement",
    "initiative_public",
    "initiative_theme",
    "organisation_departement",
    "organisation_theme",
]
