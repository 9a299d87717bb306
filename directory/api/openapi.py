"""The OpenAPI 3.1 document of the API, built as a plain dict.

Built per request because the accepted theme, public and département values come from the
database: the document lists exactly what the API accepts, and its response schemas are closed
(``additionalProperties: false``) so that the tests catch any drift from the serialisers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import url_for

from ..extensions import db
from ..models import Departement, OrganisationKind, ProgrammeKind, Public, Stage, Theme
from ..models.event import EventKind, EventRole, SpeakerPart
from ..models.initiative import OrganisationRole
from ..services.filters import MAX_QUERY_LENGTH, MAX_VALUES
from ..territories import REGION_GROUPS
from .params import (
    DEFAULT_PER_PAGE,
    INITIATIVE_FILTER_PARAMS,
    INITIATIVE_SORTS,
    MAX_PAGE,
    MAX_PER_PAGE,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    YEAR_MAX,
    YEAR_MIN,
)

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json"

# --- Schema helpers --------------------------------------------------------------------------


def _t(kind: str, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"] if nullable else kind, **extra}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name), {"type": "null"}]}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _enum(values: list[str], nullable: bool = False) -> dict[str, Any]:
    schema = _t("string", nullable)
    schema["enum"] = [*values, None] if nullable else values
    return schema


TEXT = _t("string", True)
URL = _t("string", True, format="uri")
API_URL = _t("string", format="uri")
DATE_TIME = _t("string", format="date-time")
DATE = _t("string", True, format="date")
TIME = _t("string", True, pattern=r"^[0-2][0-9]:[0-5][0-9]$", examples=["09:30"])
SLUG = _t("string", pattern=SLUG_PATTERN, maxLength=SLUG_MAX_LENGTH)
ENTRY_COMMON = {
    "is_demo": _t("boolean", description="Donnée de démonstration générée, pas un fait."),
    "created_at": DATE_TIME,
    "updated_at": DATE_TIME,
}


def _schemas() -> dict[str, Any]:
    stages = [stage.value for stage in Stage]
    roles = [role.value for role in OrganisationRole]
    summary = {
        "slug": SLUG,
        "title": _t("string"),
        "summary": TEXT,
        "stage": _enum(stages, nullable=True),
        "stage_label": TEXT,
        "start_year": _t("integer", True),
        "end_year": _t("integer", True),
        "themes": _array(_ref("ThemeRef")),
        "lead_organisations": _array(_ref("OrganisationRef")),
        "communes": _array(_ref("CommuneRef")),
        **ENTRY_COMMON,
        "url": {**URL, "description": "Fiche de l'initiative sur le site."},
        "api_url": API_URL,
    }
    detail = {
        **summary,
        "description": TEXT,
        "website": TEXT,
        "contact": _object({"email": TEXT, "phone": TEXT}),
        "genesis": {**TEXT, "description": "Comment est-elle née ?"},
        "evaluation": {**TEXT, "description": "Comment est-elle évaluée et valorisée ?"},
        "policy_impact": {
            **TEXT,
            "description": "Comment transforme-t-elle les politiques publiques ?",
        },
        "public_support": {
            **TEXT,
            "description": "Comment les politiques publiques la soutiennent-elles ?",
        },
        "source": TEXT,
        "publics": _array(_ref("PublicRef")),
        "departements": _array(_ref("DepartementRef")),
        "places": _array(
            _object(
                {
                    "label": TEXT,
                    "address": TEXT,
                    "commune": _nullable("CommuneRef"),
                    "latitude": _t("number", True),
                    "longitude": _t("number", True),
                }
            )
        ),
        "organisations": _array(_object({**_organisation_ref(), "role": _enum(roles)})),
        "events": _array(_ref("EventRef")),
    }
    organisation = {
        "slug": SLUG,
        "name": _t("string"),
        "acronym": TEXT,
        "kind": _enum([kind.value for kind in OrganisationKind]),
        "kind_label": _t("string"),
        "tagline": TEXT,
        "website": TEXT,
        "commune": _nullable("CommuneRef"),
        "themes": _array(_ref("ThemeRef")),
        **ENTRY_COMMON,
        "url": URL,
        "api_url": API_URL,
    }
    organisation_detail = {
        **organisation,
        "description": TEXT,
        "email": {**TEXT, "description": "Contact public de l'organisation."},
        "phone": TEXT,
        "address": TEXT,
        "departements": _array(_ref("DepartementRef")),
        "is_event_partner": _t("boolean"),
        "initiatives": _array(_object({**_initiative_ref(), "role": _enum(roles)})),
        "events": _array(_object({**_event_ref(), "roles": _array(_t("string"))})),
    }
    event = {
        "slug": SLUG,
        "title": _t("string"),
        "kind": _enum([kind.value for kind in EventKind]),
        "kind_label": _t("string"),
        "cycle": TEXT,
        "theme": TEXT,
        "date": DATE,
        "starts_at": TIME,
        "ends_at": TIME,
        "venue": TEXT,
        "address": TEXT,
        "commune": _nullable("CommuneRef"),
        **ENTRY_COMMON,
        "url": URL,
        "api_url": API_URL,
    }
    speaker = _object(
        {
            "name": _t("string"),
            "role": TEXT,
            "part": _enum([part.value for part in SpeakerPart]),
            "organisation": _nullable("OrganisationRef"),
            "organisation_name": TEXT,
        }
    )
    event_detail = {
        **event,
        "description": TEXT,
        "source": TEXT,
        "organisers": _array(_ref("OrganisationRef")),
        "partners": _array(
            _object(
                {
                    **_organisation_ref(),
                    "role": _enum([r.value for r in EventRole if r != EventRole.ORGANISATEUR]),
                }
            )
        ),
        "programme": _array(
            _object(
                {
                    "section": TEXT,
                    "starts_at": TIME,
                    "ends_at": TIME,
                    "kind": _enum([kind.value for kind in ProgrammeKind]),
                    "kind_label": _t("string"),
                    "title": _t("string"),
                    "description": TEXT,
                    "questions": _array(_t("string")),
                    "speakers": _array(speaker),
                    # The initiatives presented at this round table.
                    "initiatives": _array(_ref("InitiativeRef")),
                }
            )
        ),
        "workshops": _array(
            _object({"title": _t("string"), "description": TEXT, "restitution": TEXT})
        ),
        "initiatives": _array(_ref("InitiativeRef")),
    }
    point = _object(
        {
            "type": _enum(["Feature"]),
            "geometry": _object(
                {
                    "type": _enum(["Point"]),
                    "coordinates": {
                        "type": "array",
                        "items": _t("number"),
                        "minItems": 2,
                        "maxItems": 2,
                        "description": "[longitude, latitude] (WGS 84)",
                    },
                }
            ),
            "properties": _object(
                {
                    "slug": SLUG,
                    "title": _t("string"),
                    "commune_code": TEXT,
                    "is_demo": _t("boolean"),
                }
            ),
        }
    )
    return {
        "Error": _object(
            {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "code": _t("string", examples=["invalid_parameter", "not_found"]),
                        "message": _t("string", description="Message en français."),
                        "details": _array(
                            _object({"parameter": _t("string"), "message": _t("string")})
                        ),
                    },
                }
            }
        ),
        "Meta": _object(
            {
                "total": _t("integer", minimum=0),
                "page": _t("integer", minimum=1),
                "per_page": _t("integer", minimum=1),
                "pages": _t("integer", minimum=1),
            }
        ),
        "Links": _object(
            {
                "self": API_URL,
                "first": API_URL,
                "last": API_URL,
                "prev": URL,
                "next": URL,
            }
        ),
        "ThemeRef": _object({"slug": SLUG, "name": _t("string")}),
        "PublicRef": _object({"slug": SLUG, "name": _t("string")}),
        "CommuneRef": _object(
            {"code": _t("string"), "name": _t("string"), "departement_code": _t("string")}
        ),
        "DepartementRef": _object({"code": _t("string"), "name": _t("string")}),
        "OrganisationRef": _object(_organisation_ref()),
        "InitiativeRef": _object(_initiative_ref()),
        "EventRef": _object(_event_ref()),
        "InitiativeSummary": _object(summary),
        "Initiative": _object(detail),
        "OrganisationSummary": _object(organisation),
        "Organisation": _object(organisation_detail),
        "EventSummary": _object(event),
        "Event": _object(event_detail),
        "Theme": _object(
            {
                "slug": SLUG,
                "name": _t("string"),
                "description": TEXT,
                "initiative_count": _t("integer", minimum=0),
            }
        ),
        "Public": _object(
            {"slug": SLUG, "name": _t("string"), "initiative_count": _t("integer", minimum=0)}
        ),
        "RegionGroup": _object(
            {
                "slug": _enum(list(REGION_GROUPS)),
                "name": _t("string"),
                "departements": _array(_t("string")),
            }
        ),
        "Departement": _object(
            {
                "code": _t("string"),
                "name": _t("string"),
                "region": _object({"code": _t("string"), "name": _t("string")}),
                "region_groups": _array(_enum(list(REGION_GROUPS))),
            }
        ),
        "Commune": _object(
            {
                "code": _t("string"),
                "name": _t("string"),
                "departement_code": _t("string"),
                "kind": _t("string"),
                "postcodes": _array(_t("string")),
                "latitude": _t("number", True),
                "longitude": _t("number", True),
                "population": _t("integer", True),
            }
        ),
        "MapPoint": point,
        "MapPoints": _object(
            {"type": _enum(["FeatureCollection"]), "features": _array(_ref("MapPoint"))}
        ),
    }


def _organisation_ref() -> dict[str, Any]:
    return {"slug": SLUG, "name": _t("string"), "api_url": API_URL}


def _initiative_ref() -> dict[str, Any]:
    return {"slug": SLUG, "title": _t("string"), "api_url": API_URL}


def _event_ref() -> dict[str, Any]:
    return {"slug": SLUG, "title": _t("string"), "date": DATE, "api_url": API_URL}


# --- Parameters ------------------------------------------------------------------------------


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def _multi(name: str, values: list[str], description: str) -> dict[str, Any]:
    return _query(
        name,
        {"type": "array", "items": _enum(values), "maxItems": MAX_VALUES},
        description + " Répéter le paramètre pour plusieurs valeurs (l'une ou l'autre).",
        style="form",
        explode=True,
    )


def _parameters() -> dict[str, Any]:
    themes = list(db.session.scalars(sa.select(Theme.slug).order_by(Theme.position, Theme.slug)))
    publics = list(
        db.session.scalars(sa.select(Public.slug).order_by(Public.position, Public.slug))
    )
    departements = list(db.session.scalars(sa.select(Departement.code).order_by(Departement.code)))
    return {
        "q": _query(
            "q",
            _t("string", maxLength=MAX_QUERY_LENGTH),
            "Recherche plein texte, avec l’analyse de la page /recherche (accents, majuscules, "
            "formes des mots et synonymes indifférents) : initiatives contenant tous les mots.",
        ),
        "theme": _multi("theme", themes, "Thème (identifiant, voir /themes)."),
        "public": _multi("public", publics, "Public visé (identifiant, voir /publics)."),
        "stage": _multi("stage", [stage.value for stage in Stage], "Étape du projet."),
        "departement": _multi(
            "departement", departements, "Code INSEE du département (lieux ou territoires)."
        ),
        "region": _query(
            "region",
            _enum(list(REGION_GROUPS)),
            "Regroupement de départements (voir /regions) ; combiné avec departement, "
            "l'intersection des deux.",
        ),
        "organisation": _query(
            "organisation", SLUG, "Organisation liée (porteuse, partenaire ou financeuse)."
        ),
        "event": _query("event", SLUG, "Événement où l'initiative a été présentée."),
        "year": _query(
            "year",
            _t("integer", minimum=YEAR_MIN, maximum=YEAR_MAX),
            "Année de lancement.",
        ),
        "page": _query(
            "page", _t("integer", minimum=1, maximum=MAX_PAGE, default=1), "Numéro de page."
        ),
        "per_page": _query(
            "per_page",
            _t("integer", minimum=1, maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE),
            "Nombre d'éléments par page.",
        ),
        "departement_one": _query("departement", _enum(departements), "Code INSEE du département."),
        "slug": {
            "name": "slug",
            "in": "path",
            "required": True,
            "description": "Identifiant de l'entrée.",
            "schema": SLUG,
        },
        "if_none_match": {
            "name": "If-None-Match",
            "in": "header",
            "description": "ETag d'une réponse précédente : 304 si rien n'a changé.",
            "schema": _t("string"),
        },
    }


def _p(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/parameters/{name}"}


# --- Responses -------------------------------------------------------------------------------

_HEADERS = {
    "ETag": {"description": "Validateur de la réponse.", "schema": _t("string")},
    "Cache-Control": {"schema": _t("string")},
    "Access-Control-Allow-Origin": {"schema": _enum(["*"])},
}


def _ok(schema: dict[str, Any], description: str, media: str = JSON) -> dict[str, Any]:
    return {"description": description, "headers": _HEADERS, "content": {media: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    ok: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    *,
    found: bool = False,
    description: str = "",
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": ok,
        "304": {"description": "Non modifié depuis la copie du client (If-None-Match)."},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "429": {"$ref": "#/components/responses/TooManyRequests"},
    }
    if found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [*(parameters or []), _p("if_none_match")],
        "responses": responses,
    }
    if description:
        operation["description"] = description
    return {"get": operation}


def _follow(response: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """An OpenAPI link from a list to the detail of its first item (used by stateful tests)."""
    link = {"operationId": operation_id, "parameters": {"slug": "$response.body#/data/0/slug"}}
    return {**response, "links": {operation_id: link}}


def _envelope(item: str) -> dict[str, Any]:
    return _object({"data": _array(_ref(item)), "meta": _ref("Meta"), "links": _ref("Links")})


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return _object({"data": schema})


def _paths() -> dict[str, Any]:
    filters = [_p(name) for name in INITIATIVE_FILTER_PARAMS]
    paging = [_p("page"), _p("per_page")]
    return {
        "/openapi.json": _operation(
            "getOpenApi",
            "Ce document OpenAPI",
            "Documentation",
            _ok({"type": "object"}, "Document OpenAPI 3.1.", OPENAPI),
        ),
        "/initiatives": _operation(
            "listInitiatives",
            "Liste des initiatives publiées, filtrée et paginée",
            "Initiatives",
            _follow(
                _ok(_envelope("InitiativeSummary"), "Une page d'initiatives."), "getInitiative"
            ),
            [
                *filters,
                _query(
                    "sort",
                    {**_enum(list(INITIATIVE_SORTS)), "default": "title"},
                    "Ordre : title (titre A → Z), recent (mises à jour récentes), "
                    "start_year (année de lancement, récentes d'abord).",
                ),
                *paging,
            ],
            description="Les mêmes filtres que la recherche du site ; les filtres se cumulent.",
        ),
        "/initiatives/{slug}": _operation(
            "getInitiative",
            "Fiche d'une initiative",
            "Initiatives",
            _ok(_data(_ref("Initiative")), "L'initiative."),
            [_p("slug")],
            found=True,
        ),
        "/map/points": _operation(
            "getMapPoints",
            "Lieux des initiatives (GeoJSON)",
            "Carte",
            _ok(_ref("MapPoints"), "Un point par lieu des initiatives filtrées.", GEOJSON),
            filters,
            description="Le point précis du lieu, sinon le centre de sa commune.",
        ),
        "/organisations": _operation(
            "listOrganisations",
            "Liste des organisations publiées",
            "Organisations",
            _follow(
                _ok(_envelope("OrganisationSummary"), "Une page d'organisations."),
                "getOrganisation",
            ),
            [
                _query("q", _t("string", maxLength=200), "Texte cherché dans le nom ou le sigle."),
                _query(
                    "kind",
                    _enum([kind.value for kind in OrganisationKind]),
                    "Type d'organisation.",
                ),
                _p("departement_one"),
                _query(
                    "sort",
                    {**_enum(["name", "recent"]), "default": "name"},
                    "Ordre : name (nom A → Z) ou recent (mises à jour récentes).",
                ),
                *paging,
            ],
        ),
        "/organisations/{slug}": _operation(
            "getOrganisation",
            "Page d'une organisation, avec ses initiatives et ses événements",
            "Organisations",
            _ok(_data(_ref("Organisation")), "L'organisation."),
            [_p("slug")],
            found=True,
        ),
        "/events": _operation(
            "listEvents",
            "Événements du cycle (journée régionale, ateliers territoriaux)",
            "Événements",
            _follow(
                _ok(_data(_array(_ref("EventSummary"))), "Les événements, par date."), "getEvent"
            ),
        ),
        "/events/{slug}": _operation(
            "getEvent",
            "Un événement avec son programme",
            "Événements",
            _ok(_data(_ref("Event")), "L'événement."),
            [_p("slug")],
            found=True,
        ),
        "/themes": _operation(
            "listThemes",
            "Thèmes",
            "Référentiels",
            _ok(_data(_array(_ref("Theme"))), "Les thèmes, avec leur nombre d'initiatives."),
        ),
        "/publics": _operation(
            "listPublics",
            "Publics visés",
            "Référentiels",
            _ok(_data(_array(_ref("Public"))), "Les publics, avec leur nombre d'initiatives."),
        ),
        "/regions": _operation(
            "listRegions",
            "Régions (valeurs du filtre region)",
            "Territoires",
            _ok(_data(_array(_ref("RegionGroup"))), "Les regroupements de départements."),
        ),
        "/departements": _operation(
            "listDepartements",
            "Départements couverts",
            "Territoires",
            _ok(_data(_array(_ref("Departement"))), "Les départements."),
        ),
        "/communes": _operation(
            "lookupCommunes",
            "Recherche de communes (autocomplétion)",
            "Territoires",
            _ok(
                _data(_array(_ref("Commune"))), "Les communes trouvées, les plus peuplées d'abord."
            ),
            [
                _query(
                    "q",
                    _t("string", minLength=1, maxLength=100),
                    "Début du nom (accents facultatifs) ou du code postal.",
                    required=True,
                ),
                _p("departement_one"),
                _query(
                    "limit",
                    _t("integer", minimum=1, maximum=50, default=10),
                    "Nombre maximal de communes.",
                ),
            ],
        ),
    }


def build_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document, for the current database and host."""
    server = url_for("api.openapi", _external=True).removesuffix("/openapi.json")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API de l'Annuaire de l'innovation sociale",
            "version": "1.0.0",
            "description": (
                "API publique en lecture seule des initiatives innovantes de cohésion sociale "
                "en Provence-Alpes-Côte d'Azur et en Languedoc-Roussillon, des organisations "
                "qui les portent et des événements du cycle. Seules les entrées publiées sont "
                "exposées ; les données de démonstration portent is_demo = true. Réponses en "
                "JSON (dates ISO 8601), erreurs sous la forme "
                '{"error": {"code", "message"}}. CORS ouvert, ETag et 304, limite de débit '
                "par adresse (429 avec Retry-After)."
            ),
            "license": {
                "name": "Licence Ouverte 2.0",
                "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
            },
        },
        "servers": [{"url": server}],
        "tags": [
            {"name": name}
            for name in (
                "Initiatives",
                "Carte",
                "Organisations",
                "Événements",
                "Référentiels",
                "Territoires",
                "Documentation",
            )
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "responses": {
                "BadRequest": _error("Paramètre inconnu ou valeur invalide (détails donnés)."),
                "NotFound": _error("Aucune entrée publiée sous cet identifiant."),
                "TooManyRequests": {
                    **_error("Limite de requêtes atteinte pour cette adresse."),
                    "headers": {
                        "Retry-After": {
                            "description": "Secondes à attendre.",
                            "schema": _t("integer"),
                            "required": True,
                        }
                    },
                },
            },
        },
    }


@dataclass(frozen=True)
class ParameterDoc:
    name: str
    location: str
    description: str
    required: bool
    values: tuple[str, ...]


@dataclass(frozen=True)
class OperationDoc:
    path: str
    summary: str
    description: str
    tag: str
    parameters: tuple[ParameterDoc, ...]


def operations_overview(document: dict[str, Any]) -> list[OperationDoc]:
    """The operations of ``document`` with their parameters resolved, for the human page."""
    shared = document["components"]["parameters"]
    overview = []
    for path, item in document["paths"].items():
        operation = item["get"]
        parameters = []
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = shared[parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["in"] == "header":
                continue
            schema = parameter["schema"]
            values = schema.get("enum") or schema.get("items", {}).get("enum") or ()
            parameters.append(
                ParameterDoc(
                    name=parameter["name"],
                    location=parameter["in"],
                    description=parameter.get("description", ""),
                    required=bool(parameter.get("required")),
                    values=tuple(str(value) for value in values if value is not None),
                )
            )
        overview.append(
            OperationDoc(
                path=path,
                summary=operation["summary"],
                description=operation.get("description", ""),
                tag=operation["tags"][0],
                parameters=tuple(parameters),
            )
        )
    return overview
