"""French text for generated demo data: titles, names, summaries and descriptions.

Running text mixes two sources so that its statistics look like written French: words drawn
from a real French frequency list (``wordfreq``), weighted by their frequency, and sentences
built from the vocabulary of social cohesion. Elisions and contractions (« l'insertion »,
« du quartier », « aux familles ») are applied when words are joined. The text is generated,
never a fact: it only fills demo entries.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from wordfreq import top_n_list, word_frequency

FREQUENCY_LIST_SIZE = 6000
VOWELS = frozenset("aeiouàâäéèêëîïôöùûüœæh")
ELIDED = {
    "de": "d'",
    "le": "l'",
    "la": "l'",
    "que": "qu'",
    "ne": "n'",
    "se": "s'",
    "ce": "c'",
    "je": "j'",
    "me": "m'",
    "te": "t'",
    "jusque": "jusqu'",
    "lorsque": "lorsqu'",
    "puisque": "puisqu'",
}
CONTRACTED = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au", ("à", "les"): "aux"}
ELIDED_OR_CONTRACTED = frozenset(ELIDED) | {"à"}
# Words whose « h » is aspirated: no elision before them (« de handicap », « le haut »).
ASPIRATED_H = frozenset(
    ("handicap", "handicapées", "handicapés", "haut", "haute", "hauts", "hors", "héros",
     "hockey", "honte", "hasard", "haine", "hausse", "hameau", "hameaux", "halte", "hall",
     "hâte", "hibou", "huit", "hiérarchie", "hangar", "harcèlement", "hollande", "hongrie")
)  # fmt: skip
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([,.])")
# Spoken, familiar or first/second-person words: rare in the written prose of a project sheet.
_EXCLUDED_LINES = (
    "je tu ça ca moi toi te me mon ma mes ton ta tes oui ouais ok lol mdr hein bah ben",
    "euh merci salut bonjour putain merde con conne cul bordel baise pute salope nique",
    "chier ah oh eh hey wow bon bien ai as es suis t'es j'ai j'suis vais veux vas peux",
    "sais dis vos votre vôtre tf1 mec mecs meuf bébé chérie chéri mort tuer sexe",
)
EXCLUDED_WORDS = frozenset(word for line in _EXCLUDED_LINES for word in line.split())

# --- Domain vocabulary -------------------------------------------------------------------------
DOMAIN_TOPICS = (
    "la précarité",
    "l'insertion professionnelle",
    "l'insertion sociale",
    "la jeunesse",
    "la solidarité",
    "la mobilité",
    "l'inclusion numérique",
    "l'économie sociale et solidaire",
    "l'accès aux droits",
    "le lien social",
    "la participation des habitants",
    "l'habitat",
    "la santé",
    "l'alimentation",
    "la parentalité",
    "la citoyenneté",
    "l'emploi",
    "la lutte contre l'isolement",
    "la médiation sociale",
    "l'éducation populaire",
    "la cohésion sociale",
    "la prévention",
    "l'accompagnement scolaire",
    "la culture",
    "le sport",
    "la transition écologique",
    "le logement",
    "l'égalité entre les femmes et les hommes",
    "la lutte contre les discriminations",
    "la vie associative",
    "le bénévolat",
)
DOMAIN_PUBLICS = (
    "les jeunes de 16 à 25 ans",
    "les familles monoparentales",
    "les personnes âgées isolées",
    "les aidants",
    "les habitants du quartier prioritaire",
    "les demandeurs d'emploi",
    "les bénéficiaires du RSA",
    "les personnes en situation de handicap",
    "les femmes",
    "les enfants et leurs parents",
    "les jeunes décrocheurs",
    "les personnes sans domicile",
    "les gens du voyage",
    "les personnes migrantes",
    "les travailleurs pauvres",
    "les seniors",
    "les collégiens",
    "les étudiants",
    "les habitants des communes rurales",
    "les locataires du parc social",
    "les personnes éloignées du numérique",
)
DOMAIN_PLACES = (
    "le quartier prioritaire",
    "les communes rurales du territoire",
    "le centre social",
    "la maison de quartier",
    "le tiers-lieu",
    "les villages de l'arrière-pays",
    "le centre ancien",
    "les résidences sociales",
    "la médiathèque",
    "les établissements scolaires",
    "le bassin de vie",
    "l'intercommunalité",
    "les zones périurbaines",
)
DOMAIN_PARTNERS = (
    "la caisse d'allocations familiales",
    "le conseil départemental",
    "la commune",
    "les centres sociaux",
    "les bailleurs sociaux",
    "la mission locale",
    "France Travail",
    "l'agence régionale de santé",
    "les services de l'État",
    "la région",
    "les entreprises locales",
    "les associations du quartier",
    "les établissements scolaires",
    "une fondation d'entreprise",
    "le fonds social européen",
    "la politique de la ville",
    "les habitants eux-mêmes",
)
DOMAIN_ACTIONS = (
    "accompagner",
    "favoriser",
    "soutenir",
    "développer",
    "renforcer",
    "faciliter",
    "encourager",
    "améliorer",
    "valoriser",
    "rapprocher",
    "mobiliser",
    "prévenir",
)
DOMAIN_ACTIVITIES = (
    "des ateliers collectifs",
    "un accompagnement individuel",
    "des permanences hebdomadaires",
    "des actions de médiation",
    "un parcours de formation",
    "des rencontres intergénérationnelles",
    "un service de transport solidaire",
    "des temps d'échange entre pairs",
    "un chantier d'insertion",
    "une épicerie solidaire",
    "des ateliers numériques",
    "un jardin partagé",
    "un café des aidants",
    "des visites à domicile",
    "une plateforme de mobilité",
    "des sorties culturelles",
    "un espace de coworking solidaire",
    "des cours de français",
    "un dispositif de parrainage",
)
DOMAIN_OUTCOMES = (
    "le retour à l'emploi",
    "l'autonomie des personnes",
    "le pouvoir d'agir des habitants",
    "la confiance en soi",
    "l'accès aux services publics",
    "la réussite éducative",
    "la mixité sociale",
    "le maintien à domicile",
    "la coopération entre acteurs",
    "la sortie de l'isolement",
    "l'ouverture culturelle",
)
DOMAIN_TERMS = (
    *DOMAIN_TOPICS,
    *DOMAIN_PUBLICS,
    *DOMAIN_PLACES,
    *DOMAIN_ACTIVITIES,
    "tiers-lieu",
    "quartier prioritaire",
    "aidants",
    "mobilité",
    "numérique",
    "précarité",
    "insertion",
    "solidarité",
    "jeunesse",
    "économie sociale et solidaire",
    "bénévoles",
    "habitants",
    "territoire",
    "accompagnement",
    "partenaires",
    "collectivités",
)

SLOT_VALUES = {
    "activity": DOMAIN_ACTIVITIES,
    "action": DOMAIN_ACTIONS,
    "topic": DOMAIN_TOPICS,
    "public": DOMAIN_PUBLICS,
    "place": DOMAIN_PLACES,
    "partner": DOMAIN_PARTNERS,
    "outcome": DOMAIN_OUTCOMES,
}
SENTENCE_TEMPLATES = (
    "{Org} propose {activity} pour {action} {topic} auprès de {public}.",
    "Le projet vise à {action} {topic} dans {place}.",
    "Né d'un constat partagé avec {partner}, il s'adresse en priorité à {public}.",
    "Grâce à {activity}, l'équipe cherche à {action} {outcome}.",
    "L'action s'appuie sur {partner} et sur un réseau de bénévoles engagés.",
    "Depuis son lancement, le projet a réuni {public} autour de {topic}.",
    "L'équipe travaille avec {partner} pour {action} {outcome} sur {place}.",
    "Chaque année, plusieurs centaines de personnes participent aux actions menées dans {place}.",
    "La démarche repose sur la participation de {public} à toutes les étapes du projet.",
    "Les premiers résultats montrent des effets sur {outcome} et sur {topic}.",
    "Le projet est soutenu par {partner} et par {partner2}.",
    "Il s'agit de {action} {topic} en partant des besoins exprimés par {public}.",
)
SECTION_TEMPLATES = {
    "genesis": (
        "L'initiative est née en {year} d'un constat partagé avec {partner} : {public} "
        "restaient à l'écart des dispositifs existants.",
        "Le projet a démarré à la demande de {public}, avec l'appui de {partner}.",
    ),
    "evaluation": (
        "Une évaluation conduite avec {partner} mesure les effets sur {outcome}.",
        "Un bilan annuel est partagé avec les participants et les financeurs ; il porte sur "
        "{outcome} et sur {topic}.",
    ),
    "policy_impact": (
        "L'expérience a conduit {partner} à revoir ses modes d'intervention "
        "en matière de {topicn}.",
        "Le projet a inspiré d'autres territoires et nourrit la réflexion sur {topic}.",
    ),
    "public_support": (
        "Le projet est financé par {partner} et par {partner2}.",
        "Il bénéficie du soutien de {partner} dans le cadre de la politique de {topicn}.",
    ),
}

# --- Titles and organisation names -------------------------------------------------------------
# (noun, feminine?) — the gender chooses the adjective form.
TITLE_NOUNS = (
    ("Atelier", False),
    ("Plateforme", True),
    ("Maison", True),
    ("Café", False),
    ("Jardin", False),
    ("Réseau", False),
    ("Tiers-lieu", False),
    ("Épicerie", True),
    ("Garage", False),
    ("Point d'accueil", False),
    ("Chantier", False),
    ("École", True),
    ("Fabrique", True),
    ("Permanence", True),
    ("Dispositif", False),
    ("Parcours", False),
    ("Programme", False),
    ("Laboratoire", False),
    ("Bus", False),
    ("Ressourcerie", True),
    ("Conciergerie", True),
    ("Accorderie", True),
    ("Auto-école", True),
    ("Cuisine", True),
)
TITLE_ADJECTIVES = (
    ("numérique", "numérique"),
    ("solidaire", "solidaire"),
    ("citoyen", "citoyenne"),
    ("partagé", "partagée"),
    ("mobile", "mobile"),
    ("intergénérationnel", "intergénérationnelle"),
    ("inclusif", "inclusive"),
    ("social", "sociale"),
    ("itinérant", "itinérante"),
    ("coopératif", "coopérative"),
    ("participatif", "participative"),
    ("associatif", "associative"),
)
TITLE_COMPLEMENTS = (
    "des aidants",
    "de la jeunesse",
    "pour l'emploi",
    "des familles",
    "de la mobilité",
    "du numérique",
    "des savoirs",
    "des seniors",
    "pour l'insertion",
    "des habitants",
    "de quartier",
    "du lien social",
    "des parents",
    "de la réussite éducative",
)
NAME_WORDS = (
    "Horizon",
    "Trait d'union",
    "Passerelle",
    "L'Escale",
    "Le Relais",
    "Sésame",
    "Cap Avenir",
    "La Courte Échelle",
    "Les Jardins partagés",
    "Entraide",
    "Solidarités",
    "Le Fil",
    "Tremplin",
    "Les Petits Pas",
    "Main dans la main",
    "Le Phare",
    "Les Voisins",
    "Cap Emploi",
    "L'Envol",
    "La Boussole",
    "Les Ateliers",
    "La Ruche",
    "Le Chemin",
    "Les Semeurs",
    "Ensemble",
)
ORGANISATION_PATTERNS = {
    "association": (
        "Association {word} {of_commune}",
        "{word}",
        "Les Amis {of_commune}",
        "Association {word}",
    ),
    "collectivite": ("Ville {of_commune}", "Centre communal d'action sociale {of_commune}"),
    "etat": (
        "Direction départementale de la cohésion sociale – {departement}",
        "Délégation du préfet à l'égalité des chances – {departement}",
    ),
    "entreprise_ess": (
        "Coopérative {word}",
        "Régie de quartier {of_commune}",
        "{word} Insertion",
        "SCIC {word}",
    ),
    "collectif": ("Collectif {word}", "Collectif des habitants {of_commune}"),
    "autre": ("Fondation {word}", "Groupement {word} {of_commune}"),
}
STREET_KINDS = ("rue", "avenue", "boulevard", "place", "chemin", "allée", "impasse")
STREET_NAMES = (
    "de la République",
    "Jean Jaurès",
    "des Écoles",
    "Victor Hugo",
    "de la Liberté",
    "du Marché",
    "Pasteur",
    "des Lilas",
    "de la Gare",
    "du Moulin",
    "Gambetta",
    "des Arts",
    "de l'Église",
    "Frédéric Mistral",
    "des Oliviers",
    "de la Mairie",
    "du 8 Mai 1945",
)
PLACE_LABELS = (
    "Local associatif",
    "Maison de quartier",
    "Centre social",
    "Antenne",
    "Salle polyvalente",
    "Tiers-lieu",
    "Médiathèque",
    "Espace jeunes",
    "Permanence",
    "Jardin partagé",
)


@dataclass(frozen=True)
class _Vocabulary:
    words: tuple[str, ...]
    cum_weights: tuple[float, ...]


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    """The French frequency list, filtered to written-prose words, with cumulative weights."""
    words = [
        word
        for word in top_n_list("fr", FREQUENCY_LIST_SIZE)
        if word not in EXCLUDED_WORDS
        and (len(word) > 1 or word in {"à", "a", "y"})
        and word.replace("-", "").replace("'", "").isalpha()
    ]
    weights = [word_frequency(word, "fr") for word in words]
    return _Vocabulary(tuple(words), tuple(itertools.accumulate(weights)))


def join_french(tokens: list[str]) -> str:
    """Join words with French elisions and contractions: « de le quartier » -> « du quartier »."""
    out: list[str] = []
    previous = ""
    for token in tokens:
        if not token:
            continue
        if previous in ELIDED_OR_CONTRACTED:
            contracted = CONTRACTED.get((previous, token))
            if contracted:
                out[-1] = previous = contracted
                continue
            if (
                previous in ELIDED
                and token[0].lower() in VOWELS
                and token.lower() not in ASPIRATED_H
            ):
                out[-1] = previous = ELIDED[previous] + token
                continue
        out.append(token)
        previous = token
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(out))


def of_place(name: str) -> str:
    """« de Nîmes », « d'Avignon », « du Pontet », « des Angles »."""
    if name.startswith("Le "):
        return "du " + name[3:]
    if name.startswith("Les "):
        return "des " + name[4:]
    if name[0].lower() in VOWELS:
        return "d'" + name
    return "de " + name


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _topic_noun(topic: str) -> str:
    """« la précarité » -> « précarité » (after « en matière de »)."""
    for article in ("la ", "le ", "les ", "l'"):
        if topic.startswith(article):
            return topic[len(article) :]
    return topic


class _Slots(dict):
    """Template slots drawn on first use only (most templates use a few of them)."""

    def __init__(self, rng: random.Random, organisation: str) -> None:
        super().__init__(Org=organisation)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        choice = self.rng.choice
        if key == "topicn":
            value = _topic_noun(self["topic"])
        elif key == "partner2":
            value = self["partner"]
            while value == self["partner"]:
                value = choice(DOMAIN_PARTNERS)
        elif key == "year":
            value = str(self.rng.randint(2005, 2024))
        else:
            value = choice(SLOT_VALUES[key])
        self[key] = value
        return value


class FrenchTextGenerator:
    """Deterministic French text for one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocabulary = _vocabulary()

    # -- words and sentences --------------------------------------------------------------------
    def frequency_words(self, count: int) -> list[str]:
        """``count`` words sampled from the French frequency list, weighted by frequency."""
        vocabulary = self.vocabulary
        return self.rng.choices(vocabulary.words, cum_weights=vocabulary.cum_weights, k=count)

    def _from_template(self, template: str, organisation: str) -> str:
        slots = _Slots(self.rng, organisation)
        return join_french(template.format_map(slots).split(" "))

    def frequency_sentence(self) -> str:
        """A sentence of frequency-weighted words with some domain terms, commas and a full stop."""
        rng = self.rng
        length = rng.randint(8, 22)
        words = self.frequency_words(length)
        for index in range(length):
            if rng.random() < 0.12:
                words[index] = rng.choice(DOMAIN_TERMS)
        tokens: list[str] = []
        for index, word in enumerate(words):
            tokens.extend(word.split(" "))
            if 2 < index < length - 3 and rng.random() < 0.08:
                tokens.append(",")
        tokens.append(".")
        return _capitalise(join_french(tokens))

    def sentence(self, organisation: str = "L'association") -> str:
        if self.rng.random() < 0.5:
            return self._from_template(self.rng.choice(SENTENCE_TEMPLATES), organisation)
        return self.frequency_sentence()

    # -- fields ---------------------------------------------------------------------------------
    def description(self, organisation: str, min_words: int = 80, max_words: int = 400) -> str:
        """Paragraphs of ``min_words``..``max_words`` words (whitespace-separated)."""
        rng = self.rng
        target = int(rng.triangular(min_words, max_words, min_words + 60))
        sentences: list[str] = []
        total = 0
        while total < target:
            sentence = self.sentence(organisation)
            size = len(sentence.split())
            if total + size > max_words:
                if total >= min_words:
                    break
                continue
            sentences.append(sentence)
            total += size
        paragraphs: list[str] = []
        while sentences:
            take = rng.randint(2, 5)
            paragraphs.append(" ".join(sentences[:take]))
            sentences = sentences[take:]
        return "\n\n".join(paragraphs)

    def summary(self, organisation: str, max_length: int = 300) -> str:
        """One or two sentences, at most ``max_length`` characters."""
        text = self._from_template(self.rng.choice(SENTENCE_TEMPLATES[:3]), organisation)
        if self.rng.random() < 0.5:
            text += " " + self._from_template(self.rng.choice(SENTENCE_TEMPLATES[3:]), organisation)
        if len(text) > max_length:
            text = text[: max_length - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return text

    def section(self, name: str, organisation: str) -> str:
        """One round-table answer (genesis, evaluation, policy_impact, public_support)."""
        parts = [self._from_template(self.rng.choice(SECTION_TEMPLATES[name]), organisation)]
        parts += [self.sentence(organisation) for _ in range(self.rng.randint(0, 2))]
        return " ".join(parts)

    def initiative_title(self, commune: str) -> str:
        """« Atelier numérique solidaire de Carpentras », « Café des aidants d'Arles »…"""
        rng = self.rng
        noun, feminine = rng.choice(TITLE_NOUNS)
        adjective = rng.choice(TITLE_ADJECTIVES)[1 if feminine else 0]
        pattern = rng.random()
        if pattern < 0.4:
            second = rng.choice(TITLE_ADJECTIVES)[1 if feminine else 0]
            words = f"{noun} {adjective}" if second == adjective else f"{noun} {adjective} {second}"
            return f"{words} {of_place(commune)}"
        if pattern < 0.8:
            return f"{noun} {rng.choice(TITLE_COMPLEMENTS)} {of_place(commune)}"
        return f"{noun} {adjective} « {rng.choice(NAME_WORDS)} »"

    def organisation_name(self, kind: str, commune: str, departement: str) -> str:
        pattern = self.rng.choice(ORGANISATION_PATTERNS[kind])
        return pattern.format(
            word=self.rng.choice(NAME_WORDS), of_commune=of_place(commune), departement=departement
        )

    def address(self) -> str:
        rng = self.rng
        return f"{rng.randint(1, 120)} {rng.choice(STREET_KINDS)} {rng.choice(STREET_NAMES)}"

    def place_label(self) -> str:
        return self.rng.choice(PLACE_LABELS)


def acronym(name: str) -> str:
    """Initials of the capitalised words: « Trait d'union Insertion » -> « TI »."""
    return "".join(word[0] for word in re.findall(r"\b[A-ZÉÈ][\w-]*", name))[:10]
