"""Which column of a file feeds which field: automatic guess from headings, saved mappings.

A mapping is ``{heading as in the file: field key}``; a heading mapped to ``""`` is ignored.
Headings are compared folded (no case, accents or punctuation), so "Code INSEE", "code_insee"
and "CODE-INSEE" are one heading. The open-data export's column names are aliases too, so an
export imports back without a mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...models import ImportMapping
from ...text import fold

INITIATIVE = "initiative"
ORGANISATION = "organisation"
KINDS = {"initiatives": INITIATIVE, "organisations": ORGANISATION}
KIND_LABELS = {INITIATIVE: "Initiatives", ORGANISATION: "Organisations"}
IGNORE = ""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    aliases: tuple[str, ...] = ()
    multiple: bool = False  # several values in one cell, separated by ; | or a new line


# fmt: off
_COMMON_PLACE = (
    Field("commune", "Commune (nom, code postal ou code INSEE)",
          ("commune", "communes", "ville", "localite", "city", "town", "municipality",
           "commune nom", "nom commune", "nom de la commune", "communes noms")),
    Field("commune_code", "Code INSEE de la commune",
          ("code insee", "insee", "code commune", "commune code", "commune insee",
           "codes insee", "commune codes", "communes codes", "code officiel geographique",
           "cog", "insee code", "citycode")),
    Field("postcode", "Code postal", ("code postal", "cp", "postcode", "postal code", "zip")),
    Field("address", "Adresse", ("adresse", "address", "rue", "adresse postale")),
)

INITIATIVE_FIELDS: tuple[Field, ...] = (
    Field("external_id", "Identifiant externe",
          ("identifiant", "id", "external id", "identifiant externe", "ref", "reference",
           "uid", "identifier")),
    Field("title", "Titre", ("titre", "title", "nom", "nom du projet", "intitule", "projet",
                             "nom de l initiative", "initiative", "name")),
    Field("summary", "Résumé", ("resume", "summary", "accroche", "description courte",
                                "chapeau", "abstract")),
    Field("description", "Description", ("description", "presentation", "texte",
                                         "description longue")),
    Field("stage", "Stade", ("stade", "stage", "etape", "avancement", "etat d avancement",
                             "phase", "stage label", "stade libelle")),
    Field("start_year", "Année de début", ("annee de debut", "annee debut", "debut",
                                           "start year", "annee", "year", "date de debut",
                                           "annee de creation")),
    Field("end_year", "Année de fin", ("annee de fin", "annee fin", "fin", "end year",
                                       "date de fin")),
    Field("website", "Site internet", ("site web", "site internet", "site", "website", "web",
                                       "lien", "site url", "url")),
    Field("contact_email", "Courriel de contact", ("courriel", "email", "e mail", "mail",
                                                   "contact email", "courriel de contact",
                                                   "adresse electronique")),
    Field("contact_phone", "Téléphone de contact", ("telephone", "tel", "phone",
                                                    "contact phone", "telephone de contact")),
    Field("genesis", "Comment est-elle née ?", ("genese", "genesis", "comment est elle nee",
                                                "origine", "historique")),
    Field("evaluation", "Comment est-elle évaluée et valorisée ?",
          ("evaluation", "comment est elle evaluee et valorisee", "valorisation")),
    Field("policy_impact", "Comment transforme-t-elle les politiques publiques ?",
          ("policy impact", "impact sur les politiques publiques", "politiques publiques",
           "comment transforme t elle les politiques publiques", "transformation")),
    Field("public_support", "Comment les politiques publiques la soutiennent-elles ?",
          ("public support", "soutiens", "financements", "soutiens et financements",
           "comment les politiques publiques la soutiennent elles", "soutien public")),
    Field("source", "Source", ("source", "origine de l information")),
    Field("themes", "Thèmes", ("themes", "theme", "thematiques", "thematique", "topics",
                               "theme slugs", "themes slugs", "themes noms"), True),
    Field("publics", "Publics visés", ("publics", "public", "publics vises", "public vise",
                                       "cibles", "audiences", "publics slugs"), True),
    *_COMMON_PLACE,
    Field("place_label", "Nom du lieu", ("lieu", "nom du lieu", "place", "place label",
                                         "libelle du lieu")),
    Field("latitude", "Latitude", ("latitude", "lat", "y")),
    Field("longitude", "Longitude", ("longitude", "lon", "lng", "long", "x")),
    Field("organisations", "Organisations porteuses",
          ("porteur", "porteurs", "organisation", "organisations", "organisation porteuse",
           "organisations porteuses", "structure", "structure porteuse", "lead organisations",
           "lead organisation", "porteurs noms", "porteurs slugs"), True),
    Field("partners", "Organisations partenaires",
          ("partenaires", "partenaire", "partners", "organisations partenaires",
           "partenaires noms", "partenaires slugs"), True),
    Field("funders", "Financeurs", ("financeurs", "financeur", "funders",
                                    "financeurs noms", "financeurs slugs"), True),
)

ORGANISATION_FIELDS: tuple[Field, ...] = (
    Field("external_id", "Identifiant externe",
          ("identifiant", "id", "external id", "identifiant externe", "ref", "reference",
           "siret", "rna", "uid", "identifier")),
    Field("name", "Nom", ("nom", "name", "raison sociale", "denomination", "organisation",
                          "structure", "nom de l organisation", "titre", "title")),
    Field("acronym", "Sigle", ("sigle", "acronyme", "acronym")),
    Field("kind", "Type de structure", ("type", "kind", "type de structure", "nature",
                                        "categorie", "forme juridique", "type libelle")),
    Field("tagline", "Accroche", ("accroche", "tagline", "slogan", "resume", "summary",
                                  "presentation")),
    Field("description", "Description", ("description",)),
    Field("website", "Site internet", ("site web", "site internet", "site", "website", "web",
                                       "url")),
    Field("email", "Courriel", ("courriel", "email", "e mail", "mail", "adresse electronique",
                                "courriel de contact")),
    Field("phone", "Téléphone", ("telephone", "tel", "phone")),
    *_COMMON_PLACE,
    Field("themes", "Thèmes", ("themes", "theme", "thematiques", "thematique", "topics",
                               "theme slugs", "themes slugs"), True),
    Field("departements", "Départements d'action",
          ("departements", "departement", "departements d action", "territoires",
           "territoires d action", "departements codes", "departments", "department codes"),
          True),
)
# fmt: on

FIELDS = {INITIATIVE: INITIATIVE_FIELDS, ORGANISATION: ORGANISATION_FIELDS}
REQUIRED = {INITIATIVE: "title", ORGANISATION: "name"}
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def field_labels(kind: str) -> dict[str, str]:
    return {field.key: field.label for field in FIELDS[kind]}


def heading_key(heading: str) -> str:
    """The comparable form of a heading: folded, words separated by single spaces."""
    return _NOT_ALNUM.sub(" ", fold(heading or "")).strip()


# Columns of the open-data export (docs/opendata/*.schema.json) whose name alone would be read
# otherwise: there, "communes"/"commune" hold INSEE codes and "url" is the directory's own page.
OPEN_DATA_COLUMNS = {
    INITIATIVE: {
        "identifiant": "external_id", "url": IGNORE, "communes": "commune_code",
        "noms_communes": "commune", "departements": IGNORE, "evenements": IGNORE,
        "date_creation": IGNORE, "date_mise_a_jour": IGNORE, "donnees_de_demonstration": IGNORE,
    },
    ORGANISATION: {
        "identifiant": "external_id", "url": IGNORE, "commune": "commune_code",
        "nom_commune": "commune", "presentation": "tagline", "date_creation": IGNORE,
        "date_mise_a_jour": IGNORE, "donnees_de_demonstration": IGNORE,
    },
}  # fmt: skip
_OPEN_DATA_SIGNATURE = {"identifiant", "url", "date_mise_a_jour"}


def _alias_index(kind: str) -> dict[str, tuple[str, int]]:
    """Folded name → (field, rank); a lower rank is a stronger clue."""
    index: dict[str, tuple[str, int]] = {}
    for field in FIELDS[kind]:
        for rank, name in enumerate((field.key, field.label, *field.aliases)):
            index.setdefault(heading_key(name), (field.key, rank))
    return index


def guess(headings: list[str], kind: str) -> dict[str, str]:
    """An automatic mapping: each heading to the field it names, or ignored.

    A field is fed by one column only: the heading that names it most plainly ("Site web"
    before "URL"), else the first. A file with the open-data export's columns maps as the
    export means them.
    """
    if set(headings) >= _OPEN_DATA_SIGNATURE:
        known = OPEN_DATA_COLUMNS[kind]
        index = _alias_index(kind)
        return {
            heading: known[heading] if heading in known
            else index.get(heading_key(heading), (IGNORE, 0))[0]
            for heading in headings
        }  # fmt: skip
    index = _alias_index(kind)
    best: dict[str, tuple[int, int]] = {}  # field → (rank, position)
    for position, heading in enumerate(headings):
        key, rank = index.get(heading_key(heading), (IGNORE, 0))
        if key and (key not in best or rank < best[key][0]):
            best[key] = (rank, position)
    chosen = {position: key for key, (_, position) in best.items()}
    return {heading: chosen.get(position, IGNORE) for position, heading in enumerate(headings)}


def resolve(headings: list[str], kind: str, columns: dict[str, str] | None) -> dict[str, str]:
    """The mapping used for a file: ``columns`` (edited or saved) over the automatic guess.

    Headings of ``columns`` are matched folded, so a saved mapping fits a file whose headings
    differ only in case or accents. Unknown field keys are ignored.
    """
    mapping = guess(headings, kind)
    if not columns:
        return mapping
    known = {field.key for field in FIELDS[kind]}
    given = {heading_key(heading): value for heading, value in columns.items()}
    for heading in headings:
        value = given.get(heading_key(heading))
        if value is None:
            continue
        mapping[heading] = value if value in known else IGNORE
    # A field chosen explicitly wins over a guess for another column.
    chosen = {heading_key(h) for h, v in columns.items() if v in known}
    for heading in headings:
        key = mapping[heading]
        if (
            key
            and heading_key(heading) not in chosen
            and any(mapping[other] == key for other in headings if heading_key(other) in chosen)
        ):
            mapping[heading] = IGNORE
    return mapping


def check(mapping: dict[str, str], kind: str) -> list[str]:
    """Problems that make a mapping unusable (French messages)."""
    problems = []
    labels = field_labels(kind)
    required = REQUIRED[kind]
    if required not in mapping.values():
        problems.append(
            f"Aucune colonne ne donne le champ « {labels[required]} » : vérifiez que la première "
            "ligne du fichier nomme les colonnes, ou associez une colonne à ce champ."
        )
    seen: dict[str, str] = {}
    for heading, key in mapping.items():
        if not key:
            continue
        if key in seen:
            problems.append(
                f"Les colonnes « {seen[key]} » et « {heading} » donnent toutes deux le champ "
                f"« {labels[key]} » : n'en gardez qu'une."
            )
        seen[key] = heading
    return problems


# -- saved mappings ---------------------------------------------------------------------------


class MappingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def saved_mappings(kind: str) -> list[ImportMapping]:
    return list(
        db.session.scalars(
            sa.select(ImportMapping)
            .where(ImportMapping.entity_type == kind)
            .order_by(ImportMapping.name)
        )
    )


def load(name: str, kind: str) -> ImportMapping | None:
    return db.session.scalar(
        sa.select(ImportMapping).where(
            ImportMapping.entity_type == kind, ImportMapping.name == name
        )
    )


def save(name: str, kind: str, columns: dict[str, str], user_id: int | None) -> ImportMapping:
    """Create or replace the mapping called ``name`` (committed by the caller)."""
    name = (name or "").strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise MappingError("Donnez au modèle de correspondance un nom de 1 à 200 caractères.")
    known = {field.key for field in FIELDS[kind]}
    clean = {
        str(heading)[:200]: value
        for heading, value in columns.items()
        if isinstance(value, str) and (value in known or value == IGNORE)
    }
    mapping = load(name, kind)
    if mapping is None:
        mapping = ImportMapping(name=name, entity_type=kind, created_by_id=user_id)
        db.session.add(mapping)
    mapping.columns = clean
    return mapping
